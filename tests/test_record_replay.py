"""suno-mock serve --proxy-to URL --record DIR: the app's traffic goes to the live gateway and
back unchanged, and the tasks seen replay from DIR (--fixtures DIR --seed DIR/seed.json).

The "live gateway" is the fake itself in a subprocess on 127.0.0.1 (manual clock, CDN media
URLs, one accepted key); the proxy runs in process, its clock moved with the live one's.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server import Config, FixtureError, create_app
from mock_server.core.identity import owner_of
from mock_server.core.redact import Redactor
from mock_server.service.fixture_files import validate_file
from mock_server.wire import gojson
from tests._servers import SunoMock

KEY = "sk-RecordReplaySecret4242"
AUTH = {"Authorization": f"Bearer {KEY}"}
HOOK_TOKEN = "hooktoken-77a1"
SUBMIT = {"prompt": "[Verse]\nla la", "title": "Recorded", "tags": "lofi", "mv": "chirp-v4",
          "notify_hook": f"https://app.example/hook?token={HOOK_TOKEN}"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SunoMock]:
    log = tmp_path_factory.mktemp("live") / "live.log"
    args = ["--clock", "manual", "--media-urls", "suno", "--api-key", KEY]
    with SunoMock(args, log=log) as server:
        yield server


@pytest.fixture
def gateway(live: SunoMock) -> Iterator[httpx.Client]:
    """The live gateway's admin API, reset for each test."""
    with httpx.Client(base_url=live.base, timeout=10) as admin:
        admin.post("/__mock/reset").raise_for_status()
        yield admin


def _proxy(base: str, record: Path | None, **config: object):  # type: ignore[no-untyped-def]
    app = create_app(Config(clock="manual", poll_interval=0, proxy_to=base,
                            record=None if record is None else str(record), **config))  # type: ignore[arg-type]
    return app.test_client()


def _advance(seconds: float, *admins: object) -> None:
    for admin in admins:
        admin.post("/__mock/clock/advance", json={"seconds": seconds})  # type: ignore[attr-defined]


def _as_recorded(body: bytes) -> bytes:
    """A body as a recording keeps it: personal fields of the data redacted, the notify_hook
    (elkapi shows it) not recorded (nothing else)."""
    parsed = json.loads(body)
    assert gojson.dumpb(parsed) == body  # the comparison below is byte for byte
    task = parsed["data"]
    task["data"] = Redactor().value(task["data"])
    if "notify_hook" in task:
        task["notify_hook"] = ""
    return gojson.dumpb(parsed)


def test_a_journey_through_the_proxy_replays_byte_for_byte(tmp_path, live, gateway):
    record = tmp_path / "rec"
    proxy = _proxy(live.base, record)
    submitted = proxy.post("/suno/submit/music", json=SUBMIT, headers=AUTH)
    assert submitted.status_code == 200, submitted.data
    task_id = submitted.json["data"]
    start = gateway.get("/__mock/clock").json()["now"]

    seen = [proxy.get(f"/suno/fetch/{task_id}", headers=AUTH).data]
    _advance(35, gateway, proxy)
    seen.append(proxy.get(f"/suno/fetch/{task_id}", headers=AUTH).data)
    batch = proxy.post("/suno/fetch", json={"ids": [task_id]}, headers=AUTH)
    assert json.loads(batch.data)["data"] == [json.loads(seen[-1])["data"]]  # no new step
    _advance(115, gateway, proxy)
    seen.append(proxy.get(f"/suno/fetch/{task_id}", headers=AUTH).data)
    assert [json.loads(b)["data"]["status"] for b in seen] == ["NOT_START", "IN_PROGRESS",
                                                                "SUCCESS"]

    scenario = json.loads((record / f"recorded-{_digest(task_id)}.json").read_text())
    assert [(s["status"], s.get("after_seconds", 0)) for s in scenario["steps"]] == [
        ("NOT_START", 0), ("IN_PROGRESS", 35), ("SUCCESS", 150)]
    seed = json.loads((record / "seed.json").read_text())["tasks"]
    assert seed == [{"task_id": task_id, "owner": owner_of(KEY), "scenario": scenario["name"],
                     "request": {k: v for k, v in SUBMIT.items() if k != "notify_hook"}}]
    for path in record.iterdir():  # the fake's own validation, as --fixtures and --seed use it
        assert validate_file(path) == [], path

    # Replay on a clock that starts where the live one did: every byte comes back, personal
    # fields aside. (Default --media-urls local: a recording keeps the URLs it saw.)
    replay = create_app(Config(clock="manual", poll_interval=0, clock_start=start,
                               fixtures=(str(record),), seed=str(record / "seed.json")))
    client = replay.test_client()
    again = [client.get(f"/suno/fetch/{task_id}", headers=AUTH).data]
    _advance(35, client)
    again.append(client.get(f"/suno/fetch/{task_id}", headers=AUTH).data)
    _advance(115, client)
    again.append(client.get(f"/suno/fetch/{task_id}", headers=AUTH).data)
    assert again == [_as_recorded(b) for b in seen]
    assert b"cdn1.suno.ai" in again[-1]
    # Owned by the key's digest: the same key gets it back, another key does not.
    other = client.get(f"/suno/fetch/{task_id}", headers={"Authorization": "Bearer sk-other"})
    assert other.status_code == 400 and other.json["code"] == "task_not_exist"


def _digest(task_id: str) -> str:
    import hashlib

    return hashlib.sha256(task_id.encode()).hexdigest()[:12]


def test_answers_pass_unchanged_errors_included(tmp_path, live, gateway):
    proxy = _proxy(live.base, tmp_path / "rec")
    direct = httpx.Client(base_url=live.base, timeout=10)
    task_id = gateway.post("/__mock/tasks", json={"api_key": KEY, "step": "complete"}).json()[
        "task_id"]
    cases = [
        ("GET", f"/suno/fetch/{task_id}", None, AUTH),
        ("POST", "/suno/fetch", b"x", AUTH),  # gin's bind error: 400, text/plain
        ("POST", "/suno/fetch", b"", AUTH),
        ("GET", "/suno/fetch/nope", None, AUTH),  # task_not_exist
        ("POST", "/suno/submit/music", b"null", AUTH),  # the panic envelope
        ("GET", "/suno/fetch/x", None, {}),  # no key: the gateway's 401
    ]
    for method, path, body, headers in cases:
        want = direct.request(method, path, content=body, headers=headers)
        got = proxy.open(path, method=method, data=body, headers=headers)
        # Each answer quotes its own request id in a gateway envelope; the rest is the same.
        same = re.sub(rb"request id: [^)]+", b"", got.data), re.sub(
            rb"request id: [^)]+", b"", want.content)
        assert (got.status_code, same[0]) == (want.status_code, same[1]), path
        assert got.headers["Content-Type"] == want.headers["Content-Type"], path
        assert got.headers.getlist("X-Oneapi-Request-Id") and len(
            got.headers.getlist("X-Oneapi-Request-Id")) == 1, path
    # The 401's message quotes the gateway's request id: the header that came back is its own.
    denied = proxy.get("/suno/fetch/x")
    assert denied.status_code == 401
    assert denied.headers["X-Oneapi-Request-Id"] in denied.json["error"]["message"]
    direct.close()


def test_a_body_over_the_limit_is_refused_before_the_gateway_sees_it(tmp_path, live, gateway):
    proxy = _proxy(live.base, tmp_path / "rec", max_body_bytes=1024)
    before = len(gateway.get("/__mock/journal").json())
    r = proxy.post("/suno/submit/music", data=b'{"prompt":"' + b"a" * 2000 + b'"}',
                   headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json == {"code": "read_request_body_failed",
                      "message": "http: request body too large", "data": None}
    assert len(gateway.get("/__mock/journal").json()) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_gateway_is_a_502_and_a_silent_one_a_504(tmp_path):
    refused = _proxy(f"http://127.0.0.1:{_free_port()}", None)
    r = refused.get("/suno/fetch/x", headers=AUTH)
    assert r.status_code == 502
    assert r.json["code"] == "do_request_failed" and r.json["data"] is None
    assert "could not be reached" in r.json["message"] and KEY not in r.get_data(as_text=True)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        slow = _proxy(f"http://127.0.0.1:{port}", None, proxy_timeout=0.3)
        r = slow.post("/suno/submit/music", json=SUBMIT, headers=AUTH)
    assert r.status_code == 504
    assert r.json["code"] == "do_request_failed" and "did not answer in time" in r.json["message"]


def test_only_suno_routes_go_to_the_gateway_and_only_below_its_url(tmp_path, live, gateway):
    proxy = _proxy(live.base, tmp_path / "rec")
    # The fake's own admin API and probes stay the fake's.
    assert proxy.get("/__mock/tasks").json == []
    gateway.post("/__mock/tasks", json={"api_key": KEY}).raise_for_status()
    assert len(gateway.get("/__mock/tasks").json()) == 1
    before = len(gateway.get("/__mock/journal").json())
    # A path that climbs out of /suno/ is not sent: the fake answers it (NoRoute's page).
    r = proxy.get("/suno/../__mock/tasks", headers=AUTH)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert len(gateway.get("/__mock/journal").json()) == before


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/",
                                 "http://127.0.0.1/?x=1", "127.0.0.1:8080", "http://h:99999/"])
def test_a_bad_proxy_url_is_refused_at_start(url):
    with pytest.raises(ValueError, match="--proxy-to") as caught:
        Config(proxy_to=url)
    assert "pw" not in str(caught.value)


def test_serve_records_no_key_in_any_file_or_log_line(tmp_path, live, gateway):
    record = tmp_path / "rec"
    log = tmp_path / "proxy.log"
    args = ["--clock", "manual", "--proxy-to", live.base, "--record", str(record),
            "--access-log"]
    with SunoMock(args, log=log) as proxy, httpx.Client(base_url=proxy.base,
                                                        timeout=10) as app:
        task_id = app.post("/suno/submit/lyrics", json={**SUBMIT, "prompt": f"mail me {KEY}"},
                           headers=AUTH).json()["data"]
        app.get(f"/suno/fetch/{task_id}", headers=AUTH).raise_for_status()
        app.get(f"/suno/fetch/{task_id}",
                headers={"Authorization": f"Bearer {KEY[3:]}"})
        app.post("/suno/fetch", content=b"x", headers=AUTH)
    output = log.read_text()
    assert "proxied to" in output and "recording into" in output
    files = list(record.iterdir())
    assert {p.name for p in files} == {"seed.json", f"recorded-{_digest(task_id)}.json"}
    for text in [output, *(p.read_text() for p in files)]:
        assert KEY[3:] not in text and HOOK_TOKEN not in text
    replay = create_app(Config(clock="manual", poll_interval=0, fixtures=(str(record),),
                               seed=str(record / "seed.json")))
    task = replay.test_client().get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]
    assert task["status"] == "SUCCESS" and task["data"]["text"]


def test_record_needs_a_gateway_and_one_worker(tmp_path):
    with pytest.raises(ValueError, match="proxy_to"):
        Config(record=str(tmp_path))
    from mock_server.cli import main

    assert main(["serve", "--proxy-to", "http://127.0.0.1:1", "--record", str(tmp_path),
                 "--workers", "2"]) == 2


# the scenario step's drop --------------------------------------------------------------------
def _scenario(step: dict) -> dict:
    return {"name": "dropped", "action": "MUSIC", "template": {"clip_count": 1},
            "steps": [{"name": "done", "status": "SUCCESS", "progress": "100%", **step}]}


def test_drop_serves_a_clip_without_the_keys_it_names(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps(_scenario({
        "data": "clips", "clip": {"status": "complete"},
        "drop": ["user_id", "metadata.history", "metadata.nope", "nope.deeper"]})))
    client = create_app(Config(clock="manual", poll_interval=0,
                               fixtures=(str(tmp_path),))).test_client()
    task_id = client.post("/__mock/tasks", json={"api_key": KEY, "scenario": "dropped"}
                          ).json["task_id"]
    clip = client.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]["data"][0]
    assert "user_id" not in clip and "history" not in clip["metadata"]
    assert "handle" in clip and "tags" in clip["metadata"]  # only what it names


@pytest.mark.parametrize(("step", "why"), [
    ({"data": None, "drop": ["user_id"]}, "drop removes clip keys"),
    ({"data": "clips", "drop": "user_id"}, "is not of type 'array'"),
    ({"data": "clips", "drop": ["metadata..x"]}, "does not match"),
])
def test_a_bad_drop_is_a_fixture_error(tmp_path, step, why):
    (tmp_path / "s.json").write_text(json.dumps(_scenario(step)))
    with pytest.raises(FixtureError, match=why):
        create_app(Config(clock="manual", poll_interval=0, fixtures=(str(tmp_path),)))


def test_a_task_the_format_cannot_hold_is_named_in_one_line_and_left_out(tmp_path):
    from mock_server.service.recording import Recorder

    lines: list[str] = []
    now = [100.0]
    recorder = Recorder(tmp_path, lambda: now[0], source="a test", log=lines.append)
    good = {"task_id": "0b6a3c1e-5d2f-4a8b-9c7d-1e2f3a4b5c6d", "action": "LYRICS",
            "status": "NOT_START", "progress": "0%", "fail_reason": "", "data": None}
    odd = {**good, "task_id": "1b6a3c1e-5d2f-4a8b-9c7d-1e2f3a4b5c6d", "status": "PAUSED"}
    recorder.fetched(KEY, {"code": "success", "message": "", "data": [good, odd]})
    recorder.fetched(KEY, {"code": "success", "message": "", "data": [good, odd]})
    now[0] += 12.5
    done = {**good, "status": "SUCCESS", "progress": "100%",
            "data": {"id": "x", "text": f"by {KEY}", "title": "T", "status": "complete"}}
    recorder.fetched(KEY, {"code": "success", "message": "", "data": [done]})
    recorder.fetched(KEY, {"code": "success", "message": "", "data": [{**done, "status": "FAILURE",
                                                                       "fail_reason": "late"}]})
    assert lines == [f"suno-mock record: task {odd['task_id']} not recorded: status 'PAUSED' "
                     "is not one the scenario format knows"]
    seed = json.loads((tmp_path / "seed.json").read_text())["tasks"]
    assert [t["task_id"] for t in seed] == [good["task_id"]]
    scenario = json.loads((tmp_path / f"{seed[0]['scenario']}.json").read_text())
    # Seen again unchanged: no step; after a terminal state: nothing (terminal states stick).
    assert [(s["status"], s.get("after_seconds", 0)) for s in scenario["steps"]] == [
        ("NOT_START", 0), ("SUCCESS", 12.5)]
    assert scenario["steps"][1]["lyrics"]["text"] == "by [redacted]"


def test_a_task_made_for_a_key_digest_is_that_keys(tmp_path):
    client = create_app(Config(clock="manual", poll_interval=0)).test_client()
    made = client.post("/__mock/tasks", json={"owner": owner_of(KEY), "step": "complete"})
    assert made.status_code == 201 and made.json["owner"] == owner_of(KEY)
    task_id = made.json["task_id"]
    assert client.get(f"/suno/fetch/{task_id}", headers=AUTH).json["data"]["status"] == "SUCCESS"
    both = client.post("/__mock/tasks", json={"owner": owner_of(KEY), "api_key": KEY})
    assert both.status_code == 400 and "not both" in both.json["message"]
    bad = client.post("/__mock/tasks", json={"owner": KEY})
    assert bad.status_code == 400 and KEY not in bad.json["message"]
