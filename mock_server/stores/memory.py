"""The in-process store: dict-backed, thread-safe, one namespace per key, bounded by Limits."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from mock_server.core.cache import BoundedCache
from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged
from mock_server.stores.base import Limits, Settings, Swept

__all__ = ["MemoryStore"]


_TOKENS = map(str, itertools.count(1))  # next() on it is atomic under the GIL
_RETENTION_CHECK = 1.0  # seconds between two looks for what outlived the retention


class _Space:
    def __init__(self, clock: ClockState, journal_size: int, now: float) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        # task id -> wall time last touched, least recently touched first (a touch moves it
        # last): per namespace, in a plain dict, it costs a third of a store-wide ordered dict.
        self.touched: dict[str, float] = {}
        self.seq = 0
        self.clock = clock
        self.journal: deque[dict[str, Any]] = deque(maxlen=journal_size)
        self.faults: list[dict[str, Any]] | None = None
        self.counters: dict[str, int] = {}
        self.token = next(_TOKENS)
        self.used = now

    def changed(self) -> None:
        self.token = next(_TOKENS)


class MemoryStore:
    """One process, dict-backed, thread-safe.

    Namespaces are kept least recently used first, and each one's tasks least recently touched
    first, so that forgetting what ``Limits`` say goes costs about what it forgets: the caps
    hold at every write (past ``max_tasks``, the least recently touched hundredth of it goes at
    once), the retention is looked at once a second by the writes.
    """

    def __init__(
        self,
        clock_factory: Any,
        journal_size: int = 1000,
        *,
        limits: Limits | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        self._limits = limits or Limits()
        self._wall = wall
        self._spaces: OrderedDict[str, _Space] = OrderedDict()
        self._count = 0  # tasks in every namespace
        self._next_check = 0.0
        self._lock = threading.Lock()
        # Polls of a task at one step are answered the same bytes: full journals kept one copy
        # of each answer each (a 1000-entry journal of polls: 3.1 MB, 0.6 MB with this).
        self._answers: BoundedCache[str, str] = BoundedCache(256)

    # namespaces and their use (the lock held) ----------------------------------------------
    def _space(self, ns: str) -> _Space:
        """The namespace, made (and used) if new; a new one past the cap forgets the least
        recently used."""
        space = self._spaces.get(ns)
        if space is None:
            now = self._wall()
            space = self._spaces[ns] = _Space(self._clock_factory(), self._journal_size, now)
            cap = self._limits.max_namespaces
            while cap is not None and len(self._spaces) > cap:
                self._forget(next(iter(self._spaces)))
            self._check(now)
        return space

    def _use(self, ns: str) -> _Space:
        """The namespace, used now (a write in it)."""
        space = self._space(ns)
        now = self._wall()
        space.used = now
        self._spaces.move_to_end(ns)
        self._check(now)
        return space

    def _touch(self, space: _Space, task_id: str, now: float) -> None:
        """The task was touched now (a new one is counted: past the cap, the oldest go)."""
        touched = space.touched
        if touched.pop(task_id, None) is None:
            self._count += 1
        touched[task_id] = now
        cap = self._limits.max_tasks
        if cap is not None and self._count > cap:
            self._forget_oldest(self._count - cap + cap // 100)

    def _forget_oldest(self, count: int) -> int:
        """Forget the ``count`` least recently touched tasks of every namespace."""
        heads = [
            (next(iter(space.touched.values())), ns)
            for ns, space in self._spaces.items()
            if space.touched
        ]
        heapq.heapify(heads)
        forgotten = 0
        while heads and forgotten < count:
            _at, ns = heads[0]
            space = self._spaces[ns]
            task_id = next(iter(space.touched))
            self._forget_task(space, task_id)
            forgotten += 1
            if space.touched:
                heapq.heapreplace(heads, (next(iter(space.touched.values())), ns))
            else:
                heapq.heappop(heads)
        return forgotten

    def _forget(self, ns: str) -> int:
        space = self._spaces.pop(ns)
        self._count -= len(space.touched)
        return len(space.touched)

    def _forget_task(self, space: _Space, task_id: str) -> None:
        del space.touched[task_id]
        space.tasks.pop(task_id, None)
        self._count -= 1

    def _check(self, now: float) -> None:
        if self._limits.retention is not None and now >= self._next_check:
            self._next_check = now + _RETENTION_CHECK
            self._expire(now)

    def _expire(self, now: float) -> Swept:
        cutoff = self._limits.cutoff(now)
        spaces = tasks = 0
        if cutoff is not None:
            while self._spaces:
                ns, space = next(iter(self._spaces.items()))
                if space.used >= cutoff:
                    break
                tasks += self._forget(ns)
                spaces += 1
            for space in self._spaces.values():
                touched = space.touched
                while touched:
                    task_id, at = next(iter(touched.items()))
                    if at >= cutoff:
                        break
                    self._forget_task(space, task_id)
                    tasks += 1
        return Swept(spaces, tasks)

    def sweep(self) -> Swept:
        """What outlived the retention, now (the caps hold at every write)."""
        with self._lock:
            return self._expire(self._wall())

    # Seeding for tests (a record with the seq it carries); not part of the Store protocol.
    def insert(self, ns: str, record: TaskRecord) -> None:
        with self._lock:
            space = self._use(ns)
            space.tasks[record.task_id] = record
            self._touch(space, record.task_id, space.used)

    def next_seq(self, ns: str) -> int:
        with self._lock:
            space = self._use(ns)
            space.seq += 1
            return space.seq

    def add(
        self,
        ns: str,
        record: TaskRecord,
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> None:
        with self._lock:
            space = self._use(ns)
            if token is not None and token != space.token:
                raise SettingsChanged(ns)
            space.seq += 1
            space.tasks[record.task_id] = record.numbered(space.seq)
            self._touch(space, record.task_id, space.used)
            if journal is not None:
                space.journal.append(journal)

    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None:
        space = self._spaces.get(ns)
        record = None if space is None else space.tasks.get(task_id)
        return record if record is not None and record.owner == owner else None

    def poll(
        self,
        ns: str,
        owner: str,
        task_ids: Iterable[str],
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> list[TaskRecord]:
        out = []
        with self._lock:
            space = self._use(ns)
            if token is not None and token != space.token:
                raise SettingsChanged(ns)
            tasks = space.tasks
            for task_id in dict.fromkeys(task_ids):  # an id asked twice is one poll
                record = tasks.get(task_id)
                if record is not None and record.owner == owner:
                    record = tasks[task_id] = record.polled()
                    self._touch(space, task_id, space.used)
                    out.append(record)
            if out and journal is not None:
                space.journal.append(journal)
        return out

    def poll_later(
        self, ns: str, owner: str, task_ids: Iterable[str], *, journal: dict[str, Any] | None = None
    ) -> None:
        self.poll(ns, owner, task_ids, journal=journal)

    def token(self, ns: str) -> str | None:
        """None: a poll here costs less than keeping tasks aside would save."""
        return None

    def settings(self, ns: str) -> Settings:
        with self._lock:
            space = self._space(ns)
            faults = None if space.faults is None else list(space.faults)
            return Settings(space.token, space.clock, faults)

    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None:
        with self._lock:
            if ns not in self._spaces:
                return None
            space = self._use(ns)
            record = space.tasks.get(task_id)
            if record is None:
                return None
            record = space.tasks[task_id] = replace(record, forced_step=step)
            self._touch(space, task_id, space.used)
            return record

    def find(self, ns: str, task_id: str) -> TaskRecord | None:
        """The task, whoever owns it (admin API): a lookup, not a scan of ``tasks``."""
        space = self._spaces.get(ns)
        return None if space is None else space.tasks.get(task_id)

    def tasks(self, ns: str) -> list[TaskRecord]:
        with self._lock:
            space = self._spaces.get(ns)
            return [] if space is None else list(space.tasks.values())

    def clock(self, ns: str) -> ClockState:
        with self._lock:
            return self._space(ns).clock

    def set_clock(self, ns: str, state: ClockState) -> None:
        with self._lock:
            space = self._use(ns)
            space.clock = state
            space.changed()

    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        answer = entry.get("response")
        if answer:  # outside the lock: hashing it is the cost
            entry["response"] = self._answers.get(answer) or self._answers.put(answer, answer)
        with self._lock:
            self._use(ns).journal.append(entry)

    def journal(self, ns: str) -> list[dict[str, Any]]:
        with self._lock:
            space = self._spaces.get(ns)
            return [] if space is None else list(space.journal)

    def reset(self, ns: str) -> None:
        with self._lock:
            if ns in self._spaces:
                self._forget(ns)

    def clear(self) -> None:
        """Forget every namespace at once (the pytest fixture, between two tests)."""
        with self._lock:
            self._spaces = OrderedDict()
            self._count = 0

    def ping(self) -> bool:
        return True

    def probe_write(self) -> None:
        """Always writable: a dictionary."""

    def close(self) -> None:
        """Nothing to flush: the state dies with the process."""

    def get_faults(self, ns: str) -> list[dict[str, Any]] | None:
        with self._lock:
            space = self._spaces.get(ns)
            return None if space is None or space.faults is None else list(space.faults)

    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None:
        with self._lock:
            space = self._use(ns)
            space.faults = list(rules)
            space.changed()

    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int:
        with self._lock:
            counters = self._use(ns).counters
            counters[key] = counters.get(key, 0) + delta
            return counters[key]
