"""Properties of every bundled scenario's lifecycle, over arbitrary clocks and poll patterns."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import Config, MockService, ScenarioBook, owner_of
from mock_server.core.actions import ACTIONS
from mock_server.core.lifecycle import gateway_elapsed, poll_phase, reached_step, state_of

# The statuses a task may move between; terminal states have no way out.
ORDER = {"NOT_START": 0, "SUBMITTED": 1, "QUEUED": 2, "IN_PROGRESS": 3, "SUCCESS": 4, "FAILURE": 4}
TERMINAL = {"SUCCESS", "FAILURE"}
BOOK = ScenarioBook()
OWNER = owner_of("sk-lifecycle")

# One poll pattern: wait some seconds, then poll (batch or single) or not.
moves = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=90, allow_nan=False),
        st.sampled_from(["batch", "one", "none"]),
    ),
    min_size=1,
    max_size=25,
)


def check_task(task, action):
    status = task["status"]
    assert task["progress"] == ("100%" if status in TERMINAL else "0%")
    submit, start, finish = task["submit_time"], task["start_time"], task["finish_time"]
    assert submit > 0
    if start:
        assert submit <= start
    if finish:
        assert start and start <= finish
    assert bool(finish) == (status in TERMINAL)
    if status == "SUCCESS":
        if ACTIONS[action].data == "clips":
            assert task["data"], "SUCCESS with no clips"
            for clip in task["data"]:
                assert clip["status"] == "complete"
                assert clip["audio_url"].startswith("https://cdn1.suno.ai/")
                assert clip["metadata"]["duration"] > 0
        else:
            assert task["data"]["status"] == "complete" and task["data"]["text"]
    if status == "FAILURE":
        assert task["fail_reason"]
    if status == "NOT_START":
        assert task["data"] is None


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(BOOK.names()),
    plan=moves,
    profile=st.sampled_from(["elkapi", "newapi-2026"]),
)
def test_status_only_moves_forward_and_terminal_sticks(name, plan, profile):
    config = Config(profile=profile, clock="manual", poll_interval=0, media_urls="suno")
    service = MockService(config)
    scenario = service.scenarios.get(name)
    task_id = service.submit(OWNER, scenario.action, {"prompt": "p"}, scenario)
    seen = []
    for wait, how in plan:
        service.advance(wait)
        if how == "none":
            continue
        task = (
            (service.fetch(OWNER, [task_id]) or [None])[0]
            if how == "batch"
            else service.fetch_one(OWNER, task_id)
        )
        assert task is not None and task["task_id"] == task_id
        check_task(task, scenario.action)
        seen.append(task)
    for before, after in itertools.pairwise(seen):
        assert ORDER[after["status"]] >= ORDER[before["status"]], (
            before["status"],
            after["status"],
        )
        if before["status"] in TERMINAL:
            assert after["status"] == before["status"]
            assert after["finish_time"] == before["finish_time"]
        for key in ("submit_time",):
            assert after[key] == before[key]
        if before["start_time"]:
            assert after["start_time"] == before["start_time"]


@given(
    name=st.sampled_from(BOOK.names()),
    a=st.tuples(st.floats(0, 1e5, allow_nan=False), st.integers(0, 50)),
    b=st.tuples(st.floats(0, 1e5, allow_nan=False), st.integers(0, 50)),
)
def test_reached_step_is_monotonic(name, a, b):
    scenario = BOOK.get(name)
    lo, hi = sorted([a, b])
    lo = (lo[0], min(lo[1], hi[1]))
    assert reached_step(scenario, *lo) <= reached_step(scenario, *hi)


def test_music_success_walks_the_whole_timeline():
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    scenario = service.scenarios.get("music_success")
    task_id = service.submit(OWNER, "MUSIC", {}, scenario)
    statuses = []
    for _ in range(40):
        statuses.append(service.fetch_one(OWNER, task_id)["status"])
        service.advance(5)
    assert list(dict.fromkeys(statuses)) == [
        "NOT_START",
        "SUBMITTED",
        "QUEUED",
        "IN_PROGRESS",
        "SUCCESS",
    ]


def test_streaming_clips_use_audiopipe_then_cdn():
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    task_id = service.submit(OWNER, "MUSIC", {}, service.scenarios.get("music_success"))
    service.advance(40)
    streaming = service.fetch_one(OWNER, task_id)
    assert streaming["status"] == "IN_PROGRESS"
    assert all(
        c["audio_url"] == f"https://audiopipe.suno.ai/?item_id={c['id']}" for c in streaming["data"]
    )
    assert all(c["metadata"]["duration"] is None for c in streaming["data"])
    service.advance(200)
    done = service.fetch_one(OWNER, task_id)
    assert [c["id"] for c in done["data"]] == [c["id"] for c in streaming["data"]]


def test_music_stuck_never_finishes():
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    task_id = service.submit(OWNER, "MUSIC", {}, service.scenarios.get("music_stuck"))
    service.advance(10 * 365 * 86400)
    for _ in range(20):
        assert service.fetch_one(OWNER, task_id)["status"] == "IN_PROGRESS"


def test_lyrics_are_done_at_the_first_poll():
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    task_id = service.submit(
        OWNER, "LYRICS", {"prompt": "cats"}, service.scenarios.get("lyrics_success")
    )
    task = service.fetch_one(OWNER, task_id)
    assert task["status"] == "SUCCESS"
    assert task["submit_time"] == task["start_time"] == task["finish_time"]
    assert task["data"]["id"] == task_id and "cats" in task["data"]["text"]
    assert list(task["data"]) == ["id", "text", "title", "status"]


def test_a_forced_step_pins_the_task_until_unpinned():
    service = MockService(Config(clock="manual", poll_interval=0, media_urls="suno"))
    task_id = service.submit(OWNER, "MUSIC", {}, service.scenarios.get("music_success"))
    service.force_step(task_id, "streaming")
    service.advance(3600)
    assert service.fetch_one(OWNER, task_id)["status"] == "IN_PROGRESS"
    service.force_step(task_id, None)
    assert service.fetch_one(OWNER, task_id)["status"] == "SUCCESS"


def test_state_of_reports_start_and_finish_offsets():
    scenario = BOOK.get("music_success")
    state = state_of(scenario, elapsed=1000, polls=0)
    assert (state.status, state.start_offset, state.finish_offset) == ("SUCCESS", 35.0, 150.0)
    early = state_of(scenario, elapsed=1, polls=9)
    assert (early.status, early.start_offset, early.finish_offset) == ("NOT_START", None, None)


# --- the gateway's poll grid -------------------------------------------------------------------
@given(
    elapsed=st.floats(0, 10_000, allow_nan=False),
    interval=st.sampled_from([5.0, 15.0, 30.0]),
    task_id=st.text(min_size=1, max_size=40),
)
def test_the_gateway_shows_what_its_last_poll_saw(elapsed, interval, task_id):
    phase = poll_phase(task_id, interval)
    assert 0 <= phase < interval
    seen = gateway_elapsed(elapsed, interval, phase)
    if elapsed < phase:
        assert seen is None  # the poller has not run since the submit
    else:
        assert seen is not None
        assert seen <= elapsed < seen + interval  # the latest poll, not a later one
        polls = (seen - phase) / interval
        assert abs(polls - round(polls)) < 1e-9  # on the grid


@given(st.floats(0, 10_000, allow_nan=False), st.floats(0, 10_000, allow_nan=False))
def test_the_grid_view_never_goes_back_in_time(a, b):
    phase = poll_phase("task-1", 15.0)
    early, late = sorted((a, b))
    seen_early, seen_late = (gateway_elapsed(x, 15.0, phase) for x in (early, late))
    assert seen_early is None or (seen_late is not None and seen_early <= seen_late)


def test_no_grid_shows_the_upstream_view_and_phases_differ_by_task():
    assert gateway_elapsed(37.5, 0, poll_phase("t", 0)) == 37.5
    phases = {poll_phase(f"task-{i}", 15.0) for i in range(50)}
    assert len(phases) == 50 and min(phases) < 3 and max(phases) > 12
