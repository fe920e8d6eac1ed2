"""The store protocol. Stores keep only facts (who, what, when, polls); states are computed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mock_server.core.clock import ClockState
from mock_server.core.config import Config
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged, StoreUnavailable

__all__ = [
    "FaultStateStore",
    "JournalStore",
    "Limits",
    "Settings",
    "SettingsChanged",
    "SettingsStore",
    "Store",
    "StoreUnavailable",
    "Swept",
    "TaskStore",
    "unavailable_on",
]

F = TypeVar("F", bound=Callable[..., Any])


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
class Limits:
    """How much a store keeps, so that a fake shared for weeks stays bounded. None: no limit.

    A namespace is *used* by every request that writes in it (a submit, a fetch, a journal
    entry, an admin change; reads of the admin API are not); a task is *touched* when it is
    submitted, polled or pinned. ``retention``: namespaces not used, and tasks not touched, for
    that many seconds are forgotten (a namespace as by a reset). ``max_namespaces``,
    ``max_tasks`` (in the whole store): past them the least recently used namespaces, then the
    least recently touched tasks, are forgotten first (idle ones, settled ones: a task polled
    again is touched again). Stores that sweep by themselves (SQLite, Redis) may exceed a cap
    for up to a sweep's interval.
    """

    retention: float | None = None
    max_namespaces: int | None = None
    max_tasks: int | None = None

    def __post_init__(self) -> None:
        for name in ("retention", "max_namespaces", "max_tasks"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None (no limit), not {value!r}")

    @classmethod
    def of(cls, config: Config) -> Limits:
        """The limits a server's configuration sets (0 there: no limit)."""
        return cls(
            retention=config.retention or None,
            max_namespaces=config.max_namespaces or None,
            max_tasks=config.max_tasks or None,
        )

    def cutoff(self, now: float) -> float | None:
        """Used or touched before this (wall time): forgotten."""
        return None if self.retention is None else now - self.retention

    @property
    def bounded(self) -> bool:
        return (self.retention, self.max_namespaces, self.max_tasks) != (None, None, None)

    def sweep_interval(self) -> float:
        """Seconds between two sweeps of a store that sweeps by itself."""
        return 60.0 if self.retention is None else min(60.0, max(self.retention / 10, 0.01))


@dataclass(frozen=True)
class Swept:
    """What one sweep forgot: whole namespaces, and tasks (those of the namespaces too)."""

    namespaces: int = 0
    tasks: int = 0


class TaskStore(Protocol):
    """The tasks of a namespace: facts only, each poll counted."""

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

    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None: ...
    def tasks(self, ns: str) -> list[TaskRecord]: ...


class SettingsStore(Protocol):
    """A namespace's clock and fault rules, read together under one token."""

    def settings(self, ns: str) -> Settings: ...
    def token(self, ns: str) -> str | None:
        """The current settings token if reading it costs no round trip, else None.

        With a token here, a caller may serve settled tasks it holds and ``poll_later`` them.
        """
        ...

    def clock(self, ns: str) -> ClockState: ...
    def set_clock(self, ns: str, state: ClockState) -> None: ...


class JournalStore(Protocol):
    """The requests a namespace has seen, oldest first, bounded."""

    def journal_append(self, ns: str, entry: dict[str, Any]) -> None: ...
    def journal(self, ns: str) -> list[dict[str, Any]]: ...


class FaultStateStore(Protocol):
    """Fault rules and their counters (faults.rules.FaultState), shared like the tasks."""

    def get_faults(self, ns: str) -> list[dict[str, Any]] | None: ...
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None: ...
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int: ...


class Store(TaskStore, SettingsStore, JournalStore, FaultStateStore, Protocol):
    """A whole backend: every part above, scoped by namespace, plus its own life cycle.

    A new backend is one module that passes tests/test_store_contract.py.
    """

    def reset(self, ns: str) -> None:
        """Forget the namespace's tasks, journal, clock and fault state."""
        ...

    def sweep(self) -> Swept:
        """Forget now what ``Limits`` say goes (past the retention, over a cap). Stores also
        do it by themselves, when they write or every ``Limits.sweep_interval`` seconds."""
        ...

    def ping(self) -> bool: ...
    def probe_write(self) -> None:
        """A small write of what a submit writes (StoreUnavailable, with the reason, when the
        store cannot take writes now: read-only, a full disk, a read-only replica). Costs about
        what a submit costs; /readyz calls it at most about once a second per worker."""
        ...

    def close(self) -> None: ...
