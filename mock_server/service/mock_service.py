"""The fake's behaviour, free of HTTP: submit, fetch, admin operations over a store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mock_server.contract.profiles import Profile, load_profile
from mock_server.contract.validation import validate
from mock_server.core.actions import ACTIONS
from mock_server.core.clock import ClockState
from mock_server.core.config import Config
from mock_server.core.hooks import HOOK_FIELD
from mock_server.core.identity import owner_of
from mock_server.core.ids import new_task_id
from mock_server.core.lifecycle import TaskState
from mock_server.core.record import TaskRecord
from mock_server.core.render import clip_facts, render_task
from mock_server.core.scenarios import TERMINAL, Scenario, ScenarioBook, scenario_from_dict
from mock_server.errors import FixtureError, InvalidInput, SettingsChanged, TaskNotFound
from mock_server.faults.rules import FaultBook, load_fault_profile
from mock_server.service.callbacks import ORIGIN_FIELD, Deliverer
from mock_server.service.rendered import (
    BoundedCache,
    RenderCache,
    StateTable,
    batch_body,
    success_body,
)
from mock_server.service.seeding import apply_seed
from mock_server.stores.base import Limits, Store
from mock_server.stores.memory import MemoryStore
from mock_server.stores.urls import open_store

if TYPE_CHECKING:
    from mock_server.faults.tasks import TaskFaults

__all__ = ["MockService"]


class MockService:
    """Tasks, clock and journal for one fake, with no knowledge of HTTP."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.profile: Profile = load_profile(config.profile)
        self.scenarios = ScenarioBook(config.fixtures)
        for key, name in config.default_scenarios.items():
            action = key.partition(":")[0]  # MUSIC:extend, a MUSIC task kind's, is MUSIC's
            if self.scenarios.get(name).action != action:
                raise FixtureError(f"default scenario {name!r} is not a {action} scenario")
        self.store: Store = (
            store
            if store is not None
            else open_store(
                config.store, self.new_clock, config.journal_size, limits=Limits.of(config)
            )
        )
        self.faults = FaultBook(
            self.store, [rule for name in config.faults for rule in load_fault_profile(name)]
        )
        # The owners of the configured keys (none: every key is let in).
        self.allowed_owners = frozenset(owner_of(key) for key in config.api_keys)
        # Hot-path caches (bench/): rendered tasks per state, parsed inline scenarios per task.
        self.rendered = RenderCache(self.profile, local_media=config.media_urls == "local")
        self.states = StateTable(poll_interval=config.poll_interval)
        self._inline: BoundedCache[tuple[str, int, float], Scenario] = BoundedCache(1024)
        # Settled tasks this worker polled, with the settings token they were seen under.
        self._settled: BoundedCache[tuple[str, str], tuple[str, TaskRecord]] = BoundedCache(
            16384
        )
        # notify_hook callbacks: ElkAPI's upstream calls them; new-api drops the hook unread.
        self.callbacks = Deliverer(self) if self.profile.surface == "elkapi" else None
        if config.seed:  # checked whole before the first task is added: a bad file adds none
            apply_seed(self, Path(config.seed))

    def clear(self) -> None:
        """Start again as if new: every namespace's tasks, journal, clock and fault state
        forgotten, the caches made from them emptied, held responses let go, the seed file
        loaded again. The pytest fixture's reset between tests, so memory stores only: any
        state kept beside the store must be forgotten here too."""
        if not isinstance(self.store, MemoryStore):
            raise TypeError(f"clear() needs the memory store, not {self.config.store}")
        self.faults.release()  # end any response a hang fault holds open
        self.store.clear()
        self.rendered.clear()
        self._inline.clear()
        self._settled.clear()
        if self.callbacks is not None:
            self.callbacks.clear()
        if self.config.seed:
            apply_seed(self, Path(self.config.seed))

    # clock -----------------------------------------------------------------
    def new_clock(self) -> ClockState:
        if self.config.clock == "manual":
            return ClockState.manual(self.config.clock_start)
        return ClockState.wall(self.config.speed, self.config.clock_start)

    def now(self, ns: str = "") -> float:
        return self.store.clock(ns).now()

    def advance(self, seconds: float, ns: str = "") -> float:
        self.store.set_clock(ns, self.store.clock(ns).advanced(seconds))
        self._moved(ns)
        return self.now(ns)

    def set_time(self, when: float, ns: str = "") -> float:
        self.store.set_clock(ns, self.store.clock(ns).set_to(when))
        self._moved(ns)
        return self.now(ns)

    def _moved(self, ns: str) -> None:
        """The clock of ``ns`` moved: tasks with a hook may have ended (callbacks)."""
        if self.callbacks is not None:
            self.callbacks.moved(ns)

    def _track(self, ns: str, records: Iterable[TaskRecord], changed: bool = False) -> None:
        """Polled (or, ``changed``, submitted or pinned) tasks with a hook may have ended."""
        callbacks = self.callbacks
        if callbacks is not None:
            for record in records:
                if record.request.get(HOOK_FIELD):
                    callbacks.track(ns, record, changed=changed)

    def set_speed(self, speed: float, ns: str = "") -> float:
        """Run the clock at ``speed`` from where it is; 0 pauses it (time then moves only when
        advanced or set)."""
        self.store.set_clock(ns, self.store.clock(ns).at_speed(speed))
        self._moved(ns)
        return self.now(ns)

    # scenarios -------------------------------------------------------------
    def scenario_for(self, record: TaskRecord) -> Scenario:
        inline = record.inline_scenario
        if inline is not None:
            key = (record.task_id, record.seq, record.submit_time)
            return self._inline.get_or_make(key, lambda: scenario_from_dict(inline))
        return self.scenarios.get(record.scenario)

    def resolve_scenario(
        self, action: str, name: str | None, task: str | None = None
    ) -> Scenario:
        """The named scenario or the default of the action (of its MUSIC ``task`` kind:
        Config.default_scenario) (ScenarioNotFound, InvalidInput)."""
        scenario = self.scenarios.get(name or self.config.default_scenario(action, task))
        if scenario.action != action:
            raise InvalidInput(
                f"scenario {scenario.name!r} is a {scenario.action} scenario, not {action}"
            )
        return scenario

    @staticmethod
    def inline_scenario(raw: Any) -> Scenario:
        problems = validate(raw, "scenario")
        if problems:
            raise FixtureError("inline scenario: " + "; ".join(str(p) for p in problems))
        return scenario_from_dict(raw)

    # tasks -----------------------------------------------------------------
    def new_task_id(self) -> str:
        """A fresh task id in the profile's format."""
        return new_task_id(self.profile.id_format)

    def submit(
        self,
        owner: str,
        action: str,
        request: Mapping[str, Any],
        scenario: Scenario,
        *,
        ns: str = "",
        inline: Mapping[str, Any] | None = None,
        elapsed: float = 0.0,
        now: float | None = None,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
        task_id: str | None = None,
        source: Mapping[str, Any] | None = None,
        origin: str | None = None,
    ) -> str:
        """A new task's id (``task_id``, already checked, or a new one in the profile's format).

        ``journal`` and ``token``: as for ``Store.add``. ``origin``: where the client reached
        the fake (scheme://host), for the media URLs of its notify_hook callback.
        """
        task_id = task_id or self.new_task_id()
        _bind, keeps = ACTIONS[action].binding(self.profile.surface)
        kept = {k: request[k] for k in keeps if k in request}
        if source is not None:  # the clip it is made from (find_clip), as the task keeps it
            kept["source"] = dict(source)
        if origin is not None and kept.get(HOOK_FIELD) and self.rendered.local_media:
            kept[ORIGIN_FIELD] = origin
        record = TaskRecord(
            task_id=task_id,
            owner=owner,
            action=action,
            scenario=scenario.name,
            submit_time=(self.now(ns) if now is None else now) - elapsed,
            seq=0,  # the store numbers it
            request=kept,
            inline_scenario=dict(inline) if inline is not None else None,
        )
        self.store.add(ns, record, journal=journal, token=token)
        if kept.get(HOOK_FIELD):
            self._track(ns, [record], changed=True)
        return task_id

    def state(
        self,
        record: TaskRecord,
        ns: str = "",
        scenario: Scenario | None = None,
        now: float | None = None,
    ) -> TaskState:
        scenario = scenario or self.scenario_for(record)
        elapsed = self.states.elapsed(record, self.now(ns) if now is None else now)
        return self.states.state(scenario, elapsed, record.polls, record.forced_step)

    def render(
        self,
        record: TaskRecord,
        ns: str = "",
        faults: TaskFaults | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The task as a fetch shows it; ``now`` saves a clock read per task in a batch."""
        now = self.now(ns) if now is None else now
        scenario = self.scenario_for(record)
        state = self.state(record, ns, scenario, now)
        if faults is not None:  # fault hook: a stuck, failed or data-less view; facts untouched
            shown = faults.override(record, scenario, state, now - record.submit_time)
            if shown[0] is not scenario or shown[1] is not state:
                # A one-off view: not cached.
                return render_task(record, *shown, self.profile, self.rendered.local_media)
        return self.rendered.task(ns, record, scenario, state)

    def fetch(
        self,
        owner: str,
        ids: Iterable[Any],
        ns: str = "",
        faults: TaskFaults | None = None,
        now: float | None = None,
    ) -> list[dict[str, Any]] | None:
        """The owner's matching tasks in id order, each counted as a poll; None if none.

        ``now`` is the clock's time if the caller has read it already (one store round trip
        less on a shared store).
        """
        asked = [i for i in ids if isinstance(i, str)]
        wanted = self.wanted(asked)
        if faults is not None:  # fault hook: tasks not inserted yet are not polled
            wanted = faults.visible(wanted, lambda i: self.store.get(ns, owner, i), self.now(ns))
        records = self.store.poll(ns, owner, wanted)
        if not records:
            return None
        now = self.now(ns) if now is None else now
        if faults is None:  # the usual case, in one loop: a 50-id batch is per-task work
            tasks = self.rendered.tasks(ns, records, now, self.scenario_for, self.states)
            self._track(ns, records)
        else:
            tasks = [self.render(r, ns, faults, now) for r in records]
            for record, task in zip(records, tasks, strict=True):
                self._shown(ns, record, task)
        if faults is not None:  # fault hook: ids dropped, order shuffled
            tasks = faults.arrange(asked, tasks)
        return tasks or None

    def poll(
        self,
        ns: str,
        owner: str,
        wanted: list[str],
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> list[TaskRecord]:
        """``Store.poll`` with no fault hooks; tasks this worker holds settled need no store
        round trip.

        A settled task shows the same whatever its poll count (``settled``), so while the
        settings ``token`` stands, its poll and journal entry may be written behind
        (``Store.poll_later``). Only stores whose token costs no round trip offer that, and only
        a caller that holds a token (the fast path) takes it.
        """
        store = self.store
        held = store.token(ns) if token is not None else None
        if held is not None:
            if held != token:
                raise SettingsChanged(ns)
            known = self._known(ns, owner, wanted, held)
            if known:
                store.poll_later(ns, owner, wanted, journal=journal)
                self._track(ns, known)
                return known
        records = store.poll(ns, owner, wanted, journal=journal, token=token)
        self._track(ns, records)
        if held is not None:
            for record in records:
                if self.settled(record):
                    self._settled.put((ns, record.task_id), (held, record))
        return records

    def _known(
        self, ns: str, owner: str, wanted: list[str], token: str
    ) -> list[TaskRecord] | None:
        """The owner's tasks, if this worker holds every one settled under ``token``."""
        out = []
        for task_id in wanted:
            hit = self._settled.get((ns, task_id))
            if hit is None or hit[0] != token or hit[1].owner != owner:
                return None
            out.append(hit[1])
        return out

    @staticmethod
    def wanted(ids: Iterable[Any]) -> list[str]:
        """The ids a batch fetch looks up: the strings, once each, in order."""
        return sorted({i for i in ids if isinstance(i, str)})

    def batch_body(self, records: list[TaskRecord], ns: str, now: float) -> bytes:
        """``success_body`` of the polled ``records`` with no faults, without the task dicts.

        The hot path's batch answer (bench/: a 50-id fetch is per-task work).
        """
        if not records:
            return success_body(None)
        return batch_body(self.rendered.bodies(ns, records, now, self.scenario_for, self.states))

    def fetch_one(
        self,
        owner: str,
        task_id: str,
        ns: str = "",
        faults: TaskFaults | None = None,
        now: float | None = None,
    ) -> dict[str, Any] | None:
        wanted = [task_id]
        if faults is not None:  # fault hook: a task not inserted yet is task_not_exist
            wanted = faults.visible(wanted, lambda i: self.store.get(ns, owner, i), self.now(ns))
        records = self.store.poll(ns, owner, wanted)
        if not records:
            return None
        task = self.render(records[0], ns, faults, now)
        self._shown(ns, records[0], task)
        return task

    def _shown(self, ns: str, record: TaskRecord, task: Mapping[str, Any]) -> None:
        """A fetch showed ``task``: its callback goes now if it shows it ended (a fault rule's
        view may, before its facts do), else the task is tracked as a poll."""
        if self.callbacks is None or not record.request.get(HOOK_FIELD):
            return
        if task.get("status") in TERMINAL:
            self.callbacks.shown(ns, record, dict(task))
        else:
            self.callbacks.track(ns, record)

    def settled(self, record: TaskRecord) -> bool:
        """Whether more polls can no longer change what the task shows (only the clock can)."""
        if record.forced_step is not None:
            return True
        # Poll thresholds never decrease along a timeline: past the last, polls are saturated.
        return record.polls >= self.states.table(self.scenario_for(record)).polls[-1]

    def find_clip(self, ns: str, owner: str, clip_id: str) -> dict[str, Any] | None:
        """The facts of ``clip_id`` if it is a clip of one of ``owner``'s tasks (clip_facts)."""
        for record in self.store.tasks(ns):
            if record.owner != owner or ACTIONS[record.action].data != "clips":
                continue
            for facts in clip_facts(record, self.scenario_for(record)):
                if facts["id"] == clip_id:
                    return facts
        return None

    def find(self, task_id: str, ns: str = "") -> TaskRecord | None:
        """The task, whoever owns it (admin)."""
        return self.store.find(ns, task_id)

    def force_step(self, task_id: str, step: str | int | None, ns: str = "") -> TaskRecord:
        record = self.find(task_id, ns)
        if record is None:
            raise TaskNotFound(f"no task {task_id!r} in this namespace")
        index = None if step is None else self.scenario_for(record).step_index(step)
        updated = self.store.force_step(ns, task_id, index)
        assert updated is not None
        self._track(ns, [updated], changed=True)
        return updated
