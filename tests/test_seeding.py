"""Tasks with ids of the caller's choosing: POST /__mock/tasks task_id, seed files, the plugin."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from contract_tests import MockAdminError, SunoMock
from mock_server import Config, FixtureError, create_app
from mock_server.core.ids import TASK_ID_PATTERNS, is_task_id, new_task_id

KEY = {"Authorization": "Bearer sk-alice"}
IDS = {  # one id of each profile's format
    "elkapi": "0b6a3c1e-5d2f-4a8b-9c7d-1e2f3a4b5c6d",
    "newapi-2025": "0b6a3c1e-5d2f-4a8b-9c7d-1e2f3a4b5c6d",
    "newapi-2026": "task_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
}
UUID = IDS["elkapi"]


@pytest.fixture
def client():
    return create_app(Config(
            clock="manual", poll_interval=0, clock_start=1_700_000_000)).test_client()


@pytest.mark.parametrize("fmt", sorted(TASK_ID_PATTERNS))
def test_every_generated_id_has_its_formats_shape(fmt):
    for _ in range(200):
        assert is_task_id(fmt, new_task_id(fmt))
    assert not is_task_id(fmt, "")


def test_a_task_made_with_an_id_is_fetched_by_that_id(profile):
    client = create_app(Config(profile=profile, clock="manual", poll_interval=0)).test_client()
    r = client.post("/__mock/tasks", json={"api_key": "sk-alice", "task_id": IDS[profile],
                                          "scenario": "music_success", "step": "complete"})
    assert r.status_code == 201, r.data
    assert r.get_json()["task_id"] == IDS[profile]
    task = client.get(f"/suno/fetch/{IDS[profile]}", headers=KEY).get_json()["data"]
    assert task["task_id"] == IDS[profile] and task["status"] == "SUCCESS"


@pytest.mark.parametrize("bad", ["nope", UUID.upper(), UUID + "0", "task_" + "a" * 32, 5])
def test_an_id_not_of_the_profiles_format_is_a_400_naming_the_format(client, bad):
    r = client.post("/__mock/tasks", json={"api_key": "sk-alice", "task_id": bad})
    assert r.status_code == 400
    assert r.get_json()["code"] == "invalid_request"
    assert "'task_id'" in r.get_json()["message"] and "uuid" in r.get_json()["message"]
    assert client.get("/__mock/tasks").get_json() == []


def test_a_taken_id_is_a_409_and_the_first_task_stays(client):
    first = client.post("/__mock/tasks", json={"api_key": "sk-alice", "task_id": UUID,
                                               "scenario": "music_failure"})
    assert first.status_code == 201
    again = client.post("/__mock/tasks", json={"api_key": "sk-bob", "task_id": UUID})
    assert again.status_code == 409
    assert again.get_json() == {
        "code": "task_exists",
        "message": f"task '{UUID}' exists already in this namespace",
        "data": None,
    }
    assert [t["scenario"] for t in client.get("/__mock/tasks").get_json()] == ["music_failure"]
    # Another namespace is another set of tasks.
    other = client.post("/__mock/tasks", json={"api_key": "sk-bob", "task_id": UUID},
                        headers={"X-Mock-Namespace": "b"})
    assert other.status_code == 201


ADMIN_POSTS = {
    "/__mock/reset": {},
    "/__mock/clock/advance": {"seconds": 1},
    "/__mock/clock/set": {"now": 1},
    "/__mock/clock/pause": {},
    "/__mock/clock/resume": {"speed": 2},
    "/__mock/clock/speed": {"speed": 2},
    "/__mock/tasks": {"api_key": "sk-alice"},
    "/__mock/tasks/<task_id>/step": {"step": "complete"},
    "/__mock/faults": {"fault": "latency", "seconds": 0},
}


def test_every_admin_post_route_names_unknown_fields(client):
    posts = {r.rule for r in client.application.url_map.iter_rules()  # the JSON admin API's
             if r.endpoint.startswith("suno_mock_admin.") and "POST" in (r.methods or ())}
    assert posts == set(ADMIN_POSTS), "a new admin POST route: add it here"
    for rule, body in ADMIN_POSTS.items():
        path = rule.replace("<task_id>", UUID)
        r = client.post(path, json={**body, "colour": "red", "size": 3})
        assert r.status_code == 400, (rule, r.data)
        message = r.get_json()["message"]
        assert "'colour'" in message and ("'size'" in message or rule == "/__mock/faults"), message
    assert client.get("/__mock/tasks").get_json() == []
    assert client.get("/__mock/clock").get_json()["now"] == 1_700_000_000
    assert client.get("/__mock/faults").get_json() == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"api_key": "a", "elapsed": -5}, "'elapsed' must be >= 0"),
        ({"api_key": "a", "request": {"mv": []}}, "'request': $.mv"),
        ({"api_key": "a", "request": {"make_instrumental": "yes"}}, "$.make_instrumental"),
        ({"api_key": "a", "action": "VIDEO"}, "MUSIC or LYRICS"),
        ({"api_key": "a", "action": "LYRICS", "scenario": "music_success"}, "not LYRICS"),
        # A submit before 1970: the task's times would be negative (its schema says >= 0).
        ({"api_key": "a", "elapsed": 1_800_000_000}, "'elapsed' 1.8e+09 reaches back before"),
    ],
)
def test_task_bodies_the_fake_could_not_render_are_400s(client, body, text):
    # (Each was a 201 before, and the task then broke its own schema or showed a wrong one.)
    r = client.post("/__mock/tasks", json=body)
    assert r.status_code == 400, r.data
    assert text in r.get_json()["message"]
    assert client.get("/__mock/tasks").get_json() == []


# seed files ---------------------------------------------------------------------------------
SEED = [
    {"task_id": UUID, "api_key": "sk-alice", "scenario": "music_success", "step": "complete",
     "request": {"title": "Seeded"}},
    {"task_id": "1c2d3e4f-0a1b-4c2d-8e3f-405162738495", "api_key": "sk-bob",
     "scenario": "lyrics_success"},
    {"task_id": "2c2d3e4f-0a1b-4c2d-8e3f-405162738495", "api_key": "sk-alice",
     "scenario": {"name": "held", "action": "MUSIC",
                  "steps": [{"name": "queued", "status": "QUEUED"}]}},
    {"task_id": "3c2d3e4f-0a1b-4c2d-8e3f-405162738495", "api_key": "sk-alice",
     "scenario": "music_success", "elapsed": 40},
]


def test_a_seed_file_gives_each_owner_its_tasks(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED))
    client = create_app(Config(clock="manual", poll_interval=0, seed=str(seed))).test_client()
    task = client.get(f"/suno/fetch/{UUID}", headers=KEY).get_json()["data"]
    assert task["status"] == "SUCCESS" and task["data"][0]["title"] == "Seeded"
    ids = [t["task_id"] for t in SEED]
    mine = client.post("/suno/fetch", json={"ids": ids}, headers=KEY).get_json()["data"]
    assert {t["task_id"]: t["status"] for t in mine} == {
        ids[0]: "SUCCESS", ids[2]: "QUEUED", ids[3]: "IN_PROGRESS"}
    bobs = client.post("/suno/fetch", json={"ids": ids},
                       headers={"Authorization": "Bearer sk-bob"}).get_json()["data"]
    assert [t["task_id"] for t in bobs] == [ids[1]]


def test_a_yaml_seed_file_and_the_object_form(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "description: two tasks\n"
        "tasks:\n"
        f"  - task_id: {UUID}\n"
        "    api_key: sk-alice\n"
        "    scenario: music_failure\n"
        "    step: error\n"
    )
    client = create_app(Config(clock="manual", poll_interval=0, seed=str(seed))).test_client()
    assert client.get(f"/suno/fetch/{UUID}", headers=KEY).get_json()["data"]["status"] == "FAILURE"


def test_reset_brings_the_seed_tasks_back_as_at_start(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED[3:]))
    client = create_app(Config(clock="manual", poll_interval=0, seed=str(seed))).test_client()
    client.post("/__mock/tasks", json={"api_key": "sk-alice"})
    client.post("/__mock/clock/advance", json={"seconds": 600})
    client.post("/__mock/reset")
    listed = client.get("/__mock/tasks").get_json()
    assert [(t["task_id"], t["status"]) for t in listed] == [(SEED[3]["task_id"], "IN_PROGRESS")]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('[{"task_id": "x"}]', "$[0]: 'api_key' is a required property"),
        ('[{"api_key": "k"}]', "$[0]: 'task_id' is a required property"),
        ('{"tasks": [{"task_id": "x", "api_key": "k", "colour": 1}]}', "'colour' was unexpected"),
        ('[{"task_id": "x", "api_key": "k", "step": true}]', "$[0].step"),
        ('[{"task_id": "nope", "api_key": "k"}]', "$[0]: 'task_id' 'nope' is not a task id"),
        (json.dumps([SEED[0], {**SEED[1], "scenario": "nope"}]), "$[1]: unknown scenario 'nope'"),
        (json.dumps([{**SEED[0], "step": "nope"}]), "$[0]: scenario 'music_success' has no step"),
        (json.dumps([SEED[0], SEED[0]]), f"$[1].task_id: '{UUID}' is also $[0].task_id"),
        (json.dumps([{**SEED[0], "elapsed": 1e10}]), "$[0]: 'elapsed' 1e+10 reaches back before"),
        ("[{", "not JSON"),
        ('{"tasks": 5}', "$.tasks: 5 is not of type 'array'"),
    ],
)
def test_a_bad_seed_file_is_an_error_naming_file_and_json_path(tmp_path, content, where):
    seed = tmp_path / "bad-seed.json"
    seed.write_text(content)
    with pytest.raises(FixtureError) as caught:
        create_app(Config(clock="manual", poll_interval=0, seed=str(seed)))
    assert str(seed) in str(caught.value)
    assert where in str(caught.value)


def test_serve_refuses_to_start_on_a_bad_seed_file(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("- task_id: nope\n  api_key: sk-a\n")
    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "serve", "--port", "1", "--seed", str(seed)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert f"{seed}: $[0]: 'task_id' 'nope' is not a task id of profile elkapi" in result.stderr
    assert "serving" not in result.stderr


def test_serve_seeds_every_worker_once(tmp_path, fake_server):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED[:2]))
    with fake_server("--seed", str(seed), "--workers", "2") as base:
        listed = [httpx.get(f"{base}/__mock/tasks").json() for _ in range(6)]
        for tasks in listed:  # whichever worker answers: the same two tasks, once each
            assert sorted(t["task_id"] for t in tasks) == sorted(t["task_id"] for t in SEED[:2])
        task = httpx.get(f"{base}/suno/fetch/{UUID}", headers=KEY).json()["data"]
        assert task["status"] == "SUCCESS"


# the plugin ---------------------------------------------------------------------------------
def test_suno_mock_create_task_takes_an_id():
    with SunoMock("newapi-2026") as mock:
        task_id = mock.create_task("music_success", task_id=IDS["newapi-2026"], step="complete")
        assert task_id == IDS["newapi-2026"]
        assert mock.client.get(f"/suno/fetch/{task_id}").json()["data"]["status"] == "SUCCESS"
        with pytest.raises(MockAdminError, match="409"):
            mock.create_task(task_id=task_id)
        with pytest.raises(MockAdminError, match="task_alnum32"):
            mock.create_task(task_id=UUID)
