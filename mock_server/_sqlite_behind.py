"""What the SQLite store's worker processes share outside the database, and its writes-behind.

``Signal`` is a 16-byte file mapped into every process: a counter that each settings change
(clock, fault rules, force step, reset) bumps once committed, and the time any process last
left writes behind. Reading either costs no system call and keeps the GIL, which is the point:
a poll of a settled task (see ``Store.poll_later``) then touches no SQLite at all.

``Behind`` buffers a process's deferred poll counts and journal entries and writes them in one
transaction per interval, from a daemon thread.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["FLUSH_INTERVAL", "Behind", "Pending", "Signal"]

log = logging.getLogger("mock_server")

FLUSH_INTERVAL = 0.02  # seconds a deferred write may wait; reads of the journal wait this out
_LAYOUT = struct.Struct("<Qd")  # settings counter, time of the last deferred write
_FLUSH_AT = 512  # deferred entries that wake the writer before its interval is up


class Signal:
    """The settings counter and the last deferred write's time, shared through a mapped file."""

    def __init__(self, path: str) -> None:
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
        count, deferred = _LAYOUT.unpack_from(self._map)
        _LAYOUT.pack_into(self._map, 0, count + 1, deferred)

    def deferred(self) -> float:
        return float(_LAYOUT.unpack_from(self._map)[1])

    def mark_deferred(self) -> float:
        # Unlocked: two processes may race here, and either time will do (they are ms apart).
        now = time.time()
        struct.pack_into("<d", self._map, 8, now)
        return now

    def close(self) -> None:
        self._map.close()


Pending = tuple[dict[tuple[str, str, str], int], list[tuple[str, float, dict[str, Any]]]]


class Behind:
    """Deferred poll counts and journal entries of one process, written every interval."""

    def __init__(self, write: Callable[[Pending], None], signal: Signal) -> None:
        self._write = write
        self._signal = signal
        self._lock = threading.Lock()
        self._polls: dict[tuple[str, str, str], int] = {}
        self._entries: list[tuple[str, float, dict[str, Any]]] = []
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.last_mark = 0.0  # this process's last mark_deferred

    def add(
        self, ns: str, owner: str, task_ids: Iterable[str], entry: dict[str, Any] | None
    ) -> None:
        with self._lock:
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
        self.last_mark = self._signal.mark_deferred()
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Write what is pending now, in the caller's thread."""
        with self._lock:
            pending: Pending = (self._polls, self._entries)
            self._polls, self._entries = {}, []
        if pending[0] or pending[1]:
            self._write(pending)

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
