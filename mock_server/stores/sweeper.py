"""A shared store's own sweeps (see ``Limits``): a daemon thread per process that sweeps every
``Limits.sweep_interval`` seconds (everything), and sooner once enough new tasks or namespaces
were written here (a tenth of a cap: that cap only), so that a flood overshoots a cap by little
and a sweep costs about what it forgets."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable

from mock_server.errors import StoreUnavailable
from mock_server.stores.base import Limits, Swept

__all__ = ["Sweep", "Sweeper"]

# What to look at: (past the retention, namespaces over their cap, tasks over theirs).
Sweep = Callable[[bool, bool, bool], Swept]

log = logging.getLogger("mock_server")


class Sweeper:
    def __init__(self, sweep: Sweep, limits: Limits) -> None:
        self._sweep = sweep
        self._interval = limits.sweep_interval()
        self._every_tasks = None if limits.max_tasks is None else max(1, limits.max_tasks // 10)
        self._every_spaces = (
            None if limits.max_namespaces is None else max(1, limits.max_namespaces // 10)
        )
        self._enabled = limits.bounded
        self._tasks = self._spaces = 0
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wrote(self, tasks: int = 0, spaces: int = 0) -> None:
        """``tasks`` new tasks and ``spaces`` new namespaces were written (wakes the sweeper
        early past a tenth of a cap; starts it on first use)."""
        if not self._enabled:
            return
        if self._thread is None or self._pid != os.getpid():  # first use, or a forked child
            self._start()
        self._tasks += tasks  # races lose a count now and then: a sweep comes anyway
        self._spaces += spaces
        if self._tasks >= (self._every_tasks or math.inf) or self._spaces >= (
            self._every_spaces or math.inf
        ):
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._thread = os.getpid(), None
                self._tasks = self._spaces = 0
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="suno-mock-sweeper", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        failing = False
        next_full = time.monotonic() + self._interval
        while not self._stopped.is_set():
            self._wake.wait(max(0.0, next_full - time.monotonic()))
            self._wake.clear()
            if self._stopped.is_set():
                return
            timed = time.monotonic() >= next_full  # however busy, a full sweep per interval
            if timed:
                next_full = time.monotonic() + self._interval
            spaces = timed or self._spaces >= (self._every_spaces or math.inf)
            tasks = timed or self._tasks >= (self._every_tasks or math.inf)
            self._tasks = self._spaces = 0
            try:
                swept = self._sweep(timed, spaces, tasks)
            except StoreUnavailable as exc:  # the next interval tries again
                if not failing:
                    log.warning("sweep of the store failed (tried again later): %s", exc)
                failing = True
                continue
            except Exception:  # the thread must live on
                log.exception("sweep of the store failed")
                continue
            failing = False
            if swept.namespaces or swept.tasks:
                log.info(
                    "forgot %d idle namespace(s) and %d task(s) (limits)",
                    swept.namespaces,
                    swept.tasks,
                )

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
