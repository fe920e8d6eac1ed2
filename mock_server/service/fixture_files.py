"""Check one fixture file (scenario, profile, fault or seed file): `suno-mock validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mock_server.contract.fixtures import load_json_file, read_json
from mock_server.core.scenarios import SEED_FILE, scenario_from_dict
from mock_server.errors import FixtureError
from mock_server.faults.rules import load_fault_file
from mock_server.service.seeding import load_seed

__all__ = ["guess_kind", "validate_file"]


def guess_kind(path: Path, data: Any) -> str:
    """Scenario, profile, fault or seed file, from where the file sits or what it holds."""
    if path.name == SEED_FILE or isinstance(data, list) or (
        isinstance(data, dict) and "tasks" in data
    ):
        return "seed"  # (a recording's seed.json sits among its scenarios)
    if path.parent.name == "profiles" or (isinstance(data, dict) and "task_schema" in data):
        return "profile"
    if path.parent.name == "faults" or (isinstance(data, dict) and "rules" in data):
        return "fault"
    return "scenario"


def validate_file(path: Path) -> list[str]:
    """Problems in one fixture file (scenario, profile or fault file), [] when valid."""

    try:
        data = read_json(path)
        kind = guess_kind(path, data)
        if kind == "fault":  # schema plus what it cannot say, each problem by JSON path
            load_fault_file(path)
            return []
        if kind == "seed":  # its ids are checked against a profile when the fake starts
            load_seed(path)
            return []
        data = load_json_file(path, kind)
        if kind == "scenario":
            scenario_from_dict(data, source=str(path))
    except FixtureError as exc:
        return [str(exc)]
    return []
