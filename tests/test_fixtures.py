"""Fixture files are checked at load time; a bad one is an error naming file and JSON path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mock_server import Config, FixtureError, ScenarioBook, create_app
from mock_server.cli import main as suno_mock
from mock_server.contract.resources import fixtures_dir

GOOD = {
    "name": "custom_song",
    "action": "MUSIC",
    "steps": [
        {"name": "start", "status": "NOT_START"},
        {
            "name": "done",
            "status": "SUCCESS",
            "after_seconds": 10,
            "data": "clips",
            "clip": {"status": "complete", "audio_url": "https://cdn1.suno.ai/{id}.mp3"},
        },
    ],
}


def write(tmp_path: Path, data, name="scenario.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def with_step(**changes):
    data = json.loads(json.dumps(GOOD))
    data["steps"][1].update(changes)
    return data


def test_every_bundled_fixture_is_valid(capsys):
    assert suno_mock(["validate", str(fixtures_dir())]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok") == len(list(fixtures_dir().rglob("*.json")))


def test_extra_fixture_directories_add_scenarios(tmp_path):
    write(tmp_path, GOOD)
    app = create_app(Config(clock="manual", poll_interval=0, fixtures=(str(tmp_path),)))
    r = app.test_client().post(
        "/suno/submit/music",
        json={},
        headers={"Authorization": "Bearer k", "X-Mock-Scenario": "custom_song"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        ("{not json", "line 1 column 2", "not JSON"),
        ({**GOOD, "action": "VIDEO"}, "$.action", "is not one of"),
        ({**GOOD, "steps": []}, "$.steps", "should be non-empty"),
        ({**GOOD, "extra": 1}, "$", "Additional properties"),
        (with_step(status="DONE"), "$.steps[1].status", "is not one of"),
        (with_step(after_seconds=-5), "$.steps[1].after_seconds", "less than the minimum"),
        (with_step(progress="50"), "$.steps[1].progress", "does not match"),
        (
            with_step(after_seconds=0, after_polls=0, name="start"),
            "$.steps[1].name",
            "duplicate step name",
        ),
        (with_step(data="lyrics"), "$.steps[1].data", "LYRICS scenario"),
        (with_step(clip={"audio_url": "{nope}"}), "$.steps[1].clip", "unknown placeholder"),
        (with_step(clip={"audio_url": "{id.__class__}"}), "$.steps[1].clip", "unknown placeholder"),
        (with_step(status="FAILURE"), "$.steps[1]", "needs a fail_reason"),
        ({**GOOD, "steps": [GOOD["steps"][1], GOOD["steps"][0]]}, "$.steps[0]", "state at submit"),
        (
            {
                **GOOD,
                "steps": [
                    GOOD["steps"][0],
                    {**GOOD["steps"][1], "after_seconds": 10},
                    {"name": "late", "status": "IN_PROGRESS", "after_seconds": 50},
                ],
            },
            "$.steps[2]",
            "terminal states stick",
        ),
    ],
)
def test_bad_scenarios_are_named_by_file_and_path(tmp_path, capsys, data, where, what):
    path = write(tmp_path, data)
    with pytest.raises(FixtureError) as info:
        ScenarioBook([tmp_path])
    message = str(info.value)
    assert str(path) in message and where in message and what in message, message
    assert suno_mock(["validate", str(path)]) == 1
    assert where in capsys.readouterr().out


def test_a_bad_fixture_stops_the_server_before_it_serves(tmp_path):
    write(tmp_path, with_step(status="DONE"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_server.cli",
            "serve",
            "--port",
            "1",
            "--fixtures",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "$.steps[1].status" in result.stderr and "scenario.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(FixtureError, match="unknown profile 'nope'; known profiles: elkapi"):
        create_app(Config(profile="nope"))


def test_validate_reports_profiles_and_missing_paths(tmp_path, capsys):
    bad_profile = write(tmp_path, {"name": "x", "task_schema": "task-x.schema.json"}, "p.json")
    (tmp_path / "profiles").mkdir()
    moved = tmp_path / "profiles" / "p.json"
    bad_profile.rename(moved)
    assert suno_mock(["validate", str(moved)]) == 1
    assert "invalid profile" in capsys.readouterr().out
    assert suno_mock(["validate", str(tmp_path / "empty-dir-that-does-not-exist.json")]) == 1
