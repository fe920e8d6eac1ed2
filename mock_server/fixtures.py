"""Load fixture files (scenarios, profiles), validated against schemas/ at load time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["FixtureError", "load_json_file", "validate_file"]


class FixtureError(ValueError):
    """A fixture file is unreadable or breaks its schema; the message names file and JSON path."""


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from None


def load_json_file(path: Path, kind: str) -> Any:
    """Parse ``path`` and validate it as ``kind``; raise FixtureError naming every violation."""
    from .validation import validate

    data = _read_json(path)
    problems = validate(data, kind)
    if problems:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        raise FixtureError(f"{path}: invalid {kind}:\n{lines}")
    return data


def guess_kind(path: Path, data: Any) -> str:
    """Scenario or profile, from where the file sits or what it holds."""
    if path.parent.name == "profiles" or (isinstance(data, dict) and "task_schema" in data):
        return "profile"
    if path.parent.name == "faults" or (isinstance(data, dict) and "rules" in data):
        return "fault"
    return "scenario"


def validate_file(path: Path) -> list[str]:
    """Problems in one fixture file (scenario, profile or fault file), [] when valid."""
    from .scenarios import scenario_from_dict

    try:
        data = _read_json(path)
        kind = guess_kind(path, data)
        if kind == "fault":  # schema plus what it cannot say, each problem by JSON path
            from .faults import load_fault_file

            load_fault_file(path)
            return []
        data = load_json_file(path, kind)
        if kind == "scenario":
            scenario_from_dict(data, source=str(path))
    except FixtureError as exc:
        return [str(exc)]
    return []
