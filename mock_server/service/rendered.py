"""Render and serialize a task once per state, not once per fetch.

A rendered task is a pure function of the task's facts (fixed at submit), its computed state and
the profile; ``polls`` only matters through the state. So the task dict and its Go-style JSON are
kept, per (namespace, facts, state), in a small bounded cache, and a fetch answer is spliced from
the cached JSON of its tasks. Splicing is byte-identical to encoding the whole envelope at once:
gojson is compact, and its HTML escaping applies inside strings only.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from typing import Any

from mock_server.contract.profiles import Profile
from mock_server.core.cache import BoundedCache
from mock_server.core.lifecycle import TaskState, gateway_elapsed, poll_phase, state_of
from mock_server.core.record import TaskRecord
from mock_server.core.render import render_task
from mock_server.core.scenarios import Scenario
from mock_server.wire import gojson

__all__ = ["BoundedCache", "RenderCache", "StateTable", "WireTask", "batch_body", "success_body"]

_HEAD = b'{"code":"success","message":"","data":'


def _invalidating(name: str) -> Any:
    method = getattr(dict, name)

    def wrapper(self: WireTask, *args: Any, **kwargs: Any) -> Any:
        self.wire = None
        return method(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


class WireTask(dict[str, Any]):
    """A rendered task (a plain dict to its readers) that carries its own JSON encoding.

    Each fetch gets its own shallow copy, so a caller may change the top level (the encoding
    is then dropped and the dict is encoded afresh). Nested values are shared with the cache:
    replace them, never mutate them in place.
    """

    __slots__ = ("wire",)
    wire: bytes | None  # always set by _wire_task; dropped (None) by any top-level change

    __setitem__ = _invalidating("__setitem__")
    __delitem__ = _invalidating("__delitem__")
    __ior__ = _invalidating("__ior__")
    clear = _invalidating("clear")
    pop = _invalidating("pop")
    popitem = _invalidating("popitem")
    setdefault = _invalidating("setdefault")
    update = _invalidating("update")

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))  # pickles and deep copies as the plain dict it stands for


def _wire_task(task: dict[str, Any], wire: bytes) -> WireTask:
    copy = WireTask(task)  # dict's own __init__: a Python one would double the cost
    copy.wire = wire
    return copy


def _wire(value: Any) -> bytes | None:
    return value.wire if type(value) is WireTask else None


def success_body(data: Any) -> bytes:
    """``{"code":"success","message":"","data":<data>}`` as gojson writes it."""
    wire = _wire(data)
    if wire is not None:
        return _HEAD + wire + b"}"
    if type(data) is list and data:
        parts = [_wire(task) for task in data]
        if None not in parts:
            return batch_body(parts)  # type: ignore[arg-type]
    return gojson.dumpb({"code": "success", "message": "", "data": data})


def batch_body(parts: list[bytes]) -> bytes:
    """The success envelope around a non-empty list of encoded tasks."""
    if len(parts) == 1:
        return _HEAD + b"[" + parts[0] + b"]}"
    # Envelope glued onto the first and last parts: the big join copies the body once.
    return b",".join([_HEAD + b"[" + parts[0], *parts[1:-1], parts[-1] + b"]}"])


class RenderCache:
    """The rendered task (dict and JSON) per namespace, task facts and state, for one profile."""

    def __init__(self, profile: Profile, size: int = 2048, local_media: bool = False) -> None:
        self.profile = profile
        self.local_media = local_media
        self._entries: BoundedCache[tuple[Any, ...], tuple[dict[str, Any], bytes]] = (
            BoundedCache(size)
        )

    def clear(self) -> None:
        self._entries.clear()

    def task(self, ns: str, record: TaskRecord, scenario: Scenario, state: TaskState) -> WireTask:
        return _wire_task(*self._entry(ns, record, scenario, state))

    def tasks(
        self,
        ns: str,
        records: Iterable[TaskRecord],
        now: float,
        scenario_for: Callable[[TaskRecord], Scenario],
        states: StateTable,
    ) -> list[dict[str, Any]]:
        """Each record as a fetch at ``now`` shows it (``task`` with ``states.state``)."""
        return [_wire_task(*e) for e in self._entries_at(ns, records, now, scenario_for, states)]

    def bodies(
        self,
        ns: str,
        records: Iterable[TaskRecord],
        now: float,
        scenario_for: Callable[[TaskRecord], Scenario],
        states: StateTable,
    ) -> list[bytes]:
        """The JSON of what ``tasks`` returns, without the dicts (the hot path's batch)."""
        return [e[1] for e in self._entries_at(ns, records, now, scenario_for, states)]

    def _entries_at(
        self,
        ns: str,
        records: Iterable[TaskRecord],
        now: float,
        scenario_for: Callable[[TaskRecord], Scenario],
        states: StateTable,
    ) -> list[tuple[dict[str, Any], bytes]]:
        # One loop with the lookups hoisted out of it: a batch is per-task work, and the tasks
        # of a batch mostly share one scenario.
        get = self._entries.get
        out = []
        scenario: Scenario | None = None
        table: _Table | None = None
        for record in records:
            if scenario is not (scenario := scenario_for(record)) or table is None:
                table = states.table(scenario)
            if record.forced_step is None:  # StateTable.state, inlined
                reached = min(bisect_right(table.seconds, states.elapsed(record, now)),
                              bisect_right(table.polls, record.polls))
                state = table.states[max(reached - 1, 0)]
            else:
                state = states.state(scenario, now - record.submit_time, 0, record.forced_step)
            entry = get((ns, record.task_id, record.seq, record.submit_time, state.step))
            out.append(entry or self._entry(ns, record, scenario, state))
        return out

    def _entry(
        self, ns: str, record: TaskRecord, scenario: Scenario, state: TaskState
    ) -> tuple[dict[str, Any], bytes]:
        # A task's facts (owner, action, scenario, request...) are fixed at submit, together
        # with its id (random, never reused), sequence number and submit time; its state is the
        # scenario's step (fault views, which differ, never come here).
        key = (ns, record.task_id, record.seq, record.submit_time, state.step)
        entry = self._entries.get(key)
        if entry is None:
            task = render_task(record, scenario, state, self.profile, self.local_media)
            entry = self._entries.put(key, (task, gojson.dumpb(task)))
        return entry


class StateTable:
    """Each scenario's states, one per step, computed once: past the step, a state depends on
    nothing else (``lifecycle.state_of``)."""

    def __init__(self, size: int = 1024, poll_interval: float = 0.0) -> None:
        # Keyed by id(); the entry holds the scenario, so the id cannot be reused while it lives.
        self._tables: BoundedCache[int, _Table] = BoundedCache(size)
        self.poll_interval = poll_interval

    def elapsed(self, record: TaskRecord, now: float) -> float:
        """The task's age as fetches show it: at the gateway poller's last run (-1 before its
        first one: the task's first step), or now when there is no poll grid."""
        elapsed = now - record.submit_time
        interval = self.poll_interval
        if not interval:
            return elapsed
        seen = gateway_elapsed(elapsed, interval, poll_phase(record.task_id, interval))
        return -1.0 if seen is None else seen

    def state(
        self, scenario: Scenario, elapsed: float, polls: int, forced: int | None = None
    ) -> TaskState:
        """Same as ``state_of(scenario, elapsed, polls, forced)``."""
        if forced is not None:
            return state_of(scenario, elapsed, polls, forced)
        table = self.table(scenario)
        # Thresholds never decrease along a timeline (scenarios.py checks), so the step reached
        # is the last one below both cut-offs: lifecycle.reached_step, by bisection.
        reached = min(bisect_right(table.seconds, elapsed), bisect_right(table.polls, polls))
        return table.states[max(reached - 1, 0)]

    def table(self, scenario: Scenario) -> _Table:
        table = self._tables.get(id(scenario))
        if table is None or table.scenario is not scenario:
            table = self._tables.put(id(scenario), _Table(scenario))
        return table


class _Table:
    __slots__ = ("polls", "scenario", "seconds", "states")

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.states = tuple(state_of(scenario, 0.0, 0, i) for i in range(len(scenario.steps)))
        self.seconds = [step.after_seconds for step in scenario.steps]
        self.polls = [step.after_polls for step in scenario.steps]
