"""SQLite store: one file shared by every worker process, and kept across restarts.

WAL mode lets readers run beside the one writer; every write is a single statement or an
IMMEDIATE transaction, so concurrent workers never lose an update (poll counts use
``UPDATE ... SET polls = polls + 1 ... RETURNING``). Each thread of each process has its own
connection: SQLite connections must not cross a fork.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from ._store_codec import dumps, facts_of, record_from
from .clock import ClockState
from .store import StoreUnavailable, TaskRecord

__all__ = ["SQLiteStore"]

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (
    ns TEXT PRIMARY KEY,
    seq INTEGER NOT NULL DEFAULT 0,
    clock TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks (
    ns TEXT NOT NULL,
    task_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    seq INTEGER NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    forced_step INTEGER,
    facts TEXT NOT NULL,
    PRIMARY KEY (ns, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ns TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_by_ns ON journal (ns, id);
CREATE TABLE IF NOT EXISTS faults (
    ns TEXT PRIMARY KEY,
    rules TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
"""
_COLUMNS = "facts, polls, forced_step"
_CHUNK = 500  # ids per statement, far below SQLite's variable limit
_TRIM_EVERY = 50  # journal appends per process between two trims (reads are bounded anyway)

F = TypeVar("F", bound=Callable[..., Any])


def _unavailable(method: F) -> F:
    """Turn SQLite's operational errors (locked past the timeout, I/O) into StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"sqlite store: {exc}") from exc

    return wrapper  # type: ignore[return-value]


class SQLiteStore:
    """Tasks, clocks and journals of every namespace in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock_factory: Callable[[], ClockState],
        journal_size: int = 1000,
        *,
        busy_timeout: float = 5.0,
    ) -> None:
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise ValueError(
                f"the sqlite store needs SQLite >= 3.35, not {sqlite3.sqlite_version}"
            )
        self.path = Path(path)
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conns: list[sqlite3.Connection] = []
        self._appends = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = self.path.parent
            raise ValueError(f"cannot create {where} for the sqlite store: {exc}") from exc
        self._init_schema()

    # connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        pid = os.getpid()
        if conn is not None and self._local.pid == pid:
            return conn
        with self._lock:
            if self._pid != pid:  # forked: the parent's connections are not ours to use or close
                self._pid, self._conns = pid, []
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # close() runs on another thread at shutdown
            )
            # NORMAL in WAL mode survives any process crash; only a power loss may drop
            # the last commits, which a test double can afford.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._conns.append(conn)
        self._local.conn, self._local.pid = conn, pid
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    @_unavailable
    def _init_schema(self) -> None:
        conn = self._conn()
        conn.execute("PRAGMA journal_mode = WAL")
        with self._transaction() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise ValueError(
                    f"{self.path} holds suno-mock store schema {version}, "
                    f"this version reads {_SCHEMA_VERSION}: use another file"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    # tasks -------------------------------------------------------------------
    @_unavailable
    def insert(self, ns: str, record: TaskRecord) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO tasks (ns, task_id, owner, seq, polls, forced_step, facts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                ns,
                record.task_id,
                record.owner,
                record.seq,
                record.polls,
                record.forced_step,
                facts_of(record),
            ),
        )

    @_unavailable
    def next_seq(self, ns: str) -> int:
        row = (
            self._conn()
            .execute(
                "INSERT INTO spaces (ns, seq, clock) VALUES (?, 1, ?)"
                " ON CONFLICT (ns) DO UPDATE SET seq = seq + 1 RETURNING seq",
                (ns, dumps(self._clock_factory().to_dict())),
            )
            .fetchone()
        )
        return int(row[0])

    @_unavailable
    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM tasks WHERE ns = ? AND task_id = ? AND owner = ?",
                (ns, task_id, owner),
            )
            .fetchone()
        )
        return record_from(*row) if row else None

    @_unavailable
    def find(self, ns: str, task_id: str) -> TaskRecord | None:
        """The task, whoever owns it (admin API)."""
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM tasks WHERE ns = ? AND task_id = ?", (ns, task_id))
            .fetchone()
        )
        return record_from(*row) if row else None

    @_unavailable
    def poll(self, ns: str, owner: str, task_ids: Iterable[str]) -> list[TaskRecord]:
        wanted = list(dict.fromkeys(task_ids))
        found: dict[str, TaskRecord] = {}
        conn = self._conn()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            # One statement: the increment and the read are atomic across processes.
            rows = conn.execute(
                f"UPDATE tasks SET polls = polls + 1"
                f" WHERE ns = ? AND owner = ? AND task_id IN ({marks})"
                f" RETURNING task_id, {_COLUMNS}",
                (ns, owner, *chunk),
            ).fetchall()
            for task_id, *rest in rows:
                found[task_id] = record_from(*rest)
        return [found[t] for t in wanted if t in found]

    @_unavailable
    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None:
        row = (
            self._conn()
            .execute(
                "UPDATE tasks SET forced_step = ? WHERE ns = ? AND task_id = ?"
                f" RETURNING {_COLUMNS}",
                (step, ns, task_id),
            )
            .fetchone()
        )
        return record_from(*row) if row else None

    @_unavailable
    def tasks(self, ns: str) -> list[TaskRecord]:
        rows = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM tasks WHERE ns = ? ORDER BY seq", (ns,))
            .fetchall()
        )
        return [record_from(*row) for row in rows]

    # clock -------------------------------------------------------------------
    @_unavailable
    def clock(self, ns: str) -> ClockState:
        conn = self._conn()
        row = conn.execute("SELECT clock FROM spaces WHERE ns = ?", (ns,)).fetchone()
        if row is None:
            # The first worker to get here starts the namespace's clock; the others read it.
            conn.execute(
                "INSERT INTO spaces (ns, seq, clock) VALUES (?, 0, ?) ON CONFLICT (ns) DO NOTHING",
                (ns, dumps(self._clock_factory().to_dict())),
            )
            row = conn.execute("SELECT clock FROM spaces WHERE ns = ?", (ns,)).fetchone()
        return ClockState.from_dict(json.loads(row[0]))

    @_unavailable
    def set_clock(self, ns: str, state: ClockState) -> None:
        self._conn().execute(
            "INSERT INTO spaces (ns, seq, clock) VALUES (?, 0, ?)"
            " ON CONFLICT (ns) DO UPDATE SET clock = excluded.clock",
            (ns, dumps(state.to_dict())),
        )

    # journal -----------------------------------------------------------------
    @_unavailable
    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        if self._journal_size <= 0:
            return
        conn = self._conn()
        conn.execute("INSERT INTO journal (ns, entry) VALUES (?, ?)", (ns, dumps(entry)))
        with self._lock:
            self._appends += 1
            trim = self._appends % _TRIM_EVERY == 0
        if trim:
            conn.execute(
                "DELETE FROM journal WHERE ns = ? AND id <= (SELECT id FROM journal WHERE ns = ?"
                " ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (ns, ns, self._journal_size),
            )

    @_unavailable
    def journal(self, ns: str) -> list[dict[str, Any]]:
        rows = (
            self._conn()
            .execute(
                "SELECT entry FROM (SELECT id, entry FROM journal WHERE ns = ?"
                " ORDER BY id DESC LIMIT ?) ORDER BY id",
                (ns, self._journal_size),
            )
            .fetchall()
        )
        return [json.loads(row[0]) for row in rows]

    # faults ------------------------------------------------------------------
    @_unavailable
    def get_faults(self, ns: str) -> list[dict[str, Any]] | None:
        row = self._conn().execute("SELECT rules FROM faults WHERE ns = ?", (ns,)).fetchone()
        return None if row is None else list(json.loads(row[0]))

    @_unavailable
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None:
        self._conn().execute(
            "INSERT INTO faults (ns, rules) VALUES (?, ?)"
            " ON CONFLICT (ns) DO UPDATE SET rules = excluded.rules",
            (ns, dumps(rules)),
        )

    @_unavailable
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int:
        row = (
            self._conn()
            .execute(
                "INSERT INTO counters (ns, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (ns, key) DO UPDATE SET value = value + excluded.value"
                " RETURNING value",
                (ns, key, delta),
            )
            .fetchone()
        )
        return int(row[0])

    # lifecycle ---------------------------------------------------------------
    @_unavailable
    def reset(self, ns: str) -> None:
        with self._transaction() as tx:
            for table in ("tasks", "journal", "spaces", "faults", "counters"):
                tx.execute(f"DELETE FROM {table} WHERE ns = ?", (ns,))

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1 FROM spaces LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Close this process's connections; the last one to close checkpoints the WAL."""
        with self._lock:
            conns = self._conns if self._pid == os.getpid() else []
            self._conns = []
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()
