"""Choosing a store by URL: what each URL opens, and clear refusals for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_server.core.clock import ClockState
from mock_server.stores.memory import MemoryStore
from mock_server.stores.urls import backend_of, open_store, redacted, sqlite_path


def clock() -> ClockState:
    return ClockState.manual(0.0)


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("memory://", "memory"),
        ("memory:", "memory"),
        ("sqlite:///data/suno.db", "sqlite"),
        ("sqlite://rel.db", "sqlite"),
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://user:pw@cache:6380/2?prefix=team", "redis"),
        ("unix:///run/redis.sock?db=1", "redis"),
    ],
)
def test_backend_of_known_urls(url: str, backend: str) -> None:
    assert backend_of(url) == backend


@pytest.mark.parametrize(
    "url", ["", "postgres://db/x", "memory://somewhere", "sqlite:/x.db", "file:///x", "redis:x"]
)
def test_unknown_urls_are_refused_with_the_accepted_forms(url: str) -> None:
    with pytest.raises(ValueError, match=r"memory://.*sqlite:///.*redis://"):
        backend_of(url)


def test_sqlite_urls_name_a_file() -> None:
    assert sqlite_path("sqlite:///data/suno-mock.db") == "/data/suno-mock.db"
    assert sqlite_path("sqlite://state/x.db") == "state/x.db"
    for bad in ("sqlite://", "sqlite://:memory:", "sqlite:///x.db?mode=ro"):
        with pytest.raises(ValueError, match="SQLite store URL"):
            sqlite_path(bad)


def test_redacted_hides_the_password_only() -> None:
    assert redacted("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redacted("redis://bob:s3cret@cache:6379/0?prefix=a") == (
        "redis://bob:***@cache:6379/0?prefix=a"
    )
    assert redacted("redis://cache:6379/0") == "redis://cache:6379/0"
    assert redacted("sqlite:///data/x.db") == "sqlite:///data/x.db"


def test_an_unknown_url_error_never_shows_a_password() -> None:
    with pytest.raises(ValueError) as info:
        open_store("mysql://root:s3cret@db/x", clock)
    assert "s3cret" not in str(info.value)


def test_open_store_builds_each_backend(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://", clock), MemoryStore)
    sqlite = open_store(f"sqlite://{tmp_path / 'x.db'}", clock)
    try:
        assert type(sqlite).__name__ == "SQLiteStore" and (tmp_path / "x.db").is_file()
    finally:
        sqlite.close()
    # Opening a Redis store does not connect: a fake may start before its Redis.
    redis = open_store("redis://127.0.0.1:1/3?prefix=team-a&health_check_interval=5", clock)
    try:
        assert type(redis).__name__ == "RedisStore"
        assert redis.prefix == "team-a"  # type: ignore[attr-defined]
        assert redis.ping() is False
    finally:
        redis.close()


def test_redis_prefix_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="empty prefix"):
        open_store("redis://127.0.0.1:1/0?prefix=", clock)


def test_sqlite_refuses_a_file_of_another_schema_version(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ValueError, match="schema 99"):
        open_store(f"sqlite://{path}", clock)
