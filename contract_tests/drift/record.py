"""``--record``: observed tasks as scenario files plus a seed file, the fake's replay format.

The writer is the fake's own (``mock_server.service.recording``), shared with
``suno-mock serve --proxy-to URL --record DIR``: ``suno-mock serve --fixtures DIR --seed
DIR/seed.json`` answers the recorded ids with the data seen, for the drift key's owner. One
drift run fetches a task a few times at once, so its states are told apart by poll count.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_server.core.redact import Redactor
from mock_server.service.recording import (
    Observed,
    RecordSkip,
    Sighting,
    scenario_from_sightings,
    state_key,
    write_recording,
)

from .model import Response, Survey

__all__ = ["RecordSkip", "observed_tasks", "record", "scenario_from_states"]


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
                if not any(state_key(s) == state_key(task) for s in states):
                    states.append(task)
    return out


def _sightings(states: list[dict[str, Any]], redactor: Redactor) -> list[Sighting]:
    # A fetch counts its own poll: the 2nd poll sees step 2.
    return [Sighting(redactor.value(s), 0.0, i + 1) for i, s in enumerate(states)]


def scenario_from_states(
    task_id: str, states: list[dict[str, Any]], redactor: Redactor, *, source: str = "a live API"
) -> dict[str, Any]:
    """One scenario (a step per distinct state, up to the first terminal one), or RecordSkip."""
    return scenario_from_sightings(task_id, _sightings(states, redactor), source=source)


def record(
    survey: Survey, directory: Path, redactor: Redactor, *, when: str, owner: str
) -> tuple[list[str], list[dict[str, str]]]:
    """Write one scenario file per observed task and the seed file naming them (tasks of
    ``owner``, the drift key's digest); returns (names written, skipped with reasons)."""
    host = urlsplit(survey.base_url).hostname or "the target"
    source = f"suno-contract drift of {host} on {when} (profile {survey.profile})"
    tasks = [
        Observed(task_id, owner, _sightings(states, redactor))
        for task_id, states in observed_tasks(survey.responses).items()
    ]
    return write_recording(directory, tasks, redactor, source=source)
