"""Tasks made to order: the admin API's POST /__mock/tasks, and seed files read at start.

A body is checked whole before anything is stored (``new_task``), so a refused task leaves no
trace; a seed file is checked whole before its first task is added.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mock_server.contract.profiles import Profile
from mock_server.contract.validation import validate
from mock_server.core.actions import ACTIONS
from mock_server.core.hooks import HOOK_FIELD, hook_problem
from mock_server.core.identity import owner_of
from mock_server.core.ids import TASK_ID_PATTERNS, is_task_id
from mock_server.core.record import TaskRecord
from mock_server.core.scenarios import Scenario, ScenarioBook
from mock_server.errors import FixtureError, InvalidInput, NotFound, TaskExists

__all__ = ["NewTask", "add_task", "apply_seed", "load_seed", "new_task"]

_MAX_SECONDS = 1e11  # admin.schema.json: a bound far past any test's clock


class _Service(Protocol):
    """What this module needs of MockService (which imports it: no import circle)."""

    profile: Profile
    scenarios: ScenarioBook

    def now(self, ns: str = "") -> float: ...

    def inline_scenario(self, raw: Any) -> Scenario: ...

    def resolve_scenario(self, action: str, name: str | None) -> Scenario: ...

    def find(self, task_id: str, ns: str = "") -> TaskRecord | None: ...

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
        task_id: str | None = None,
    ) -> str: ...

    def force_step(self, task_id: str, step: str | int | None, ns: str = "") -> TaskRecord: ...


@dataclass(frozen=True)
class NewTask:
    """A checked POST /__mock/tasks body: everything ``add_task`` needs, nothing stored yet."""

    owner: str
    scenario: Scenario
    inline: dict[str, Any] | None
    request: dict[str, Any]
    elapsed: float
    step: str | int | None
    task_id: str | None


_OWNER = re.compile(r"o_[0-9a-f]{24}")  # core.identity.owner_of's digest
_DEFAULT_ACTION = "MUSIC"  # a task created with neither scenario nor action is a song

def _seconds(body: Mapping[str, Any], key: str) -> float:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidInput(f"{key!r} must be a number")
    if value < 0:
        raise InvalidInput(f"{key!r} must be >= 0")
    if value > _MAX_SECONDS:
        raise InvalidInput(f"{key!r} is out of range")
    return float(value)


def _task_id(service: _Service, value: Any) -> str:
    fmt = service.profile.id_format
    if not isinstance(value, str) or not is_task_id(fmt, value):
        raise InvalidInput(
            f"'task_id' {value!r} is not a task id of profile {service.profile.name} "
            f"({fmt}: {TASK_ID_PATTERNS[fmt]})"
        )
    return value


def _scenario(service: _Service, raw: Any, action: str | None) -> Scenario:
    if isinstance(raw, dict):
        return service.inline_scenario(raw)
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput("'scenario' must be a scenario name or an inline scenario object")
    if action is None:
        if raw:
            return service.scenarios.get(raw)
        return service.resolve_scenario(_DEFAULT_ACTION, None)
    return service.resolve_scenario(action, raw or None)  # checks the two agree


def new_task(service: _Service, body: Mapping[str, Any]) -> NewTask:
    """Check a body with admin-task's fields (InvalidInput, NotFound, FixtureError).

    A field that is null is as if it were absent.
    """
    body = {k: v for k, v in body.items() if v is not None}
    key, digest = body.get("api_key"), body.get("owner")
    if key is not None and digest is not None:
        raise InvalidInput("give 'api_key' or 'owner', not both")
    if digest is not None:
        if not (isinstance(digest, str) and _OWNER.fullmatch(digest)):
            # Not echoed: a key pasted here by mistake must not come back in an answer or log.
            raise InvalidInput("'owner' is not a key digest (o_ and 24 hex digits)")
        owner = digest
    elif isinstance(key, str) and key:
        owner = owner_of(key)
    else:
        raise InvalidInput("'api_key' (the owner's key) or 'owner' (its digest) is required")
    task_id = _task_id(service, body["task_id"]) if "task_id" in body else None
    request = body.get("request", {})
    if not isinstance(request, dict):
        raise InvalidInput("'request' must be an object of submit fields")
    request = {k: v for k, v in request.items() if v is not None}  # as the submit route binds
    problems = validate(request, "submit-request")
    if problems:  # a field of the wrong type would show in the task, against its schema
        raise InvalidInput("'request': " + "; ".join(str(p) for p in problems))
    if service.profile.surface == "elkapi":  # kept and called back there, as on a submit
        bad_hook = hook_problem(request.get(HOOK_FIELD, ""))
        if bad_hook is not None:
            raise InvalidInput(f"'request': {bad_hook}")
    elapsed = _seconds(body, "elapsed") if "elapsed" in body else 0.0
    action = body.get("action")
    if action is not None and not (isinstance(action, str) and action in ACTIONS):
        raise InvalidInput(f"'action' must be {' or '.join(ACTIONS)}")
    raw = body.get("scenario")
    scenario = _scenario(service, raw, action)
    step = body.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (str, int)):
            raise InvalidInput("'step' must be a step name or index")
        scenario.step_index(step)  # UnknownStep, listing the scenario's steps
    return NewTask(
        owner=owner,
        scenario=scenario,
        inline=raw if isinstance(raw, dict) else None,
        request=request,
        elapsed=elapsed,
        step=step,
        task_id=task_id,
    )


def _after_1970(service: _Service, task: NewTask, ns: str) -> None:
    # A task's times are unix seconds, never negative (its schema says so).
    now = service.now(ns)
    if task.elapsed > now:
        raise InvalidInput(
            f"'elapsed' {task.elapsed:g} reaches back before 1970 (the clock is at {now:g})"
        )


def add_task(service: _Service, task: NewTask, ns: str = "") -> str:
    """Store a checked task; its id. TaskExists if its ``task_id`` is taken in ``ns``."""
    if task.task_id is not None and service.find(task.task_id, ns) is not None:
        raise TaskExists(f"task {task.task_id!r} exists already in this namespace")
    _after_1970(service, task, ns)
    task_id = service.submit(
        task.owner,
        task.scenario.action,
        task.request,
        task.scenario,
        ns=ns,
        inline=task.inline,
        elapsed=task.elapsed,
        task_id=task.task_id,
    )
    if task.step is not None:
        service.force_step(task_id, task.step, ns)
    return task_id


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise FixtureError(f"{path}: not YAML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from None


def load_seed(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The tasks of a seed file, each with its JSON path; FixtureError naming file and path."""
    data = _parse(path)
    problems = validate(data, "seed")
    if problems:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        raise FixtureError(f"{path}: invalid seed:\n{lines}")
    if isinstance(data, list):
        return [(f"$[{i}]", task) for i, task in enumerate(data)]
    return [(f"$.tasks[{i}]", task) for i, task in enumerate(data["tasks"])]


def apply_seed(service: _Service, path: Path, ns: str = "") -> list[str]:
    """Add a seed file's tasks to ``ns``; the ids added (a task whose id is there is kept).

    Every task is checked against the service (id format, scenario, step) before the first is
    added: a bad file adds nothing.
    """
    planned: list[NewTask] = []
    where_of: dict[str, str] = {}
    for where, body in load_seed(path):
        try:
            task = new_task(service, body)
            _after_1970(service, task, ns)
        except (InvalidInput, NotFound, FixtureError) as exc:
            raise FixtureError(f"{path}: {where}: {exc}") from None
        assert task.task_id is not None  # the seed schema requires it
        if task.task_id in where_of:
            raise FixtureError(
                f"{path}: {where}.task_id: {task.task_id!r} is also "
                f"{where_of[task.task_id]}.task_id"
            )
        where_of[task.task_id] = where
        planned.append(task)
    added = []
    for task in planned:
        assert task.task_id is not None
        if service.find(task.task_id, ns) is None:
            added.append(add_task(service, task, ns))
    return added
