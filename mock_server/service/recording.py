"""Observed tasks as fixtures: one scenario file per task plus a seed file (``seed.json``).

One writer for both recorders, ``suno-mock serve --proxy-to URL --record DIR`` and
``suno-contract drift --record DIR``, so ``suno-mock serve --fixtures DIR --seed DIR/seed.json``
replays either. A task's clips are recorded whole (their own ids included) with ``drop`` naming
the keys of the fake's clip shape they lacked, and each scenario is rendered back before it is
written: a task the format cannot serve as it was seen is skipped with the reason, never written
approximately. What is redacted, and what a replay does not reproduce:
docs/how-to/record-and-replay.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_server.contract.profiles import load_profile, profile_names
from mock_server.contract.validation import validate
from mock_server.core.actions import ACTIONS, FORWARDED_FIELDS
from mock_server.core.identity import owner_of
from mock_server.core.lifecycle import state_of
from mock_server.core.record import TaskRecord
from mock_server.core.redact import Redactor
from mock_server.core.render import render_task
from mock_server.core.scenarios import SEED_FILE, TERMINAL, scenario_from_dict
from mock_server.errors import FixtureError

__all__ = [
    "Observed",
    "RecordSkip",
    "Recorder",
    "Sighting",
    "scenario_from_sightings",
    "scenario_name",
    "write_recording",
]

_STATUSES = frozenset(
    {"NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE", "UNKNOWN"}
)
_ACTIONS = tuple(ACTIONS)  # a tuple: a live task's action may be any JSON value
_MAX_CLIPS = 8  # the scenario format's clip_count maximum
_SCHEMA_ID = "https://suno-contract-kit.invalid/schemas/scenario.schema.json"
_SEED_SCHEMA_ID = "https://suno-contract-kit.invalid/schemas/seed.schema.json"
# The submit fields a seed's request keeps: what new-api forwards. notify_hook is left out:
# a callback URL often carries the app's own secret, and the gateway drops it anyway (§9).
_REQUEST_KEYS = FORWARDED_FIELDS


class RecordSkip(ValueError):
    """This task cannot be served back as it was seen; the message says why."""


@dataclass(frozen=True)
class Sighting:
    """One distinct state of a task, as the gateway returned it, when first seen."""

    state: Mapping[str, Any]
    seconds: float  # since the task's submit was seen (or, without one, it was first seen)
    polls: int  # the task's fetches so far, counting the one that saw this state


@dataclass
class Observed:
    """What was seen of one task: who owns it, how it was asked for, its states in order."""

    task_id: str
    owner: str  # core.identity.owner_of's digest: never the key
    sightings: list[Sighting] = field(default_factory=list)
    action: str | None = None  # the submit route's, when the submit was seen
    request: dict[str, Any] | None = None


def scenario_name(task_id: str) -> str:
    return "recorded-" + hashlib.sha256(task_id.encode()).hexdigest()[:12]


def state_key(task: Mapping[str, Any]) -> str:
    """What makes two sightings of a task the same state (not its timestamps)."""
    keep = {k: task.get(k) for k in ("status", "progress", "fail_reason", "data")}
    return json.dumps(keep, sort_keys=True)


def _templated(value: Any, task_id: str) -> Any:
    """Observed JSON as override values: braces escaped for str.format, the task id as
    ``{task_id}`` (so a scenario reused for another task names that task)."""
    if isinstance(value, dict):
        return {k: _templated(v, task_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_templated(v, task_id) for v in value]
    if not isinstance(value, str):
        return value
    hit = bool(task_id) and task_id in value
    if "{" not in value and not hit:  # the fake formats a string only when it holds "{"
        return value
    value = value.replace("{", "{{").replace("}", "}}")
    return value.replace(task_id, "{task_id}") if hit else value


def _action(states: list[Mapping[str, Any]], submitted: str | None) -> tuple[str, str]:
    """(the scenario's action, a note when it had to be inferred)."""
    said = submitted if submitted in _ACTIONS else next(
        (str(s["action"]) for s in states if s.get("action") in _ACTIONS), "")
    data = next((s.get("data") for s in states if s.get("data") is not None), None)
    shape = "MUSIC" if isinstance(data, list) else "LYRICS" if isinstance(data, dict) else ""
    if shape == "MUSIC" and said in ("CONCAT", "UPLOAD"):
        return said, ""  # clip-making actions beside MUSIC
    if shape and said and shape != said:
        return shape, f" The gateway said {said}, but the data was shaped like {shape}."
    if not (shape or said):
        return "MUSIC", " The action was not reported; MUSIC assumed."
    return shape or said, ""


def _step(index: int, seen: Sighting, timing: tuple[float, int], task_id: str,
          count: int) -> dict[str, Any]:
    state = seen.state
    status = state.get("status")
    if status not in _STATUSES:
        raise RecordSkip(f"status {status!r} is not one the scenario format knows")
    step: dict[str, Any] = {
        "name": "observed" if count == 1 else f"observed-{index + 1}",
        "status": status,
    }
    seconds, polls = timing
    if seconds:
        step["after_seconds"] = seconds
    if polls:
        step["after_polls"] = polls
    progress = state.get("progress")
    if isinstance(progress, str):
        step["progress"] = progress  # the schema refuses what the fake could not show
    reason = state.get("fail_reason")
    if isinstance(reason, str) and reason:
        step["fail_reason"] = _templated(reason, task_id)
    elif status == "FAILURE":
        raise RecordSkip("a FAILURE without fail_reason cannot be a scenario step")
    data = state.get("data")
    if data is None:
        step["data"] = None
    elif isinstance(data, list):
        if not data or not all(isinstance(c, dict) for c in data):
            raise RecordSkip("data is an empty array or an array of non-objects")
        if len(data) > _MAX_CLIPS:
            raise RecordSkip(f"{len(data)} clips; a scenario holds at most {_MAX_CLIPS}")
        step["data"] = "clips"
        step["clips"] = [_templated(dict(clip), task_id) for clip in data]
    elif isinstance(data, dict):
        step["data"] = "lyrics"
        step["lyrics"] = _templated(data, task_id)
    else:
        raise RecordSkip(f"data is a {type(data).__name__}, neither clips nor lyrics")
    return step


def _timings(sightings: list[Sighting]) -> list[tuple[float, int]]:
    """(after_seconds, after_polls) per step: the observed time since submit; where a state
    was seen at the same instant as the one before (a manual clock, or one drift run), the
    poll that saw it keeps them apart. Thresholds never decrease, as the format requires."""
    out: list[tuple[float, int]] = [(0.0, 0)]
    for seen in sightings[1:]:
        seconds, polls = out[-1]
        now = round(max(0.0, seen.seconds), 3)
        if now > seconds:
            out.append((now, polls))
        else:
            out.append((seconds, max(polls, seen.polls)))
    return out


def _paths_missing(rendered: Any, seen: Any, prefix: str = "") -> list[str]:
    """Dotted paths of keys ``rendered`` has and ``seen`` lacks (into objects both have)."""
    if not (isinstance(rendered, dict) and isinstance(seen, dict)):
        return []
    out = []
    for key, value in rendered.items():
        path = f"{prefix}{key}"
        if key not in seen:
            out.append(path)
        else:
            out.extend(_paths_missing(value, seen[key], path + "."))
    return out


def _render_all(raw: dict[str, Any], task_id: str) -> list[list[Any]]:
    """Each step's data as the fake serves it, in every profile (each adds its own clip keys)."""
    scenario = scenario_from_dict(raw, source=str(raw["name"]))
    record = TaskRecord(task_id, "o_recording", scenario.action, scenario.name, 0.0, 1)
    out: list[list[Any]] = []
    for name in profile_names():
        profile = load_profile(name)
        out.append([
            render_task(record, scenario, state_of(scenario, 0.0, 0, forced=i), profile).get(
                "data")
            for i in range(len(scenario.steps))
        ])
    return out


def scenario_from_sightings(
    task_id: str,
    sightings: list[Sighting],
    *,
    source: str = "a live API",
    action: str | None = None,
) -> dict[str, Any]:
    """One scenario (a step per distinct state, up to the first terminal one), or RecordSkip.

    ``sightings`` are already redacted; the scenario serves their data exactly (compared as
    JSON values: clip keys come back in MySQL's order, as every real capture has them).
    """
    kept: list[Sighting] = []
    for seen in sightings:
        kept.append(seen)
        if seen.state.get("status") in TERMINAL:
            break  # terminal states stick: nothing can follow them in a scenario
    states = [s.state for s in kept]
    action, note = _action(states, action)
    steps = [_step(i, s, t, task_id, len(kept))
             for i, (s, t) in enumerate(zip(kept, _timings(kept), strict=True))]
    if any(s.get("data") == "clips" for s in steps) and not ACTIONS[action].data == "clips":
        raise RecordSkip(f"clip data in a {action} task")
    counts = {len(s["data"]) for s in states if isinstance(s.get("data"), list)}
    if len(counts) > 1:
        raise RecordSkip(f"the number of clips changed between states ({sorted(counts)})")
    template: dict[str, Any] = {}
    clips = next((s["data"] for s in states if isinstance(s.get("data"), list)), None)
    if clips:
        template["clip_count"] = len(clips)
        last = next(s["data"] for s in reversed(states) if isinstance(s.get("data"), list))
        durations = [c.get("metadata", {}).get("duration") for c in last
                     if isinstance(c.get("metadata"), dict)]
        numbers = [float(d) for d in durations
                   if isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0]
        if len(numbers) == len(last):  # the media routes' lengths, by clip
            template["durations"] = numbers
    statuses = " -> ".join(str(s["status"]) for s in steps)
    scenario: dict[str, Any] = {
        "$schema": _SCHEMA_ID,
        "name": scenario_name(task_id),
        "description": f"Recorded from {source}: a {action} task seen as {statuses}.{note}",
        "action": action,
        "keep_media_urls": True,
        "template": template,
        "steps": steps,
    }
    problems = validate(scenario, "scenario")
    if problems:
        raise RecordSkip("; ".join(str(p) for p in problems[:3]))
    try:
        rendered = _render_all(scenario, task_id)
        for data, state in zip(rendered[0], states, strict=True):
            if isinstance(data, list) and len(data) != len(state["data"]):
                raise RecordSkip(
                    f"the fake serves {len(data)} clips where {len(state['data'])} were seen")
        for i, step in enumerate(steps):
            if step["data"] == "clips":
                drop = sorted({p for profile in rendered
                               for clip, shown in zip(profile[i], states[i]["data"], strict=True)
                               for p in _paths_missing(clip, shown)})
                if drop:
                    step["drop"] = drop
        if any(s.get("drop") for s in steps):
            rendered = _render_all(scenario, task_id)
    except FixtureError as exc:
        raise RecordSkip(str(exc)) from None
    for profile in rendered:
        for i, data in enumerate(profile):
            if data != states[i].get("data"):
                raise RecordSkip(f"step {i + 1} would not be served as it was seen")
    return scenario


def _request(request: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The submit fields a replayed task keeps, each of the type the schema says."""
    if not request:
        return None
    kept = {k: request[k] for k in _REQUEST_KEYS if request.get(k) is not None}
    kept = {k: v for k, v in kept.items() if not validate({k: v}, "submit-request")}
    return kept or None


def _write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all: a replay never loads half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _seed(entries: list[dict[str, Any]], source: str) -> str:
    seed = {
        "$schema": _SEED_SCHEMA_ID,
        "description": (
            f"Recorded from {source}. Each task belongs to the digest of the key that was "
            "seen with it: replay with the same key."
        ),
        "tasks": entries,
    }
    return json.dumps(seed, ensure_ascii=False, indent=2) + "\n"


def _record_one(
    directory: Path, task: Observed, redactor: Redactor, source: str
) -> dict[str, Any]:
    """Write ``task``'s scenario file; its seed entry. RecordSkip when it cannot be served."""
    scenario = scenario_from_sightings(
        task.task_id, task.sightings, source=source, action=task.action)
    name = str(scenario["name"])
    text = json.dumps(scenario, ensure_ascii=False, indent=2) + "\n"
    _write_atomic(directory / f"{name}.json", redactor.text(text))
    entry: dict[str, Any] = {"task_id": task.task_id, "owner": task.owner, "scenario": name}
    request = _request(task.request)
    if request:
        entry["request"] = request
    return entry


def write_recording(
    directory: Path, tasks: Iterable[Observed], redactor: Redactor, *, source: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Write a scenario file per task and ``seed.json`` naming them all; (scenario names
    written, tasks skipped with reasons). ``redactor.text`` is the last pass over each file."""
    directory.mkdir(parents=True, exist_ok=True)
    skipped: list[dict[str, str]] = []
    entries: list[dict[str, Any]] = []
    for task in tasks:
        try:
            entries.append(_record_one(directory, task, redactor, source))
        except RecordSkip as exc:
            skipped.append({"task_id": redactor.string(task.task_id),
                            "reason": redactor.string(str(exc))})
    _write_atomic(directory / SEED_FILE, redactor.text(_seed(entries, source)))
    return [str(e["scenario"]) for e in entries], skipped


class Recorder:
    """What ``suno-mock serve --record`` saw, written to its directory as it goes.

    Keeps no key: each answer is redacted with its request's key before it is kept, and tasks
    are filed under the key's digest. Thread-safe; one per process (--record needs one worker).
    """

    def __init__(self, directory: Path, clock: Callable[[], float], source: str,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.directory = directory
        self.clock = clock
        self.source = source
        self.log = log
        self._tasks: dict[str, Observed] = {}
        self._origin: dict[str, float] = {}  # task id -> when its submit (or first sight) was
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}  # task id -> its seed entry, in order
        self._skipped: dict[str, str] = {}

    def submitted(self, key: str, action: str, request: Any, answer: Any) -> None:
        """A submit the gateway took: ``answer`` is its JSON body (data: the task id)."""
        if not (isinstance(answer, dict) and answer.get("code") == "success"
                and isinstance(answer.get("data"), str)):
            return
        redactor = Redactor([key])
        task_id = answer["data"]
        with self._lock:
            task = self._tasks.setdefault(task_id, Observed(task_id, owner_of(key)))
            task.action = action.upper()
            if isinstance(request, dict):
                task.request = redactor.value(request)
            self._origin.setdefault(task_id, self.clock())
            if task.sightings:
                self._write(task)

    def fetched(self, key: str, answer: Any) -> None:
        """A fetch's answer (either route): each task in it is one more poll of that task."""
        if not isinstance(answer, dict) or answer.get("code") != "success":
            return
        data = answer.get("data")
        tasks = data if isinstance(data, list) else [data]
        redactor = Redactor([key])
        now = self.clock()
        with self._lock:
            for raw in tasks:
                if not (isinstance(raw, dict) and isinstance(raw.get("task_id"), str)):
                    continue
                task_id = raw["task_id"]
                task = self._tasks.setdefault(task_id, Observed(task_id, owner_of(key)))
                polls = self._polls[task_id] = self._polls.get(task_id, 0) + 1
                origin = self._origin.setdefault(task_id, now)
                state = redactor.value(raw)
                if any(state_key(s.state) == state_key(state) for s in task.sightings):
                    continue
                if task.sightings and task.sightings[-1].state.get("status") in TERMINAL:
                    continue  # terminal states stick; a change after one is not a step
                task.sightings.append(Sighting(state, now - origin, polls))
                self._write(task)

    def _write(self, task: Observed) -> None:
        """Rewrite ``task``'s scenario and the seed (under the lock: one writer at a time)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._entries[task.task_id] = _record_one(
                self.directory, task, Redactor(), self.source)
            self._skipped.pop(task.task_id, None)
        except RecordSkip as exc:
            self._entries.pop(task.task_id, None)
            if self._skipped.get(task.task_id) != str(exc):
                self._skipped[task.task_id] = str(exc)
                self.log(f"suno-mock record: task {task.task_id} not recorded: {exc}")
        text = _seed(list(self._entries.values()), self.source)
        _write_atomic(self.directory / SEED_FILE, text)
