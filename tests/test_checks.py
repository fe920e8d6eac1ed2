"""The pure contract checks: each broken rule is named, real answers pass, fake lifecycles pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests import checks
from contract_tests.checks import RULES, ContractViolation, Observation
from contract_tests.mock import SunoMock
from tests.conftest import shared_dir

OK = {"code": "success", "message": ""}


def obs(status: int, payload: Any, *, ct: str = "application/json", request: Any = None,
        path: str = "/suno/fetch") -> Observation:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Observation("POST", path, status, body, {"content-type": ct}, request)


@cache
def _fake_task(profile: str, scenario: str, step: str) -> dict[str, Any]:
    with SunoMock(profile) as mock:
        task_id = mock.create_task(scenario, step=step)
        return dict(mock.client.get(f"/suno/fetch/{task_id}").json()["data"])


def task(profile: str = "newapi-2025", scenario: str = "music_success", step: str = "complete",
         **changes: Any) -> dict[str, Any]:
    """A task as the fake renders it, with ``changes`` applied (None deletes a field)."""
    out = copy.deepcopy(_fake_task(profile, scenario, step))
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def batch(asked: Any, data: Any, own: tuple[str, ...] = (), foreign: tuple[str, ...] = ()):
    return lambda: checks.check_batch(obs(200, {**OK, "data": data}), asked, own=own,
                                      foreign=foreign, profile="newapi-2025")


def _clip_broken() -> dict[str, Any]:
    t = task()
    t["data"][1]["status"] = 5
    return t


A, B = task()["task_id"], "another-task"
CLIP = {"id": "clip-1", "metadata": {"duration": 60.0}}
WORDS = [{"word": "la ", "success": True, "start_s": 1.0, "end_s": 2.0, "p_align": 0.9},
         {"word": "la", "success": True, "start_s": 2.5, "end_s": 3.0, "p_align": 0.9}]


def timing(*words: dict[str, Any], waveform: Any = (0.5, 0.25)) -> Callable[[], None]:
    payload = {"aligned_words": list(words), "waveform_data": list(waveform), "hoot_cer": 0.1,
               "is_streamed": False}
    return lambda: checks.check_route_meaning("timing", payload, CLIP)


def made(meaning: str, *, history: Any = None, kind: str = "gen", duration: float = 90.0,
         concat: Any = None) -> Callable[[], None]:
    """A check of a task kind's result, its clips' metadata as given."""
    t = task(scenario="music_success", step="complete")
    for clip in t["data"]:
        clip["metadata"].update(type=kind, history=history, concat_history=concat,
                                duration=duration)
    return lambda: checks.check_route_meaning(meaning, t, CLIP, body={"continue_at": 30})


def _another_task_stored() -> None:
    checks.check_nothing_stored(3, 4, obs(400, {"code": "invalid_request"}))

# (what is wrong, the check that must reject it, the rule it must name)
BROKEN: list[tuple[str, Callable[[], object], str]] = [
    ("status 500", lambda: checks.check_success_envelope(
        obs(500, {**OK, "data": []}), "fetch-batch-response"), "success-envelope"),
    ("HTML 200", lambda: checks.check_success_envelope(
        obs(200, b"<html>", ct="text/html"), "fetch-batch-response"), "success-envelope"),
    ("code error", lambda: checks.check_success_envelope(
        obs(200, {"code": "error", "message": "", "data": []}), "fetch-batch-response"),
     "success-envelope"),
    ("missing status", lambda: checks.check_task(task(status=None), "newapi-2025"),
     "task-field-set"),
    ("extra field", lambda: checks.check_task(task("elkapi"), "newapi-2025"), "task-field-set"),
    ("string time", lambda: checks.check_task(task(submit_time="1"), "newapi-2025"),
     "task-schema"),
    ("data a string", lambda: checks.check_task(task(data="x"), "newapi-2025"), "task-schema"),
    ("clip status a number", lambda: checks.check_task(_clip_broken(), "newapi-2025"),
     "clip-schema"),
    ("lyrics without text", lambda: checks.check_task(
        task(scenario="lyrics_success", data={"id": "x", "status": "complete", "title": ""}),
        "newapi-2025"), "lyrics-schema"),
    ("unknown ids refused", lambda: checks.check_batch(
        obs(404, {"code": "task_not_exist", "message": "", "data": None}), ["nope"], own=[A],
        profile="newapi-2025"), "unknown-ids-omitted"),
    ("stray id", batch([A], [task(), task(task_id=B)], own=(A,)), "ids-subset-of-asked"),
    ("duplicate", batch([A, A], [task(), task()], own=(A,)), "ids-no-duplicates"),
    ("own task left out", batch([A, B], [task()], own=(A, B)), "own-tasks-returned"),
    ("own task as null", batch([A], None, own=(A,)), "own-tasks-returned"),
    ("empty ids as null", batch([], None), "empty-ids-give-empty-list"),
    ("no ids as null", batch(None, None), "empty-ids-give-empty-list"),
    ("no match as []", batch(["nope"], []), "no-match-gives-null"),
    ("foreign visible", batch([A], [task()], foreign=(A,)), "other-owners-invisible"),
    ("wrong task", lambda: checks.check_get(
        obs(200, {**OK, "data": task()}, path="/suno/fetch/x"), "x", "newapi-2025"),
     "get-returns-asked-task"),
    ("one-hub 404", lambda: checks.check_task_not_exist(
        obs(404, {"code": "task_not_exist", "message": ""})), "unknown-id-task-not-exist"),
    ("Suno-API code", lambda: checks.check_task_not_exist(
        obs(400, {"code": "invalid_request", "message": "task not exist", "data": None})),
     "unknown-id-task-not-exist"),
    ("panic on bad JSON", lambda: checks.check_invalid_request(
        obs(500, {"error": {"message": "Panic", "type": "new_api_panic"}})),
     "bad-json-invalid-request"),
    ("data not null", lambda: checks.check_invalid_request(
        obs(400, {"code": "invalid_request", "message": "EOF", "data": []})),
     "bad-json-invalid-request"),
    ("wrong type accepted", lambda: checks.check_invalid_request(
        obs(200, {**OK, "data": []}), "invalid-body-rejected"), "invalid-body-rejected"),
    ("no key accepted", lambda: checks.check_auth_rejected(obs(200, {**OK, "data": []}),
                                                            "missing-key-401"),
     "missing-key-401"),
    ("401 in the task envelope", lambda: checks.check_auth_rejected(
        obs(401, {"code": "unauthorized", "message": "", "data": None}), "wrong-key-401"),
     "wrong-key-401"),
    ("submit data not a string", lambda: checks.check_submit_accepted(
        obs(200, {**OK, "data": 7}, path="/suno/submit/music")), "submit-returns-task-id"),
    ("back to QUEUED", lambda: checks.check_lifecycle(
        [task(step="streaming"), task(step="queued")]), "status-moves-forward"),
    ("SUCCESS then FAILURE", lambda: checks.check_lifecycle(
        [task(), task(scenario="music_failure", step="error", task_id=A)]), "terminal-sticks"),
    ("SUCCESS then IN_PROGRESS", lambda: checks.check_lifecycle(
        [task(), task(status="IN_PROGRESS", progress="0%", finish_time=0)]), "terminal-sticks"),
    ("start before submit", lambda: checks.check_task_state(
        task(start_time=task()["submit_time"] - 1)), "time-order"),
    ("finish before start", lambda: checks.check_task_state(
        task(finish_time=task()["start_time"] - 1)), "time-order"),
    ("SUCCESS at 0%", lambda: checks.check_task_state(task(progress="0%")),
     "progress-matches-status"),
    ("IN_PROGRESS at 100%", lambda: checks.check_task_state(task(step="streaming",
                                                                 progress="100%")),
     "progress-matches-status"),
    ("SUCCESS with streaming clips", lambda: checks.check_task_state(
        task(step="streaming", status="SUCCESS", progress="100%")), "success-has-results"),
    ("SUCCESS without clips", lambda: checks.check_task_state(task(data=[])),
     "success-has-results"),
    ("SUCCESS LYRICS without text", lambda: checks.check_task_state(
        task(scenario="lyrics_success", data={"id": "x", "status": "complete", "title": "t",
                                              "text": ""})), "success-has-results"),
    ("FAILURE without reason", lambda: checks.check_task_state(
        task(scenario="music_failure", step="error", fail_reason="")), "failure-has-reason"),
    ("timing as a task envelope", lambda: checks.check_route_answer(
        obs(200, {**OK, "data": None}, path="/suno/act/timing/x"), "timing-response"),
     "route-schema"),
    ("timing words as text", lambda: checks.check_route_answer(
        obs(200, {"aligned_words": "la la", "waveform_data": []}), "timing-response"),
     "route-schema"),
    ("concat answer 503", lambda: checks.check_route_answer(
        obs(503, {"error": {"message": "no channel", "type": "new_api_error"}}),
        "submit-response"), "route-schema"),
    ("timing words reversed", timing(WORDS[1], WORDS[0]), "timing-words-in-order"),
    ("timing word ends before it starts", timing({**WORDS[0], "end_s": 0.5}),
     "timing-words-in-order"),
    ("timing past the clip's end", timing(WORDS[0], {**WORDS[1], "end_s": 61.0}),
     "timing-words-in-order"),
    ("timing time as text", timing({**WORDS[0], "start_s": "1.0"}), "timing-words-in-order"),
    ("waveform of text", timing(*WORDS, waveform=("a",)), "timing-words-in-order"),
    ("extend without history", made("extend"), "result-refers-to-source"),
    ("extend of another clip", made("extend", history=[{"id": "clip-2"}]),
     "result-refers-to-source"),
    ("extend no longer than continue_at", made("extend", history=[{"id": "clip-1"}],
                                                duration=30.0), "result-refers-to-source"),
    ("cover typed gen", made("cover", history=[{"id": "clip-1"}]), "result-refers-to-source"),
    ("concat of another clip", made("concat", kind="concat", concat=[{"id": "clip-2"}]),
     "result-refers-to-source"),
    ("upload typed gen", made("upload"), "result-refers-to-source"),
    ("stems of another clip", lambda: checks.check_route_meaning("stems", {"clips": [
        {"id": "s-1", "metadata": {"type": "stem", "history": [{"id": "clip-2"}]}}]}, CLIP),
     "result-refers-to-source"),
    ("export of another clip", lambda: checks.check_route_meaning(
        "export", {**OK, "data": "clip-2"}, CLIP), "result-refers-to-source"),
    ("persona rooted elsewhere", lambda: checks.check_route_meaning(
        "persona", {"id": "p-1", "root_clip_id": "clip-2"}, CLIP), "result-refers-to-source"),
    ("other key's clip accepted", lambda: checks.check_refused(
        obs(200, {**OK, "data": "task-1"}), ("invalid_request",)), "route-refuses-bad-input"),
    ("unknown clip a 500", lambda: checks.check_refused(
        obs(500, {"error": {"message": "Panic", "type": "new_api_panic"}}),
        ("invalid_request",)), "route-refuses-bad-input"),
    ("refused with another code", lambda: checks.check_refused(
        obs(400, {"code": "task_not_exist", "message": "", "data": None}),
        ("invalid_request",)), "route-refuses-bad-input"),
    ("a refused call stored a task", _another_task_stored, "refused-call-stores-nothing"),
    ("timing routed on new-api", lambda: checks.check_no_route(
        obs(200, {"aligned_words": []}, path="/suno/act/timing/x")), "route-absent-on-new-api"),
    ("concat channel on new-api", lambda: checks.check_no_channel(
        obs(200, {**OK, "data": "t"}), "suno_concat"), "route-absent-on-new-api"),
    ("task kind kept on new-api", lambda: checks.check_keys_dropped(
        {"data": [{"metadata": {"type": "cover", "history": [{"id": "c"}]}}]}, "cover"),
     "route-absent-on-new-api"),
]


@pytest.mark.parametrize("check", [
    timing(*WORDS),
    timing(),  # an instrumental: no words
    made("extend", history=[{"id": "clip-1"}]),
    made("cover", kind="cover", history=[{"id": "clip-1", "type": "gen"}]),
    made("stem", kind="stem", history=[{"id": "clip-1"}], duration=60.0),
    made("concat", kind="concat", concat=[{"id": "clip-0"}, {"id": "clip-1"}]),
    made("upload", kind="upload"),
    lambda: checks.check_route_meaning("stems", {"clips": [
        {"id": "s-1", "metadata": {"type": "stem", "history": [{"id": "clip-1"}]}}]}, CLIP),
    lambda: checks.check_route_meaning("export", {**OK, "data": "clip-1"}, CLIP),
    lambda: checks.check_route_meaning("persona", {"id": "p-1", "root_clip_id": "clip-1"}, CLIP),
    lambda: checks.check_refused(obs(400, {"code": "task_not_exist", "message": "",
                                           "data": None}), ("invalid_request", "task_not_exist")),
    lambda: checks.check_no_route(obs(200, b"<!doctype html>", ct="text/html; charset=utf-8")),
    lambda: checks.check_keys_dropped(task(), "extend"),
    lambda: checks.check_nothing_stored(None, None, obs(400, {})),
], ids=["timing", "no-words", "extend", "cover", "stem", "concat", "upload", "stems", "export",
        "persona", "foreign-origin",
        "no-route", "dropped", "live-cannot-count"])
def test_route_answers_that_keep_the_contract_pass(check: Callable[[], object]) -> None:
    check()


@pytest.mark.parametrize(("check", "rule"), [(c, r) for _, c, r in BROKEN],
                         ids=[name for name, _, _ in BROKEN])
def test_a_broken_rule_is_named(check: Callable[[], object], rule: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        check()
    assert caught.value.rule == rule
    assert str(caught.value).startswith(f"contract rule {rule!r} broken: ")


def test_every_rule_has_a_case_that_breaks_it() -> None:
    assert {rule for _, _, rule in BROKEN} == set(RULES)


def test_a_violation_shows_the_request_and_response_but_no_key() -> None:
    seen = Observation("POST", "/suno/fetch", 500, b'{"oops": 1}', {}, {"ids": ["a"]},
                       key="primary")
    with pytest.raises(ContractViolation) as caught:
        checks.check_invalid_request(seen)
    message = str(caught.value)
    assert 'observed: POST /suno/fetch (key: primary) body={"ids": ["a"]} -> 500 {"oops": 1}' \
        in message


def test_the_missing_and_extra_fields_are_named() -> None:
    with pytest.raises(ContractViolation) as caught:
        checks.check_task(task("newapi-2026"), "elkapi")
    message = str(caught.value)
    assert "missing notify_hook" in message
    assert "not in the profile: channel_id, created_at, group, id, platform, properties, " \
        "quota, updated_at, user_id" in message


@pytest.mark.parametrize(("asked", "data", "own", "foreign"), [
    ([], [], (), ()),
    (None, [], (), ()),
    (["nope", 3, None, {"a": 1}], None, (A,), ()),
    ([A, A, "nope", B], [task()], (A,), (B,)),
])
def test_answers_that_keep_the_contract_pass(asked: Any, data: Any, own: tuple[str, ...],
                                             foreign: tuple[str, ...]) -> None:
    batch(asked, data, own, foreign)()


def test_every_task_state_the_fake_renders_passes(profile: str) -> None:
    with SunoMock(profile) as mock:
        scenarios = mock.admin("GET", "/scenarios")
        for scenario in scenarios:
            for step in scenario["steps"]:
                task_id = mock.create_task(scenario["name"], step=step["name"])
                answer = mock.client.get(f"/suno/fetch/{task_id}").json()["data"]
                checks.check_task(answer, profile)
                checks.check_task_state(answer)


@pytest.mark.parametrize("name", [
    "003_fetch_batch_music_in_progress_newapi_docs.json",
    "004_fetch_single_lyrics_success_newapi_docs.json",
    "005_fetch_single_music_success_2clips_2025-09.json",
    "006_fetch_single_music_in_progress_2025-12.json",
])
def test_real_answers_pass_with_the_profile_they_belong_to(name: str) -> None:
    payload = json.loads(shared_dir("corpus", "real-captures", name).read_text("utf-8"))
    tasks = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
    for found in tasks:
        # The ElkAPI/docs shape carries notify_hook; the 2025 gateway's 9 fields do not.
        profile = "elkapi" if "notify_hook" in found else "newapi-2025"
        checks.check_task(found, profile)
        checks.check_task_state(found)


@settings(max_examples=30, deadline=None)
@given(scenario=st.sampled_from(["music_success", "music_failure", "lyrics_success",
                                 "music_instant", "music_stuck"]),
       steps=st.lists(st.floats(min_value=0, max_value=90), min_size=1, max_size=12))
def test_any_poll_sequence_of_the_fake_keeps_the_lifecycle(scenario: str,
                                                           steps: list[float]) -> None:
    with SunoMock() as mock:
        task_id = mock.create_task(scenario)
        seen = []
        for seconds in steps:
            seen.append(mock.client.get(f"/suno/fetch/{task_id}").json()["data"])
            mock.advance(seconds)
        checks.check_lifecycle(seen, task_id)


def test_a_lifecycle_played_backwards_is_caught() -> None:
    with SunoMock() as mock:
        task_id = mock.create_task("music_success")
        seen = []
        for _ in range(20):
            seen.append(mock.client.get(f"/suno/fetch/{task_id}").json()["data"])
            mock.advance(10)
    checks.check_lifecycle(seen, task_id)
    assert seen[-1]["status"] == "SUCCESS" and seen[0]["status"] == "NOT_START"
    with pytest.raises(ContractViolation) as caught:
        checks.check_lifecycle(seen[::-1], task_id)
    assert caught.value.rule == "terminal-sticks"
