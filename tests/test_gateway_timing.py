"""The gateway's timing: a task changes only when new-api's poller runs (every 15 s)."""

from __future__ import annotations

import itertools

from mock_server import Config, create_app
from mock_server.core.lifecycle import poll_phase

KEY = {"Authorization": "Bearer sk-timing"}


def _fake(**config):
    app = create_app(Config(clock="manual", **config))
    return app, app.test_client(), app.extensions["suno_mock"]


def _status(client, task_id):
    return client.get(f"/suno/fetch/{task_id}", headers=KEY).get_json()["data"]


def test_lyrics_are_not_started_with_null_data_until_the_pollers_first_run():
    _, client, service = _fake()  # the default: a 15 s poller
    task_id = client.post("/suno/submit/lyrics", json={"prompt": "x"}, headers=KEY).get_json()[
        "data"]
    phase = poll_phase(task_id, 15.0)
    if phase > 0.5:
        task = _status(client, task_id)
        assert (task["status"], task["data"]) == ("NOT_START", None)
    service.advance(phase + 0.01)
    _status(client, task_id)  # the client's first poll after the poller's
    task = _status(client, task_id)
    assert task["status"] == "SUCCESS" and task["data"]["text"]


def test_states_change_only_on_the_poll_grid_and_a_long_wait_still_ends():
    _, client, service = _fake()
    task_id = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    phase = poll_phase(task_id, 15.0)
    seen = []
    for _ in range(12 * 4):  # 4 minutes in quarter-intervals
        seen.append((service.now() - service.find(task_id).submit_time, _status(client,
                                                                                task_id)["status"]))
        service.advance(3.75)
    # Between two runs of the poller what a client sees does not change.
    for (t1, s1), (t2, s2) in itertools.pairwise(seen):
        if (t1 - phase) // 15 == (t2 - phase) // 15 and t1 >= phase:
            assert s1 == s2, (t1, t2)
    assert seen[-1][1] == "SUCCESS"
    statuses = [s for _, s in seen]
    assert statuses.index("IN_PROGRESS") * 3.75 > 35 - 0.01  # never earlier than upstream


def test_no_grid_is_the_upstreams_own_timing():
    _, client, service = _fake(poll_interval=0)
    task_id = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    service.advance(35)
    assert _status(client, task_id)["status"] == "IN_PROGRESS"


def test_the_fixture_has_no_grid_unless_asked():
    from contract_tests.mock import SunoMock

    with SunoMock() as plain, SunoMock(poll_interval=15) as gridded:
        assert plain.config.poll_interval == 0
        assert gridded.config.poll_interval == 15
