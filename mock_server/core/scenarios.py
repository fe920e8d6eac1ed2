"""Scenario fixtures: a task template and its timeline, checked beyond what the schema can say."""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_server.contract.fixtures import load_json_file
from mock_server.contract.resources import fixtures_dir
from mock_server.core.actions import ACTIONS
from mock_server.errors import FixtureError, ScenarioNotFound, UnknownStep

__all__ = ["SEED_FILE", "TERMINAL", "Scenario", "ScenarioBook", "Step", "scenario_from_dict"]

TERMINAL = frozenset({"SUCCESS", "FAILURE"})
SEED_FILE = "seed.json"  # in a directory of scenarios: the seed file, not a scenario
PLACEHOLDERS = frozenset(
    {
        "id",
        "task_id",
        "title",
        "tags",
        "prompt",
        "model_name",
        "duration",
        "error_type",
        "error_message",
        "lyrics_text",
        "index",
    }
)


@dataclass(frozen=True)
class Step:
    name: str
    status: str
    after_seconds: float
    after_polls: int
    progress: str | None
    fail_reason: str
    data: str | None
    clip: Mapping[str, Any]
    clips: tuple[Mapping[str, Any], ...]
    lyrics: Mapping[str, Any]
    # Clip keys (dotted paths) removed after the overrides: a recorded clip is served without
    # the keys of the fake's own clip shape that the live clip did not have.
    drop: tuple[tuple[str, ...], ...] = ()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Scenario:
    name: str
    action: str
    description: str
    template: Mapping[str, Any]
    steps: tuple[Step, ...]
    source: str
    # A recorded scenario's URLs are the live gateway's: served as written under any
    # --media-urls (docs/how-to/record-and-replay.md says why).
    keep_media_urls: bool = False

    def step_index(self, name_or_index: str | int) -> int:
        if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
            if 0 <= name_or_index < len(self.steps):
                return name_or_index
        else:
            for i, step in enumerate(self.steps):
                if step.name == name_or_index:
                    return i
        names = ", ".join(s.name for s in self.steps)
        raise UnknownStep(
            f"scenario {self.name!r} has no step {name_or_index!r}; its steps: {names}"
        )


def _template_problems(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(JSON path, problem) for each template string in ``value`` that render could not fill
    safely: only plain placeholders of PLACEHOLDERS (``{title}``), no conversion (``{title!r}``)
    and no format spec (``{title:d}`` fails at render, ``{title:>300000000}`` answers 300 MB)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _template_problems(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _template_problems(child, f"{path}[{i}]")
    elif isinstance(value, str):
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            yield path, f"bad template string {value!r}: {exc}"
            return
        for _, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in PLACEHOLDERS:
                yield path, (
                    f"unknown placeholder {{{field}}}; known: {', '.join(sorted(PLACEHOLDERS))}"
                )
            elif conversion is not None or spec:
                shown = f"{field}!{conversion}" if conversion else field
                shown += f":{spec}" if spec else ""
                yield path, (
                    f"placeholder {{{shown}}} has a conversion or format spec; only plain "
                    f"placeholders such as {{{field}}} are allowed"
                )


def scenario_from_dict(raw: Mapping[str, Any], *, source: str = "<inline>") -> Scenario:
    """Build a Scenario from schema-valid data, or raise FixtureError naming the JSON path."""

    def fail(path: str, message: str) -> FixtureError:
        return FixtureError(f"{source}: {path}: {message}")

    steps: list[Step] = []
    seen: set[str] = set()
    prev_seconds, prev_polls = 0.0, 0
    for i, s in enumerate(raw["steps"]):
        where = f"$.steps[{i}]"
        seconds = float(s.get("after_seconds", 0))
        polls = int(s.get("after_polls", 0))
        if i == 0 and (seconds or polls):
            raise fail(
                where,
                "the first step is the state at submit: after_seconds and after_polls must be 0",
            )
        if seconds < prev_seconds or polls < prev_polls:
            raise fail(where, "thresholds must not decrease along the timeline")
        if s["name"] in seen:
            raise fail(f"{where}.name", f"duplicate step name {s['name']!r}")
        if i and steps[-1].terminal:
            raise fail(where, f"step after terminal step {steps[-1].name!r}: terminal states stick")
        data = s.get("data")
        owners = [a.name for a in ACTIONS.values() if a.data == data]
        if data is not None and raw["action"] not in owners:
            noun = "clip" if data == "clips" else data
            raise fail(f"{where}.data", f"{noun} data belongs to a {' or '.join(owners)} scenario")
        for key in ("clip", "clips", "lyrics", "fail_reason"):
            for path, problem in _template_problems(s.get(key), f"{where}.{key}"):
                raise fail(path, problem)
        if s.get("drop") and data != "clips":
            raise fail(f"{where}.drop", "drop removes clip keys: the step must have clip data")
        if s["status"] == "FAILURE" and not s.get("fail_reason"):
            raise fail(where, "a FAILURE step needs a fail_reason")
        seen.add(s["name"])
        prev_seconds, prev_polls = seconds, polls
        steps.append(
            Step(
                name=s["name"],
                status=s["status"],
                after_seconds=seconds,
                after_polls=polls,
                progress=s.get("progress"),
                fail_reason=s.get("fail_reason", ""),
                data=data,
                clip=s.get("clip", {}),
                clips=tuple(s.get("clips", ())),
                lyrics=s.get("lyrics", {}),
                drop=tuple(tuple(path.split(".")) for path in s.get("drop", ())),
            )
        )
    lyrics_text = raw.get("template", {}).get("lyrics_text")
    for path, problem in _template_problems(lyrics_text, "$.template.lyrics_text"):
        raise fail(path, problem)
    return Scenario(
        name=raw["name"],
        action=raw["action"],
        description=raw.get("description", ""),
        template=raw.get("template", {}),
        steps=tuple(steps),
        source=source,
        keep_media_urls=bool(raw.get("keep_media_urls", False)),
    )


def load_scenario_file(path: Path) -> Scenario:
    return scenario_from_dict(load_json_file(path, "scenario"), source=str(path))


class ScenarioBook:
    """Named scenarios: the bundled ones, then any extra directories (later names win)."""

    def __init__(self, extra_dirs: Iterable[Path | str] = ()) -> None:
        self._by_name: dict[str, Scenario] = {}
        for directory in (fixtures_dir() / "scenarios", *map(Path, extra_dirs)):
            if not Path(directory).is_dir():
                raise FixtureError(f"{directory}: not a directory of scenario files")
            for path in sorted(Path(directory).glob("*.json")):
                if path.name == SEED_FILE:  # a recording's seed sits beside its scenarios
                    continue
                scenario = load_scenario_file(path)
                self._by_name[scenario.name] = scenario

    def get(self, name: str) -> Scenario:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ScenarioNotFound(f"unknown scenario {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self._by_name[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name
