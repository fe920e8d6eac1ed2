"""Transport faults on a real loopback connection, as an HTTP client sees them (httpx).

The werkzeug server of ``SunoMock.url`` and the production server (``suno-mock serve``,
granian) break connections in different ways; a client must see the same thing from both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from contract_tests.mock import SunoMock

KEY = {"Authorization": "Bearer key-alice"}


@pytest.fixture
def mock() -> Iterator[SunoMock]:
    with SunoMock() as suno:
        yield suno


def submit(http: httpx.Client) -> tuple[str, bytes]:
    """A task id, and the bytes of a normal fetch of it."""
    task = http.post("/suno/submit/music", json={}).json()["data"]
    return task, http.get(f"/suno/fetch/{task}").content


def check_transport_faults(http: httpx.Client) -> None:
    task, whole = submit(http)
    path = f"/suno/fetch/{task}"

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        http.get(path, headers={"X-Mock-Fault": "disconnect"})

    half = len(whole) // 2
    with pytest.raises(httpx.RemoteProtocolError,
                       match=f"received {half} bytes, expected {len(whole)}"):
        http.get(path, headers={"X-Mock-Fault": "truncate"})
    with pytest.raises(httpx.RemoteProtocolError, match=f"received 7 bytes, expected {len(whole)}"):
        http.get(path, headers={"X-Mock-Fault": "truncate=7"})

    started = time.monotonic()
    with http.stream("GET", path, headers={"X-Mock-Fault": "hang=30; bytes=10"},
                     timeout=0.3) as stalled:
        assert stalled.status_code == 200  # the head arrives ...
        assert stalled.headers["Content-Length"] == str(len(whole))
        with pytest.raises(httpx.ReadTimeout):  # ... the body never completes
            stalled.read()
    assert time.monotonic() - started < 5
    assert http.delete("/__mock/faults").status_code == 200  # ends the stalled response

    page = http.get(path, headers={"X-Mock-Fault": "not_json"})
    assert page.status_code == 200 and page.content.startswith(b"<!doctype html>")

    started = time.monotonic()
    assert http.get(path, headers={"X-Mock-Fault": "latency=0.2"}).content == whole
    assert time.monotonic() - started >= 0.2

    after = http.get(path)  # the connection pool recovers; the task is intact
    assert after.status_code == 200 and after.json()["data"]["task_id"] == task


def test_transport_faults_on_the_loopback_test_server(mock):
    with httpx.Client(base_url=mock.url, headers=KEY, timeout=5) as http:
        check_transport_faults(http)
        journal = http.get("/__mock/journal").json()
    faulted = [(e["status"], e["faults"]) for e in journal if e["faults"]]
    assert faulted[0] == (0, ["header"])  # disconnect: no response was sent


def test_transport_faults_on_the_production_server(fake_server):
    with fake_server("--clock", "manual") as base, httpx.Client(
        base_url=base, headers=KEY, timeout=5
    ) as http:
        check_transport_faults(http)


def handler_threads() -> int:
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return bool(predicate())


def test_a_stalled_response_is_bounded_and_released_by_clearing(mock):
    with httpx.Client(base_url=mock.url, headers=KEY, timeout=5) as http:
        task, _ = submit(http)
        assert wait_for(lambda: handler_threads() == 0)
        mock.add_fault("hang", seconds=60, task_id=task)
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"/suno/fetch/{task}", timeout=0.3)
        assert handler_threads() == 1  # a server thread still holds the stalled response
        assert mock.clear_faults() == 1
        assert wait_for(lambda: handler_threads() == 0)  # ... and lets go when cleared
        assert http.get(f"/suno/fetch/{task}").status_code == 200


def test_a_start_profile_on_the_production_server(fake_server):
    with fake_server("--clock", "manual", "--faults", "rate-limited") as base, httpx.Client(
        base_url=base, headers=KEY, timeout=5
    ) as http:
        assert [r["id"] for r in http.get("/__mock/faults").json()] == [
            "saturated-burst", "saturated"]
        first = http.post("/suno/submit/music", json={})
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        assert first.json()["message"] == "当前分组上游负载已饱和，请稍后再试"
