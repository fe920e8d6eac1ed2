"""The in-process store: dict-backed, thread-safe, one namespace per key."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged
from mock_server.stores.base import Settings

__all__ = ["MemoryStore"]


_TOKENS = map(str, itertools.count(1))  # next() on it is atomic under the GIL


class _Space:
    def __init__(self, clock: ClockState, journal_size: int) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self.seq = 0
        self.clock = clock
        self.journal: deque[dict[str, Any]] = deque(maxlen=journal_size)
        self.faults: list[dict[str, Any]] | None = None
        self.counters: dict[str, int] = {}
        self.token = next(_TOKENS)

    def changed(self) -> None:
        self.token = next(_TOKENS)



class MemoryStore:
    """One process, dict-backed, thread-safe."""

    def __init__(self, clock_factory: Any, journal_size: int = 1000) -> None:
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        self._spaces: dict[str, _Space] = {}
        self._lock = threading.Lock()

    def _space(self, ns: str) -> _Space:
        space = self._spaces.get(ns)
        if space is None:
            space = self._spaces[ns] = _Space(self._clock_factory(), self._journal_size)
        return space

    # Seeding for tests (a record with the seq it carries); not part of the Store protocol.
    def insert(self, ns: str, record: TaskRecord) -> None:
        with self._lock:
            self._space(ns).tasks[record.task_id] = record

    def next_seq(self, ns: str) -> int:
        with self._lock:
            space = self._space(ns)
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
            space = self._space(ns)
            if token is not None and token != space.token:
                raise SettingsChanged(ns)
            space.seq += 1
            space.tasks[record.task_id] = record.numbered(space.seq)
            if journal is not None:
                space.journal.append(journal)

    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None:
        record = self._space(ns).tasks.get(task_id)
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
            space = self._space(ns)
            if token is not None and token != space.token:
                raise SettingsChanged(ns)
            tasks = space.tasks
            for task_id in dict.fromkeys(task_ids):  # an id asked twice is one poll
                record = tasks.get(task_id)
                if record is not None and record.owner == owner:
                    record = tasks[task_id] = record.polled()
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
            tasks = self._space(ns).tasks
            record = tasks.get(task_id)
            if record is None:
                return None
            record = tasks[task_id] = replace(record, forced_step=step)
            return record

    def find(self, ns: str, task_id: str) -> TaskRecord | None:
        """The task, whoever owns it (admin API): a lookup, not a scan of ``tasks``."""
        return self._space(ns).tasks.get(task_id)

    def tasks(self, ns: str) -> list[TaskRecord]:
        with self._lock:
            return list(self._space(ns).tasks.values())

    def clock(self, ns: str) -> ClockState:
        return self._space(ns).clock

    def set_clock(self, ns: str, state: ClockState) -> None:
        with self._lock:
            space = self._space(ns)
            space.clock = state
            space.changed()

    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        self._space(ns).journal.append(entry)

    def journal(self, ns: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._space(ns).journal)

    def reset(self, ns: str) -> None:
        with self._lock:
            self._spaces.pop(ns, None)

    def ping(self) -> bool:
        return True

    def probe_write(self) -> None:
        """Always writable: a dictionary."""

    def close(self) -> None:
        """Nothing to flush: the state dies with the process."""

    def get_faults(self, ns: str) -> list[dict[str, Any]] | None:
        with self._lock:
            faults = self._space(ns).faults
            return None if faults is None else list(faults)

    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None:
        with self._lock:
            space = self._space(ns)
            space.faults = list(rules)
            space.changed()

    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int:
        with self._lock:
            counters = self._space(ns).counters
            counters[key] = counters.get(key, 0) + delta
            return counters[key]
