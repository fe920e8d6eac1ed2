"""The three new-api routes, in every profile: status codes, envelopes, content types, headers."""

from __future__ import annotations

import json
import re

import pytest

from mock_server import Config, create_app, load_profile, validate

KEY = {"Authorization": "Bearer sk-alice"}
OTHER = {"Authorization": "Bearer sk-bob"}
ID_FORMATS = {
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    "hex32": r"^[0-9a-f]{32}$",
    "task_alnum32": r"^task_[0-9A-Za-z]{32}$",
}


def submit(client, action="music", body=None, headers=KEY, **kw):
    return client.post(
        f"/suno/submit/{action}", json={} if body is None else body, headers=headers, **kw
    )


def advance(client, seconds):
    assert client.post("/__mock/clock/advance", json={"seconds": seconds}).status_code == 200


def body_of(response):
    return json.loads(response.data)


# -- submit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["music", "MUSIC", "Music", "lyrics", "LYRICS", "lYrIcS"])
def test_submit_accepts_actions_case_insensitively(client, profile, action):
    r = submit(client, action, {"prompt": "a song about rain"})
    assert r.status_code == 200
    body = body_of(r)
    assert list(body) == ["code", "message", "data"]
    assert body["code"] == "success" and body["message"] == ""
    assert re.match(ID_FORMATS[load_profile(profile).id_format], body["data"])
    assert validate(body, "submit-response") == []


def test_submit_wire_details_follow_the_profile(client, profile):
    r = submit(client, body={"title": "t"})
    p = load_profile(profile)
    assert r.headers["Content-Type"] == p.submit_content_type
    for name, value in p.submit_headers.items():
        assert r.headers[name] == value
    assert r.headers["X-Oneapi-Request-Id"]


def test_new_api_2026_submit_has_charset_and_ratio_header():
    client = create_app(Config(
            profile="newapi-2026", clock="manual", poll_interval=0)).test_client()
    r = submit(client)
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["X-New-Api-Other-Ratios"] == "{}"
    assert body_of(r)["data"].startswith("task_")


def test_lyrics_with_empty_prompt_is_prompt_empty(client):
    for body in ({}, {"prompt": ""}, {"prompt": None}):
        r = submit(client, "lyrics", body)
        assert r.status_code == 400
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert body_of(r) == {"code": "invalid_request", "message": "prompt_empty", "data": None}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "EOF"),
        (b"{not json", "invalid character 'n' looking for beginning of object key string"),
        (
            b'{"title": 5}',
            "json: cannot unmarshal number into Go struct field SunoSubmitReq.title of type string",
        ),
        (
            b'{"make_instrumental": "yes"}',
            "json: cannot unmarshal string into Go struct field "
            "SunoSubmitReq.make_instrumental of type bool",
        ),
        (b"[1,2]", "json: cannot unmarshal array into Go value of type dto.SunoSubmitReq"),
    ],
)
def test_submit_with_bad_json_is_invalid_request(client, raw, message):
    r = client.post(
        "/suno/submit/music", data=raw, headers={**KEY, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    body = body_of(r)
    assert body["code"] == "invalid_request" and body["data"] is None
    assert body["message"].split(" looking")[0] == message.split(" looking")[0]
    assert validate(body, "task-error") == []


def test_submit_without_json_content_type_is_a_clear_400(client):
    r = client.post("/suno/submit/music", data=b"{}", headers={**KEY, "Content-Type": "text/plain"})
    assert r.status_code == 400
    assert "Content-Type must be application/json" in body_of(r)["message"]


@pytest.mark.parametrize("action", ["concat", "upload", "MUSICX", "persona"])
def test_other_actions_have_no_channel(client, profile, action):
    if profile == "elkapi" and action == "concat":
        action = "stitch"  # ElkAPI serves concat (tests/test_surface.py): another unknown one
    r = submit(client, action)
    assert r.status_code == 503
    body = body_of(r)
    assert validate(body, "gateway-error") == []
    assert body["error"]["code"] == "model_not_found"
    assert f"suno_{action.lower()}" in body["error"]["message"]
    assert body["error"]["message"].endswith(f"(request id: {r.headers['X-Oneapi-Request-Id']})")


def test_submit_derives_clips_from_the_request(client, profile):
    task_id = body_of(
        submit(
            client,
            body={
                "title": "Rain <Song> & Co",
                "tags": "lofi",
                "prompt": "[Verse]\ndrip",
                "mv": "chirp-v4",
            },
        )
    )["data"]
    advance(client, 3600)
    r = client.get(f"/suno/fetch/{task_id}", headers=KEY)
    assert b"Rain \\u003cSong\\u003e \\u0026 Co" in r.data  # Go's HTML-safe escaping
    clips = body_of(r)["data"]["data"]
    assert len(clips) == 2
    for clip in clips:
        assert clip["title"] == "Rain <Song> & Co"
        assert clip["metadata"]["tags"] == "lofi"
        assert clip["metadata"]["prompt"] == "[Verse]\ndrip"
        assert (clip["model_name"], clip["major_model_version"]) == ("chirp-v4", "v4")
        # The fake's own media route, with the CDN's path shape after it.
        assert clip["audio_url"] == f"http://localhost/__media/-/{task_id}/cdn1/{clip['id']}.mp3"
        assert list(clip) == sorted(clip, key=lambda k: (len(k), k))  # MySQL JSON key order


def test_instrumental_and_description_mode(client):
    inst = body_of(submit(client, body={"prompt": "words", "make_instrumental": True}))["data"]
    desc = body_of(
        submit(client, body={"gpt_description_prompt": "a calm song", "title": "ignored"})
    )["data"]
    advance(client, 3600)
    clips = body_of(client.post("/suno/fetch", json={"ids": [inst, desc]}, headers=KEY))["data"]
    by_id = {t["task_id"]: t["data"] for t in clips}
    assert all(c["metadata"]["prompt"] == "" for c in by_id[inst])
    assert all(c["metadata"]["gpt_description_prompt"] == "a calm song" for c in by_id[desc])
    assert all(c["title"] != "ignored" for c in by_id[desc])


# -- scenario header ----------------------------------------------------------------------------


def test_scenario_header_picks_the_lifecycle(client):
    r = submit(client, headers={**KEY, "X-Mock-Scenario": "music_failure"})
    task_id = body_of(r)["data"]
    advance(client, 3600)
    task = body_of(client.get(f"/suno/fetch/{task_id}", headers=KEY))["data"]
    assert task["status"] == "FAILURE"
    assert task["fail_reason"]
    assert task["progress"] == "100%"
    assert all(c["status"] == "error" and c["metadata"]["error_message"] for c in task["data"])


@pytest.mark.parametrize(
    ("name", "text"),
    [("nope", "unknown scenario 'nope'"), ("lyrics_success", "is a LYRICS scenario")],
)
def test_bad_scenario_header_is_a_clear_400(client, name, text):
    r = submit(client, headers={**KEY, "X-Mock-Scenario": name})
    assert r.status_code == 400
    assert text in body_of(r)["message"]
    assert client.get("/__mock/tasks").get_json() == []


# -- batch fetch -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"ids": None}, {"ids": []}, {"action": "MUSIC"}, None])
def test_fetch_without_ids_is_an_empty_list(client, body):
    r = client.post("/suno/fetch", data=json.dumps(body), headers=KEY)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.data == b'{"code":"success","message":"","data":[]}'


def test_fetch_with_nothing_matched_is_null(client):
    mine = body_of(submit(client))["data"]
    r = client.post(
        "/suno/fetch", json={"ids": ["unknown", 7, None, {"a": 1}, mine]}, headers=OTHER
    )
    assert r.status_code == 200
    assert r.data == b'{"code":"success","message":"","data":null}'


def test_fetch_omits_unknown_and_foreign_ids_and_dedupes(client, profile):
    mine = [body_of(submit(client))["data"] for _ in range(3)]
    theirs = body_of(submit(client, headers=OTHER))["data"]
    asked = [mine[0], "nope", mine[1], mine[0], theirs, 42, mine[2], mine[1]]
    r = client.post("/suno/fetch", json={"ids": asked, "action": "LYRICS"}, headers=KEY)
    body = body_of(r)
    assert r.headers["Content-Type"] == "application/json"
    got = [t["task_id"] for t in body["data"]]
    assert sorted(got) == sorted(mine)
    assert len(got) == len(set(got))
    assert validate(body, "fetch-batch-response", profile) == []
    assert validate(body, "fetch-batch-response", profile, strict=True) == []


def test_fetch_ignores_action_and_matches_keys_like_go(client):
    task_id = body_of(submit(client, "lyrics", {"prompt": "x"}))["data"]
    r = client.post(
        "/suno/fetch", data=json.dumps({"IDS": [task_id], "action": "MUSIC"}), headers=KEY
    )
    assert [t["task_id"] for t in body_of(r)["data"]] == [task_id]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "EOF"),
        (b"   ", "EOF"),
        (b"xyz", "invalid character 'x' looking for beginning of value"),
        (
            b'{"ids": "a"}',
            "json: cannot unmarshal string into Go struct field .ids of type []interface {}",
        ),
        (
            b'{"ids": [], "action": 3}',
            "json: cannot unmarshal number into Go struct field .action of type string",
        ),
        (b'{"ids": [NaN]}', "invalid character 'N' looking for beginning of value"),
    ],
)
def test_fetch_bad_json_is_invalid_request_as_text_plain(client, raw, message):
    r = client.post("/suno/fetch", data=raw, headers=KEY)
    assert r.status_code == 400
    # gin writes the status before any Content-Type, so net/http sniffs one.
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body_of(r) == {"code": "invalid_request", "message": message, "data": None}


def test_fetch_ignores_trailing_bytes_after_the_json_value(client):
    r = client.post("/suno/fetch", data=b'{"ids": []} trailing', headers=KEY)
    assert r.status_code == 200 and body_of(r)["data"] == []


# -- single fetch ------------------------------------------------------------------------------


def test_get_unknown_or_foreign_task_is_task_not_exist(client):
    theirs = body_of(submit(client, headers=OTHER))["data"]
    for task_id in ("nope", theirs, "x" * 500, "%E2%98%83"):
        r = client.get(f"/suno/fetch/{task_id}", headers=KEY)
        assert r.status_code == 400
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.data == b'{"code":"task_not_exist","message":"task_not_exist","data":null}'


def test_get_returns_the_task_in_the_profile_shape(client, profile):
    task_id = body_of(submit(client))["data"]
    r = client.get(f"/suno/fetch/{task_id}", headers=KEY)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = body_of(r)
    task = body["data"]
    p = load_profile(profile)
    assert list(task) == [f for f in p.task_fields if f in task]
    assert set(p.task_fields) - set(task) <= p.omitempty
    assert validate(body, "fetch-one-response", profile, strict=True) == []
    assert task["status"] == "NOT_START" and task["progress"] == "0%" and task["data"] is None


def test_profiles_differ_as_the_reference_says():
    tasks = {}
    for name in ("elkapi", "newapi-2025", "newapi-2026"):
        client = create_app(Config(profile=name, clock="manual", poll_interval=0)).test_client()
        task_id = body_of(submit(client, headers={**KEY, "X-Mock-Scenario": "music_failure"}))[
            "data"
        ]
        advance(client, 3600)
        tasks[name] = body_of(client.get(f"/suno/fetch/{task_id}", headers=KEY))["data"]
    assert list(tasks["newapi-2025"]) == [
        "task_id",
        "action",
        "status",
        "fail_reason",
        "submit_time",
        "start_time",
        "finish_time",
        "progress",
        "data",
    ]
    assert list(tasks["elkapi"])[:2] == ["task_id", "notify_hook"]
    new = tasks["newapi-2026"]
    assert len(new) == 19  # 18 fields + result_url, which appears only with a fail_reason
    assert new["result_url"] == new["fail_reason"] != ""
    assert new["platform"] == "suno" and new["properties"]["upstream_model_name"] == "suno_music"
    assert "username" not in new


# -- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route", [("post", "/suno/fetch"), ("get", "/suno/fetch/x"), ("post", "/suno/submit/music")]
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer sk-"},
    ],
)
def test_missing_key_is_401_in_the_gateway_envelope(client, profile, route, headers):
    r = getattr(client, route[0])(route[1], json={}, headers=headers)
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    body = body_of(r)
    assert validate(body, "gateway-error") == []
    expected = load_profile(profile).auth_messages["missing"]
    assert body == {
        "error": {
            "message": f"{expected} (request id: {r.headers['X-Oneapi-Request-Id']})",
            "type": "new_api_error",
            "code": "",
        }
    }


def test_known_keys_restrict_access():
    client = create_app(Config(
            clock="manual", poll_interval=0, api_keys=("sk-good",))).test_client()
    assert (
        client.post("/suno/fetch", json={}, headers={"Authorization": "Bearer sk-good"}).status_code
        == 200
    )
    assert (
        client.post("/suno/fetch", json={}, headers={"Authorization": "Bearer good"}).status_code
        == 200
    )
    r = client.post("/suno/fetch", json={}, headers={"Authorization": "Bearer sk-bad"})
    assert r.status_code == 401
    assert body_of(r)["error"]["message"].startswith("无效的令牌 (request id: ")


def test_new_api_2026_auth_texts_are_localised():
    client = create_app(
        Config(profile="newapi-2026", clock="manual", poll_interval=0, api_keys=("k",))
    ).test_client()
    en = body_of(client.post("/suno/fetch", json={}, headers={"Authorization": "bearer wrong"}))
    zh = body_of(
        client.post(
            "/suno/fetch",
            json={},
            headers={"Authorization": "Bearer wrong", "Accept-Language": "zh-CN,zh;q=0.9"},
        )
    )
    assert en["error"]["message"].startswith("Invalid token (request id: ")
    assert zh["error"]["message"].startswith("无效的令牌 (request id: ")
    # lowercase "bearer" is accepted from 2026 on
    assert (
        client.post("/suno/fetch", json={}, headers={"Authorization": "bearer k"}).status_code
        == 200
    )


def test_sk_prefix_and_mj_secret_name_the_same_owner(client):
    task_id = body_of(submit(client, headers={"Authorization": "Bearer sk-carol"}))["data"]
    for headers in (
        {"Authorization": "Bearer carol"},
        {"mj-api-secret": "sk-carol"},
        {"Authorization": "Bearer midjourney-proxy", "mj-api-secret": "carol"},
    ):
        assert client.get(f"/suno/fetch/{task_id}", headers=headers).status_code == 200


# -- other paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/suno/fetch"),
        ("get", "/suno/submit/music"),
        ("put", "/suno/fetch"),
        ("get", "/"),
        ("get", "/suno/x/y"),
    ],
)
def test_unknown_routes_serve_the_web_ui_index(client, method, path):
    r = getattr(client, method)(path, headers=KEY)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["X-Oneapi-Request-Id"]


def test_oversized_body_is_413_not_500():
    client = create_app(Config(clock="manual", poll_interval=0, max_body_bytes=1024)).test_client()
    r = client.post("/suno/fetch", data=b'{"ids":["' + b"a" * 5000 + b'"]}', headers=KEY)
    assert r.status_code == 413
    assert body_of(r)["code"] == "read_request_body_failed"


def test_a_profile_shows_the_clip_keys_its_deployments_carry():
    """newapi-2025: the 2025 captures' clips repeat their id as clip_id (and tags, prompt)."""
    for profile, has in (("newapi-2025", True), ("newapi-2026", False), ("elkapi", False)):
        client = create_app(Config(profile=profile, clock="manual", poll_interval=0)).test_client()
        key = {"Authorization": "Bearer sk-extra"}
        task_id = client.post("/suno/submit/music", json={"tags": "lofi"}, headers=key).get_json()[
            "data"]
        client.post("/__mock/clock/advance", json={"seconds": 200})
        clip = client.get(f"/suno/fetch/{task_id}", headers=key).get_json()["data"]["data"][0]
        assert ("clip_id" in clip) is has, profile
        if has:
            assert (clip["clip_id"], clip["tags"], clip["entity_type"]) == (
                clip["id"], "lofi", "song_schema")
            assert list(clip) == sorted(clip, key=lambda k: (len(k), k))  # MySQL JSON order
