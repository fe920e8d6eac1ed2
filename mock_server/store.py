"""Task store: only facts (who, what, when, how often polled, overrides). States are computed."""

from __future__ import annotations

import functools
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, TypeVar

from .clock import ClockState

__all__ = [
    "MemoryStore",
    "Settings",
    "SettingsChanged",
    "Store",
    "StoreUnavailable",
    "TaskRecord",
    "unavailable_on",
]

F = TypeVar("F", bound=Callable[..., Any])


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis down, SQLite locked past its timeout). Retryable.

    The message names the backend and the cause, never a URL (it may hold a password).
    """


def unavailable_on(
    errors: tuple[type[BaseException], ...], describe: Callable[[BaseException], str]
) -> Callable[[F], F]:
    """A decorator for a store's methods: ``errors`` become StoreUnavailable(describe(error))."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except errors as exc:
                raise StoreUnavailable(describe(exc)) from exc

        return wrapper  # type: ignore[return-value]

    return decorate


class SettingsChanged(Exception):
    """A namespace's clock or fault rules changed since the caller read them: nothing was done."""


@dataclass(frozen=True)
class Settings:
    """What a request needs before it touches a task: the clock and the stored fault rules.

    They change only through admin calls, so a server keeps them per process and hands
    ``token`` to ``poll``/``add``, which refuse (SettingsChanged) instead of acting on stale
    ones. The token is opaque, changes with every clock, fault-rule or reset change (and, in a
    store that offers ``token``, with forced steps) and never repeats, not even after a reset.
    """

    token: str
    clock: ClockState
    faults: list[dict[str, Any]] | None


@dataclass(frozen=True)
class TaskRecord:
    """The facts about one submitted task."""

    task_id: str
    owner: str
    action: str
    scenario: str
    submit_time: float
    seq: int
    request: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    forced_step: int | None = None
    inline_scenario: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskRecord:
        return cls(**raw)

    def polled(self) -> TaskRecord:
        """This record with one more poll: ``replace(self, polls=...)`` at a seventh the cost.

        Every fetch calls it; the fields are already valid, so __init__ is skipped.
        """
        new = object.__new__(TaskRecord)
        facts = new.__dict__
        facts.update(self.__dict__)
        facts["polls"] = self.polls + 1
        return new

    def numbered(self, seq: int) -> TaskRecord:
        """This record with sequence number ``seq`` (as ``polled``, without __init__)."""
        new = object.__new__(TaskRecord)
        facts = new.__dict__
        facts.update(self.__dict__)
        facts["seq"] = seq
        return new


class Store(Protocol):
    """What the app needs from a store. Every call is scoped to a namespace."""

    def insert(self, ns: str, record: TaskRecord) -> None: ...
    def next_seq(self, ns: str) -> int: ...
    def add(
        self,
        ns: str,
        record: TaskRecord,
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> None:
        """Insert ``record`` with the namespace's next seq; append ``journal``. A store may
        write both a little later (as for ``poll_later``) if a read that misses the task waits
        for it and the task outlives the process that acknowledged it."""
        ...

    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None: ...
    def find(self, ns: str, task_id: str) -> TaskRecord | None: ...
    def poll(
        self,
        ns: str,
        owner: str,
        task_ids: Iterable[str],
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> list[TaskRecord]:
        """Count a poll of the owner's tasks among ``task_ids`` and return them.

        ``journal`` is appended in the same step when a task was found. With ``token`` (from
        ``settings``) nothing is done if the settings changed since: SettingsChanged.
        """
        ...

    def poll_later(
        self, ns: str, owner: str, task_ids: Iterable[str], *, journal: dict[str, Any] | None = None
    ) -> None:
        """``poll`` for tasks the caller knows and holds settled: whatever their poll count, they
        show the same state. A store may write it a little later (journal and task reads wait
        for it); this one polls at once."""
        ...

    def token(self, ns: str) -> str | None:
        """The current settings token if reading it costs no round trip, else None.

        With a token here, a caller may serve settled tasks it holds and ``poll_later`` them.
        """
        ...

    def settings(self, ns: str) -> Settings: ...
    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None: ...
    def tasks(self, ns: str) -> list[TaskRecord]: ...
    def clock(self, ns: str) -> ClockState: ...
    def set_clock(self, ns: str, state: ClockState) -> None: ...
    def journal_append(self, ns: str, entry: dict[str, Any]) -> None: ...
    def journal(self, ns: str) -> list[dict[str, Any]]: ...
    def reset(self, ns: str) -> None: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...
    # Fault rules and counters (mock_server.faults.FaultState), shared like the tasks.
    def get_faults(self, ns: str) -> list[dict[str, Any]] | None: ...
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None: ...
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int: ...


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
