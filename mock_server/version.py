"""The installed distribution's version: what ``--version`` prints, and the OpenAPI info."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

__all__ = ["DISTRIBUTION", "version"]

DISTRIBUTION = "suno-contract-kit"


def version() -> str:
    """The version pip installed (a source tree that was never installed says so)."""
    try:
        return _dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"
