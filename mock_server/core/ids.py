"""Task ids and request ids in each profile's format."""

from __future__ import annotations

import os
import random
import re
import string
import time
import uuid

__all__ = ["TASK_ID_PATTERNS", "derived_task_id", "is_task_id", "new_request_id", "new_task_id"]

# What new_task_id makes in each format: an id given by a caller (admin, seed file) must match.
TASK_ID_PATTERNS = {
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "hex32": r"^[0-9a-f]{32}$",
    "task_alnum32": r"^task_[A-Za-z0-9]{32}$",
}
_TASK_ID_RE = {fmt: re.compile(pattern) for fmt, pattern in TASK_ID_PATTERNS.items()}

_ALNUM = string.ascii_letters + string.digits
# Random bytes -> letters and digits without bias: bytes >= 248 (4 * 62) are dropped, the rest
# map modulo 62. One randbytes call instead of a secrets.choice per character (bench/).
_TO_ALNUM = bytes(ord(_ALNUM[b % 62]) for b in range(256))
_UNEVEN = bytes(range(248, 256))

# Ids are labels, not secrets (a task is only ever shown to its owner's key): a generator of
# our own, seeded from the OS and again in every forked worker, spares the getrandom syscall,
# which gives up the GIL on a busy worker (bench/). Not the shared `random`: tests (hypothesis)
# seed that one, and equal task ids would overwrite each other.
_RNG = random.Random()
os.register_at_fork(after_in_child=_RNG.seed)
_V4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))


def _alnum(count: int) -> str:
    while True:
        raw = _RNG.randbytes(count + 8).translate(_TO_ALNUM, _UNEVEN)
        if len(raw) >= count:
            return raw[:count].decode("ascii")


def _uuid4_hex() -> str:
    return f"{_RNG.getrandbits(128) & _V4_CLEAR | _V4:032x}"


def new_task_id(fmt: str) -> str:
    if fmt == "uuid":
        h = _uuid4_hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if fmt == "hex32":
        return _uuid4_hex()
    if fmt == "task_alnum32":
        return "task_" + _alnum(32)
    raise ValueError(f"unknown id format {fmt!r}")


_DERIVED = uuid.UUID("0d6c2f4a-9e1b-4b7e-8a35-6f2e1c9b7d40")


def derived_task_id(fmt: str, *parts: str) -> str:
    """A task id in format ``fmt`` that is always the same for the same ``parts``: for tasks a
    request finds again rather than makes twice (a clip's stems)."""
    h = uuid.uuid5(_DERIVED, "\x00".join(parts)).hex
    if fmt == "uuid":
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if fmt == "hex32":
        return h
    if fmt == "task_alnum32":
        raw = uuid.uuid5(_DERIVED, h).bytes + bytes.fromhex(h)  # 32 bytes, 32 characters
        return "task_" + "".join(_ALNUM[b % 62] for b in raw)
    raise ValueError(f"unknown id format {fmt!r}")


def is_task_id(fmt: str, task_id: str) -> bool:
    """Whether ``task_id`` has the shape of the ids format ``fmt`` makes."""
    return _TASK_ID_RE[fmt].fullmatch(task_id) is not None


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
    rand = _alnum(8)
    return f"{stamp}{nanos}{_BUILD}{rand}" if style == "2026" else f"{stamp}{nanos}{rand}"
