"""The hot path answers exactly as the Flask app does: status, headers, bytes, journal, store.

Two fakes on the same manual clock see the same requests: one as shipped (hot path in front),
one with the hot path taken out (the Flask routes alone, the reference).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_server import Config, create_app
from mock_server.core.record import TaskRecord
from mock_server.errors import StoreUnavailable
from mock_server.stores.base import Store
from mock_server.stores.memory import MemoryStore
from mock_server.stores.sqlite_store import SQLiteStore
from mock_server.web.hot import HotPath, app_hooks

START = 1_750_000_000.0
KEY = {"Authorization": "Bearer sk-hot-path-key"}
OTHER = {"Authorization": "Bearer other-key"}


class _Ids:
    """Deterministic task ids, so both fakes hand out the same ones."""

    def __init__(self) -> None:
        self.next = "task-0"

    def __call__(self, _fmt: str) -> str:
        return self.next


class _FlakyStore(MemoryStore):
    down = False

    def poll(self, ns: str, owner: str, task_ids: Any, **kwargs: Any) -> list[TaskRecord]:
        if self.down:
            raise StoreUnavailable("memory store: down for the test")
        return super().poll(ns, owner, task_ids, **kwargs)


class Twins:
    def __init__(self, ids: _Ids, sqlite_dir: Path | None = None, **settings: Any) -> None:
        """``sqlite_dir``: each twin on a SQLite store there, instead of the memory store."""
        config = Config(clock="manual", poll_interval=0, clock_start=START, **settings)
        self.ids = ids

        def store(name: str) -> Store:
            if sqlite_dir is None:
                return _FlakyStore(lambda: _clock(config))
            return SQLiteStore(sqlite_dir / f"{name}.db", lambda: _clock(config))

        self.hot = create_app(config, store=store("hot"))
        self.ref = create_app(config, store=store("ref"))
        assert isinstance(self.hot.wsgi_app, HotPath)
        self.ref.wsgi_app = self.ref.wsgi_app.flask_wsgi  # type: ignore[attr-defined,method-assign]
        self.delegated = 0
        inner = self.hot.wsgi_app.flask_wsgi

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            self.delegated += 1
            return inner(environ, start_response)

        self.hot.wsgi_app.flask_wsgi = counting  # type: ignore[attr-defined]

    def apps(self) -> Iterator[Flask]:
        yield self.hot
        yield self.ref

    def same(self, method: str, path: str, *, fast: bool, **kwargs: Any) -> Any:
        """Send the request to both; assert the same answer; say if the hot path kept it."""
        before = self.delegated
        answers = []
        for app in self.apps():
            client: FlaskClient = app.test_client()
            answers.append(client.open(path, method=method, **kwargs))
        hot, ref = answers
        assert hot.status == ref.status, (method, path)
        assert _headers(hot) == _headers(ref), (method, path)
        assert _body(hot) == _body(ref), (method, path)
        assert (self.delegated == before) is fast, f"hot path {'missed' if fast else 'took'} it"
        return hot

    def check_state(self) -> None:
        for ns in ("", "other-ns"):
            stores = [app.extensions["suno_mock"].store for app in self.apps()]
            tasks = [sorted(map(TaskRecord.to_dict, s.tasks(ns)), key=str) for s in stores]
            assert tasks[0] == tasks[1]
            journals = [[_no_id(e) for e in s.journal(ns)] for s in stores]
            assert journals[0] == journals[1]


def _clock(config: Config) -> Any:
    from mock_server.core.clock import ClockState

    return ClockState.manual(config.clock_start)


def _no_id(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without its request id (drawn at random), also where an error answer quotes it."""
    request_id = entry["request_id"]
    assert request_id
    out = {k: v for k, v in entry.items() if k != "request_id"}
    if out.get("response"):
        out["response"] = out["response"].replace(request_id, "<request id>")
    return out


def _body(response: Any) -> bytes:
    """The body with this response's own request id (401s and 500s quote it) blanked out."""
    request_id = response.headers.get("X-Oneapi-Request-Id", "")
    return bytes(response.data).replace(request_id.encode(), b"<request id>")


def _headers(response: Any) -> list[tuple[str, str]]:
    out = []
    for name, value in response.headers.to_wsgi_list():
        if name == "X-Oneapi-Request-Id":
            assert len(value) >= 30
            value = "<request id>"
        out.append((name, value))
    return out


@pytest.fixture
def ids(monkeypatch: pytest.MonkeyPatch) -> _Ids:
    made = _Ids()
    monkeypatch.setattr("mock_server.service.mock_service.new_task_id", made)
    return made


def _submit(twins: Twins, task_id: str, **kwargs: Any) -> None:
    twins.ids.next = task_id
    kwargs.setdefault("headers", KEY)
    kwargs.setdefault("json", {"prompt": "[Verse]\nhot <path> & co", "title": "Hot"})
    path = kwargs.pop("path", "/suno/submit/music")
    twins.same("POST", path, fast=kwargs.pop("fast", True), **kwargs)


def test_plain_requests_take_the_hot_path_and_answer_the_same(profile: str, ids: _Ids) -> None:
    _plain_requests(Twins(ids, profile=profile))


def test_settled_tasks_written_behind_on_sqlite_answer_the_same(
    ids: _Ids, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's token is free to read, so the hot path serves tasks it holds settled and
    defers their polls and journal entries: the same answers, polls and journal in the end."""
    twins = Twins(ids, sqlite_dir=tmp_path)
    deferred: list[list[str]] = []
    store = twins.hot.extensions["suno_mock"].store
    poll_later = store.poll_later

    def spy(ns: str, owner: str, task_ids: Any, **kwargs: Any) -> None:
        deferred.append(list(task_ids))
        poll_later(ns, owner, task_ids, **kwargs)

    monkeypatch.setattr(store, "poll_later", spy)
    _plain_requests(twins)
    assert deferred, "the settled path was never taken"
    deferred.clear()
    for _ in range(3):
        twins.same("POST", "/suno/fetch", json={"ids": ["t-3", "t-1"]}, headers=KEY, fast=True)
        twins.same("GET", "/suno/fetch/t-2", headers=KEY, fast=True)
    # t-1 and t-3 were last polled after the clock last moved; t-2 before: its first poll now
    # is a plain one, which makes it held.
    assert deferred == [["t-1", "t-3"], ["t-1", "t-3"], ["t-2"], ["t-1", "t-3"], ["t-2"]]
    twins.check_state()
    for app in twins.apps():
        app.extensions["suno_mock"].store.close()


def test_a_task_whose_steps_wait_for_polls_is_held_only_once_they_are_reached(
    ids: _Ids, tmp_path: Path
) -> None:
    twins = Twins(ids, sqlite_dir=tmp_path)
    lyrics = {"id": "{task_id}", "status": "complete", "title": "{title}", "text": "la"}
    inline = {
        "name": "slow-poller",
        "action": "LYRICS",
        "template": {"title": "Polls"},
        "steps": [
            {"name": "waiting", "status": "NOT_START", "data": None},
            {"name": "working", "status": "IN_PROGRESS", "after_polls": 2, "data": None},
            {"name": "done", "status": "SUCCESS", "after_polls": 4, "data": "lyrics",
             "lyrics": lyrics},
        ],
    }
    twins.ids.next = "t-p"
    made = twins.same("POST", "/__mock/tasks", json={"api_key": "sk-hot-path-key",
                                                     "scenario": inline}, fast=False)
    assert made.status_code == 201, made.data
    seen = []
    for i in range(7):
        if i % 2:
            answer = twins.same("GET", "/suno/fetch/t-p", headers=KEY, fast=True)
            seen.append(answer.get_json()["data"]["status"])
        else:
            answer = twins.same("POST", "/suno/fetch", json={"ids": ["t-p"]}, headers=KEY,
                                fast=True)
            seen.append(answer.get_json()["data"][0]["status"])
    assert seen == ["NOT_START", "IN_PROGRESS", "IN_PROGRESS", "SUCCESS", "SUCCESS", "SUCCESS",
                    "SUCCESS"]
    twins.check_state()
    for app in twins.apps():
        app.extensions["suno_mock"].store.close()


def _plain_requests(twins: Twins) -> None:
    _submit(twins, "t-1")
    _submit(twins, "t-2", path="/suno/submit/Lyrics", json={"prompt": "words"})
    _submit(twins, "t-3", headers={**KEY, "X-Mock-Scenario": "music_failure"})
    _submit(twins, "t-4", headers={**KEY, "X-Mock-Namespace": "other-ns"})
    _submit(twins, "t-5", headers={**KEY, "Content-Type": "application/json; charset=utf-8"},
            data=json.dumps({"prompt": "p", "make_instrumental": True}), json=None)
    for ns in ({}, {"X-Mock-Namespace": "other-ns"}):
        for app in twins.apps():
            app.extensions["suno_mock"].advance(7, ns.get("X-Mock-Namespace", ""))
        for body in ({"ids": ["t-1"]}, {"ids": ["t-3", "t-1", "nope", "t-1", 5, "t-2"]},
                     {"ids": []}, {}, {"ids": ["nope"]}, {"ids": None, "action": "MUSIC"}):
            twins.same("POST", "/suno/fetch", json=body, headers={**KEY, **ns}, fast=True)
        twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, headers={**OTHER, **ns},
                   fast=True)
        for task_id in ("t-4",) if ns else ("t-1", "t-2", "t-5"):
            twins.same("GET", f"/suno/fetch/{task_id}", headers={**KEY, **ns}, fast=True)
    lowercase = twins.hot.extensions["suno_mock"].profile.lowercase_bearer
    twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, fast=lowercase,
               headers={"Authorization": "bearer sk-hot-path-key"})
    twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, fast=True,
               headers={"Authorization": "Bearer midjourney-proxy", "mj-api-secret": "k2"})
    for app in twins.apps():
        app.extensions["suno_mock"].advance(500)
    twins.same("POST", "/suno/fetch", json={"ids": ["t-1", "t-3"]}, headers=KEY, fast=True)
    twins.same("POST", "/suno/fetch", data=b'{"ids":["t-1"]}', headers=KEY, fast=True,
               environ_overrides={"wsgi.input_terminated": True})
    twins.check_state()


def test_errors_a_route_raises_take_the_hot_path_and_answer_the_same(
    profile: str, ids: _Ids
) -> None:
    """A plain request that the route refuses: the hot path ran the route, and the Flask app's
    error handlers and after-request hooks word the answer and journal it."""
    twins = Twins(ids, profile=profile)
    _submit(twins, "t-1")
    json_as = {**KEY, "Content-Type": "Application/Vnd.Suno+JSON ; charset=utf-8"}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/suno/fetch", {"data": b"{not json", "headers": KEY}),
        ("POST", "/suno/fetch", {"json": {"ids": "t-1"}, "headers": KEY}),
        ("GET", "/suno/fetch/nope", {"headers": KEY}),
        ("GET", "/suno/fetch/t-1", {"headers": OTHER}),
        ("POST", "/suno/submit/video", {"json": {"prompt": "x"}, "headers": KEY}),
        ("POST", "/suno/submit/Stra\u00dfe", {"json": {"prompt": "x"}, "headers": KEY}),
        ("POST", "/suno/submit/lyrics", {"json": {"title": "no prompt"}, "headers": KEY}),
        ("POST", "/suno/submit/lyrics", {"json": {"prompt": ""}, "headers": KEY}),
        ("POST", "/suno/submit/music", {"data": b'{"prompt":"x"}',
                                        "headers": {**KEY, "Content-Type": "text/plain"}}),
        ("POST", "/suno/submit/music", {"data": b'{"prompt":"x"}',
                                        "headers": {**KEY, "Content-Type": " text/json-seq ;"}}),
        ("POST", "/suno/submit/music", {"data": b'{"prompt": 5}', "headers": json_as}),
        ("POST", "/suno/submit/music", {"json": {"prompt": 5}, "headers": KEY}),
        ("POST", "/suno/submit/music", {"json": None, "data": b"[1]", "headers": KEY}),
        ("POST", "/suno/submit/music", {"json": {"prompt": "x"},
                                        "headers": {**KEY, "X-Mock-Scenario": "nope"}}),
        ("POST", "/suno/submit/music", {"json": {"prompt": "x"},
                                        "headers": {**KEY, "X-Mock-Scenario": "lyrics_success"}}),
        ("POST", "/suno/submit/music", {"data": b"x" * 5000, "headers": KEY}),
    ]
    for method, path, kwargs in cases:
        twins.ids.next = "never-used"
        answer = twins.same(method, path, fast=path.isascii(), **kwargs)
        assert answer.status_code >= 400, (method, path)
    twins.check_state()


def test_everything_else_goes_to_the_flask_app_and_answers_the_same(
    profile: str, ids: _Ids
) -> None:
    twins = Twins(ids, profile=profile)
    _submit(twins, "t-1")
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/suno/fetch", {"json": {"ids": ["t-1"]}}),
        ("POST", "/suno/fetch", {"json": {"ids": ["t-1"]}, "headers": {"Authorization": "sk-"}}),
        ("POST", "/suno/fetch", {"json": {"ids": ["t-1"]},
                                 "headers": {"Authorization": "Bearer ", "Accept-Language": "zh"}}),
        ("POST", "/suno/fetch", {"json": {"ids": ["t-1"]},
                                 "headers": {**KEY, "X-Mock-Fault": "status=429"}}),
        ("POST", "/suno/fetch", {"data": b'{"ids":["t-1"]}', "headers": KEY,
                                 "environ_overrides": {"CONTENT_LENGTH": "40"}}),
        ("POST", "/suno/fetch", {"data": b'{"ids":["t-1"]}', "headers": KEY,
                                 "environ_overrides": {"CONTENT_LENGTH": "x"}}),
        ("POST", "/suno/fetch", {"data": b"", "headers": KEY}),  # no Content-Length
        ("POST", "/suno/fetch/", {"json": {"ids": ["t-1"]}, "headers": KEY}),
        ("GET", "/suno/fetch", {"headers": KEY}),
        ("GET", "/suno/fetch/", {"headers": KEY}),
        ("GET", "/suno/fetch/t-1/x", {"headers": KEY}),
        ("GET", "/suno/fetch/t-\u00e9", {"headers": KEY}),
        ("HEAD", "/suno/fetch/t-1", {"headers": KEY}),
        ("POST", "/suno/submit/", {"json": {"prompt": "x"}, "headers": KEY}),
        ("POST", "/suno/submit/music/x", {"json": {"prompt": "x"}, "headers": KEY}),
        ("GET", "/suno/submit/music", {"headers": KEY}),
        ("GET", "/suno/nothing", {"headers": KEY}),
    ]
    for method, path, kwargs in cases:
        twins.ids.next = "never-used"
        twins.same(method, path, fast=False, **kwargs)
    twins.check_state()


def test_a_body_over_the_limit_is_werkzeugs_413(ids: _Ids) -> None:
    twins = Twins(ids, max_body_bytes=100)
    too_big = twins.same("POST", "/suno/fetch", json={"ids": ["x" * 200]}, headers=KEY,
                         fast=False)
    assert too_big.status_code == 413
    twins.same("POST", "/suno/fetch", json={"ids": ["x" * 20]}, headers=KEY, fast=True)
    twins.check_state()


def test_fault_rules_in_force_send_every_request_through_flask(ids: _Ids) -> None:
    twins = Twins(ids)
    _submit(twins, "t-1")
    for app in twins.apps():
        app.extensions["suno_mock"].faults.add({"fault": "shuffle"})
    twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, headers=KEY, fast=False)
    twins.same("GET", "/suno/fetch/t-1", headers=KEY, fast=False)
    twins.check_state()


def test_errors_after_the_work_began_answer_as_flask_would(
    ids: _Ids, monkeypatch: pytest.MonkeyPatch
) -> None:
    twins = Twins(ids, api_keys=("sk-hot-path-key",))
    _submit(twins, "t-1")
    twins.same("GET", "/suno/fetch/t-1", headers=OTHER, fast=False)  # not an allowed key
    for app in twins.apps():
        app.extensions["suno_mock"].store.down = True
    outage = twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, headers=KEY, fast=True)
    assert outage.status_code == 500
    for app in twins.apps():
        app.extensions["suno_mock"].store.down = False

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    twins.check_state()
    for app in twins.apps():
        monkeypatch.setattr(app.extensions["suno_mock"], "render", broken)
    panic = twins.same("GET", "/suno/fetch/t-1", headers=KEY, fast=True)
    assert panic.status_code == 500
    assert b"new_api_panic" in panic.data and b"a bug" not in panic.data
    # The poll counted in both; a fetch is journaled with its answer, so each journal holds
    # one entry for it: the 500, with the panic envelope that was sent.
    hot = [_no_id(e) for e in twins.hot.extensions["suno_mock"].store.journal("")]
    assert [(e["path"], e["status"]) for e in hot[-2:]] == [
        ("/suno/fetch", 500),  # the outage
        ("/suno/fetch/t-1", 500),
    ]
    assert "new_api_panic" in hot[-1]["response"]
    twins.check_state()


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        assert line.pop("request_id") and line.pop("ms") >= 0 and line.pop("time")
        self.lines.append(line)


def test_with_the_access_log_on_the_hot_path_serves_and_logs_the_same(ids: _Ids) -> None:
    twins = Twins(ids, access_log=True)
    lines = _Lines()
    logging.getLogger("mock_server.access").addHandler(lines)
    try:
        _submit(twins, "t-1")
        twins.same("POST", "/suno/fetch", json={"ids": ["t-1"]}, headers=KEY, fast=True)
        twins.same("GET", "/suno/fetch/nope", headers=KEY, fast=True)
        twins.same("GET", "/suno/fetch/t-1", headers={"Authorization": "sk-"}, fast=False)
    finally:
        logging.getLogger("mock_server.access").removeHandler(lines)
    assert lines.lines[::2] == lines.lines[1::2]  # hot, then ref, for each request
    assert [(x["path"], x["status"]) for x in lines.lines[::2]] == [
        ("/suno/submit/music", 200), ("/suno/fetch", 200), ("/suno/fetch/nope", 400),
        ("/suno/fetch/t-1", 401),
    ]
    assert lines.lines[0]["owner"].startswith("o_") and lines.lines[0]["bytes"] > 0
    twins.check_state()


def _plain_fetch(app: Flask) -> Any:
    return app.test_client().post("/suno/fetch", json={"ids": []}, headers=KEY)


@pytest.mark.parametrize("access_log", [False, True])
def test_the_hot_path_stands_for_the_apps_own_hooks(access_log: bool) -> None:
    app = create_app(Config(access_log=access_log))
    hot = app.wsgi_app
    assert isinstance(hot, HotPath) and hot.serving is None
    for hook in app_hooks(app):  # by identity: a renamed hook is the same hook
        hook.__name__ = hook.__qualname__ = "renamed"
    assert _plain_fetch(app).status_code == 200
    assert hot.serving is True
    with pytest.raises(AssertionError, match="first request"):  # no hook can come in later
        app.before_request(lambda: None)


def test_the_hot_path_stands_aside_for_a_hook_it_does_not_know(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(Config())
    seen: list[str] = []

    @app.before_request
    def count() -> None:
        seen.append("x")

    assert _plain_fetch(app).status_code == 200
    assert _plain_fetch(app).status_code == 200
    assert app.wsgi_app.serving is False  # type: ignore[attr-defined]
    assert seen == ["x", "x"]  # every request ran it: Flask answered them
    assert "count" in caplog.text
