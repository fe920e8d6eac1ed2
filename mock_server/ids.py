"""Task ids and request ids in each profile's format."""

from __future__ import annotations

import random
import secrets
import string
import time
import uuid
from collections.abc import Callable

__all__ = ["new_request_id", "new_task_id"]

_ALNUM = string.ascii_letters + string.digits
# Random bytes -> letters and digits without bias: bytes >= 248 (4 * 62) are dropped, the rest
# map modulo 62. One token_bytes call instead of a secrets.choice per character (bench/).
_TO_ALNUM = bytes(ord(_ALNUM[b % 62]) for b in range(256))
_UNEVEN = bytes(range(248, 256))


def _alnum(count: int, random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    while True:
        raw = random_bytes(count + 8).translate(_TO_ALNUM, _UNEVEN)
        if len(raw) >= count:
            return raw[:count].decode("ascii")


def new_task_id(fmt: str) -> str:
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "hex32":
        return uuid.uuid4().hex
    if fmt == "task_alnum32":
        return "task_" + _alnum(32)
    raise ValueError(f"unknown id format {fmt!r}")


_BUILD = "38268d9d"
_stamp: tuple[int, str] = (-1, "")


def new_request_id(style: str = "2025") -> str:
    """yyyyMMddHHmmss + 8 digits of nanoseconds (+ build hash in 2026) + 8 random characters."""
    global _stamp
    now = time.time_ns()
    second, nanos_part = divmod(now, 1_000_000_000)
    if _stamp[0] != second:  # one strftime per second, not per request
        _stamp = (second, time.strftime("%Y%m%d%H%M%S", time.gmtime(second)))
    stamp = _stamp[1]
    nanos = f"{nanos_part:09d}"[:8]
    # A request id is a label, not a secret: the in-process generator (reseeded in every forked
    # worker) spares the getrandom syscall, which gives up the GIL on a busy worker (bench/).
    rand = _alnum(8, random.randbytes)
    return f"{stamp}{nanos}{_BUILD}{rand}" if style == "2026" else f"{stamp}{nanos}{rand}"
