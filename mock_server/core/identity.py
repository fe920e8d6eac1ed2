"""Who owns a task: a digest of the API key, never the key itself."""

from __future__ import annotations

import hashlib

__all__ = ["owner_of"]


def owner_of(api_key: str) -> str:
    """Tasks belong to a digest of the key, so stores, journals and logs never hold the key.

    A leading ``sk-`` is dropped first, as the gateway does.
    """
    key = api_key.removeprefix("sk-").encode("utf-8", "surrogatepass")
    return "o_" + hashlib.sha256(key).hexdigest()[:24]
