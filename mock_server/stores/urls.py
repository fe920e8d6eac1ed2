"""Open a store from its URL: ``memory://``, ``sqlite:///path`` or ``redis://host:port/db``."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mock_server.core.clock import ClockState
from mock_server.core.redact import redacted_url as redacted
from mock_server.errors import ConfigError, StoreUnavailable
from mock_server.stores.base import Limits, Store
from mock_server.stores.memory import MemoryStore

__all__ = [
    "StoreUnavailable",
    "backend_of",
    "is_shared",
    "open_store",
    "redacted",
    "sqlite_path",
]

_REDIS_SCHEMES = ("redis", "rediss", "unix")
_HELP = "use memory://, sqlite:///path/to/file.db or redis://host:port/db[?prefix=name]"


def backend_of(url: str) -> str:
    """'memory', 'sqlite' or 'redis'; ConfigError for anything else."""
    scheme = url.partition(":")[0].lower()
    if scheme == "memory" and url.rstrip("/") in ("memory:", "memory:/"):
        return "memory"
    if scheme == "sqlite" and url.startswith("sqlite://"):
        return "sqlite"
    if scheme in _REDIS_SCHEMES and "://" in url:
        return "redis"
    raise ConfigError(f"unknown store URL {redacted(url)!r}: {_HELP}")


def is_shared(url: str) -> bool:
    """Whether several processes can use the store (everything but memory://)."""
    return backend_of(url) != "memory"


def sqlite_path(url: str) -> str:
    """The file of a sqlite:// URL: everything after ``sqlite://`` (so sqlite:///data/x.db is
    /data/x.db and sqlite://x.db is x.db, relative to the working directory)."""
    path = url[len("sqlite://") :]
    if not path or path == ":memory:" or "?" in path:
        raise ConfigError(f"bad SQLite store URL {url!r}: {_HELP} (for one process: memory://)")
    return path




def _redis_store(
    url: str,
    clock_factory: Callable[[], ClockState],
    journal_size: int,
    limits: Limits | None,
    wall: Callable[[], float],
) -> Store:
    try:
        from mock_server.stores.redis_store import DEFAULT_PREFIX, RedisStore
    except ImportError:  # redis is an optional dependency
        raise ConfigError(
            "redis:// stores need the redis client: pip install 'suno-contract-kit[redis]'"
        ) from None
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
    if not prefix:
        raise ConfigError(f"empty prefix in store URL {redacted(url)!r}")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return RedisStore(
        urlunsplit(parts._replace(query=rest)),
        clock_factory,
        journal_size,
        prefix=prefix,
        limits=limits,
        wall=wall,
    )


def open_store(
    url: str,
    clock_factory: Callable[[], ClockState],
    journal_size: int = 1000,
    *,
    limits: Limits | None = None,
    wall: Callable[[], float] = time.time,
) -> Store:
    """The store that ``url`` names. ``clock_factory`` starts the clock of a new namespace;
    ``limits`` bound what it keeps (none by default), by the wall time ``wall`` tells.

    Raises ConfigError for a URL it cannot use. Opening a Redis store does not connect: a fake
    may start before its Redis and answers /readyz with 503 until Redis is there.
    """
    backend = backend_of(url)
    if backend == "memory":
        return MemoryStore(clock_factory, journal_size, limits=limits, wall=wall)
    if backend == "sqlite":
        from mock_server.stores.sqlite_store import SQLiteStore

        path = sqlite_path(url)
        return SQLiteStore(path, clock_factory, journal_size, limits=limits, wall=wall)
    return _redis_store(url, clock_factory, journal_size, limits, wall)
