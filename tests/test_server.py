"""`suno-mock serve` as a service: defaults, workers, shared state, graceful stop, probes."""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests._servers import SUNO_MOCK, SunoMock

KEY = {"Authorization": "Bearer sk-server-test"}


# No keep-alive: every request opens a new connection, so that any worker may take it.
_FRESH = httpx.Client(timeout=10.0, limits=httpx.Limits(max_keepalive_connections=0))
atexit.register(_FRESH.close)


def fresh(method: str, url: str, **kw: object) -> httpx.Response:
    """One request on a new connection."""
    return _FRESH.request(method, url, **kw)  # type: ignore[arg-type]


def submit(base: str, headers: dict[str, str] = KEY) -> str:
    response = fresh("POST", f"{base}/suno/submit/music", json={"prompt": "x"}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["data"])


def test_defaults_come_from_the_environment_and_are_announced(tmp_path: Path) -> None:
    server = SunoMock(with_host=False, log=tmp_path / "out.log")
    server.env["SUNO_MOCK_PORT"] = str(server.port)
    server.env.pop("SUNO_MOCK_HOST", None)
    with server:
        first_line = server.output().splitlines()[0]
        assert first_line == (
            f"suno-mock serving on http://127.0.0.1:{server.port} (1 worker, store memory://)"
        )
        health = fresh("GET", f"{server.base}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = fresh("GET", f"{server.base}/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "store": "memory"})
        assert len(server.workers()) == 1
    assert "Traceback" not in server.output()


def test_many_workers_without_a_store_share_a_temporary_sqlite_file(tmp_path: Path) -> None:
    with SunoMock(["--workers", "2", "--clock", "manual"], log=tmp_path / "out.log") as server:
        match = re.search(r"\(2 workers, store sqlite://(\S+)\)", server.output())
        assert match, server.output()
        db = Path(match.group(1))
        assert db.is_file()
        assert len(server.workers()) == 2
        task = submit(server.base)
        assert fresh("GET", f"{server.base}/suno/fetch/{task}", headers=KEY).status_code == 200
        assert server.stop() == 0
    assert not db.parent.exists()  # a temporary store goes away with the server


def test_memory_store_is_refused_for_many_workers(tmp_path: Path) -> None:
    result = subprocess.run(
        [*SUNO_MOCK, "--workers", "2", "--store", "memory://", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot serve --workers 2" in result.stderr and "sqlite://" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "postgres://x"], "unknown store URL"),
        (["--workers", "0"], "must be >= 1"),
        (["--store", "sqlite:///proc/no/such/dir/x.db"], "cannot create"),
    ],
)
def test_bad_settings_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*SUNO_MOCK, "--port", "1", *args], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, "Traceback" in result.stderr) == (2, False), result.stderr
    assert message in result.stderr


def test_a_task_is_the_same_through_every_worker(tmp_path: Path) -> None:
    """Submit through one worker, fetch through any: same state at the same clock time."""
    store = f"sqlite://{tmp_path / 'shared.db'}"
    args = ["--workers", "2", "--store", store, "--clock", "manual"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        base = server.base
        tasks = sorted(submit(base) for _ in range(6))
        pids = set()
        fetches = 0
        # music_success: QUEUED from 15 s, IN_PROGRESS from 35 s, SUCCESS from 150 s.
        for advance, status in [(0, "NOT_START"), (20, "QUEUED"), (20, "IN_PROGRESS"),
                                (200, "SUCCESS")]:
            moved = fresh("POST", f"{base}/__mock/clock/advance", json={"seconds": advance})
            assert moved.status_code == 200
            bodies = set()
            for _ in range(8):
                pids.add(fresh("GET", f"{base}/healthz").json()["pid"])
                batch = fresh("POST", f"{base}/suno/fetch", json={"ids": tasks}, headers=KEY)
                assert batch.status_code == 200, batch.text
                bodies.add(batch.text)
                one = fresh("GET", f"{base}/suno/fetch/{tasks[0]}", headers=KEY)
                assert one.json()["data"]["status"] == status
                fetches += 2
            assert len(bodies) == 1, "workers disagree on the same tasks at the same time"
            data = json.loads(bodies.pop())["data"]
            assert [t["task_id"] for t in data] == tasks
            assert {t["status"] for t in data} == {status}
        assert pids == set(server.workers()) and len(pids) == 2  # both workers answered
        listed = fresh("GET", f"{base}/__mock/tasks").json()
        polls = {t["task_id"]: t["polls"] for t in listed}
        assert polls[tasks[0]] == fetches  # every poll counted once, whichever worker took it
        assert all(polls[t] == fetches // 2 for t in tasks[1:])


def test_an_admin_change_through_one_worker_holds_on_every_worker_at_once(tmp_path: Path) -> None:
    """Workers keep the clock and fault rules they last read; the store voids stale copies."""
    store = f"sqlite://{tmp_path / 'shared.db'}"
    args = ["--workers", "2", "--store", store, "--clock", "manual"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        base = server.base
        task = submit(base)

        def statuses(rounds: int = 12) -> tuple[set[int], set[int]]:
            """HTTP statuses of batch and single fetches, and which workers answered."""
            seen, pids = set(), set()
            for _ in range(rounds):
                pids.add(fresh("GET", f"{base}/healthz").json()["pid"])
                seen.add(fresh("POST", f"{base}/suno/fetch", json={"ids": [task]},
                               headers=KEY).status_code)
                seen.add(fresh("GET", f"{base}/suno/fetch/{task}", headers=KEY).status_code)
            return seen, pids

        assert statuses() == ({200}, set(server.workers()))  # both workers have read settings
        added = fresh("POST", f"{base}/__mock/faults", json={"fault": "status", "status": 503})
        assert added.status_code in (200, 201), added.text
        assert statuses()[0] == {503}  # no worker answers from its old copy
        assert fresh("DELETE", f"{base}/__mock/faults").status_code == 200
        assert statuses()[0] == {200}
        fresh("POST", f"{base}/__mock/clock/advance", json={"seconds": 200})
        for _ in range(6):
            one = fresh("GET", f"{base}/suno/fetch/{task}", headers=KEY).json()["data"]
            assert one["status"] == "SUCCESS"


def test_sigterm_lets_in_flight_requests_finish_and_flushes_the_store(tmp_path: Path) -> None:
    db = tmp_path / "graceful.db"
    args = ["--workers", "2", "--store", f"sqlite://{db}", "--graceful-timeout", "10"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        submit(server.base)  # the namespace exists; the next submit will wait on the lock
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # the in-flight submit blocks on this lock
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(
            target=lambda: result.setdefault(
                "r",
                fresh("POST", f"{server.base}/suno/submit/music", json={"prompt": "y"},
                      headers=KEY),
            )
        )
        thread.start()
        time.sleep(0.4)  # the request is inside the worker, waiting for SQLite
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.4)
        assert server.proc.poll() is None  # still draining
        holder.execute("ROLLBACK")
        holder.close()
        thread.join(timeout=20)
        assert result["r"].status_code == 200, result["r"].text
        task = result["r"].json()["data"]
        assert server.stop() == 0
    with sqlite3.connect(db) as conn:
        ids = {row[0] for row in conn.execute("SELECT task_id FROM tasks")}
    conn.close()
    assert task in ids
    assert not Path(f"{db}-wal").exists()  # every worker closed its store: WAL checkpointed


def test_access_log_is_json_lines_without_the_key(tmp_path: Path) -> None:
    with SunoMock(["--access-log"], log=tmp_path / "out.log") as server:
        submit(server.base)
        fresh("GET", f"{server.base}/suno/fetch/nope", headers=KEY)
        assert server.stop() == 0
    lines = [json.loads(x) for x in server.output().splitlines() if x.startswith("{")]
    by_path = {(entry["method"], entry["path"]): entry for entry in lines}
    entry = by_path[("POST", "/suno/submit/music")]
    assert entry["status"] == 200 and entry["owner"].startswith("o_")
    assert entry["ms"] >= 0 and entry["request_id"]
    assert by_path[("GET", "/suno/fetch/nope")]["status"] == 400
    assert "server-test" not in server.output()


def test_access_log_is_off_by_default(tmp_path: Path) -> None:
    with SunoMock([], log=tmp_path / "out.log") as server:
        submit(server.base)
        assert server.stop() == 0
    assert not [x for x in server.output().splitlines() if x.startswith("{")]


def test_running_fake_contract_still_holds(tmp_path: Path) -> None:
    """conftest's running_fake: python -m mock_server.cli serve --host --port, ready fast."""
    server = SunoMock([], log=tmp_path / "out.log")
    started = time.monotonic()
    with server:
        clock = fresh("GET", f"{server.base}/__mock/clock")
        assert clock.status_code == 200
        assert time.monotonic() - started < 5.0  # about 0.3 s here; generous for a loaded CI
    assert server.stop() == 0


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_worker_killed_by_sigkill_is_replaced(tmp_path: Path) -> None:
    args = ["--workers", "2", "--store", f"sqlite://{tmp_path / 'x.db'}"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        task = submit(server.base)
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            workers = server.workers()
            if len(workers) == 2 and victim not in workers:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no replacement worker:\n{server.output()}")
        for _ in range(10):
            assert fresh("GET", f"{server.base}/suno/fetch/{task}", headers=KEY).status_code == 200
        assert server.stop() == 0
