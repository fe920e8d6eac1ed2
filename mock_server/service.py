"""The fake's behaviour, free of HTTP: submit, fetch, admin operations over a store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from .clock import ClockState
from .config import Config
from .fixtures import FixtureError
from .ids import new_task_id
from .lifecycle import TaskState, state_of
from .profiles import Profile, load_profile
from .render import render_task
from .scenarios import Scenario, ScenarioBook, scenario_from_dict
from .store import MemoryStore, Store, TaskRecord
from .validation import validate

__all__ = ["MockService", "owner_of"]

SUBMIT_FIELDS = (
    "gpt_description_prompt",
    "prompt",
    "mv",
    "title",
    "tags",
    "continue_at",
    "task_id",
    "continue_clip_id",
    "make_instrumental",
)


def owner_of(api_key: str) -> str:
    """Tasks belong to a digest of the key, so stores, journals and logs never hold the key.

    A leading ``sk-`` is dropped first, as the gateway does.
    """
    key = api_key.removeprefix("sk-").encode("utf-8", "surrogatepass")
    return "o_" + hashlib.sha256(key).hexdigest()[:24]


class MockService:
    """Tasks, clock and journal for one fake, with no knowledge of HTTP."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.profile: Profile = load_profile(config.profile)
        self.scenarios = ScenarioBook(config.fixtures)
        for action, name in config.default_scenarios.items():
            if self.scenarios.get(name).action != action:
                raise FixtureError(f"default scenario {name!r} is not a {action} scenario")
        self.store: Store = (
            store if store is not None else MemoryStore(self.new_clock, config.journal_size)
        )

    # clock -----------------------------------------------------------------
    def new_clock(self) -> ClockState:
        if self.config.clock == "manual":
            return ClockState.manual(self.config.clock_start)
        return ClockState.wall(self.config.speed, self.config.clock_start)

    def now(self, ns: str = "") -> float:
        return self.store.clock(ns).now()

    def advance(self, seconds: float, ns: str = "") -> float:
        self.store.set_clock(ns, self.store.clock(ns).advanced(seconds))
        return self.now(ns)

    def set_time(self, when: float, ns: str = "") -> float:
        self.store.set_clock(ns, self.store.clock(ns).set_to(when))
        return self.now(ns)

    # scenarios -------------------------------------------------------------
    def scenario_for(self, record: TaskRecord) -> Scenario:
        if record.inline_scenario is not None:
            return scenario_from_dict(record.inline_scenario)
        return self.scenarios.get(record.scenario)

    def resolve_scenario(self, action: str, name: str | None) -> Scenario:
        """The named scenario (KeyError/ValueError with a clear message) or the action's default."""
        scenario = self.scenarios.get(name or self.config.default_scenarios[action])
        if scenario.action != action:
            raise ValueError(
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
    ) -> str:
        task_id = new_task_id(self.profile.id_format)
        kept = {k: request[k] for k in SUBMIT_FIELDS if k in request}
        record = TaskRecord(
            task_id=task_id,
            owner=owner,
            action=action,
            scenario=scenario.name,
            submit_time=self.now(ns) - elapsed,
            seq=self.store.next_seq(ns),
            request=kept,
            inline_scenario=dict(inline) if inline is not None else None,
        )
        self.store.insert(ns, record)
        return task_id

    def state(
        self, record: TaskRecord, ns: str = "", scenario: Scenario | None = None
    ) -> TaskState:
        scenario = scenario or self.scenario_for(record)
        elapsed = self.now(ns) - record.submit_time
        return state_of(scenario, elapsed, record.polls, record.forced_step)

    def render(self, record: TaskRecord, ns: str = "") -> dict[str, Any]:
        scenario = self.scenario_for(record)
        return render_task(record, scenario, self.state(record, ns, scenario), self.profile)

    def fetch(self, owner: str, ids: Iterable[Any], ns: str = "") -> list[dict[str, Any]] | None:
        """The owner's matching tasks in id order, each counted as a poll; None if none."""
        wanted = sorted({i for i in ids if isinstance(i, str)})
        records = self.store.poll(ns, owner, wanted)
        return [self.render(r, ns) for r in records] or None

    def fetch_one(self, owner: str, task_id: str, ns: str = "") -> dict[str, Any] | None:
        records = self.store.poll(ns, owner, [task_id])
        return self.render(records[0], ns) if records else None

    def force_step(self, task_id: str, step: str | int | None, ns: str = "") -> TaskRecord:
        record = next((r for r in self.store.tasks(ns) if r.task_id == task_id), None)
        if record is None:
            raise LookupError(f"no task {task_id!r}")
        index = None if step is None else self.scenario_for(record).step_index(step)
        updated = self.store.force_step(ns, task_id, index)
        assert updated is not None
        return updated
