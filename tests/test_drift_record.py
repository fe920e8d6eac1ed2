"""--record: observed tasks become scenario fixtures the fake loads and serves back, same shapes."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path

import httpx
import pytest

from contract_tests._redact import Redactor
from contract_tests.drift import DriftOptions, run_drift
from contract_tests.drift.baseline import shapes
from contract_tests.drift.record import RecordSkip, scenario_from_states
from mock_server import Config, create_app
from mock_server.service.fixture_files import validate_file
from tests.conftest import shared_dir

KEY = "sk-DRIFTSECRET123456"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEEDS = [
    ("music_success", "not_start"),
    ("music_success", "streaming"),
    ("music_success", "complete"),
    ("music_failure", "error"),
    ("lyrics_success", "complete"),
]


def scenario_name(task_id: str) -> str:
    return "recorded-" + hashlib.sha256(task_id.encode()).hexdigest()[:12]


def served(fixtures: Path, profile: str, scenario: str) -> dict:
    """Create a task from ``scenario`` in a fresh fake loading ``fixtures``; fetch it."""
    config = Config(profile=profile, clock="manual", poll_interval=0,
                    fixtures=(str(fixtures),), media_urls="suno")
    client = create_app(config).test_client()
    created = client.post("/__mock/tasks", json={"api_key": KEY, "scenario": scenario})
    assert created.status_code == 201, created.data
    fetched = client.get(f"/suno/fetch/{created.json['task_id']}", headers=AUTH)
    assert fetched.status_code == 200
    return fetched.json["data"]


@pytest.mark.parametrize("profile", ["newapi-2025", "newapi-2026"])
def test_recorded_tasks_replay_with_their_ids_and_data_for_the_same_key(tmp_path, profile):
    live = create_app(Config(
            profile=profile, clock="manual", poll_interval=0, api_keys=(KEY,), media_urls="suno"))
    admin = live.test_client()
    ids = []
    for scenario, step in SEEDS:
        r = admin.post("/__mock/tasks", json={"api_key": KEY, "scenario": scenario, "step": step})
        ids.append(r.json["task_id"])
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    result = run_drift(
        DriftOptions(base_url="http://suno-mock.local", task_ids=tmp_path / "ids.txt",
                     profile=profile, record=tmp_path / "recorded", report_dir=tmp_path / "out",
                     rate_limit=None),
        env={"SUNO_API_KEY": KEY}, out=io.StringIO(), transport=httpx.WSGITransport(app=live),
    )
    assert result.exit_code == 0 and result.findings == []
    recorded = tmp_path / "recorded"
    files = sorted(recorded.glob("*.json"))
    assert sorted(p.name for p in files) == sorted(
        [f"{scenario_name(i)}.json" for i in ids] + ["seed.json"])
    assert sorted(result.report["recorded"]["scenarios"]) == sorted(map(scenario_name, ids))
    for path in files:
        assert validate_file(path) == [], path
        assert "DRIFTSECRET" not in path.read_text()

    # The same format as suno-mock serve --record: the fake loads it and answers the same ids
    # (default media URLs: a recording keeps the URLs it saw).
    replay = create_app(Config(profile=profile, clock="manual", poll_interval=0,
                               fixtures=(str(recorded),), seed=str(recorded / "seed.json")))
    client = replay.test_client()
    for task_id in ids:
        original = admin.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]
        copy_ = client.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]
        assert list(copy_) == list(original)
        for key in ("task_id", "action", "status", "progress", "fail_reason"):
            assert copy_[key] == original[key], (task_id, key)
        # Personal data was not recorded; everything else in the data is served as seen.
        assert copy_["data"] == Redactor().value(original["data"]), task_id
        if isinstance(copy_["data"], list):
            assert {c["display_name"] for c in copy_["data"]} == {"[redacted]"}
    other = client.get(f"/suno/fetch/{ids[0]}", headers={"Authorization": "Bearer sk-other"})
    assert other.status_code == 400  # another key's caller sees none of them, as live


def test_a_real_capture_records_every_observed_key(tmp_path):
    name = "005_fetch_single_music_success_2clips_2025-09.json"
    path = shared_dir("corpus", "real-captures", name)
    task = json.loads(path.read_text(encoding="utf-8"))["data"]
    scenario = scenario_from_states(task["task_id"], [task], Redactor())
    (tmp_path / "s.json").write_text(json.dumps(scenario))
    assert validate_file(tmp_path / "s.json") == []
    text = json.dumps(scenario)
    assert "transparentbackstage9566" not in text.lower() and "sAura5" not in text

    copy_ = served(tmp_path, "newapi-2025", scenario["name"])
    # Every observed key comes back with its value, and none of the fake's own clip keys that
    # this upstream lacks (the steps drop them).
    assert shapes(copy_["data"]) == shapes(task["data"])
    assert copy_["data"] == Redactor().value(task["data"])
    assert [c["state"] for c in copy_["data"]] == ["succeeded", "succeeded"]
    assert copy_["data"][0]["duration"] == 240 and copy_["data"][1]["duration"] == 196.8


def _task(status: str, clip_status: str, title: str = "T") -> dict:
    return {
        "task_id": "3f0c7e1a-7d7b-4d0e-8a59-1c2b3d4e5f60", "action": "MUSIC", "status": status,
        "fail_reason": "", "submit_time": 1, "start_time": 1, "finish_time": 0,
        "progress": "100%" if status == "SUCCESS" else "0%",
        "data": [{"id": "9a8b7c6d-0000-4000-8000-000000000001", "status": clip_status,
                  "title": title, "handle": "someone", "audio_url":
                  "https://cdn1.suno.ai/9a8b7c6d-0000-4000-8000-000000000001.mp3"}],
    }


def test_several_observed_states_become_steps_in_order(tmp_path):
    states = [_task("IN_PROGRESS", "streaming"), _task("SUCCESS", "complete")]
    scenario = scenario_from_states(states[0]["task_id"], states, Redactor())
    assert [(s["name"], s["status"], s.get("after_polls", 0)) for s in scenario["steps"]] == [
        ("observed-1", "IN_PROGRESS", 0), ("observed-2", "SUCCESS", 2)]
    (tmp_path / "s.json").write_text(json.dumps(scenario))
    client = create_app(Config(profile="newapi-2025", clock="manual", poll_interval=0,
                               fixtures=(str(tmp_path),))).test_client()
    task_id = client.post("/__mock/tasks", json={"api_key": KEY, "scenario": scenario["name"]}
                          ).json["task_id"]
    first = client.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]
    second = client.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]
    assert (first["status"], second["status"]) == ("IN_PROGRESS", "SUCCESS")
    assert second["data"][0]["audio_url"].endswith(f"/{second['data'][0]['id']}.mp3")


def test_braces_in_observed_text_are_served_literally(tmp_path):
    task = _task("SUCCESS", "complete", title="{verse} and } and {{x}}")
    scenario = scenario_from_states(task["task_id"], [task], Redactor())
    (tmp_path / "s.json").write_text(json.dumps(scenario))
    assert served(tmp_path, "newapi-2025", scenario["name"])["data"][0]["title"] == (
        "{verse} and } and {{x}}")


@pytest.mark.parametrize(("change", "why"), [
    ({"status": "PAUSED"}, "status 'PAUSED'"),
    ({"status": "FAILURE", "fail_reason": ""}, "FAILURE without fail_reason"),
    ({"data": "oops"}, "neither clips nor lyrics"),
])
def test_tasks_the_format_cannot_hold_are_skipped_with_a_reason(change, why):
    task = {**copy.deepcopy(_task("SUCCESS", "complete")), **change}
    with pytest.raises(RecordSkip, match=why):
        scenario_from_states(task["task_id"], [task], Redactor())
