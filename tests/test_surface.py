"""ElkAPI's Suno surface beyond new-api (reference section 10; issue 16): concat, upload by URL,
the MUSIC task kinds. Served in the elkapi profile only; the new-api profiles answer as a vanilla
gateway does (unknown action: 503 model_not_found; unknown path: 200 index page)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import Config, ScenarioBook, create_app, validate
from mock_server.core.actions import MUSIC_TASK_KINDS, STEM_GROUPS
from mock_server.core.render import clip_ids
from tests.test_hot_path import KEY as HOT_KEY
from tests.test_hot_path import Twins, _Ids

KEY = {"Authorization": "Bearer sk-alice"}
OTHER = {"Authorization": "Bearer sk-bob"}
NEWAPI = ("newapi-2025", "newapi-2026")
# The new parts' lengths of an extend_success clip (its template's durations).
EXTEND_PARTS = [float(d) for d in ScenarioBook().get("extend_success").template["durations"]]


@pytest.fixture
def elk() -> Any:
    return create_app(Config(profile="elkapi", clock="manual", poll_interval=0)).test_client()


def body_of(response: Any) -> Any:
    return json.loads(response.data)


def advance(client: Any, seconds: float = 400) -> None:
    assert client.post("/__mock/clock/advance", json={"seconds": seconds}).status_code == 200


def tasks(client: Any) -> list[Any]:
    return body_of(client.get("/__mock/tasks"))


def kept(client: Any, task_id: str) -> dict[str, Any]:
    """What the task keeps of its submit body (the store's record)."""
    [record] = [r for r in client.application.extensions["suno_mock"].store.tasks("")
                if r.task_id == task_id]
    return dict(record.request)


def post(client: Any, path: str, body: Any = None, headers: Any = KEY, **kw: Any) -> Any:
    return client.post(path, json={} if body is None else body, headers=headers, **kw)


def accepted(response: Any) -> str:
    assert response.status_code == 200, response.data
    body = body_of(response)
    assert validate(body, "submit-response") == []
    assert body["code"] == "success" and body["message"] == ""
    return str(body["data"])


def fetch(client: Any, task_id: str, headers: Any = KEY) -> Any:
    r = client.get(f"/suno/fetch/{task_id}", headers=headers)
    assert r.status_code == 200, r.data
    return body_of(r)["data"]


def song(client: Any, headers: Any = KEY) -> tuple[str, str, float]:
    """A finished MUSIC task of the caller: its id, its first clip's id and duration."""
    task_id = accepted(post(client, "/suno/submit/music", {"prompt": "[Verse]\nla la"}, headers))
    advance(client)
    clip = fetch(client, task_id, headers)["data"][0]
    assert clip["id"] == clip_ids(task_id, 2)[0]
    return task_id, clip["id"], clip["metadata"]["duration"]


def refused(response: Any, status: int = 400, code: str = "invalid_request") -> str:
    assert response.status_code == status, response.data
    body = body_of(response)
    assert validate(body, "task-error") == []
    assert body["code"] == code and body["data"] is None
    return str(body["message"])


# -- concat ------------------------------------------------------------------------------------


def test_concat_makes_the_whole_song_of_the_callers_clip(elk: Any) -> None:
    task_id, clip_id, duration = song(elk)
    extended = accepted(post(elk, "/suno/submit/music", {
        "task": "extend", "continue_clip_id": clip_id, "continue_at": 60, "task_id": task_id,
        "prompt": "[Verse 2]\nmore"}))
    advance(elk)
    part = fetch(elk, extended)["data"][0]
    concat = accepted(post(elk, "/suno/submit/concat", {"clip_id": part["id"], "is_infill": False}))
    task = fetch(elk, concat)
    assert task["action"] == "CONCAT" and task["status"] == "NOT_START"
    advance(elk)
    task = fetch(elk, concat)
    assert task["status"] == "SUCCESS"
    assert validate(task, "task", "elkapi") == []
    [clip] = task["data"]
    assert clip["id"] == clip_ids(concat, 1)[0]
    meta = clip["metadata"]
    assert meta["type"] == "concat"
    assert [h["id"] for h in meta["concat_history"]] == [clip_id, part["id"]]
    assert meta["concat_history"][0]["continue_at"] == 60
    assert meta["duration"] == part["metadata"]["duration"] == round(60 + EXTEND_PARTS[0], 2)
    assert clip["title"] == part["title"]
    assert duration == 182.36


def test_concat_answer_is_the_captured_envelope(elk: Any) -> None:
    _task, clip_id, _ = song(elk)
    r = post(elk, "/suno/submit/CONCAT", {"clip_id": clip_id})
    task_id = accepted(r)
    assert list(body_of(r)) == ["code", "message", "data"]  # capture 013's order
    assert r.content_type == "application/json"
    assert task_id in {t["task_id"] for t in tasks(elk)}


@pytest.mark.parametrize("who", ["unknown", "other-key", "other-namespace", "lyrics-task-id"])
def test_concat_of_a_clip_not_the_callers_is_a_400_and_stores_nothing(elk: Any, who: str) -> None:
    task_id, clip_id, _ = song(elk)
    headers: dict[str, str] = KEY
    if who == "unknown":
        clip_id = "00000000-0000-4000-8000-000000000000"
    elif who == "other-key":
        headers = OTHER
    elif who == "other-namespace":
        headers = {**KEY, "X-Mock-Namespace": "elsewhere"}
    else:
        clip_id = task_id  # a task id is not a clip id
    before = tasks(elk)
    message = refused(post(elk, "/suno/submit/concat", {"clip_id": clip_id}, headers))
    assert "clip_id" in message and "not a clip of one of your tasks" in message
    assert tasks(elk) == before


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "clip_id is empty"),
        ({"clip_id": ""}, "clip_id is empty"),
        ({"clip_id": 5}, "cannot unmarshal number"),
        ({"clip_id": ["a"]}, "cannot unmarshal array"),
        ({"clip_id": "x", "is_infill": "yes"}, "cannot unmarshal string"),
        ([], "cannot unmarshal array"),
        ("text", "cannot unmarshal string"),
    ],
)
def test_concat_bad_bodies_are_400s(elk: Any, body: Any, needle: str) -> None:
    assert needle in refused(post(elk, "/suno/submit/concat", body))
    assert tasks(elk) == []


def test_concat_raw_bodies_are_400s_never_500s(elk: Any) -> None:
    for data in (b"", b"{", b"null", b'{"clip_id":"x"', b"\xff"):
        r = elk.post("/suno/submit/concat", data=data,
                     headers={**KEY, "Content-Type": "application/json"})
        assert r.status_code == 400, (data, r.data)
    r = elk.post("/suno/submit/concat", data=b'{"clip_id":"x"}',
                 headers={**KEY, "Content-Type": "text/plain"})
    assert r.status_code == 400
    assert post(elk, "/suno/submit/concat", {"clip_id": "x"}, {}).status_code == 401
    assert tasks(elk) == []


# -- upload by URL -----------------------------------------------------------------------------


def test_upload_audio_url_makes_an_upload_clip(elk: Any) -> None:
    url = "https://example.com/my song.mp3"
    r = post(elk, "/suno/uploads/audio-url", {"url": url})
    task_id = accepted(r)
    assert list(body_of(r)) == ["code", "message", "data"]  # capture 014
    advance(elk)
    task = fetch(elk, task_id)
    assert task["status"] == "SUCCESS" and task["action"] == "UPLOAD"
    assert validate(task, "task", "elkapi") == []
    [clip] = task["data"]
    assert clip["metadata"]["type"] == "upload"
    assert clip["metadata"]["upload_url"] == url
    assert clip["audio_url"].endswith(".mp3") and "example.com" not in clip["audio_url"]
    # Its clip is the caller's: it can be concatenated like any other.
    accepted(post(elk, "/suno/submit/concat", {"clip_id": clip["id"]}))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "url is empty"),
        ({"url": ""}, "url is empty"),
        ({"url": None}, "url is empty"),
        ({"url": 1}, "cannot unmarshal number"),
        ({"url": {"a": 1}}, "cannot unmarshal object"),
        ([1], "cannot unmarshal array"),
    ],
)
def test_upload_bad_bodies_are_400s(elk: Any, body: Any, needle: str) -> None:
    assert needle in refused(post(elk, "/suno/uploads/audio-url", body))
    assert tasks(elk) == []


def test_upload_other_statuses(elk: Any) -> None:
    assert post(elk, "/suno/uploads/audio-url", {"url": "u"}, {}).status_code == 401
    for data in (b"", b"null", b"{"):
        r = elk.post("/suno/uploads/audio-url", data=data,
                     headers={**KEY, "Content-Type": "application/json"})
        assert r.status_code == 400, data
    r = elk.get("/suno/uploads/audio-url", headers=KEY)  # another method: NoRoute
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    r = post(elk, "/suno/uploads/audio-url", {"url": "u"},
             {**KEY, "X-Mock-Scenario": "music_success"})
    assert refused(r)  # a MUSIC scenario is not an UPLOAD one
    assert tasks(elk) == []


# -- MUSIC task kinds --------------------------------------------------------------------------


def test_extend_adds_up_and_names_its_source(elk: Any) -> None:
    task_id, clip_id, duration = song(elk)
    persona = body_of(post(elk, "/suno/persona/create/", {"root_clip_id": clip_id, "name": "P"}))
    body = {
        "task": "extend", "continue_clip_id": clip_id, "continue_at": 100.5, "task_id": task_id,
        "prompt": "[Bridge]\nnew", "negative_tags": "jazz", "persona_id": persona["id"],
        "generation_type": "TEXT", "mv": "chirp-v4",
    }
    new = accepted(post(elk, "/suno/submit/music", body))
    kept_ = kept(elk, new)
    assert kept_["task"] == "extend" and kept_["negative_tags"] == "jazz"
    assert kept_["persona_id"] == persona["id"] and kept_["generation_type"] == "TEXT"
    assert kept_["source"]["id"] == clip_id
    advance(elk)
    task = fetch(elk, new)
    assert validate(task, "task", "elkapi") == []
    for clip in task["data"]:
        meta = clip["metadata"]
        assert meta["type"] == "gen"
        assert meta["history"] == [{"id": clip_id, "type": "gen", "continue_at": 100.5}]
        assert meta["duration"] > 100.5
        assert meta["prompt"] == "[Bridge]\nnew"
    # The source up to continue_at plus each new part (extend_success's durations).
    new_parts = EXTEND_PARTS
    assert [c["metadata"]["duration"] for c in task["data"]] == [
        round(100.5 + part, 2) for part in new_parts]
    assert duration == 182.36


def test_extend_past_the_end_keeps_the_whole_source(elk: Any) -> None:
    task_id, clip_id, duration = song(elk)
    new = accepted(post(elk, "/suno/submit/music", {
        "task": "extend", "continue_clip_id": clip_id, "continue_at": 999, "task_id": task_id}))
    advance(elk)
    assert fetch(elk, new)["data"][0]["metadata"]["duration"] == round(
        duration + EXTEND_PARTS[0], 2)


@pytest.mark.parametrize(
    ("task", "kind", "extra"),
    [
        ("cover", "cover", {}),
        ("infill", "infill", {"infill_start_s": 10, "infill_end_s": 20.5}),
        ("gen_stem", "stem", {"stem_type_id": 91, "stem_type_group_name": "Two",
                              "stem_task": "two"}),
    ],
)
def test_other_task_kinds_refer_to_their_source(
    elk: Any, task: str, kind: str, extra: dict[str, Any]
) -> None:
    task_id, clip_id, duration = song(elk)
    new = accepted(post(elk, "/suno/submit/music", {
        "task": task, "continue_clip_id": clip_id, "task_id": task_id, **extra}))
    for key, value in extra.items():
        assert kept(elk, new)[key] == value
    advance(elk)
    task_obj = fetch(elk, new)
    assert validate(task_obj, "task", "elkapi") == []
    for clip in task_obj["data"]:
        meta = clip["metadata"]
        assert meta["type"] == kind
        assert meta["history"][0]["id"] == clip_id
        assert meta["duration"] == duration
    if task == "infill":
        assert meta["history"][0]["infill_start_s"] == 10
        assert meta["history"][0]["infill_end_s"] == 20.5


@pytest.mark.parametrize("who", ["unknown", "other-key"])
@pytest.mark.parametrize("task", ["extend", "cover", "infill", "gen_stem"])
def test_a_task_kind_on_a_clip_not_the_callers_is_a_400(elk: Any, task: str, who: str) -> None:
    task_id, clip_id, _ = song(elk)
    headers: dict[str, str] = KEY
    if who == "unknown":
        clip_id = "nope"
    else:
        _other_task, _other_clip, _ = song(elk, OTHER)
        task_id, clip_id = _other_task, _other_clip  # bob's, asked by alice
    before = tasks(elk)
    r = post(elk, "/suno/submit/music",
             {"task": task, "continue_clip_id": clip_id, "task_id": task_id}, headers)
    if who == "other-key":
        # The profile's continuation check meets bob's origin task first (reference section 3).
        assert refused(r, code="task_not_exist") == "task_origin_not_exist"
    else:
        assert "continue_clip_id 'nope' is not a clip of one of your tasks" in refused(r)
    assert tasks(elk) == before


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"task": "extend"}, "task extend needs continue_clip_id"),
        ({"task": "remix"}, "unknown task 'remix'"),
        ({"task": 1}, "cannot unmarshal number"),
        ({"infill_start_s": "10"}, "cannot unmarshal string"),
        ({"stem_type_id": "91"}, "cannot unmarshal string"),
        ({"persona_id": False}, "cannot unmarshal bool"),
        ({"negative_tags": []}, "cannot unmarshal array"),
    ],
)
def test_task_kind_bad_bodies_are_400s(elk: Any, body: Any, needle: str) -> None:
    assert needle in refused(post(elk, "/suno/submit/music", body))
    assert tasks(elk) == []


def scenario_of(client: Any, task_id: str) -> str:
    [task] = [t for t in tasks(client) if t["task_id"] == task_id]
    return str(task["scenario"])


def status_at(client: Any, task_id: str, seconds: float) -> str:
    """The task's status once ``seconds`` have passed since it was submitted (just now)."""
    advance(client, seconds)
    return str(fetch(client, task_id)["status"])


_KIND_BODIES: dict[str, dict[str, Any]] = {
    "extend": {"continue_at": 60},
    "cover": {},
    "infill": {"infill_start_s": 30, "infill_end_s": 45},
    "gen_stem": {"stem_type_id": 91, "stem_type_group_name": "Two", "stem_task": "two"},
}


def submit_kind(client: Any, task: str, headers: Any = KEY, **extra: Any) -> tuple[str, str, float]:
    """A ``task`` submit on a finished song of the caller's: the new task's id, and the source
    clip's id and length."""
    task_id, clip_id, duration = song(client)
    body = {"task": task, "continue_clip_id": clip_id, "task_id": task_id,
            **_KIND_BODIES[task], **extra}
    return accepted(post(client, "/suno/submit/music", body, {**KEY, **headers})), clip_id, duration


@pytest.mark.parametrize("task", list(MUSIC_TASK_KINDS))
def test_each_task_kind_follows_its_bundled_scenario(elk: Any, task: str) -> None:
    new, clip_id, duration = submit_kind(elk, task)
    assert scenario_of(elk, new) == f"{task}_success" == MUSIC_TASK_KINDS[task].default_scenario
    assert fetch(elk, new)["status"] == "NOT_START"
    advance(elk)
    done = fetch(elk, new)
    assert validate(done, "task", "elkapi") == []
    assert done["status"] == "SUCCESS" and done["progress"] == "100%"
    clips = done["data"]
    lengths = [c["metadata"]["duration"] for c in clips]
    if task == "extend":  # the source up to continue_at plus a new part, two takes
        assert lengths == [round(60 + part, 2) for part in EXTEND_PARTS]
    else:  # a cover, an infill and a stem are as long as the song they are made from
        assert lengths == [duration] * len(clips)
    assert len(clips) == 2
    assert all(c["status"] == "complete" for c in clips)
    assert all(c["metadata"]["history"][0]["id"] == clip_id for c in clips)


def test_gen_stem_is_faster_than_a_song(elk: Any) -> None:
    stems, _, _ = submit_kind(elk, "gen_stem")
    plain = accepted(post(elk, "/suno/submit/music", {"prompt": "[Verse]\nla la"}))
    advance(elk, 60)
    assert fetch(elk, stems)["status"] == "SUCCESS"
    assert fetch(elk, plain)["status"] == "IN_PROGRESS"


def test_an_extend_streams_before_it_completes(elk: Any) -> None:
    new, _, _ = submit_kind(elk, "extend")
    assert [status_at(elk, new, s) for s in (5, 10, 15, 110)] == [
        "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"]
    assert all(c["status"] == "complete" for c in fetch(elk, new)["data"])


@pytest.mark.parametrize(
    ("group", "stems"),
    [
        ({"stem_type_group_name": "Two"}, STEM_GROUPS["Two"]),
        ({"stem_type_group_name": "Twelve", "stem_task": "twelve"}, STEM_GROUPS["Twelve"]),
        ({"stem_task": "twelve", "stem_type_group_name": None}, STEM_GROUPS["Twelve"]),
        ({"stem_type_group_name": "Forty"}, ("Vocals", "Instrumental")),
    ],
)
def test_gen_stem_makes_one_clip_per_stem_of_its_group(
    elk: Any, group: dict[str, Any], stems: tuple[str, ...]
) -> None:
    body = {k: v for k, v in {**_KIND_BODIES["gen_stem"], **group}.items() if v is not None}
    task_id, clip_id, duration = song(elk)
    source = fetch(elk, task_id)["data"][0]
    new = accepted(post(elk, "/suno/submit/music", {
        "task": "gen_stem", "continue_clip_id": clip_id, "task_id": task_id, **body}))
    advance(elk)
    clips = fetch(elk, new)["data"]
    assert [c["title"] for c in clips] == [f"{source['title']} ({stem})" for stem in stems]
    assert len({c["id"] for c in clips}) == len(stems)
    for clip, stem in zip(clips, stems, strict=True):
        meta = clip["metadata"]
        assert meta["type"] == "stem" and meta["stem_from_id"] == clip_id
        assert meta["stem_type"] == stem.lower() and meta["duration"] == duration
        # Only a vocal stem carries the words.
        assert (meta["prompt"] == source["metadata"]["prompt"]) == ("Vocals" in stem)
    assert [c["id"] for c in clips] == clip_ids(new, len(stems))
    # Each stem is a clip of the caller's: its words line up within its length.
    timing = body_of(elk.get(f"/suno/act/timing/{clips[0]['id']}", headers=KEY))
    assert timing["aligned_words"] and timing["aligned_words"][-1]["end_s"] <= duration


def test_the_scenario_header_still_wins_for_a_task_kind(elk: Any) -> None:
    new, _, _ = submit_kind(elk, "cover", {"X-Mock-Scenario": "music_failure"})
    assert scenario_of(elk, new) == "music_failure"
    advance(elk)
    assert fetch(elk, new)["status"] == "FAILURE"


def _elk_with(default_scenarios: dict[str, str]) -> Any:
    return create_app(Config(profile="elkapi", clock="manual", poll_interval=0,
                             default_scenarios=default_scenarios)).test_client()


def test_a_config_names_a_kinds_scenario() -> None:
    client = _elk_with({"MUSIC:cover": "music_instant"})
    cover, _, _ = submit_kind(client, "cover")
    extend, _, _ = submit_kind(client, "extend")
    assert (scenario_of(client, cover), scenario_of(client, extend)) == (
        "music_instant", "extend_success")
    assert fetch(client, cover)["status"] == "SUCCESS"  # the first poll
    assert fetch(client, extend)["status"] == "NOT_START"


def test_a_config_that_changed_musics_default_still_covers_the_kinds() -> None:
    # A fake made fast (suno_mock(scenario="music_instant")) stays fast for every MUSIC submit.
    client = _elk_with({"MUSIC": "music_instant", "MUSIC:gen_stem": "gen_stem_success"})
    extend, _, _ = submit_kind(client, "extend")
    stems, _, _ = submit_kind(client, "gen_stem")
    assert scenario_of(client, extend) == "music_instant"
    assert fetch(client, extend)["status"] == "SUCCESS"
    assert scenario_of(client, stems) == "gen_stem_success"


def test_plain_music_in_elkapi_is_unchanged(elk: Any) -> None:
    new = accepted(post(elk, "/suno/submit/music", {"prompt": "x", "negative_tags": "rock"}))
    assert scenario_of(elk, new) == "music_success"
    advance(elk)
    for clip in fetch(elk, new)["data"]:
        assert clip["metadata"]["type"] == "gen" and clip["metadata"]["history"] is None


# -- new-api profiles: a vanilla gateway ------------------------------------------------------


@pytest.mark.parametrize("profile_name", NEWAPI)
def test_newapi_profiles_answer_as_a_vanilla_gateway(profile_name: str) -> None:
    client = create_app(Config(profile=profile_name, clock="manual", poll_interval=0)).test_client()
    for action in ("concat", "CONCAT", "upload"):
        r = post(client, f"/suno/submit/{action}", {"clip_id": "x"})
        assert r.status_code == 503
        body = body_of(r)
        assert validate(body, "gateway-error") == []
        assert body["error"]["code"] == "model_not_found"
        assert f"suno_{action.lower()}" in body["error"]["message"]
    for method, path in [
        ("POST", "/suno/uploads/audio-url"),
        ("GET", "/suno/act/timing/x"),
        ("GET", "/suno/act/stems/x"),
        ("GET", "/suno/act/wav/x"),
        ("GET", "/suno/act/mp4/x"),
        ("POST", "/suno/persona/create/"),
    ]:
        r = client.open(path, method=method, json={"url": "u"}, headers=KEY)
        assert r.status_code == 200, path
        assert r.content_type == "text/html; charset=utf-8"
        assert r.data.startswith(b"<!doctype html>")
    # The task kinds' keys are dropped, as new-api's re-marshal drops them.
    body = {"prompt": "x", "task": "extend", "negative_tags": "jazz", "persona_id": "p",
            "infill_start_s": "not even a number", "stem_type_id": "91"}
    task_id = accepted(post(client, "/suno/submit/music", body))
    assert kept(client, task_id) == {"prompt": "x"}
    assert scenario_of(client, task_id) == "music_success"  # a plain song's, not extend's
    advance(client)
    for clip in fetch(client, task_id)["data"]:
        assert clip["metadata"]["type"] == "gen" and clip["metadata"]["history"] is None
    assert len(tasks(client)) == 1


def test_elkapi_still_refuses_other_actions(elk: Any) -> None:
    # Stems and personas have routes of their own, not submit actions.
    for action in ("upload", "persona", "stems"):
        r = post(elk, f"/suno/submit/{action}", {"url": "u"})
        assert r.status_code == 503
        assert body_of(r)["error"]["code"] == "model_not_found"
    for method, path in (("GET", "/suno/act/video/x"), ("POST", "/suno/persona/list/"),
                         ("POST", "/suno/uploads/audio"), ("POST", "/suno/act/wav/x"),
                         ("GET", "/suno/persona/create/")):
        r = elk.open(path, method=method, headers=KEY)
        assert r.status_code == 200 and r.content_type.startswith("text/html"), path


# -- the fast path ----------------------------------------------------------------------------


def test_the_hot_path_serves_the_new_routes_as_flask_does(monkeypatch: Any) -> None:
    ids = _Ids()
    monkeypatch.setattr("mock_server.service.mock_service.new_task_id", ids)
    twins = Twins(ids, profile="elkapi")
    ids.next = "t-1"
    twins.same("POST", "/suno/submit/music", fast=True, json={"prompt": "x"}, headers=HOT_KEY)
    clip = clip_ids("t-1", 2)[0]
    cases: list[tuple[str, dict[str, Any], str, bool]] = [
        ("/suno/submit/concat", {"clip_id": clip}, "t-2", True),
        ("/suno/submit/concat", {"clip_id": "nope"}, "never", True),
        ("/suno/submit/concat", {"clip_id": 5}, "never", True),
        ("/suno/uploads/audio-url", {"url": "https://x/a.mp3"}, "t-3", True),
        ("/suno/uploads/audio-url", {}, "never", True),
        ("/suno/submit/music", {"task": "extend", "continue_clip_id": clip, "task_id": "t-1",
                                "continue_at": 30}, "t-4", True),
        ("/suno/submit/music", {"task": "cover", "continue_clip_id": "nope", "task_id": "t-1"},
         "never", True),
    ]
    for path, body, task_id, fast in cases:
        ids.next = task_id
        twins.same("POST", path, fast=fast, json=body, headers=HOT_KEY)
    for task_id in ("t-2", "t-3", "t-4"):
        twins.same("GET", f"/suno/fetch/{task_id}", fast=True, headers=HOT_KEY)
    twins.check_state()


@pytest.mark.parametrize("profile_name", NEWAPI)
def test_the_hot_path_leaves_upload_to_flask_in_newapi(monkeypatch: Any, profile_name: str) -> None:
    ids = _Ids()
    monkeypatch.setattr("mock_server.service.mock_service.new_task_id", ids)
    twins = Twins(ids, profile=profile_name)
    ids.next = "never"
    twins.same("POST", "/suno/uploads/audio-url", fast=False, json={"url": "u"}, headers=HOT_KEY)
    twins.same("POST", "/suno/submit/concat", fast=True, json={"clip_id": "u"}, headers=HOT_KEY)
    twins.check_state()


# -- timing ------------------------------------------------------------------------------------


def test_timing_aligns_the_clips_lyrics_within_its_length(elk: Any) -> None:
    lyrics = "[Verse]\nRain on the window\nSing it slow"
    task_id = accepted(post(elk, "/suno/submit/music", {"prompt": lyrics}))
    advance(elk)
    clip = fetch(elk, task_id)["data"][1]
    r = elk.get(f"/suno/act/timing/{clip['id']}", headers=KEY)
    assert r.status_code == 200 and r.content_type == "application/json"
    body = body_of(r)
    assert set(body) == {"aligned_words", "waveform_data", "hoot_cer", "is_streamed"}
    words = body["aligned_words"]
    assert "".join(w["word"] for w in words) == lyrics
    assert [w["word"].strip() for w in words][:3] == ["[Verse]", "Rain", "on"]
    times = [t for w in words for t in (w["start_s"], w["end_s"])]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] >= 0 and times[-1] <= clip["metadata"]["duration"]
    for w in words:
        assert w["success"] is True and 0 < w["p_align"] <= 1
    assert body["waveform_data"] and all(0 <= v <= 1 for v in body["waveform_data"])
    assert isinstance(body["hoot_cer"], float) and body["is_streamed"] is False
    assert elk.get(f"/suno/act/timing/{clip['id']}", headers=KEY).data == r.data


def test_timing_of_an_instrumental_has_no_words(elk: Any) -> None:
    task_id = accepted(post(elk, "/suno/submit/music", {"make_instrumental": True}))
    body = body_of(elk.get(f"/suno/act/timing/{clip_ids(task_id, 1)[0]}", headers=KEY))
    assert body["aligned_words"] == [] and body["waveform_data"]


def test_timing_errors(elk: Any) -> None:
    _task, clip_id, _ = song(elk)
    assert elk.get(f"/suno/act/timing/{clip_id}").status_code == 401
    for headers, clip in [(OTHER, clip_id), (KEY, "nope"),
                          ({**KEY, "X-Mock-Namespace": "elsewhere"}, clip_id)]:
        r = elk.get(f"/suno/act/timing/{clip}", headers=headers)
        assert "not a clip of one of your tasks" in refused(r)
    for path in ("/suno/act/timing/", f"/suno/act/timing/{clip_id}/x"):
        r = elk.get(path, headers=KEY)
        assert r.status_code == 200 and r.content_type.startswith("text/html")
    r = elk.post(f"/suno/act/timing/{clip_id}", headers=KEY)
    assert r.status_code == 200 and r.content_type.startswith("text/html")


# -- bad input is never a 500 ------------------------------------------------------------------

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = ["clip_id", "is_infill", "url", "task", "continue_clip_id", "continue_at", "task_id",
         "infill_start_s", "infill_end_s", "stem_type_id", "stem_type_group_name", "stem_task",
         "persona_id", "negative_tags", "generation_type", "prompt", "x"]
_elk_app = create_app(Config(profile="elkapi", clock="manual", poll_interval=0))


@settings(max_examples=120, deadline=None)
@given(
    path=st.sampled_from(["/suno/submit/concat", "/suno/uploads/audio-url", "/suno/submit/music"]),
    body=_values | st.dictionaries(st.sampled_from(_KEYS), _values, max_size=6),
)
def test_any_json_to_the_new_routes_is_answered_never_a_500(path: str, body: Any) -> None:
    client = _elk_app.test_client()
    as_json = {**KEY, "Content-Type": "application/json"}
    r = client.post(path, data=json.dumps(body), headers=as_json)
    assert r.status_code in (200, 400), (path, body, r.data)
    answer = body_of(r)
    if r.status_code == 400:
        assert validate(answer, "task-error") == []
    else:
        assert fetch(client, answer["data"])["task_id"] == answer["data"]
    r = client.get(f"/suno/act/timing/{body if isinstance(body, str) else 'x'}", headers=KEY)
    assert r.status_code in (200, 400)
