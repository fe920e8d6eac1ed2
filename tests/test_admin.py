"""The admin API under /__mock/: who may use it, and what each endpoint does."""

from __future__ import annotations

import json

import pytest

from mock_server import Config, create_app

KEY = {"Authorization": "Bearer sk-alice"}


@pytest.fixture
def client():
    return create_app(Config(
            clock="manual", poll_interval=0, clock_start=1_700_000_000)).test_client()


def test_admin_is_loopback_only_by_default(client):
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    r = client.get("/__mock/tasks", environ_base=remote)
    assert r.status_code == 403
    assert "loopback" in r.get_json()["message"]
    assert client.get("/__mock/tasks", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_admin_token_opens_it_and_is_then_required():
    client = create_app(Config(clock="manual", poll_interval=0, admin_token="s3cret")).test_client()
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/__mock/clock", environ_base=remote).status_code == 403
    assert client.get("/__mock/clock").status_code == 403  # loopback needs it too
    ok = client.get("/__mock/clock", environ_base=remote, headers={"X-Mock-Admin-Token": "s3cret"})
    assert ok.status_code == 200


def test_clock_read_advance_set(client):
    assert client.get("/__mock/clock").get_json() == {
        "now": 1_700_000_000,
        "mode": "manual",
        "speed": 0,
    }
    assert (
        client.post("/__mock/clock/advance", json={"seconds": 90}).get_json()["now"]
        == 1_700_000_090
    )
    assert (
        client.post("/__mock/clock/set", json={"now": 1_800_000_000}).get_json()["now"]
        == 1_800_000_000
    )


class _RealTime:
    """The real time the clocks read, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float = 5_000.0) -> None:
        self.now = start
        monkeypatch.setattr("mock_server.core.clock.real_time", lambda: self.now)


def test_clock_pause_resume_and_speed(monkeypatch):
    real = _RealTime(monkeypatch)
    client = create_app(Config(clock="wall", speed=2, clock_start=1_000)).test_client()
    assert client.get("/__mock/clock").get_json() == {"now": 1_000, "mode": "wall", "speed": 2}
    real.now += 10
    assert client.get("/__mock/clock").get_json()["now"] == 1_020
    paused = client.post("/__mock/clock/pause").get_json()
    assert paused == {"now": 1_020, "mode": "manual", "speed": 0}
    real.now += 100
    assert client.get("/__mock/clock").get_json()["now"] == 1_020  # paused: real time is ignored
    assert client.post("/__mock/clock/advance", json={"seconds": 5}).get_json()["now"] == 1_025
    # Resumed without a speed: the server's own (--speed 2); time goes on from where it stood.
    assert client.post("/__mock/clock/resume").get_json() == {
        "now": 1_025,
        "mode": "wall",
        "speed": 2,
    }
    real.now += 1
    assert client.get("/__mock/clock").get_json()["now"] == 1_027
    assert client.post("/__mock/clock/speed", json={"speed": 60}).get_json()["speed"] == 60
    real.now += 1
    assert client.get("/__mock/clock").get_json()["now"] == 1_087
    client.post("/__mock/clock/pause")
    resumed = client.post("/__mock/clock/resume", json={"speed": 0.5}).get_json()
    assert resumed == {"now": 1_087, "mode": "wall", "speed": 0.5}


def test_a_manual_clock_resumes_at_real_speed_and_pauses_again(client, monkeypatch):
    real = _RealTime(monkeypatch)
    client.post("/__mock/clock/set", json={"now": 1_700_000_000})
    assert client.post("/__mock/clock/resume").get_json()["speed"] == 1  # the default --speed
    real.now += 3
    assert client.post("/__mock/clock/pause").get_json() == {
        "now": 1_700_000_003,
        "mode": "manual",
        "speed": 0,
    }
    assert client.post("/__mock/clock/pause").get_json()["now"] == 1_700_000_003  # idempotent


def test_clock_speed_is_per_namespace(client, monkeypatch):
    real = _RealTime(monkeypatch)
    ns = {"X-Mock-Namespace": "fast"}
    client.get("/__mock/clock", headers=ns)  # start both clocks at the same real time
    client.get("/__mock/clock")
    client.post("/__mock/clock/speed", json={"speed": 10}, headers=ns)
    real.now += 2
    assert client.get("/__mock/clock", headers=ns).get_json()["now"] == 1_700_000_020
    assert client.get("/__mock/clock").get_json() == {
        "now": 1_700_000_000,
        "mode": "manual",
        "speed": 0,
    }


def test_a_resumed_clock_moves_tasks_on_the_api(client, monkeypatch):
    real = _RealTime(monkeypatch)
    task_id = client.post("/suno/submit/music", json={"title": "t"}, headers=KEY).get_json()["data"]
    client.post("/__mock/clock/speed", json={"speed": 100})
    real.now += 10  # 1000 virtual seconds: music_success is done
    task = client.get(f"/suno/fetch/{task_id}", headers=KEY).get_json()["data"]
    assert task["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/__mock/clock/speed", {}),
        ("/__mock/clock/speed", {"speed": 0}),
        ("/__mock/clock/speed", {"speed": -2}),
        ("/__mock/clock/speed", {"speed": "fast"}),
        ("/__mock/clock/speed", {"speed": 1e300}),
        ("/__mock/clock/resume", {"speed": 0}),
        ("/__mock/clock/resume", {"speed": None}),
        ("/__mock/clock/resume", []),
    ],
)
def test_bad_speeds_are_clear_400s(client, path, body):
    r = client.post(path, data=json.dumps(body))
    assert r.status_code == 400
    assert r.get_json()["code"] == "invalid_request"
    assert client.get("/__mock/clock").get_json() == {
        "now": 1_700_000_000,
        "mode": "manual",
        "speed": 0,
    }


@pytest.mark.parametrize(
    "body", [{}, {"seconds": "5"}, {"seconds": -1}, {"seconds": True}, {"seconds": 1e300}, [], "x"]
)
def test_bad_clock_moves_are_clear_400s(client, body):
    r = client.post("/__mock/clock/advance", data=json.dumps(body))
    assert r.status_code == 400
    assert r.get_json()["code"] == "invalid_request"
    assert client.get("/__mock/clock").get_json()["now"] == 1_700_000_000


def test_create_task_from_a_scenario_at_a_step(client):
    r = client.post(
        "/__mock/tasks",
        json={"api_key": "sk-alice", "scenario": "music_success", "step": "streaming"},
    )
    assert r.status_code == 201
    task_id = r.get_json()["task_id"]
    assert r.get_json()["status"] == "IN_PROGRESS"
    task = client.get(f"/suno/fetch/{task_id}", headers=KEY).get_json()["data"]
    assert task["status"] == "IN_PROGRESS"
    assert (
        client.get(f"/suno/fetch/{task_id}", headers={"Authorization": "Bearer bob"}).status_code
        == 400
    )


def test_create_task_with_elapsed_time(client):
    r = client.post(
        "/__mock/tasks", json={"api_key": "alice", "scenario": "music_success", "elapsed": 60}
    )
    task = client.get(f"/suno/fetch/{r.get_json()['task_id']}", headers=KEY).get_json()["data"]
    assert task["status"] == "IN_PROGRESS"
    assert task["submit_time"] == 1_700_000_000 - 60


def test_create_task_from_an_inline_scenario(client):
    inline = {
        "name": "flash",
        "action": "LYRICS",
        "template": {"title": "Inline"},
        "steps": [
            {
                "name": "done",
                "status": "SUCCESS",
                "data": "lyrics",
                "lyrics": {
                    "id": "{task_id}",
                    "status": "complete",
                    "title": "{title}",
                    "text": "la",
                },
            }
        ],
    }
    r = client.post("/__mock/tasks", json={"api_key": "alice", "scenario": inline})
    assert r.status_code == 201
    task = client.get(f"/suno/fetch/{r.get_json()['task_id']}", headers=KEY).get_json()["data"]
    assert task["status"] == "SUCCESS" and task["data"]["title"] == "Inline"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"scenario": "music_success"}, "api_key"),
        ({"api_key": "a", "scenario": "nope"}, "unknown scenario"),
        ({"api_key": "a", "scenario": 5}, "scenario name or an inline"),
        ({"api_key": "a", "scenario": {"name": "x", "action": "MUSIC", "steps": []}}, "$.steps"),
        (
            {
                "api_key": "a",
                "scenario": {
                    "name": "x",
                    "action": "MUSIC",
                    "steps": [{"name": "a", "status": "BOGUS"}],
                },
            },
            "$.steps[0].status",
        ),
        ({"api_key": "a", "scenario": "music_success", "step": "nope"}, "no step 'nope'"),
        ({"api_key": "a", "scenario": "music_success", "step": 99}, "no step 99"),
        ({"api_key": "a", "request": []}, "request"),
    ],
)
def test_bad_task_creation_is_a_clear_400(client, body, text):
    r = client.post("/__mock/tasks", json=body)
    assert r.status_code == 400, r.data
    assert text in r.get_json()["message"]
    assert client.get("/__mock/tasks").get_json() == []


def test_force_a_step_and_list_tasks(client):
    task_id = client.post("/__mock/tasks", json={"api_key": "alice"}).get_json()["task_id"]
    r = client.post(f"/__mock/tasks/{task_id}/step", json={"step": "complete"})
    assert r.get_json()["status"] == "SUCCESS" and r.get_json()["forced"] is True
    listed = client.get("/__mock/tasks").get_json()
    assert [(t["task_id"], t["step"]) for t in listed] == [(task_id, "complete")]
    assert "alice" not in json.dumps(listed)
    assert client.post("/__mock/tasks/nope/step", json={"step": "complete"}).status_code == 404


def test_forcing_an_unknown_step_is_a_400_that_lists_the_steps(client):
    task_id = client.post("/__mock/tasks", json={"api_key": "alice"}).get_json()["task_id"]
    r = client.post(f"/__mock/tasks/{task_id}/step", json={"step": "no-such-step"})
    assert r.status_code == 400
    body = r.get_json()
    assert body["code"] == "invalid_request"
    assert "no step 'no-such-step'" in body["message"]
    assert all(name in body["message"] for name in ("submitted", "streaming", "complete"))
    assert client.get("/__mock/tasks").get_json()[0]["forced"] is False  # nothing changed


def test_an_unknown_task_is_a_404_with_a_clean_message(client):
    r = client.post("/__mock/tasks/nope/step", json={"step": "complete"})
    assert r.status_code == 404
    assert r.get_json() == {
        "code": "task_not_exist",
        "message": "no task 'nope' in this namespace",
        "data": None,
    }


def test_an_unknown_scenario_is_a_400_without_stray_quotes(client):
    r = client.post("/__mock/tasks", json={"api_key": "a", "scenario": "nope"})
    assert r.status_code == 400
    assert r.get_json()["message"].startswith("unknown scenario 'nope'; known: ")


def test_scenarios_lists_the_bundled_ones(client):
    names = {s["name"]: s for s in client.get("/__mock/scenarios").get_json()}
    assert {"music_success", "music_failure", "music_stuck", "lyrics_success"} <= set(names)
    assert [s["status"] for s in names["music_success"]["steps"]] == [
        "NOT_START",
        "SUBMITTED",
        "QUEUED",
        "IN_PROGRESS",
        "SUCCESS",
    ]


def test_journal_records_requests_newest_last_without_keys(client):
    client.post("/suno/submit/music", json={"title": "one"}, headers=KEY)
    client.post("/suno/fetch", json={"ids": ["x"]}, headers=KEY)
    journal = client.get("/__mock/journal").get_json()
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/suno/submit/music", 200),
        ("POST", "/suno/fetch", 200),
    ]
    assert json.loads(journal[0]["body"]) == {"title": "one"}
    assert "alice" not in json.dumps(journal)


def test_reset_forgets_tasks_journal_and_clock(client):
    client.post("/__mock/tasks", json={"api_key": "alice"})
    client.post("/__mock/clock/advance", json={"seconds": 100})
    client.post("/__mock/reset")
    assert client.get("/__mock/tasks").get_json() == []
    assert client.get("/__mock/journal").get_json() == []
    assert client.get("/__mock/clock").get_json()["now"] == 1_700_000_000


def test_namespaces_isolate_tasks_clock_and_journal(client):
    a, b = {"X-Mock-Namespace": "run-a"}, {"X-Mock-Namespace": "run-b"}
    task_id = client.post("/suno/submit/music", json={}, headers={**KEY, **a}).get_json()["data"]
    client.post("/__mock/clock/advance", json={"seconds": 500}, headers=a)
    assert client.get(f"/suno/fetch/{task_id}", headers={**KEY, **b}).status_code == 400
    assert (
        client.get(f"/suno/fetch/{task_id}", headers={**KEY, **a}).get_json()["data"]["status"]
        == "SUCCESS"
    )
    assert client.get("/__mock/clock", headers=b).get_json()["now"] == 1_700_000_000
    assert [e["status"] for e in client.get("/__mock/journal", headers=b).get_json()] == [400]
    assert [e["status"] for e in client.get("/__mock/journal", headers=a).get_json()] == [200, 200]


def test_unknown_admin_route_is_a_json_404(client):
    r = client.get("/__mock/nothing")
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"


@pytest.mark.parametrize("action", [{}, [], 5, None, "music", "CONCAT?"])
def test_a_task_of_any_json_action_is_a_400_or_created_never_a_500(client, action):
    r = client.post("/__mock/tasks", json={"api_key": "a", "action": action})
    assert r.status_code in (201, 400), r.data
