"""The contract as JSON Schemas: load, resolve, validate, and derive the strict form."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT7

from mock_server.contract.resources import profile_path, schemas_dir
from mock_server.errors import FixtureError

__all__ = [
    "KINDS",
    "PROFILE_KINDS",
    "Violation",
    "explained_errors",
    "resolved_schema",
    "validate",
]

# kind -> schema file (or file#/json/pointer to one of its definitions). Kinds in PROFILE_KINDS
# embed a task and follow the profile.
KINDS: dict[str, str] = {
    "submit-request": "submit-request.schema.json",
    "fetch-request": "fetch-request.schema.json",
    "submit-response": "submit-response.schema.json",
    "fetch-batch-response": "fetch-batch-response.schema.json",
    "fetch-one-response": "fetch-one-response.schema.json",
    "task": "task.schema.json",
    "clip": "clip.schema.json",
    "lyrics": "lyrics.schema.json",
    "task-error": "task-error.schema.json",
    "gateway-error": "gateway-error.schema.json",
    # ElkAPI's clip actions (reference section 10): raw Suno answers, no envelope.
    "timing-response": "timing-response.schema.json",
    "scenario": "scenario.schema.json",
    "profile": "profile.schema.json",
    "fault": "fault.schema.json",
    "fault-rule": "fault.schema.json#/definitions/rule",
    "drift-report": "drift-report.schema.json",
    "drift-baseline": "baseline.schema.json",
    "seed": "seed.schema.json",
    # ElkAPI's clip actions (clip-actions.schema.json).
    "export-response": "clip-actions.schema.json#/definitions/export-response",
    "stems-response": "clip-actions.schema.json#/definitions/stems-response",
    "persona-request": "clip-actions.schema.json#/definitions/persona-request",
    "persona": "clip-actions.schema.json#/definitions/persona",
    # The fake's own API (admin.schema.json): request bodies, then answers.
    "admin-empty": "admin.schema.json#/definitions/empty",
    "admin-clock-advance": "admin.schema.json#/definitions/clock-advance",
    "admin-clock-set": "admin.schema.json#/definitions/clock-set",
    "admin-clock-speed": "admin.schema.json#/definitions/clock-speed",
    "admin-clock-resume": "admin.schema.json#/definitions/clock-resume",
    "admin-task": "admin.schema.json#/definitions/task",
    "admin-task-step": "admin.schema.json#/definitions/task-step",
    "admin-clock": "admin.schema.json#/definitions/clock",
    "admin-reset": "admin.schema.json#/definitions/reset",
    "admin-task-view": "admin.schema.json#/definitions/task-view",
    "admin-task-list": "admin.schema.json#/definitions/task-list",
    "admin-scenario-list": "admin.schema.json#/definitions/scenario-list",
    "admin-journal": "admin.schema.json#/definitions/journal",
    "admin-callbacks": "admin.schema.json#/definitions/callbacks",
    "admin-fault-view": "admin.schema.json#/definitions/fault-view",
    "admin-fault-list": "admin.schema.json#/definitions/fault-list",
    "admin-faults-added": "admin.schema.json#/definitions/faults-added",
    "admin-faults-cleared": "admin.schema.json#/definitions/faults-cleared",
    "admin-fault-deleted": "admin.schema.json#/definitions/fault-deleted",
    "health": "admin.schema.json#/definitions/health",
    "readiness": "admin.schema.json#/definitions/readiness",
}
PROFILE_KINDS = frozenset({"task", "fetch-batch-response", "fetch-one-response"})
_GENERIC_TASK = "task.schema.json"


@dataclass(frozen=True)
class Violation:
    """One way a payload breaks a schema, located by JSON path."""

    path: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@lru_cache(maxsize=1)
def _registry() -> tuple[Registry, dict[str, str]]:
    registry: Registry = Registry()
    ids: dict[str, str] = {}
    for path in sorted(Path(schemas_dir()).glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        ids[path.name] = contents["$id"]
        registry = registry.with_resource(contents["$id"], DRAFT7.create_resource(contents))
    return registry.crawl(), ids


def _inline(node: Any, resolver: Any, names: bool = False) -> Any:
    # hypothesis-jsonschema and error paths both work best on one self-contained
    # schema, so every $ref is replaced by what it points at (no schema here recurses).
    # ``names`` marks a "properties" map, whose keys are property names, not keywords.
    if isinstance(node, dict):
        if names:
            return {k: _inline(v, resolver) for k, v in node.items()}
        if "$ref" in node:
            found = resolver.lookup(node["$ref"])
            return _inline(found.contents, found.resolver)
        if "$id" in node:
            resolver = resolver.in_subresource(DRAFT7.create_resource(node))
        return {
            k: _inline(v, resolver, k == "properties")
            for k, v in node.items()
            if k not in ("$id", "$schema", "definitions")
        }
    if isinstance(node, list):
        return [_inline(v, resolver) for v in node]
    return node


def _strict(node: Any, names: bool = False) -> Any:
    """Close every object and every known-values list: additions become violations."""
    if isinstance(node, dict):
        if names:
            return {k: _strict(v) for k, v in node.items()}
        out = {k: _strict(v, k == "properties") for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        if "x-known" in out and "enum" not in out:
            out["enum"] = list(out["x-known"])
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _swap_task(node: Any, task_file: str) -> Any:
    if isinstance(node, dict):
        if node.get("$ref") == _GENERIC_TASK:
            return {"$ref": task_file}
        return {k: _swap_task(v, task_file) for k, v in node.items()}
    if isinstance(node, list):
        return [_swap_task(v, task_file) for v in node]
    return node


def _task_file(profile: str) -> str:
    # Read from the profile file itself: load_profile validates profiles with this module.
    try:
        raw = json.loads(profile_path(profile).read_text(encoding="utf-8"))
        return str(raw["task_schema"])
    except (OSError, ValueError, KeyError, TypeError):
        raise FixtureError(f"unknown or unreadable profile {profile!r}") from None


@lru_cache(maxsize=128)
def _resolved(kind: str, profile: str | None, strict: bool) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(sorted(KINDS))}")
    registry, ids = _registry()
    name = KINDS[kind]
    task_file = _task_file(profile) if profile is not None and kind in PROFILE_KINDS else None
    if kind == "task" and task_file:
        name = task_file
    name, _, pointer = name.partition("#")
    if name not in ids:
        raise ValueError(f"schema file {name} for kind {kind!r} is missing")
    resolver = registry.resolver(base_uri=ids[name])
    if pointer:
        found = resolver.lookup(f"#{pointer}")
        root, resolver = found.contents, found.resolver
    else:
        root = registry.contents(ids[name])
    if task_file and kind != "task":
        root = _swap_task(root, task_file)
    schema = _inline(copy.deepcopy(root), resolver)
    if strict:
        schema = _strict(schema)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return json.dumps(schema)


def resolved_schema(
    kind: str, profile: str | None = None, *, strict: bool = False
) -> dict[str, Any]:
    """A self-contained draft-07 schema for ``kind`` (``profile`` picks the task shape)."""
    return json.loads(_resolved(kind, profile, strict))


@lru_cache(maxsize=128)
def _validator(kind: str, profile: str | None, strict: bool) -> Draft7Validator:
    return Draft7Validator(json.loads(_resolved(kind, profile, strict)))


def _explain(error: ValidationError) -> Iterator[ValidationError]:
    """The errors that say why: inside anyOf/oneOf, those of the branch whose type matched."""
    if not error.context:
        yield error
        return
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    matched = [
        subs
        for subs in branches.values()
        if not any(s.validator in ("type", "const", "enum") and not s.relative_path for s in subs)
    ]
    if matched:
        # Several branches fit the type (e.g. two object shapes): the closest has the fewest errors.
        for sub in min(matched, key=len):
            yield from _explain(sub)
    else:
        yield error  # no branch has this type: the anyOf itself is the type error


def explained_errors(
    payload: Any, kind: str, profile: str | None = None, *, strict: bool = False
) -> Iterator[ValidationError]:
    """jsonschema's errors for ``payload``, each anyOf/oneOf narrowed to the errors that say why."""
    for error in _validator(kind, profile, strict).iter_errors(payload):
        yield from _explain(error)


def _flatten(errors: Iterator[ValidationError]) -> Iterator[Violation]:
    for cause in errors:
        yield Violation(path=cause.json_path, message=cause.message, keyword=str(cause.validator))


def validate(
    payload: Any, kind: str, profile: str | None = None, *, strict: bool = False
) -> list[Violation]:
    """Every violation of ``kind``'s schema by ``payload``, sorted by path; [] when valid."""
    found = _flatten(explained_errors(payload, kind, profile, strict=strict))
    return sorted(set(found), key=lambda v: (v.path, v.message))
