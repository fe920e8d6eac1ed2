"""Task ids and request ids in each profile's format."""

from __future__ import annotations

import secrets
import string
import time
import uuid

__all__ = ["new_request_id", "new_task_id"]

_ALNUM = string.ascii_letters + string.digits


def new_task_id(fmt: str) -> str:
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "hex32":
        return uuid.uuid4().hex
    if fmt == "task_alnum32":
        return "task_" + "".join(secrets.choice(_ALNUM) for _ in range(32))
    raise ValueError(f"unknown id format {fmt!r}")


_BUILD = "38268d9d"


def new_request_id(style: str = "2025") -> str:
    """yyyyMMddHHmmss + 8 digits of nanoseconds (+ build hash in 2026) + 8 random characters."""
    now = time.time_ns()
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now // 1_000_000_000))
    nanos = f"{now % 1_000_000_000:09d}"[:8]
    rand = "".join(secrets.choice(_ALNUM) for _ in range(8))
    return f"{stamp}{nanos}{_BUILD}{rand}" if style == "2026" else f"{stamp}{nanos}{rand}"
