"""Reliability under failure: a worker SIGKILLed under load, restarts on the same SQLite file,
Redis restarted under load. Every load is bounded in time and count, on loopback only."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from mock_server import validate
from tests._servers import RedisServer, SunoMock, redis_server

KEY = {"Authorization": "Bearer sk-reliability"}
OUTAGE_CODES = {"get_tasks_failed", "get_task_failed"}


@dataclass
class Answer:
    at: float
    route: str
    status: int  # 0: no HTTP answer (transport error)
    body: dict | None = None  # type: ignore[type-arg]


@dataclass
class Load:
    """Threads that submit, then fetch what they submitted, until stopped (bounded anyway)."""

    base: str
    threads: int = 4
    max_seconds: float = 20.0
    max_requests: int = 4_000
    acked: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _record(self, route: str, response: httpx.Response | None) -> dict | None:  # type: ignore[type-arg]
        body = None
        if response is not None:
            try:
                body = response.json()
            except ValueError:
                body = {"not_json": response.text[:200]}
        with self._lock:
            status = 0 if response is None else response.status_code
            self.answers.append(Answer(time.monotonic(), route, status, body))
        return body

    def _call(
        self, client: httpx.Client, route: str, method: str, url: str, **kw: object
    ) -> dict | None:  # type: ignore[type-arg]
        try:
            response = client.request(method, url, headers=KEY, **kw)  # type: ignore[arg-type]
        except httpx.TransportError:
            return self._record(route, None)
        body = self._record(route, response)
        return body if response.status_code == 200 else None

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        mine: list[str] = []
        # A new connection per request: the kernel spreads them over every worker.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=self.base, timeout=10.0, limits=limits) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    if len(self.answers) >= self.max_requests:
                        return
                body = self._call(client, "submit", "POST", "/suno/submit/music",
                                  json={"prompt": "load"})
                if body is not None:
                    mine.append(body["data"])
                    with self._lock:
                        self.acked.append(body["data"])
                if mine:
                    self._call(client, "fetch_one", "GET", f"/suno/fetch/{mine[-1]}")
                    self._call(client, "fetch", "POST", "/suno/fetch", json={"ids": mine[-5:]})

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._run) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def run_for(self, seconds: float) -> None:
        time.sleep(seconds)


def assert_all_present_and_valid(base: str, ids: list[str]) -> None:
    """Every acknowledged task answers, whole and schema-valid."""
    assert ids
    with httpx.Client(base_url=base, timeout=10.0) as client:
        for start in range(0, len(ids), 200):
            chunk = sorted(ids[start : start + 200])
            response = client.post("/suno/fetch", json={"ids": chunk}, headers=KEY)
            assert response.status_code == 200, response.text
            tasks = response.json()["data"]
            assert [t["task_id"] for t in tasks] == chunk  # none lost
            for task in tasks:
                assert validate(task, "task", "elkapi") == []  # none corrupted


def wait_for_workers(server: SunoMock, count: int, without: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = server.workers()
        if len(workers) == count and without not in workers:
            return
        time.sleep(0.05)
    raise AssertionError(f"worker {without} was not replaced:\n{server.output()}")


def test_sigkill_of_a_worker_under_load_loses_no_acknowledged_submit(tmp_path: Path) -> None:
    db = tmp_path / "load.db"
    args = ["--workers", "2", "--store", f"sqlite://{db}", "--threads", "4"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        with Load(server.base) as load:
            load.run_for(1.0)
            victim = server.workers()[0]
            os.kill(victim, signal.SIGKILL)
            wait_for_workers(server, 2, victim)
            load.run_for(1.0)
        assert len(load.acked) > 20, "the load did not run"
        answered = [a for a in load.answers if a.status != 0]
        assert {a.status for a in answered} == {200}, [a for a in answered if a.status != 200][:3]
        # Only requests the killed worker held may go unanswered.
        assert sum(a.status == 0 for a in load.answers) <= load.threads * 3
        assert_all_present_and_valid(server.base, load.acked)
        assert server.stop() == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def _snapshot(base: str, ids: list[str]) -> tuple[str, list[tuple[str, str, str]]]:
    with httpx.Client(base_url=base, timeout=10.0) as client:
        batch = client.post("/suno/fetch", json={"ids": ids}, headers=KEY)
        assert batch.status_code == 200
        listed = client.get("/__mock/tasks").json()
    return batch.text, [(t["task_id"], t["status"], t["step"]) for t in listed]


def test_restart_on_the_same_sqlite_file_keeps_tasks_and_states(tmp_path: Path) -> None:
    # CDN-shaped media URLs: the local ones name the port, and each server here has its own.
    args = ["--workers", "2", "--store", f"sqlite://{tmp_path / 'keep.db'}", "--clock", "manual",
            "--media-urls", "suno"]
    log = tmp_path / "out.log"
    with SunoMock(args, log=log) as first:
        with httpx.Client(base_url=first.base, timeout=10.0) as client:
            ids = sorted(
                client.post("/suno/submit/music", json={"prompt": str(i)}, headers=KEY).json()[
                    "data"
                ]
                for i in range(5)
            )
            assert client.post("/__mock/clock/advance", json={"seconds": 40}).status_code == 200
            pinned = client.post(f"/__mock/tasks/{ids[0]}/step", json={"step": "complete"})
            assert pinned.status_code == 200
        before = _snapshot(first.base, ids)
        assert first.stop() == 0
    # A graceful restart, then a crash (everything SIGKILLed), then a third start.
    with SunoMock(args, log=log) as second:
        assert _snapshot(second.base, ids) == before
        assert second.proc is not None
        workers = second.workers()
        second.proc.kill()  # the supervisor first, so that nothing respawns
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        second.stop()
    with SunoMock(args, log=log, port=second.port) as third:
        assert _snapshot(third.base, ids) == before
        statuses = {task_id: status for task_id, status, _step in before[1]}
        assert statuses[ids[0]] == "SUCCESS"
        assert {statuses[i] for i in ids[1:]} == {"IN_PROGRESS"}
        assert third.stop() == 0


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    data = tmp_path / "redis-data"
    data.mkdir()
    with redis_server(data) as server:
        yield server


def _is_outage_envelope(answer: Answer) -> bool:
    body = answer.body or {}
    if answer.route == "submit":
        error = body.get("error", {})
        return error.get("type") == "new_api_error" and str(error.get("message", "")).startswith(
            "Database error, please contact the administrator (request id: "
        )
    return body.get("code") in OUTAGE_CODES and body.get("data") is None


def test_redis_restart_under_load_gives_500_envelopes_then_recovers(
    tmp_path: Path, persistent_redis: RedisServer
) -> None:
    store = persistent_redis.url(prefix="reliability")
    args = ["--workers", "2", "--store", store, "--threads", "4"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        with Load(server.base) as load:
            load.run_for(0.8)
            persistent_redis.stop()
            down_at = time.monotonic()
            load.run_for(0.8)
            ready = httpx.get(f"{server.base}/readyz", timeout=5)
            assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
            persistent_redis.start()
            up_at = time.monotonic()
            load.run_for(1.2)
        ready = httpx.get(f"{server.base}/readyz", timeout=5)
        assert (ready.status_code, ready.json()["status"]) == (200, "ready")

        assert all(a.status != 0 for a in load.answers), "the fake itself must stay up"
        failed = [a for a in load.answers if a.status != 200]
        assert failed, "no request reached the fake while Redis was down"
        assert all(a.status == 500 and _is_outage_envelope(a) for a in failed), failed[:3]
        late = [(a.route, round(a.at - up_at, 3), a.body) for a in failed
                if not down_at - 0.5 < a.at < up_at + 1.0]
        assert not late, late[:5]  # failures only while Redis was down (and its reconnect)
        recovered = [a for a in load.answers if a.at > up_at and a.status == 200]
        assert any(a.route == "submit" for a in recovered), "no submit after Redis came back"
        assert "Traceback" not in server.output()
        # Redis kept its append-only file: every acknowledged submit, before and after, is there.
        assert_all_present_and_valid(server.base, load.acked)
        assert server.stop() == 0
