"""Hostile input: whatever the bytes, a documented envelope, and the stored tasks stay intact."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mock_server import Config, create_app, resolved_schema, validate

KEY = {"Authorization": "Bearer sk-fuzz"}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def seeded():
    app = create_app(Config(clock="manual", max_body_bytes=64 * 1024))
    client = app.test_client()
    ids = [
        client.post("/suno/submit/music", json={"title": f"t{i}"}, headers=KEY).get_json()["data"]
        for i in range(3)
    ]
    client.post("/__mock/clock/advance", json={"seconds": 60})
    before = client.post("/suno/fetch", json={"ids": ids}, headers=KEY).get_json()
    return client, ids, before


def assert_documented(response):
    body = response.data
    # 503 is the documented "no channel" answer to unknown submit actions; no other 5xx.
    if response.status_code >= 500:
        assert response.status_code == 503, body[:300]
        assert json.loads(body)["error"]["code"] == "model_not_found"
    assert b"Traceback" not in body
    if response.headers["Content-Type"].startswith("text/html"):
        assert response.status_code == 200
        return
    payload = json.loads(body)
    if "error" in payload:
        assert validate(payload, "gateway-error") == []
    elif payload.get("code") == "success":
        assert payload["message"] == ""
    else:
        assert validate(payload, "task-error") == [], payload


def assert_intact(client, ids, before):
    after = client.post("/suno/fetch", json={"ids": ids}, headers=KEY).get_json()
    assert after == before


header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs",)), max_size=80
)
paths = st.sampled_from(
    [
        "/suno/fetch",
        "/suno/submit/music",
        "/suno/submit/lyrics",
        "/suno/submit/x",
        "/suno/fetch/abc",
        "/suno/fetch/",
        "/suno//fetch",
        "/suno/fetch/%00",
        "/suno/submit/%E2%98%83",
        "/v1/x",
        "/__mock/../suno/fetch",
    ]
)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=paths,
    body=st.binary(max_size=2048),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "Authorization",
                "Content-Type",
                "Accept-Language",
                "X-Mock-Scenario",
                "X-Mock-Namespace",
                "mj-api-secret",
                "Content-Encoding",
                "Transfer-Encoding",
            ]
        ),
        header_text,
        max_size=5,
    ),
)
def test_any_bytes_any_headers(seeded, method, path, body, headers):
    client, ids, before = seeded
    headers = {k: v for k, v in headers.items() if k != "Transfer-Encoding"}
    response = client.open(path, method=method, data=body, headers={**KEY, **headers})
    if method != "HEAD":
        assert_documented(response)
    assert_intact(client, ids, before)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids, max_size=5)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    body=json_values | st.dictionaries(st.sampled_from(["ids", "IDS", "action", "x"]), json_values)
)
def test_any_json_to_fetch(seeded, body):
    client, ids, before = seeded
    response = client.post("/suno/fetch", data=json.dumps(body), headers=KEY)
    assert_documented(response)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        data = response.get_json()["data"]
        assert data is None or isinstance(data, list)
    assert_intact(client, ids, before)


@FUZZ
@given(body=from_schema(resolved_schema("fetch-request")))
def test_valid_fetch_requests_are_answered(seeded, body):
    client, ids, _before = seeded
    asked = [*(body.get("ids") or []), *ids[:1]]
    response = client.post("/suno/fetch", json={**body, "ids": asked}, headers=KEY)
    assert response.status_code == 200
    returned = [t["task_id"] for t in response.get_json()["data"]]
    assert returned == [ids[0]]


@FUZZ
@given(
    body=from_schema(resolved_schema("submit-request")), action=st.sampled_from(["music", "lyrics"])
)
def test_valid_submit_requests_are_accepted(seeded, body, action):
    client, ids, before = seeded
    response = client.post(f"/suno/submit/{action}", json=body, headers=KEY)
    assert_documented(response)
    if action == "lyrics" and not body.get("prompt"):
        assert response.get_json()["message"] == "prompt_empty"
    else:
        assert response.status_code == 200
        task_id = response.get_json()["data"]
        task = client.get(f"/suno/fetch/{task_id}", headers=KEY).get_json()["data"]
        assert task["action"] == action.upper()
    assert_intact(client, ids, before)


@FUZZ
@given(
    body=json_values,
    path=st.sampled_from(
        [
            "/__mock/tasks",
            "/__mock/clock/advance",
            "/__mock/clock/set",
            "/__mock/clock/speed",
            "/__mock/clock/resume",
            "/__mock/tasks/x/step",
            "/__mock/reset-not",
        ]
    ),
)
def test_any_json_to_the_admin_api(seeded, body, path):
    client, ids, before = seeded
    response = client.post(path, data=json.dumps(body))
    assert response.status_code < 500, response.data
    assert b"Traceback" not in response.data
    if path.startswith("/__mock/clock"):
        client.post("/__mock/clock/pause")  # a speed or resume may have started it
        client.post("/__mock/clock/set", json={"now": before["data"][0]["submit_time"] + 60})
    assert_intact(client, ids, before)
