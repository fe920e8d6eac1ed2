"""``--record``: observed tasks as scenario fixtures, so the fake can be refreshed from reality.

A scenario cannot say everything a live task shows. The fake renders a task's top-level fields
from its own profile and each clip from its own OSS shape, then applies the step's ``clips``
overrides; so every observed clip key is reproduced (values redacted, the clip's and task's ids
turned into ``{id}`` / ``{task_id}``), but keys of the OSS shape that the live clip lacked are
still served, and top-level task fields follow the profile the fake runs in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_server.contract.validation import validate
from mock_server.core.actions import ACTIONS
from mock_server.core.scenarios import scenario_from_dict
from mock_server.errors import FixtureError

from .._redact import Redactor
from .model import Response, Survey

__all__ = ["RecordSkip", "observed_tasks", "record", "scenario_from_states"]

_STATUSES = frozenset(
    {"NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE", "UNKNOWN"}
)
_TERMINAL = frozenset({"SUCCESS", "FAILURE"})
_ACTIONS = tuple(ACTIONS)  # a tuple: a live task's action may be any JSON value
_PROGRESS = re.compile(r"[0-9]{1,3}%")
_MAX_CLIPS = 8  # the scenario format's clip_count maximum
_SCHEMA_ID = "https://suno-contract-kit.invalid/schemas/scenario.schema.json"


class RecordSkip(ValueError):
    """This task cannot be expressed as a scenario; the message says why."""


def observed_tasks(responses: Iterable[Response]) -> dict[str, list[dict[str, Any]]]:
    """task id -> the distinct states seen, in the order seen (batch and single fetches)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for response in responses:
        prefix, body = response.probe.task_prefix, response.body
        if response.status != 200 or not prefix or not isinstance(body, dict):
            continue
        data = body.get("data")
        tasks = data if prefix == "$.data[*]" and isinstance(data, list) else (
            [data] if prefix == "$.data" and isinstance(data, dict) else []
        )
        for task in tasks:
            if isinstance(task, dict) and isinstance(task.get("task_id"), str):
                states = out.setdefault(task["task_id"], [])
                if not any(_state_key(s) == _state_key(task) for s in states):
                    states.append(task)
    return out


def _state_key(task: dict[str, Any]) -> str:
    keep = {k: task.get(k) for k in ("status", "progress", "fail_reason", "data")}
    return json.dumps(keep, sort_keys=True)


def _templated(value: Any, ids: dict[str, str]) -> Any:
    """Observed JSON as override values: braces escaped for str.format, ids as placeholders."""
    if isinstance(value, dict):
        return {k: _templated(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_templated(v, ids) for v in value]
    if not isinstance(value, str):
        return value
    # The fake formats a string only when it holds "{", so only then do braces need escaping.
    hits = [real for real in ids if real and real in value]
    if "{" not in value and not hits:
        return value
    value = value.replace("{", "{{").replace("}", "}}")
    for real in sorted(hits, key=len, reverse=True):
        value = value.replace(real, "{" + ids[real] + "}")
    return value


def _action(states: list[dict[str, Any]]) -> tuple[str, str]:
    """(MUSIC or LYRICS, a note when the observed action had to be inferred)."""
    said = next((str(s["action"]) for s in states if s.get("action") in _ACTIONS), "")
    data = next((s.get("data") for s in states if s.get("data") is not None), None)
    shape = "MUSIC" if isinstance(data, list) else "LYRICS" if isinstance(data, dict) else ""
    if shape and said and shape != said:
        return shape, f" The gateway said {said}, but the data was shaped like {shape}."
    if not (shape or said):
        return "MUSIC", " The action was not reported; MUSIC assumed."
    return shape or said, ""


def _step(
    index: int, state: dict[str, Any], redactor: Redactor, task_id: str, count: int
) -> dict[str, Any]:
    status = state.get("status")
    if status not in _STATUSES:
        raise RecordSkip(f"status {status!r} is not one the scenario format knows")
    step: dict[str, Any] = {
        "name": "observed" if count == 1 else f"observed-{index + 1}",
        "status": status,
    }
    if index:
        step["after_polls"] = index + 1  # a fetch counts its own poll: the 2nd poll sees step 2
    progress = state.get("progress")
    if isinstance(progress, str) and _PROGRESS.fullmatch(progress):
        step["progress"] = progress
    reason = state.get("fail_reason")
    if isinstance(reason, str) and reason:
        step["fail_reason"] = _templated(redactor.string(reason), {task_id: "task_id"})
    elif status == "FAILURE":
        raise RecordSkip("a FAILURE without fail_reason cannot be a scenario step")
    data = state.get("data")
    if data is None:
        step["data"] = None
    elif isinstance(data, list):
        if not all(isinstance(c, dict) for c in data):
            raise RecordSkip("data is an array of non-objects")
        step["data"] = "clips"
        clips = []
        for clip in data[:_MAX_CLIPS]:
            ids = {task_id: "task_id"}
            if isinstance(clip.get("id"), str):
                ids[clip["id"]] = "id"
            override = {k: v for k, v in redactor.value(clip).items() if k != "id"}
            clips.append(_templated(override, ids))
        step["clips"] = clips
    elif isinstance(data, dict):
        step["data"] = "lyrics"
        step["lyrics"] = _templated(redactor.value(data), {task_id: "task_id"})
    else:
        raise RecordSkip(f"data is a {type(data).__name__}, neither clips nor lyrics")
    return step


def scenario_from_states(
    task_id: str, states: list[dict[str, Any]], redactor: Redactor, *, source: str = "a live API"
) -> dict[str, Any]:
    """One scenario (a step per distinct state, up to the first terminal one), or RecordSkip."""
    kept: list[dict[str, Any]] = []
    for state in states:
        kept.append(state)
        if state.get("status") in _TERMINAL:
            break  # terminal states stick: nothing can follow them in a scenario
    action, note = _action(kept)
    steps = [_step(i, s, redactor, task_id, len(kept)) for i, s in enumerate(kept)]
    if any(s.get("data") == "clips" for s in steps) and action != "MUSIC":
        raise RecordSkip("clip data in a LYRICS task")
    template: dict[str, Any] = {}
    first = next((s["data"] for s in kept if s.get("data")), None)
    if isinstance(first, list) and first:
        clip = redactor.value(first[0])
        meta = clip.get("metadata") if isinstance(clip.get("metadata"), dict) else {}
        for key, value in (("title", clip.get("title")), ("tags", meta.get("tags")),
                           ("prompt", meta.get("prompt"))):
            if isinstance(value, str):
                template[key] = value
        template["clip_count"] = max(1, min(len(first), _MAX_CLIPS))
        durations = [c.get("metadata", {}).get("duration") for c in first[:_MAX_CLIPS]
                     if isinstance(c.get("metadata"), dict)]
        numbers = [float(d) for d in durations
                   if isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0]
        if numbers:
            template["durations"] = numbers
    elif isinstance(first, dict) and isinstance(first.get("title"), str):
        template["title"] = redactor.string(first["title"])
    name = "recorded-" + hashlib.sha256(task_id.encode()).hexdigest()[:12]
    statuses = " -> ".join(str(s["status"]) for s in steps)
    scenario = {
        "$schema": _SCHEMA_ID,
        "name": name,
        "description": (
            f"Recorded by suno-contract drift from {source}: a {action} task seen as "
            f"{statuses}.{note}"
        ),
        "action": action,
        "template": template,
        "steps": steps,
    }
    problems = validate(scenario, "scenario")
    if problems:
        raise RecordSkip("; ".join(str(p) for p in problems[:3]))
    try:
        scenario_from_dict(scenario, source=name)
    except FixtureError as exc:
        raise RecordSkip(str(exc)) from None
    return scenario


def record(
    survey: Survey, directory: Path, redactor: Redactor, *, when: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Write one scenario file per observed task; returns (names written, skipped with reasons)."""
    directory.mkdir(parents=True, exist_ok=True)
    host = urlsplit(survey.base_url).hostname or "the target"
    source = f"{host} on {when} (profile {survey.profile})"
    written: list[str] = []
    skipped: list[dict[str, str]] = []
    for task_id, states in observed_tasks(survey.responses).items():
        try:
            scenario = scenario_from_states(task_id, states, redactor, source=source)
        except RecordSkip as exc:
            skipped.append(
                {"task_id": redactor.string(task_id), "reason": redactor.string(str(exc))}
            )
            continue
        text = json.dumps(scenario, ensure_ascii=False, indent=2) + "\n"
        (directory / f"{scenario['name']}.json").write_text(redactor.text(text), encoding="utf-8")
        written.append(str(scenario["name"]))
    return written, skipped
