"""Checks the gateway makes that the fake missed (issue 13: items 9, 10 and 15)."""

from __future__ import annotations

import httpx
import pytest

from mock_server import Config, create_app
from tests.conftest import running_fake

KEY = {"Authorization": "Bearer sk-checks"}


def _client(profile: str = "elkapi"):
    return create_app(Config(profile=profile, clock="manual", poll_interval=0)).test_client()


def test_a_json_null_submit_is_a_clear_400_and_creates_no_task():
    client = _client()
    r = client.post("/suno/submit/music", data=b"null", headers=KEY,
                    content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["code"] == "invalid_request"
    assert "null" in r.get_json()["message"] and "new_api_panic" in r.get_json()["message"]
    assert client.get("/__mock/tasks").get_json() == []


@pytest.mark.parametrize("profile", ["elkapi", "newapi-2025"])
def test_before_2026_02_22_a_continuation_names_its_own_origin_task(profile):
    client = _client(profile)
    bare = client.post("/suno/submit/music", json={"continue_clip_id": "c1"}, headers=KEY)
    assert (bare.status_code, bare.get_json()["code"], bare.get_json()["message"]) == (
        400, "invalid_request", "task id is empty")
    unknown = client.post("/suno/submit/music", json={"continue_clip_id": "c1",
                                                      "task_id": "nope"}, headers=KEY)
    assert (unknown.status_code, unknown.get_json()["code"], unknown.get_json()["message"]) == (
        400, "task_not_exist", "task_origin_not_exist")
    theirs = client.post("/suno/submit/music", json={},
                         headers={"Authorization": "Bearer sk-someone-else"}).get_json()["data"]
    other = client.post("/suno/submit/music", json={"continue_clip_id": "c1", "task_id": theirs},
                        headers=KEY)
    assert other.get_json()["message"] == "task_origin_not_exist"
    own = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    ok = client.post("/suno/submit/music", json={"continue_clip_id": "c1", "task_id": own},
                     headers=KEY)
    assert ok.status_code == 200
    assert len(client.get("/__mock/tasks").get_json()) == 3  # no refused one was stored


def test_from_2026_02_22_the_origin_is_not_checked():
    client = _client("newapi-2026")
    r = client.post("/suno/submit/music", json={"continue_clip_id": "c1"}, headers=KEY)
    assert r.status_code == 200


def test_served_double_slash_paths_and_chunked_bodies_answer_as_the_gateway():
    with running_fake("--clock", "manual") as base:
        url = httpx.URL(base)
        with httpx.Client() as client:
            # "//suno/fetch" as sent on the wire (httpx would not fold it)
            r = client.post(url.copy_with(raw_path=b"//suno/fetch"), json={"ids": []},
                            headers=KEY)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")

            def chunks():  # one byte over the 8 MiB limit, so the fake has read it all
                for _ in range(8):
                    yield b" " * (1024 * 1024)
                yield b" "

            big = client.post(f"{base}/suno/fetch", content=chunks(),
                              headers={**KEY, "Content-Type": "application/json"})
            assert big.status_code == 413
            assert big.json()["code"] == "read_request_body_failed"
            assert client.get(f"{base}/healthz").status_code == 200


def test_the_continuation_check_is_a_music_one():
    client = _client()
    r = client.post("/suno/submit/lyrics", json={"prompt": "p", "continue_clip_id": "c"},
                    headers=KEY)
    assert r.status_code == 200
