"""What the SQLite store's worker processes share outside the database, and its writes-behind.

``Signal`` is a 16-byte file mapped into every process: a counter that each settings change
(clock, fault rules, force step, reset) bumps once committed. Reading it costs no system call
and keeps the GIL, which is the point: a poll of a settled task (see ``Store.poll_later``) then
touches no SQLite at all.

``Behind`` buffers a process's deferred poll counts and journal entries and writes them in one
transaction per interval, from a daemon thread. While it holds any, its ``Mark`` (a locked file
in ``<db>-behind/``) says so to the other processes, whose journal and task-list reads wait for
it to go: exact where a guess from times had missed writes of a busy worker.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import mmap
import os
import secrets
import struct
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

__all__ = [
    "FLUSH_INTERVAL",
    "Batch",
    "Behind",
    "Mark",
    "Signal",
    "TaskRow",
    "allocate",
    "sweep",
]

log = logging.getLogger("mock_server")

FLUSH_INTERVAL = 0.02  # seconds a deferred write may wait; reads of the journal wait this out
_LAYOUT = struct.Struct("<Q")  # the settings counter (older files have 8 more bytes, unused)
_FLUSH_AT = 512  # deferred entries that wake the writer before its interval is up
_MARK_SIZE = 1 << 15  # bytes allocated for a batch's task log at first: ~60 tasks (then doubles)
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no room: the caller's store is unavailable
_DEAD_AFTER = 10.0  # seconds: an unlocked mark this old was left by a killed process


class Signal:
    """The settings counter and the last deferred write's time, shared through a mapped file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            allocate(fd, _LAYOUT.size)  # a bump writes through the mapping: never into a hole
            self._map = mmap.mmap(fd, _LAYOUT.size)
        finally:
            os.close(fd)

    def counter(self) -> int:
        return int(_LAYOUT.unpack_from(self._map)[0])

    def bump(self) -> None:
        """One more settings change. Callers hold the store's writer lock: no lost bumps."""
        _LAYOUT.pack_into(self._map, 0, self.counter() + 1)

    def close(self) -> None:
        self._map.close()


class Mark:
    """A file locked while a batch of deferred writes waits to be written, and its task log.

    Raised (created and locked) before the batch's first write is acknowledged, lowered
    (emptied, removed, unlocked) once the batch is in the database. Each batch has its own
    mark, so a reader waits for what was deferred before it read, never for a busy worker to go
    idle. The lock dies with the process: a killed worker keeps no one waiting, and the tasks
    logged in its mark are written by the next process that finds it (``sweep``).
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        self._path = folder / f"{os.getpid()}-{secrets.token_hex(6)}"
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._map: mmap.mmap | None = None
        self._used = 0

    def log(self, row: TaskRow) -> None:
        """Keep a submitted task where it outlives this process (the OS has it on return).

        Copied into a shared mapping of the file: no system call, so the GIL is kept (a write()
        per submit, under the batch's lock, queued the request threads behind each other).
        """
        line = (json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        end = self._used + len(line)
        if self._map is None or end > len(self._map):
            self._grow(end)
        assert self._map is not None
        self._map[self._used : end] = line
        self._used = end

    def reserve(self) -> None:
        """Allocate the first blocks of the log now (OSError when there is no room)."""
        if self._map is None:
            self._grow(0)

    def _grow(self, needed: int) -> None:
        size = max(_MARK_SIZE, needed * 2)
        # Blocks allocated before they are mapped: a write through a mapping into a hole that
        # a full disk cannot back is a SIGBUS, which kills the worker. Here it is an OSError
        # (ENOSPC), the submit is not acknowledged, and the mapping in use stays as it was.
        allocate(self._fd, size, 0 if self._map is None else len(self._map))
        if self._map is not None:
            self._map.close()
        self._map = mmap.mmap(self._fd, size)

    def lower(self) -> None:
        if self._map is not None:
            self._map.close()
        with suppress(OSError):  # emptied first: a reader that still finds it replays nothing
            os.ftruncate(self._fd, 0)
            os.unlink(self._path)
        os.close(self._fd)  # and the lock with it


def allocate(fd: int, size: int, start: int = 0) -> None:
    """Make the file at least ``size`` bytes, every block from ``start`` on allocated on disk
    (OSError, ENOSPC on a full disk). Files mapped into memory are written only within what
    this made: a write into a hole the file system cannot back is a SIGBUS, not an error."""
    try:
        os.posix_fallocate(fd, start, size - start)
    except OSError as exc:
        if exc.errno in _FULL:
            raise
        # A file system that cannot allocate ahead (EINVAL, EOPNOTSUPP): write the zeros.
        start = max(start, os.fstat(fd).st_size)
        zeros = bytes(min(1 << 16, max(size - start, 0)))
        while start < size:
            start += os.pwrite(fd, zeros[: size - start], start)


# ns, task_id, owner, polls, forced_step, facts: a row of the tasks table, but its seq.
TaskRow = tuple[str, str, str, int, "int | None", str]


def sweep(
    folder: Path, timeout: float, recover: Callable[[list[TaskRow]], None]
) -> tuple[bool, bool]:
    """Wait until every mark raised before now is lowered, and write the tasks logged in marks
    of killed processes. (all lowered within ``timeout``, 0: look only; any mark found)."""
    deadline = time.monotonic() + timeout
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except FileNotFoundError:
        return True, False
    done = True
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDWR)
        except FileNotFoundError:  # lowered meanwhile
            continue
        try:
            if _lock(fd, deadline):
                _recover(folder / name, fd, recover)
            else:
                done = False
        finally:
            os.close(fd)
    return done, bool(names)


def _lock(fd: int, deadline: float) -> bool:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)


def _recover(path: Path, fd: int, recover: Callable[[list[TaskRow]], None]) -> None:
    """A mark we could lock: lowered meanwhile, not yet locked by its maker, or left behind."""
    size = os.fstat(fd).st_size
    if size:  # a killed process's tasks (a live one empties its mark before unlocking it)
        logged = os.pread(fd, size, 0).partition(b"\0")[0]  # the mapping's unused end is zeros
        rows = [row for line in logged.splitlines() if (row := _row(line))]
        if rows:
            recover(rows)  # idempotent: tasks already written are left as they are
            log.warning("wrote %d submitted task(s) logged by a killed worker", len(rows))
        os.ftruncate(fd, 0)  # a second finder replays nothing
        os.unlink(path)
    else:
        with suppress(OSError):  # empty and old: left by a process killed as it raised it
            if time.time() - os.fstat(fd).st_mtime > _DEAD_AFTER:
                os.unlink(path)


def _row(line: bytes) -> TaskRow | None:
    try:
        ns, task_id, owner, polls, forced, facts = json.loads(line)
    except ValueError:  # a line cut short by the kill
        return None
    return (ns, task_id, owner, polls, forced, facts)


class Batch:
    """Writes behind of one interval: tasks, poll counts, journal entries, and their marks."""

    __slots__ = ("entries", "marks", "polls", "submitted", "tasks", "used")

    def __init__(self) -> None:
        self.tasks: list[TaskRow] = []
        self.submitted: list[float] = []  # the wall time of each task's submit
        self.used: dict[str, float] = {}  # namespace -> the wall time of its last use here
        self.polls: dict[tuple[str, str, str], int] = {}
        self.entries: list[tuple[str, float, dict[str, Any]]] = []
        self.marks: list[Mark] = []

    def __bool__(self) -> bool:
        return bool(self.tasks or self.polls or self.entries)


class Behind:
    """Deferred submits, poll counts and journal entries of one process, written every interval.

    Submitted tasks are logged in the batch's mark before the submit is answered, so they
    survive the process; poll counts and journal entries of a batch whose write fails are
    dropped (diagnostics), its tasks are kept for the next try.
    """

    def __init__(self, write: Callable[[Batch], None], marks: Path) -> None:
        self._write = write
        self._marks = marks
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one batch at a time: tasks numbered in submit order
        self._batch = Batch()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _open(self) -> Batch:
        """The batch, marked (under the lock; before the request is answered)."""
        batch = self._batch
        if not batch.marks:
            batch.marks.append(Mark(self._marks))
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="suno-mock-writes-behind", daemon=True
            )
            self._thread.start()
        return batch

    def add(
        self,
        ns: str,
        owner: str,
        task_ids: Iterable[str],
        entry: dict[str, Any] | None,
        at: float,
    ) -> None:
        """Defer polls and a journal entry of a request at wall time ``at``."""
        with self._lock:
            batch = self._open()
            batch.used[ns] = at
            polls = batch.polls
            for task_id in task_ids:
                key = (ns, owner, task_id)
                polls[key] = polls.get(key, 0) + 1
            if entry is not None:
                batch.entries.append((ns, time.time(), entry))
            full = len(batch.entries) >= _FLUSH_AT
        if full:
            self._wake.set()

    def add_task(self, row: TaskRow, entry: dict[str, Any] | None, at: float) -> None:
        """Log the task (OSError: not logged, not acknowledged), then defer its write."""
        with self._lock:
            batch = self._open()
            batch.marks[-1].log(row)
            batch.tasks.append(row)
            batch.submitted.append(at)
            batch.used[row[0]] = at
            if entry is not None:
                batch.entries.append((row[0], time.time(), entry))
            full = len(batch.tasks) + len(batch.entries) >= _FLUSH_AT
        if full:
            self._wake.set()

    def flush(self) -> bool:
        """Write what is pending now, in the caller's thread; whether there was anything."""
        with self._flushing:
            with self._lock:
                batch, self._batch = self._batch, Batch()
            if not batch:
                for mark in batch.marks:
                    mark.lower()
                return False
            try:
                self._write(batch)
            except BaseException:
                if batch.tasks:  # kept, with the marks that log them, for the next try
                    with self._lock:
                        self._batch.tasks[:0] = batch.tasks
                        self._batch.submitted[:0] = batch.submitted
                        self._batch.used = {**batch.used, **self._batch.used}
                        self._batch.marks[:0] = batch.marks
                else:
                    for mark in batch.marks:
                        mark.lower()
                raise
            for mark in batch.marks:
                mark.lower()
            return True

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # the thread must live on: the next interval tries again
                # One line, no traceback: an outage would repeat it every interval.
                log.warning(
                    "deferred poll counts and journal entries lost (submitted tasks kept): %s",
                    exc,
                )

    def close(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
