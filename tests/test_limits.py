"""Limits of a shared fake: namespaces and tasks are forgotten past the caps and the retention,
so that a fake that runs for weeks stays bounded (the store contract checks each backend)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from mock_server import Config, create_app
from mock_server.errors import ConfigError
from mock_server.stores.base import Limits
from tests._servers import SunoMock

KEY = {"Authorization": "Bearer sk-limits"}


def _headers(ns: str) -> dict[str, str]:
    return {**KEY, "X-Mock-Namespace": ns}


def test_the_defaults_bound_every_store() -> None:
    assert Limits.of(Config()) == Limits(
        retention=7 * 24 * 3600.0, max_namespaces=1000, max_tasks=200_000
    )
    assert Limits.of(Config(retention=0, max_namespaces=0, max_tasks=0)) == Limits()
    with pytest.raises(ConfigError, match="max_tasks must be 0 \\(no limit\\) or more"):
        Config(max_tasks=-1)


def test_a_flood_of_namespaces_keeps_only_the_most_recent() -> None:
    """Each request in a namespace of its own: the fake keeps the last max_namespaces."""
    app = create_app(Config(clock="manual", poll_interval=0, max_namespaces=50))
    client = app.test_client()
    ids = {}
    for i in range(200):
        answer = client.post("/suno/submit/music", json={"prompt": "x"}, headers=_headers(f"n{i}"))
        assert answer.status_code == 200
        ids[i] = answer.get_json()["data"]
    # The admin listing reads without using a namespace (a fetch would start it again).
    kept = [i for i in range(200) if client.get("/__mock/tasks", headers=_headers(f"n{i}")).json]
    assert kept == list(range(150, 200))
    assert client.get(f"/suno/fetch/{ids[199]}", headers=_headers("n199")).status_code == 200
    gone = client.get(f"/suno/fetch/{ids[0]}", headers=_headers("n0"))
    assert (gone.status_code, gone.get_json()["code"]) == (400, "task_not_exist")
    journal = client.get("/__mock/journal", headers=_headers("n0")).get_json()
    assert [e["path"] for e in journal] == [f"/suno/fetch/{ids[0]}"]  # a fresh namespace


def test_max_tasks_forgets_the_least_recently_polled() -> None:
    client = create_app(Config(clock="manual", poll_interval=0, max_tasks=3)).test_client()
    ids = [
        client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).get_json()["data"]
        for _ in range(3)
    ]
    assert client.get(f"/suno/fetch/{ids[0]}", headers=KEY).status_code == 200  # touched
    ids.append(
        client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).get_json()["data"]
    )
    found = client.post("/suno/fetch", json={"ids": ids}, headers=KEY).get_json()["data"]
    assert sorted(t["task_id"] for t in found) == sorted([ids[0], ids[2], ids[3]])


def test_serve_takes_the_limits_from_flags_and_the_environment(tmp_path: Path) -> None:
    server = SunoMock(
        ["--max-namespaces", "2", "--store", f"sqlite://{tmp_path / 'store.db'}"],
        env={"SUNO_MOCK_MAX_TASKS": "3", "SUNO_MOCK_RETENTION": "3600"},
        log=tmp_path / "serve.log",
    )
    with server, httpx.Client(base_url=server.base, timeout=10.0) as client:

        def submit(ns: str) -> str:
            answer = client.post("/suno/submit/music", json={"prompt": "x"}, headers=_headers(ns))
            assert answer.status_code == 200, answer.text
            return str(answer.json()["data"])

        def listed(ns: str) -> list[str]:  # the admin listing reads, it does not use
            tasks = client.get("/__mock/tasks", headers={"X-Mock-Namespace": ns}).json()
            return [t["task_id"] for t in tasks]

        for ns in ("a", "b", "c"):
            submit(ns)
        latest = [submit("c") for _ in range(3)]
        # SQLite sweeps by itself, woken by new tasks and namespaces (a tenth of a cap).
        deadline = time.monotonic() + 30
        while listed("c") != latest:
            assert time.monotonic() < deadline, (listed("c"), latest, server.output())
            time.sleep(0.05)
        assert listed("a") == [] and listed("b") == []  # a: least recently used; b1: touched last
    assert "Traceback" not in server.output()


def test_serve_refuses_a_negative_limit_with_a_message() -> None:
    import subprocess

    from tests._servers import SUNO_MOCK

    result = subprocess.run(
        [*SUNO_MOCK, "--port", "1", "--max-namespaces", "-1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, "Traceback" in result.stderr) == (2, False), result.stderr
    assert "max_namespaces must be 0 (no limit) or more" in result.stderr
