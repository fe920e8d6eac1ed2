"""A store that cannot be reached gives the gateway's 500 envelopes, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from mock_server import Config, create_app, load_profile
from mock_server.core.clock import ClockState
from mock_server.errors import StoreUnavailable
from mock_server.stores.sqlite_store import SQLiteStore
from mock_server.stores.urls import open_store

KEY = {"Authorization": "Bearer sk-alice"}
# Port 1 on loopback refuses at once: Redis is "down". The password must never leak.
DOWN = "redis://:s3cret-pw@127.0.0.1:1/0?prefix=outage"


def clock() -> ClockState:
    return ClockState.manual(0.0)


@pytest.fixture
def down_app(profile: str) -> Flask:
    return create_app(Config(profile=profile, clock="manual", poll_interval=0, store=DOWN))


def _clean(response) -> dict:  # type: ignore[no-untyped-def]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "s3cret" not in text and "127.0.0.1:1" not in text
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(text)  # type: ignore[no-any-return]


def test_submit_answers_the_gateway_database_error(down_app: Flask, profile: str) -> None:
    response = down_app.test_client().post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    assert response.status_code == 500
    body = _clean(response)
    request_id = response.headers["X-Oneapi-Request-Id"]
    error = {
        "message": f"Database error, please contact the administrator (request id: {request_id})",
        "type": "new_api_error",
    }
    if load_profile(profile).gateway_error_code:
        error["code"] = ""
    assert body == {"error": error}


def test_fetches_answer_the_task_envelope_of_a_database_error(down_app: Flask) -> None:
    client = down_app.test_client()
    batch = client.post("/suno/fetch", json={"ids": ["a", "b"]}, headers=KEY)
    assert batch.status_code == 500
    assert _clean(batch) == {
        "code": "get_tasks_failed",
        "message": "redis store: ConnectionError",
        "data": None,
    }
    one = client.get("/suno/fetch/a", headers=KEY)
    assert one.status_code == 500
    assert _clean(one)["code"] == "get_task_failed"


def test_admin_answers_503_and_probes_tell_live_from_ready(down_app: Flask) -> None:
    client = down_app.test_client()
    admin = client.get("/__mock/clock")
    assert admin.status_code == 503 and _clean(admin)["code"] == "store_unavailable"
    assert client.get("/healthz").get_json() == {"status": "ok", "pid": os.getpid()}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "store": "redis"}


def test_ready_when_the_store_answers(tmp_path: Path) -> None:
    app = create_app(Config(store=f"sqlite://{tmp_path / 'x.db'}"))
    ready = app.test_client().get("/readyz")
    assert (ready.status_code, ready.get_json()) == (200, {"status": "ready", "store": "sqlite"})
    app.extensions["suno_mock"].store.close()


def test_a_sqlite_file_locked_past_the_timeout_is_an_outage_too(tmp_path: Path) -> None:
    """Reads need the file; a submit is logged beside it and written once the lock is gone."""
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, clock, busy_timeout=0.05)
    app = create_app(Config(clock="manual", poll_interval=0), store=store)
    client = app.test_client()
    before = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    known = before.get_json()["data"]
    client.get(f"/suno/fetch/{known}", headers=KEY)  # written, and polled
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        fetch = client.post("/suno/fetch", json={"ids": ["unknown-id"]}, headers=KEY)
        assert (fetch.status_code, _clean(fetch)["code"]) == (500, "get_tasks_failed")
        submit = client.post("/suno/submit/music", json={"prompt": "y"}, headers=KEY)
        assert submit.status_code == 200
        logged = submit.get_json()["data"]
        time.sleep(0.1)  # a write behind fails meanwhile: the task is kept for the next one
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    after = client.get(f"/suno/fetch/{logged}", headers=KEY)
    assert after.status_code == 200  # recovers by itself once the lock is gone
    assert after.get_json()["data"]["task_id"] == logged
    store.close()


def test_a_submit_that_cannot_be_logged_answers_the_database_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path, clock)
    client = create_app(Config(clock="manual", poll_interval=0), store=store).test_client()
    held = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).get_json()["data"]
    client.get(f"/suno/fetch/{held}", headers=KEY)  # polled once: held, its polls go behind
    store.journal("")  # every write behind is in: the folder is empty
    (tmp_path / "store.db-behind").rmdir()
    (tmp_path / "store.db-behind").write_text("not a folder")  # a submit cannot be logged
    submit = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    assert submit.status_code == 500
    assert _clean(submit)["error"]["type"] == "new_api_error"
    fetch = client.get(f"/suno/fetch/{held}", headers=KEY)
    assert (fetch.status_code, _clean(fetch)["code"]) == (500, "get_task_failed")
    store.close()


def test_redis_store_calls_fail_fast_with_store_unavailable() -> None:
    store = open_store(DOWN, clock)
    try:
        with pytest.raises(StoreUnavailable, match="redis store") as info:
            store.next_seq("")
        assert "s3cret" not in str(info.value)
        assert store.ping() is False
    finally:
        store.close()


def test_during_a_sqlite_outage_a_worker_still_answers_for_the_tasks_it_holds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, clock, busy_timeout=0.05)
    client = create_app(Config(clock="manual", poll_interval=0), store=store).test_client()
    held = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).get_json()["data"]
    fresh = client.post("/suno/submit/music", json={"prompt": "y"}, headers=KEY).get_json()["data"]
    before = client.get(f"/suno/fetch/{held}", headers=KEY)  # polled once: now held
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        during = client.get(f"/suno/fetch/{held}", headers=KEY)
        assert (during.status_code, during.data) == (200, before.data)
        unknown = client.get(f"/suno/fetch/{fresh}", headers=KEY)  # needs the store: outage
        assert (unknown.status_code, _clean(unknown)["code"]) == (500, "get_task_failed")
        time.sleep(0.2)  # the deferred write of the held task's poll fails meanwhile
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "deferred poll counts and journal entries lost" in caplog.text
    assert "Traceback" not in caplog.text
    after = client.get(f"/suno/fetch/{fresh}", headers=KEY)
    assert after.status_code == 200  # back by itself
    store.close()


# --- readiness: the store takes writes --------------------------------------------------------


@pytest.fixture
def fresh_readiness(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every /readyz probes the store (a worker keeps its answer for a second otherwise)."""
    from mock_server.web import ops

    monkeypatch.setattr(ops, "READY_FOR", 0.0)


def _ready(client) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    response = client.get("/readyz")
    return response.status_code, response.get_json()["status"]


@pytest.mark.usefixtures("fresh_readiness")
def test_not_ready_while_a_sqlite_submit_cannot_be_logged(tmp_path: Path) -> None:
    """The file answers reads, but no submit can be written: not ready, and back by itself."""
    store = SQLiteStore(tmp_path / "store.db", clock)
    client = create_app(Config(clock="manual", poll_interval=0), store=store).test_client()
    assert _ready(client) == (200, "ready")
    marks = tmp_path / "store.db-behind"
    marks.rmdir()
    marks.write_text("not a folder")  # as a directory made read-only would: no task log
    assert store.ping() is True  # the store answers...
    submit = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    assert submit.status_code == 500  # ...but takes no submit
    assert _ready(client) == (503, "unavailable")
    marks.unlink()
    marks.mkdir()
    assert _ready(client) == (200, "ready")
    assert client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).status_code == 200
    store.close()


@pytest.mark.usefixtures("fresh_readiness")
def test_not_ready_while_the_sqlite_file_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, clock, busy_timeout=0.05)
    client = create_app(Config(clock="manual", poll_interval=0), store=store).test_client()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert _ready(client) == (503, "unavailable")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _ready(client) == (200, "ready")
    store.close()


def test_readiness_probes_the_store_at_most_once_a_period(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mock_server.stores.memory import MemoryStore
    from mock_server.web import ops

    class Probed(MemoryStore):
        probes = 0
        fail = False

        def probe_write(self) -> None:
            Probed.probes += 1
            if Probed.fail:
                raise StoreUnavailable("memory store: pretend")

    client = create_app(Config(clock="manual", poll_interval=0), store=Probed(clock)).test_client()
    monkeypatch.setattr(ops, "READY_FOR", 3600.0)
    assert [_ready(client) for _ in range(20)] == [(200, "ready")] * 20
    assert Probed.probes == 1  # load balancers may probe as often as they like
    monkeypatch.setattr(ops, "READY_FOR", 0.0)
    Probed.fail = True
    assert [_ready(client) for _ in range(3)] == [(503, "unavailable")] * 3
    assert Probed.probes == 4
    assert caplog.text.count("not ready: memory store: pretend") == 1  # once, not per probe


@pytest.fixture
def replica() -> Iterator[tuple[str, Any]]:
    """A Redis replica (read-only) of another Redis: its URL and a client to promote it."""
    import redis as redis_client

    from tests._servers import redis_server

    with redis_server() as primary, redis_server() as second:
        admin = redis_client.Redis(port=second.port)
        admin.replicaof("127.0.0.1", primary.port)
        try:
            yield second.url(prefix="replica"), admin
        finally:
            admin.close()


@pytest.mark.usefixtures("fresh_readiness")
def test_a_read_only_redis_is_not_ready_and_submits_answer_the_database_error(
    replica: tuple[str, Any],
) -> None:
    url, admin = replica
    client = create_app(Config(clock="manual", poll_interval=0, store=url)).test_client()
    assert _ready(client) == (503, "unavailable")  # it answers pings, but takes no write
    submit = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    assert submit.status_code == 500
    error = _clean(submit)["error"]
    assert (error["type"], error["message"][:14]) == ("new_api_error", "Database error")
    admin.replicaof("no", "one")  # promoted: writable again
    assert _ready(client) == (200, "ready")
    assert client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).status_code == 200
    client.application.extensions["suno_mock"].store.close()


def test_redis_journal_appends_outlive_a_restart_and_refused_ones_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fetch's entry is sent without waiting for Redis' reply: an outage or a refusal shows
    later, as a warning, and never fails a journal read."""
    import redis as redis_client

    from tests._servers import redis_server

    with redis_server() as server:
        store = open_store(server.url(prefix="sender"), clock)
        admin = redis_client.Redis(port=server.port)
        try:
            store.journal_append("", {"i": 1})
            assert store.journal("") == [{"i": 1}]

            admin.config_set("maxmemory", 1)  # noeviction (the default): writes refused
            store.journal_append("", {"i": 2})
            assert store.journal("") == [{"i": 1}]
            assert "1 journal entries lost: redis refused them" in caplog.text
            admin.config_set("maxmemory", 0)

            server.stop()  # its connections go; it comes back empty
            server.start()
            admin.close()
            for i in (3, 4, 5):
                store.journal_append("", {"i": i})
            # The first one after the restart may have gone to the dead connection's buffer.
            assert [e["i"] for e in store.journal("")][-2:] == [4, 5]
        finally:
            admin.close()
            store.close()


def test_redis_journal_appends_during_an_outage_leave_the_store_its_connections() -> None:
    """Each append sent while Redis is down tries a new connection: none of them may count
    against the client's connection cap (redis-py 8: 100), or the store stays unusable (every
    command MaxConnectionsError) after Redis is back."""
    from tests._servers import redis_server

    with redis_server() as server:
        store = open_store(server.url(prefix="outage-cap"), clock)
        try:
            store.journal_append("", {"i": 0})
            server.stop()
            for i in range(150):
                with contextlib.suppress(StoreUnavailable):
                    store.journal_append("", {"i": i})
            server.start()
            store.journal_append("", {"i": "back"})
            assert store.journal("")[-1] == {"i": "back"}
        finally:
            store.close()
