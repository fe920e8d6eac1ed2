"""The admin API finds a task by id without scanning the store (100,000 tasks stay cheap)."""

from __future__ import annotations

from typing import Any

import pytest

from mock_server import Config, create_app
from mock_server.core.identity import owner_of
from mock_server.core.record import TaskRecord
from mock_server.stores.memory import MemoryStore


def test_find_returns_any_owners_task_in_its_namespace_only() -> None:
    store = MemoryStore(lambda: None)
    record = TaskRecord("t-1", owner_of("someone"), "MUSIC", "music_success", 0.0, 1)
    store.insert("ns", record)
    assert store.find("ns", "t-1") == record
    assert store.find("ns", "t-2") is None
    assert store.find("", "t-1") is None


def test_admin_create_and_step_do_not_scan_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(Config(clock="manual", poll_interval=0))
    store = app.extensions["suno_mock"].store

    def no_scans(*_args: Any) -> Any:
        raise AssertionError("the admin API listed every task to find one")

    monkeypatch.setattr(store, "tasks", no_scans)
    client = app.test_client()
    created = client.post("/__mock/tasks", json={"api_key": "k", "step": "queued"})
    assert created.status_code == 201
    assert created.get_json()["step"] == "queued"
    task_id = created.get_json()["task_id"]
    moved = client.post(f"/__mock/tasks/{task_id}/step", json={"step": "complete"})
    assert moved.status_code == 200
    assert moved.get_json()["status"] == "SUCCESS"
    missing = client.post("/__mock/tasks/nope/step", json={"step": "complete"})
    assert missing.status_code == 404
