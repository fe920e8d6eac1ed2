"""The render cache changes nothing a client sees: every profile, scenario and step, bytewise."""

from __future__ import annotations

import itertools

import pytest

from mock_server import Config
from mock_server.core.identity import owner_of
from mock_server.core.lifecycle import state_of
from mock_server.core.render import render_task
from mock_server.core.scenarios import ScenarioBook
from mock_server.service.mock_service import MockService
from mock_server.service.rendered import BoundedCache, StateTable, WireTask, success_body
from mock_server.wire import gojson

OWNER = owner_of("render-cache-key")
SCENARIOS = ScenarioBook().names()


def _reference(service: MockService, task_id: str) -> bytes:
    """The task as the uncached code renders and encodes it, at the service's current time."""
    record = service.store.get("", OWNER, task_id)
    assert record is not None
    scenario = service.scenario_for(record)
    elapsed = service.now() - record.submit_time
    state = state_of(scenario, elapsed, record.polls, record.forced_step)
    return gojson.dumpb(render_task(record, scenario, state, service.profile))


def _envelope(*tasks: bytes) -> bytes:
    return b'{"code":"success","message":"","data":[' + b",".join(tasks) + b"]}"


def _submit(service: MockService, name: str, request: dict[str, object]) -> str:
    scenario = service.scenarios.get(name)
    return service.submit(OWNER, scenario.action, request, scenario)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_step_renders_as_without_the_cache(profile: str, name: str) -> None:
    config = Config(profile=profile, clock="manual", poll_interval=0, media_urls="suno")
    service = MockService(config)
    request = {"prompt": "[Verse]\nA <b>&</b> \u2028 line", "title": "T", "mv": "chirp-v4"}
    task_id = _submit(service, name, request)
    scenario = service.scenarios.get(name)
    # Walk the timeline the way a client sees it: time and polls reach each step in turn.
    for step in scenario.steps:
        service.set_time(service.store.get("", OWNER, task_id).submit_time + step.after_seconds)
        for _ in range(step.after_polls + 1):
            batch = service.fetch(OWNER, [task_id])  # counts the poll, then renders
            assert batch is not None
            assert success_body(batch) == _envelope(_reference(service, task_id))
    # And each step pinned by the admin API (the forced path), twice: cold, then cached.
    for index in range(len(scenario.steps)):
        service.force_step(task_id, index)
        for _ in range(2):
            one = service.fetch_one(OWNER, task_id)
            assert success_body(one) == b'{"code":"success","message":"","data":' + _reference(
                service, task_id
            ) + b"}"


def test_a_batch_of_tasks_at_different_steps_is_the_single_renders_joined(profile: str) -> None:
    config = Config(profile=profile, clock="manual", poll_interval=0, media_urls="suno")
    service = MockService(config)
    ids = [
        _submit(service, name, {"prompt": f"song {i}"})
        for i, name in enumerate(itertools.islice(itertools.cycle(SCENARIOS), 12))
    ]
    service.advance(20)
    for task_id in ids[::3]:  # some pinned by the admin API, the rest on the clock
        record = service.store.find("", task_id)
        assert record is not None
        steps = service.scenario_for(record).steps
        service.force_step(task_id, min(1, len(steps) - 1))  # persona_created has one step
    for _ in range(2):  # the second pass is served from the cache
        batch = service.fetch(OWNER, ids)
        assert batch is not None
        expected = _envelope(*(_reference(service, t) for t in sorted(ids)))
        assert success_body(batch) == expected
        assert gojson.dumpb({"code": "success", "message": "", "data": batch}) == expected
        # The hot path's variant: the same bytes, straight from the cache.
        body = _fetch_body(service, [*ids, "nope", 7, ids[0]])
        assert body == _envelope(*(_reference(service, t) for t in sorted(ids)))
    assert _fetch_body(service, ["nope", 7]) == b'{"code":"success","message":"","data":null}'


def _fetch_body(service: MockService, ids: list[object]) -> bytes:
    """The hot path's way to a batch answer: poll, then splice the cached bodies."""
    records = service.store.poll("", OWNER, service.wanted(ids))
    return service.batch_body(records, "", service.now())


def test_changing_a_fetched_task_neither_shows_stale_bytes_nor_touches_the_cache() -> None:
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    task_id = _submit(service, "music_success", {"prompt": "x"})
    service.advance(200)
    task = service.fetch_one(OWNER, task_id)
    assert isinstance(task, WireTask)
    pristine = success_body(task)
    task["status"] = "CHANGED"
    assert b'"status":"CHANGED"' in success_body(task)
    again = service.fetch_one(OWNER, task_id)
    assert success_body(again) == pristine
    again.update(progress="1%")
    assert success_body([again]) == gojson.dumpb(
        {"code": "success", "message": "", "data": [dict(again)]}
    )


def test_inline_scenarios_render_from_their_own_timeline() -> None:
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    raw = {
        "name": "inline_quick",
        "action": "MUSIC",
        "steps": [
            {"name": "queued", "status": "QUEUED", "data": None},
            {"name": "done", "status": "FAILURE", "after_seconds": 3,
             "fail_reason": "nope {title}"},
        ],
    }
    scenario = service.inline_scenario(raw)
    task_id = service.submit(OWNER, "MUSIC", {"title": "Mine"}, scenario, inline=raw)
    first = service.fetch_one(OWNER, task_id)
    assert first is not None and first["status"] == "QUEUED"
    service.advance(5)
    done = service.fetch_one(OWNER, task_id)
    assert done is not None and done["status"] == "FAILURE"
    assert done["fail_reason"] == "nope Mine"


def test_state_table_agrees_with_state_of_everywhere() -> None:
    table = StateTable(size=4)
    for scenario in ScenarioBook():
        times = (-1, 0, 4.9, 5, 14, 15, 35, 149, 150, 1e6)
        for elapsed, polls in itertools.product(times, (-1, 0, 1, 2, 3, 10**6)):
            assert table.state(scenario, elapsed, polls) == state_of(scenario, elapsed, polls)
        for forced in range(len(scenario.steps)):
            assert table.state(scenario, 0, 0, forced) == state_of(scenario, 0, 0, forced)


def test_bounded_cache_stays_bounded_and_keeps_what_is_used() -> None:
    cache: BoundedCache[int, str] = BoundedCache(10)
    for i in range(1, 1000):
        cache.put(i, str(i))
        cache.get_or_make(0, lambda: "0")  # used all along: never evicted for long
        assert len(cache) <= 10
    assert cache.get(0) == "0"
    assert cache.get(999) == "999"
    assert cache.get(5) is None
