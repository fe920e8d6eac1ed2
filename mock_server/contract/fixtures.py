"""Load fixture files (scenarios, profiles), validated against schemas/ at load time."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from mock_server.errors import FixtureError

__all__ = [
    "MAX_FIXTURE_BYTES",
    "MAX_FIXTURE_DEPTH",
    "FixtureError",
    "load_json_file",
    "nests_deeper",
    "read_json",
]

MAX_FIXTURE_BYTES = 1024 * 1024  # the bundled files are a few KiB
MAX_FIXTURE_DEPTH = 64  # levels of nesting; the bundled files use fewer than 10

_KINDS = {
    stat.S_ISDIR: "a directory",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FIXTURE_BYTES (links followed).

    Opened without blocking, so that a FIFO is refused instead of hanging the start-up.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((name for test, name in _KINDS.items() if test(mode)), "not a file")
            raise FixtureError(f"{path}: cannot read: {what}, not a regular file")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FIXTURE_BYTES:  # st_size lies for some files (/proc): count instead
            chunk = os.read(fd, MAX_FIXTURE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > MAX_FIXTURE_BYTES:
        raise FixtureError(
            f"{path}: cannot read: larger than {MAX_FIXTURE_BYTES // 1024 // 1024} MiB, the limit "
            "for a fixture file"
        )
    return b"".join(chunks)


def nests_deeper(value: Any, limit: int) -> bool:
    """Whether decoded JSON ``value`` nests more than ``limit`` levels (iterative: any depth)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def read_json(path: Path) -> Any:
    """The JSON in ``path``; FixtureError, one line naming the file, for anything else."""
    raw = _read_regular(Path(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FixtureError(
            f"{path}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    too_deep = f"{path}: not JSON we load: nested deeper than {MAX_FIXTURE_DEPTH} levels"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from None
    except RecursionError:
        raise FixtureError(too_deep) from None
    except ValueError:  # an integer past Python's 4300 digits
        raise FixtureError(f"{path}: not JSON we load: a number of more than 4300 digits") from None
    if nests_deeper(data, MAX_FIXTURE_DEPTH):
        raise FixtureError(too_deep)
    return data


def load_json_file(path: Path, kind: str) -> Any:
    """Parse ``path`` and validate it as ``kind``; raise FixtureError naming every violation."""
    from mock_server.contract.validation import validate

    data = read_json(path)
    problems = validate(data, kind)
    if problems:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        raise FixtureError(f"{path}: invalid {kind}:\n{lines}")
    return data
