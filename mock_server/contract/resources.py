"""Locate the bundled data directories (schemas/ and fixtures/)."""

from __future__ import annotations

from pathlib import Path

# mock_server/, two levels up from this file.
_PKG = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    # In a wheel the data sits inside the package; in a source checkout or an
    # editable install it is the top-level directory of the repository.
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled data directory {name!r} not found next to {_PKG}")


def schemas_dir() -> Path:
    return _data_dir("schemas")


def fixtures_dir() -> Path:
    return _data_dir("fixtures")


def profiles_dir() -> Path:
    return fixtures_dir() / "profiles"


def profile_path(name: str) -> Path:
    """Where the bundled profile ``name`` lives (it may not exist)."""
    return profiles_dir() / f"{name}.json"
