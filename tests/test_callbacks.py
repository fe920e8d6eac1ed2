"""notify_hook callbacks (elkapi profile): when, what, how often, and to whom the fake calls.

Every receiver here is a small HTTP server on 127.0.0.1; waits on it are bounded event waits.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_tests.mock import FakePool, MockAdminError, SunoMock
from mock_server import Config, ScenarioBook, create_app
from mock_server.core.hooks import backoff, hook_problem, refusal
from mock_server.core.lifecycle import gateway_elapsed, poll_phase, shown_after, terminal_after
from mock_server.core.redact import redacted_url
from tests._servers import redis_server
from tests.conftest import running_fake


class Receiver:
    """A loopback server that records each POST and answers from a script (last one repeats);
    ``hang``: it never answers (until closed)."""

    def __init__(self, answers: tuple[int, ...] = (200,), hang: bool = False) -> None:
        self.posts: list[dict[str, Any]] = []
        self._answers = list(answers)
        self._cond = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.posts.append({"path": self.path, "headers": dict(self.headers),
                                           "body": body, "at": time.monotonic()})
                    status = receiver._answers.pop(0) if len(receiver._answers) > 1 \
                        else receiver._answers[0]
                    receiver._cond.notify_all()
                if hang:
                    receiver._release.wait(10)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"

    def wait(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.posts) >= count, timeout)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _mock(**config: Any) -> SunoMock:
    return SunoMock(**config)


def _submit(mock: SunoMock, hook: str, action: str = "music", **body: Any) -> str:
    response = mock.client.post(f"/suno/submit/{action}",
                                json={"prompt": "la la", "notify_hook": hook, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["data"])


def _drained(mock: SunoMock) -> None:
    assert mock.service.callbacks is not None
    assert mock.service.callbacks.drain(10.0)


def test_success_is_posted_once_when_the_clock_crosses_the_end(receiver):
    with _mock() as mock:
        task_id = _submit(mock, receiver.url)
        task = mock.client.get(f"/suno/fetch/{task_id}").json()["data"]
        # Shown where the ElkAPI page shows it: right after task_id.
        assert list(task)[:3] == ["task_id", "notify_hook", "action"]
        assert task["notify_hook"] == receiver.url
        mock.advance(149)  # music_success ends at 150 s
        _drained(mock)
        assert mock.callbacks() == [] and receiver.posts == []
        mock.advance(1)
        settled = mock.wait_for_callback(task_id)
        assert settled["outcome"] == "delivered" and settled["status"] == 200
        assert settled["attempt"] == 1 and settled["url"] == receiver.url
        assert len(receiver.posts) == 1
        post = receiver.posts[0]
        assert post["path"] == "/hook"
        assert post["headers"]["Content-Type"] == "application/json"
        # Byte for byte what a fetch by its owner shows at that moment (Go-style JSON).
        fetched = mock.client.get(f"/suno/fetch/{task_id}").content
        assert fetched == b'{"code":"success","message":"","data":' + post["body"] + b"}"
        assert json.loads(post["body"])["status"] == "SUCCESS"
        mock.advance(600)  # ended tasks stay ended: nothing more is sent
        _drained(mock)
        assert len(receiver.posts) == 1 and len(mock.callbacks()) == 1


def test_failure_is_posted_with_its_reason(receiver):
    with _mock(scenario="music_failure") as mock:
        task_id = _submit(mock, receiver.url)
        mock.advance(45)
        assert mock.wait_for_callback(task_id)["outcome"] == "delivered"
    task = json.loads(receiver.posts[0]["body"])
    assert task["status"] == "FAILURE" and task["fail_reason"] and task["progress"] == "100%"


def test_a_step_forced_by_the_admin_api_is_posted(receiver):
    with _mock() as mock:
        task_id = mock.create_task(request={"notify_hook": receiver.url})
        mock.force_step(task_id, "streaming")
        _drained(mock)
        assert receiver.posts == []
        mock.force_step(task_id, "complete")
        assert mock.wait_for_callback(task_id)["outcome"] == "delivered"
    assert json.loads(receiver.posts[0]["body"])["status"] == "SUCCESS"


def test_a_task_that_ends_by_being_polled_is_posted(receiver):
    with _mock() as mock:  # lyrics_success: SUCCESS at the first poll
        task_id = _submit(mock, receiver.url, action="lyrics")
        _drained(mock)
        assert receiver.posts == []
        assert mock.client.get(f"/suno/fetch/{task_id}").json()["data"]["status"] == "SUCCESS"
        assert mock.wait_for_callback(task_id)["outcome"] == "delivered"
    assert json.loads(receiver.posts[0]["body"])["data"]["status"] == "complete"


def test_a_task_a_fail_after_fault_shows_ended_is_posted_as_shown(receiver):
    with _mock() as mock:
        task_id = _submit(mock, receiver.url)
        mock.add_fault("fail_after", task_id=task_id, polls=1, fail_reason="boom")
        shown = mock.client.get(f"/suno/fetch/{task_id}").json()["data"]
        assert shown["status"] == "FAILURE"
        mock.wait_for_callback(task_id)
        mock.clear_faults()
        mock.advance(150)  # its own end comes later: already sent, not sent again
        _drained(mock)
    assert [json.loads(p["body"])["fail_reason"] for p in receiver.posts] == ["boom"]


def test_callbacks_wait_for_the_gateway_poll_grid():
    """With the poller's 15 s grid, the callback goes when a fetch first shows the end."""
    receiver = Receiver()
    try:
        with _mock(poll_interval=15.0) as mock:
            task_id = _submit(mock, receiver.url)
            phase = poll_phase(task_id, 15.0)
            shows_end = shown_after(150, 15.0, phase)
            assert gateway_elapsed(shows_end, 15.0, phase) >= 150 > gateway_elapsed(
                shows_end - 0.5, 15.0, phase)
            mock.advance(shows_end - 0.5)
            _drained(mock)
            assert mock.client.get(f"/suno/fetch/{task_id}").json()["data"]["status"] != "SUCCESS"
            assert receiver.posts == []
            mock.advance(0.501)  # a hair past: the clock's unix-time floats round either way
            assert mock.wait_for_callback(task_id)["outcome"] == "delivered"
            assert mock.client.get(f"/suno/fetch/{task_id}").json()["data"]["status"] == "SUCCESS"
    finally:
        receiver.close()


def test_a_running_clock_posts_when_the_end_passes():
    """Wall clock at 300x: music_success's 150 s end passes after 0.5 real seconds."""
    receiver = Receiver()
    try:
        app = create_app(Config(clock="wall", speed=300.0, poll_interval=0))
        client = app.test_client()
        started = time.monotonic()
        response = client.post("/suno/submit/music", headers={"Authorization": "Bearer sk-a"},
                               json={"prompt": "x", "notify_hook": receiver.url})
        assert response.status_code == 200
        assert receiver.wait(1, timeout=10)
        late = receiver.posts[0]["at"] - started
        assert late >= 0.5 - 0.01  # not before the end (the clock's own rounding aside)
        assert json.loads(receiver.posts[0]["body"])["status"] == "SUCCESS"
        print(f"delivered {late - 0.5:.3f} s after the end")
    finally:
        receiver.close()


def test_a_failing_receiver_is_retried_with_backoff_then_given_up():
    receiver = Receiver(answers=(500,))
    try:
        with _mock(callback_attempts=3, callback_backoff=0.05) as mock:
            task_id = _submit(mock, receiver.url)
            mock.advance(150)
            settled = mock.wait_for_callback(task_id)
            attempts = mock.callbacks(task_id)
    finally:
        receiver.close()
    assert settled["outcome"] == "failed"
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (1, 500, "retrying"), (2, 500, "retrying"), (3, 500, "failed")]
    assert len(receiver.posts) == 3
    gaps = [b["at"] - a["at"] for a, b in zip(receiver.posts, receiver.posts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # doubling pauses
    assert [backoff(n, 0.05) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]


def test_a_retry_that_succeeds_ends_the_callback():
    receiver = Receiver(answers=(503, 200))
    try:
        with _mock(callback_backoff=0.01) as mock:
            task_id = _submit(mock, receiver.url)
            mock.advance(150)
            settled = mock.wait_for_callback(task_id)
    finally:
        receiver.close()
    assert (settled["attempt"], settled["outcome"]) == (2, "delivered")
    assert len(receiver.posts) == 2 and receiver.posts[0]["body"] == receiver.posts[1]["body"]


def test_a_receiver_that_hangs_times_out_each_attempt():
    receiver = Receiver(hang=True)
    try:
        with _mock(callback_attempts=2, callback_timeout=0.2, callback_backoff=0.01) as mock:
            task_id = _submit(mock, receiver.url)
            started = time.monotonic()
            mock.advance(150)
            settled = mock.wait_for_callback(task_id, timeout=10)
            took = time.monotonic() - started
            attempts = mock.callbacks(task_id)
    finally:
        receiver.close()
    assert settled["outcome"] == "failed" and len(attempts) == 2
    assert all(a["status"] is None and "timed out after 0.2 s" in a["error"] for a in attempts)
    assert took < 5  # bounded by the timeout, not by the receiver


@pytest.mark.parametrize("profile", ["newapi-2025", "newapi-2026"])
def test_new_api_profiles_drop_the_hook_and_never_call(profile, receiver):
    with _mock(profile=profile) as mock:
        with_hook = _submit(mock, receiver.url)
        without = _submit(mock, "")
        mock.advance(600)
        shown = {i: mock.client.get(f"/suno/fetch/{i}").json()["data"]
                 for i in (with_hook, without)}
        assert "notify_hook" not in shown[with_hook]
        # Same wire shape as a submit without one: the id and its times are all that differ.
        assert list(shown[with_hook]) == list(shown[without])
        assert mock.service.callbacks is None and mock.callbacks() == []
        # An invalid hook is dropped unread too, as the gateway re-marshals the body.
        assert mock.client.post("/suno/submit/music",
                                json={"prompt": "x", "notify_hook": "not a url"}).status_code == 200
    assert receiver.posts == []


@pytest.mark.parametrize("hook", ["not a url", "ftp://127.0.0.1/x", "http://", "//127.0.0.1/x",
                                  "http://127.0.0.1:99999/x", "http://127.0.0.1/a b"])
def test_a_hook_that_is_not_an_http_url_is_a_bad_body(hook):
    with _mock() as mock:
        response = mock.client.post("/suno/submit/music", json={"prompt": "x", "notify_hook": hook})
        assert response.status_code == 400
        assert response.json() == {"code": "invalid_request", "data": None,
                                   "message": hook_problem(hook)}
        assert mock.tasks() == []


@pytest.mark.parametrize("hook", [5, True, ["http://127.0.0.1/"], {"url": "x"}])
def test_a_hook_of_another_type_is_the_gateways_bind_error(hook):
    with _mock() as mock:
        response = mock.client.post("/suno/submit/music", json={"prompt": "x", "notify_hook": hook})
        assert response.status_code == 400
        message = response.json()["message"]
        assert message.startswith("json: cannot unmarshal ")
        assert "SunoSubmitReq.notify_hook of type string" in message
        assert mock.tasks() == []


def test_loopback_mode_refuses_other_hosts_without_calling():
    # .invalid never resolves; and the loopback check looks at the URL only, no DNS lookup.
    with _mock() as mock:
        task_id = _submit(mock, "http://hooks.example.invalid/done")
        mock.advance(150)
        settled = mock.wait_for_callback(task_id)
    assert (settled["outcome"], settled["attempt"], settled["status"]) == ("refused", 0, None)
    assert "--callbacks any" in settled["error"]


def test_off_mode_sends_nothing_but_says_so(receiver):
    with _mock(callbacks="off") as mock:
        task_id = _submit(mock, receiver.url)
        mock.advance(150)
        assert "callbacks are off" in mock.wait_for_callback(task_id)["error"]
    assert receiver.posts == []


def test_refusal_rules():
    assert refusal("http://127.0.0.1:8/x", "loopback") is None
    assert refusal("http://localhost/x", "loopback") is None
    assert refusal("http://[::1]:9/x", "loopback") is None
    assert refusal("http://127.0.0.1.nip.io/x", "loopback") is not None
    assert refusal("https://example.com/x", "loopback") is not None
    assert refusal("https://example.com/x", "any") is None
    assert refusal("http://127.0.0.1/x", "off") is not None


def test_callbacks_never_show_keys_or_hook_passwords():
    secret_key = "sk-very-secret-key-123"
    receiver = Receiver()
    hook = receiver.url.replace("http://", "http://alice:hunter2@")
    try:
        with _mock(api_key=secret_key) as mock:
            task_id = _submit(mock, hook)
            mock.advance(150)
            assert mock.wait_for_callback(task_id)["outcome"] == "delivered"
            listed = mock._admin.get("/__mock/callbacks").text
            journal = mock._admin.get("/__mock/journal").text
    finally:
        receiver.close()
    assert "very-secret-key" not in listed and "very-secret-key" not in journal
    assert "hunter2" not in listed
    # The journal's callback entries mask it too (the submit's own entry keeps the body the
    # app sent, as for any request).
    entries = [e for e in json.loads(journal) if e.get("callback")]
    assert entries and all("hunter2" not in json.dumps(e) for e in entries)
    assert redacted_url(hook) in listed and "alice:***@" in listed
    assert "very-secret-key" not in receiver.posts[0]["body"].decode()


def test_callbacks_are_namespaced(receiver):
    with _mock() as mock:
        response = mock.client.post("/suno/submit/music", headers={"X-Mock-Namespace": "other"},
                                    json={"prompt": "x", "notify_hook": receiver.url})
        task_id = response.json()["data"]
        mock._admin.post("/__mock/clock/advance", json={"seconds": 150},
                         headers={"X-Mock-Namespace": "other"})
        assert receiver.wait(1)
        _drained(mock)
        assert mock.callbacks() == []  # the default namespace's list
        other = mock._admin.get("/__mock/callbacks", headers={"X-Mock-Namespace": "other"}).json()
        assert [(c["task_id"], c["outcome"]) for c in other] == [(task_id, "delivered")]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_two_workers_sharing_a_store_post_each_task_once(backend, tmp_path):
    """`serve --workers 2`: both workers poll every task (so both track it) and both see it end
    on a running clock; the store's claim lets exactly one send it."""
    with contextlib.ExitStack() as stack:
        if backend == "redis":
            store = stack.enter_context(redis_server()).url(prefix="hooks")
        else:
            store = f"sqlite://{tmp_path / 'fake.db'}"
        receiver = Receiver()
        stack.callback(receiver.close)
        base = stack.enter_context(running_fake("--workers", "2", "--store", store,
                                                "--speed", "100", timeout=60))
        headers = {"Authorization": "Bearer sk-two"}
        ids = []
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            for _ in range(6):
                r = http.post("/suno/submit/music",
                              json={"prompt": "x", "notify_hook": receiver.url})
                ids.append(r.json()["data"])
        for _ in range(8):  # fresh connections: granian spreads them over its workers
            for task_id in ids:
                httpx.get(f"{base}/suno/fetch/{task_id}", headers=headers, timeout=10)
        assert receiver.wait(len(ids), timeout=30)  # 150 s at 100x: 1.5 s
        # Give a losing worker time to (wrongly) send a second copy: it would by now.
        time.sleep(1.0)
        listed = httpx.get(f"{base}/__mock/callbacks", timeout=10).json()
        sent = sorted(json.loads(p["body"])["task_id"] for p in receiver.posts)
    assert sent == sorted(ids)
    assert sorted(c["task_id"] for c in listed if c["outcome"] == "delivered") == sorted(ids)
    if backend == "sqlite":
        with sqlite3.connect(tmp_path / "fake.db") as conn:
            claims = [row[0] for row in conn.execute(
                "SELECT value FROM counters WHERE key LIKE 'callback:%'")]
        assert len(claims) == len(ids) and min(claims) >= 1
        print(f"claims per task (2: both workers tried): {sorted(claims)}")


def test_a_callback_due_while_the_fake_was_down_goes_after_its_restart(tmp_path):
    """SQLite keeps the task (and the clock, which runs on while the fake is down); the restarted
    fake's workers look for hooks not sent yet."""
    receiver = Receiver()
    store = f"sqlite://{tmp_path / 'fake.db'}"
    try:
        with running_fake("--store", store, "--speed", "30", timeout=60) as base:
            r = httpx.post(f"{base}/suno/submit/music", timeout=10,
                           headers={"Authorization": "Bearer sk-restart"},
                           json={"prompt": "x", "notify_hook": receiver.url})
            task_id = r.json()["data"]
        assert receiver.posts == []  # stopped within the task's 5 real seconds
        with running_fake("--store", store, "--speed", "30", "--workers", "2",
                          timeout=60) as base:
            assert receiver.wait(1, timeout=30)
            listed = httpx.get(f"{base}/__mock/callbacks", timeout=10).json()
    finally:
        receiver.close()
    assert [json.loads(p["body"])["task_id"] for p in receiver.posts] == [task_id]
    assert [(c["task_id"], c["outcome"]) for c in listed] == [(task_id, "delivered")]


@given(threshold=st.floats(0, 5000), interval=st.floats(1, 60), phase_share=st.floats(0, 0.999))
def test_shown_after_is_the_first_poller_run_that_shows_the_end(threshold, interval, phase_share):
    phase = interval * phase_share
    at = shown_after(threshold, interval, phase)
    seen = gateway_elapsed(at + 1e-6, interval, phase)  # a hair after: floats round either way
    assert seen is not None and seen >= threshold - 1e-6
    before = gateway_elapsed(at - 1e-3 * interval, interval, phase)
    assert before is None or before < threshold


def test_terminal_after_follows_time_polls_and_pins():
    book = ScenarioBook(())
    music, lyrics = book.get("music_success"), book.get("lyrics_success")
    assert terminal_after(music, polls=0) == 150
    assert terminal_after(lyrics, polls=0) is None  # it needs a poll, whatever the time
    assert terminal_after(lyrics, polls=1) == lyrics.steps[-1].after_seconds
    assert terminal_after(music, polls=0, forced=music.step_index("complete")) == 0
    assert terminal_after(music, polls=0, forced=music.step_index("streaming")) is None


def test_an_admin_task_with_a_hook_that_is_not_a_url_is_refused():
    with _mock() as mock:
        with pytest.raises(MockAdminError, match="notify_hook must be an http"):
            mock.create_task(request={"notify_hook": "not a url"})
        assert mock.tasks() == []


def test_a_pooled_fake_forgets_callbacks_between_tests():
    # The pytest fixture reuses one app per settings: a retry still pending when a test ends
    # must neither reach the receiver again nor show in the next test's callbacks.
    receiver = Receiver(answers=(500,))
    pool = FakePool()
    try:
        first = pool.mock(callback_attempts=3, callback_backoff=0.3)
        task_id = _submit(first, receiver.url)
        first.advance(150)
        assert receiver.wait(1)
        first.close()  # the test ends while attempt 2 waits for its pause
        second = pool.mock(callback_attempts=3, callback_backoff=0.3)
        assert second.app is first.app
        assert second.callbacks() == []
        time.sleep(1.0)  # real time: longer than the two pauses the first test left behind
        assert len(receiver.posts) == 1 and second.callbacks() == []
        # The same id, seeded again, is a new task to this deliverer, not one already sent.
        second.create_task("music_success", task_id=task_id, step="complete",
                           request={"prompt": "again", "notify_hook": receiver.url})
        assert second.wait_for_callback(task_id)["outcome"] == "failed"
        assert [a["attempt"] for a in second.callbacks(task_id)] == [1, 2, 3]
        assert len(receiver.posts) == 4
        second.close()
    finally:
        pool.close()
        receiver.close()


def test_a_store_blip_when_the_task_ends_delays_its_callback_and_loses_nothing(
    receiver, monkeypatch
):
    # Once its end is due nobody tells the deliverer again (a poll of a task only its clock
    # ends does not): a store that fails that one look must not lose the callback.
    import mock_server.service.callbacks as callbacks
    from mock_server.errors import StoreUnavailable

    monkeypatch.setattr(callbacks, "_STORE_RETRY", 0.05)
    with _mock() as mock:
        task_id = _submit(mock, receiver.url)
        _drained(mock)  # its end is known; the look at that end is the one that fails
        store, real_find, failures = mock.service.store, mock.service.store.find, []

        def find_once_down(ns, task_id):
            if not failures:
                failures.append(task_id)
                raise StoreUnavailable("store down for a moment")
            return real_find(ns, task_id)

        monkeypatch.setattr(store, "find", find_once_down)
        mock.advance(150)
        settled = mock.wait_for_callback(task_id)
    assert failures == [task_id]
    assert settled["outcome"] == "delivered" and len(receiver.posts) == 1
