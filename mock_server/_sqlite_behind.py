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

import fcntl
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

__all__ = ["FLUSH_INTERVAL", "Behind", "Mark", "Pending", "Signal", "wait_for_marks"]

log = logging.getLogger("mock_server")

FLUSH_INTERVAL = 0.02  # seconds a deferred write may wait; reads of the journal wait this out
_LAYOUT = struct.Struct("<Q")  # the settings counter (files of 0.x had 8 more bytes, unused)
_FLUSH_AT = 512  # deferred entries that wake the writer before its interval is up
_DEAD_AFTER = 10.0  # seconds: an unlocked mark this old was left by a killed process


class Signal:
    """The settings counter and the last deferred write's time, shared through a mapped file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < _LAYOUT.size:
                os.ftruncate(fd, _LAYOUT.size)
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
    """A file locked while a batch of deferred writes waits to be written.

    Raised (created and locked) before the batch's first write is acknowledged, lowered
    (removed, unlocked) once the batch is in the file. Each batch has its own mark, so a
    reader waits for what was deferred before it read, never for a busy worker to go idle; the
    lock dies with the process, so a killed worker keeps no one waiting.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        self._path = folder / f"{os.getpid()}-{secrets.token_hex(6)}"
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def lower(self) -> None:
        with suppress(FileNotFoundError):  # unlinked first: no new reader finds it
            os.unlink(self._path)
        os.close(self._fd)  # and the lock with it


def wait_for_marks(folder: Path, timeout: float) -> bool:
    """Wait until every mark raised before now, by any process, is lowered; False on timeout."""
    deadline = time.monotonic() + timeout
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except FileNotFoundError:
        return True
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDWR)
        except FileNotFoundError:  # lowered meanwhile
            continue
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.001)
            with suppress(OSError):  # unlocked and old: its process was killed
                if time.time() - os.fstat(fd).st_mtime > _DEAD_AFTER:
                    os.unlink(folder / name)
        finally:
            os.close(fd)
    return True


Pending = tuple[dict[tuple[str, str, str], int], list[tuple[str, float, dict[str, Any]]]]


class Behind:
    """Deferred poll counts and journal entries of one process, written every interval."""

    def __init__(self, write: Callable[[Pending], None], marks: Path) -> None:
        self._write = write
        self._marks = marks
        self._mark: Mark | None = None  # raised while anything is pending
        self._lock = threading.Lock()
        self._polls: dict[tuple[str, str, str], int] = {}
        self._entries: list[tuple[str, float, dict[str, Any]]] = []
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def add(
        self, ns: str, owner: str, task_ids: Iterable[str], entry: dict[str, Any] | None
    ) -> None:
        with self._lock:
            if self._mark is None:  # before the request is answered: readers must see it
                self._mark = Mark(self._marks)
            polls = self._polls
            for task_id in task_ids:
                key = (ns, owner, task_id)
                polls[key] = polls.get(key, 0) + 1
            if entry is not None:
                self._entries.append((ns, time.time(), entry))
            full = len(self._entries) >= _FLUSH_AT
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="suno-mock-writes-behind", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Write what is pending now, in the caller's thread (lost if the write fails)."""
        with self._lock:
            pending: Pending = (self._polls, self._entries)
            mark = self._mark
            self._polls, self._entries, self._mark = {}, [], None
        try:
            if pending[0] or pending[1]:
                self._write(pending)
        finally:
            if mark is not None:
                mark.lower()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # the thread must live on: the next interval tries again
                # One line, no traceback: an outage would repeat it every interval.
                log.warning("deferred poll counts and journal entries lost: %s", exc)

    def close(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
