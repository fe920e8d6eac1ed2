"""SQLite store: one file shared by every worker process, and kept across restarts.

WAL mode lets readers run beside the one writer; every write is an IMMEDIATE transaction, so
concurrent workers never lose an update (poll counts use ``UPDATE ... SET polls = polls + 1
... RETURNING``). Each process has one connection, which its threads take turns on: connections
must not cross a fork, and with one per thread each write emptied the page cache of the others
(bench/: 270 µs of CPU per fetch instead of 85).

Submits, the polls of settled tasks and journal entries are written behind, every 20 ms in one
transaction (``_sqlite_behind``); a submitted task is first logged in a file beside the
database, so it outlives its process. A read that misses a task, and every journal or task-list
read, first waits for the writes behind of every worker.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from mock_server.core.cache import BoundedCache
from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import ConfigError, SettingsChanged, StoreUnavailable
from mock_server.stores.base import Limits, Settings, Swept, unavailable_on
from mock_server.stores.codec import dumps, entry_from, entry_text, facts_of, record_from
from mock_server.stores.sqlite_behind import Batch, Behind, Mark, Signal, TaskRow, sweep
from mock_server.stores.sweeper import Sweeper

__all__ = ["SQLiteStore"]

log = logging.getLogger("mock_server")

# 2: a task's seq is its seq column, not its facts' (which hold 0). A file of version 1 is
# brought up to 2 on open; a release that reads only 1 refuses it.
_SCHEMA_VERSION = 2
_READS = (0, 1, _SCHEMA_VERSION)
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS spaces (
    ns TEXT PRIMARY KEY,
    seq INTEGER NOT NULL DEFAULT 0,
    clock TEXT NOT NULL
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS tasks (
    ns TEXT NOT NULL,
    task_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    seq INTEGER NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    forced_step INTEGER,
    facts TEXT NOT NULL,
    PRIMARY KEY (ns, task_id)
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ns TEXT NOT NULL,
    entry TEXT NOT NULL
)
""",
    """
CREATE INDEX IF NOT EXISTS journal_by_ns ON journal (ns, id)
""",
    """
CREATE TABLE IF NOT EXISTS faults (
    ns TEXT PRIMARY KEY,
    rules TEXT NOT NULL
) WITHOUT ROWID
""",
    """
CREATE TABLE IF NOT EXISTS counters (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID
""",
)
# Columns added to files made before them (each table above is created without them), with
# no new schema version: releases before them still read and write the file.
_COLUMNS_ADDED: dict[str, tuple[tuple[str, str], ...]] = {
    # used: wall time a namespace was last used, a task last touched (Limits); files from
    # before them, and rows an older release writes, are stamped by the first sweep.
    "spaces": (("used", "REAL"),),
    "tasks": (("used", "REAL"),),
    "journal": (("at", "REAL"),),  # writes behind: a file's older entries (NULL) sort first
    "faults": (),
    "counters": (),
}
# Made once the columns above are there.
_INDEXES = {"tasks_by_used": "CREATE INDEX IF NOT EXISTS tasks_by_used ON tasks (used)"}
_TOUCH_EVERY = 1.0  # seconds: a process writes a namespace's use at most this often
_SETTINGS = (
    "SELECT (SELECT clock FROM spaces WHERE ns = ?), (SELECT rules FROM faults WHERE ns = ?)"
)
_COLUMNS = "facts, polls, forced_step, seq"
_INSERT = (
    "INSERT OR REPLACE INTO tasks (ns, task_id, owner, seq, polls, forced_step, facts, used)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_TASK_COLUMNS = "tasks (ns, task_id, owner, seq, polls, forced_step, facts, used)"
_CHUNK_SIZES = (16, 4, 1)  # rows per statement of many: 16 measured best (bench/)
_CHUNK = 500  # ids per statement, far below SQLite's variable limit
_SETTLE_TIMEOUT = 2.0  # seconds a journal read waits for other workers' deferred writes
_TRIM_EVERY = 50  # journal appends per process between two trims (reads are bounded anyway)

# Locked past the busy timeout, an I/O error, or the folder of writes behind unusable.
_unavailable = unavailable_on(
    (sqlite3.OperationalError, OSError), lambda exc: f"sqlite store: {exc}"
)


class SQLiteStore:
    """Tasks, clocks and journals of every namespace in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock_factory: Callable[[], ClockState],
        journal_size: int = 1000,
        *,
        busy_timeout: float = 5.0,
        limits: Limits | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise ConfigError(
                f"the sqlite store needs SQLite >= 3.35, not {sqlite3.sqlite_version}"
            )
        self.path = Path(path)
        self._marks = Path(f"{path}-behind")  # see _sqlite_behind.Mark
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        self._busy_timeout = busy_timeout
        self._limits = limits or Limits()
        self._wall = wall
        self._used: BoundedCache[str, float] = BoundedCache(4096)  # ns -> use last written here
        self._used_epoch = -1  # the settings counter when _used was last cleared
        self._lock = threading.Lock()
        self._handle: _Handle | None = None
        self._appends = 0
        for where in (self.path.parent, self._marks):
            try:
                where.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create {where} for the sqlite store: {exc}") from exc
        self._init_schema()

    # connections -------------------------------------------------------------
    def _mine(self) -> _Handle:
        handle = self._handle
        if handle is None or handle.pid != os.getpid():  # first use, or a forked child
            with self._lock:
                handle = self._handle
                if handle is None or handle.pid != os.getpid():
                    handle = self._handle = _Handle(
                        self.path, self._busy_timeout, Sweeper(self._sweep, self._limits)
                    )
        return handle

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        handle = self._mine()
        with handle.turn:
            yield handle.conn

    @contextmanager
    def _writer(self) -> Iterator[sqlite3.Connection]:
        """The connection, with this process's turn and the writers' lock held.

        SQLite's own wait for its write lock sleeps and retries with growing sleeps (1, 2, 5,
        10 ... 100 ms): under load that put p99 at 100-600 ms (bench/). Writers of this store
        first queue on the process's turn and an flock of a file beside the database, which
        wake the next writer as soon as the last one is done; SQLite's own wait is left to
        writers from outside.
        """
        handle = self._mine()
        with handle.turn:
            fcntl.flock(handle.lock_fd, fcntl.LOCK_EX)
            try:
                yield handle.conn
            finally:
                fcntl.flock(handle.lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(self, *, settings: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (see ``_writer``); ``settings``: bump the counter once committed."""
        with self._writer() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            if settings:  # announced once committed: a worker that sees it reads the change
                self._mine().signal.bump()

    @_unavailable
    def _init_schema(self) -> None:
        with self._reading() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            current = self._schema_current(conn)
        if not current:
            self._create_schema()
        try:
            sweep(self._marks, 0, self._recover)  # tasks logged by workers killed since
        except StoreUnavailable as exc:  # a full disk, say: the next read that misses tries again
            log.warning("tasks logged by a killed worker not written yet: %s", exc)

    @staticmethod
    def _schema_current(conn: sqlite3.Connection) -> bool:
        """Whether the file is ready as it is: then opening it writes nothing, so that a worker
        (re)started on a full disk or a locked file still opens it, and answers what it can."""
        if conn.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA_VERSION:
            return False
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
        if not names >= {*_COLUMNS_ADDED, *_INDEXES, "journal_by_ns"}:
            return False
        for table, added in _COLUMNS_ADDED.items():
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if not columns >= {name for name, _kind in added}:
                return False
        return True

    def _create_schema(self) -> None:
        with self._transaction() as tx:
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            if version not in _READS:
                raise ConfigError(
                    f"{self.path} holds suno-mock store schema {version}, "
                    f"this version reads {_SCHEMA_VERSION}: use another file"
                )
            for statement in _SCHEMA:
                tx.execute(statement)
            for table, added in _COLUMNS_ADDED.items():
                columns = {row[1] for row in tx.execute(f"PRAGMA table_info({table})")}
                for name, kind in added:
                    if name not in columns:
                        tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            for statement in _INDEXES.values():
                tx.execute(statement)
            tx.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    # tasks -------------------------------------------------------------------
    @_unavailable
    # Seeding for tests (a record with the seq it carries); not part of the Store protocol.
    def insert(self, ns: str, record: TaskRecord) -> None:
        with self._transaction() as tx:
            now = self._wall()
            self._touch(tx, [ns], now)
            tx.execute(_INSERT, (*_row(ns, record), now))

    @_unavailable
    def next_seq(self, ns: str) -> int:
        with self._transaction() as tx:
            self._touch(tx, [ns], self._wall())
            return self._next_seq(tx, ns)

    def _next_seq(self, conn: sqlite3.Connection, ns: str) -> int:
        seq = self._last_seq(conn, ns) + 1
        conn.execute("UPDATE spaces SET seq = ? WHERE ns = ?", (seq, ns))
        return seq

    def _last_seq(self, conn: sqlite3.Connection, ns: str) -> int:
        """The namespace's last seq; on its first use, its row, and its clock, start here."""
        row = conn.execute("SELECT seq FROM spaces WHERE ns = ?", (ns,)).fetchone()
        if row is not None:
            return int(row[0])
        made = conn.execute(
            "INSERT INTO spaces (ns, seq, clock, used) VALUES (?, 0, ?, ?)"
            " ON CONFLICT (ns) DO NOTHING",
            (ns, dumps(self._clock_factory().to_dict()), self._wall()),
        ).rowcount
        if made:
            self._mine().sweeper.wrote(spaces=1)
        return 0

    def _touch(self, conn: sqlite3.Connection, namespaces: Iterable[str], now: float) -> None:
        """Write that ``namespaces`` were used at ``now`` (a write transaction held)."""
        self._touch_at(conn, {ns: now for ns in namespaces})

    def _touch_at(self, conn: sqlite3.Connection, uses: dict[str, float]) -> None:
        """Write when namespaces were used (a write transaction held): at most once per
        _TOUCH_EVERY seconds per namespace and process, and a row for a namespace that has
        none (so that the sweep finds all of its rows)."""
        epoch = self._mine().signal.counter()
        if epoch != self._used_epoch:  # a sweep (or reset) since: rows may be gone
            self._used = BoundedCache(4096)
            self._used_epoch = epoch
        stale = [
            (ns, at)
            for ns, at in uses.items()
            if at - (self._used.get(ns) or -math.inf) >= _TOUCH_EVERY
        ]
        if not stale:
            return
        clock = dumps(self._clock_factory().to_dict())
        conn.executemany(
            "INSERT INTO spaces (ns, seq, clock, used) VALUES (?, 0, ?, ?) ON CONFLICT (ns)"
            " DO UPDATE SET used = max(coalesce(used, 0), excluded.used)",
            [(ns, clock, at) for ns, at in stale],
        )
        for ns, at in stale:
            self._used.put(ns, at)

    @_unavailable
    def add(
        self,
        ns: str,
        record: TaskRecord,
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> None:
        # Written behind, with the poll counts (bench/: a write statement per submit cost more
        # than the rest of it): logged in the batch's mark first, so the task outlives this
        # process, and a read that misses a task waits for the marks of every worker.
        self._check(token)
        row = (ns, record.task_id, record.owner, record.polls, record.forced_step)
        self._behind().add_task((*row, facts_of(record)), journal, self._wall())

    def _insert_tasks(
        self, conn: sqlite3.Connection, rows: list[TaskRow], touched: Iterable[float]
    ) -> None:
        """Insert tasks, numbered in order after each namespace's last, touched when given."""
        seqs = {ns: self._last_seq(conn, ns) for ns in dict.fromkeys(row[0] for row in rows)}
        numbered = []
        for (ns, task_id, owner, polls, forced, facts), used in zip(rows, touched, strict=True):
            seq = seqs[ns] = seqs[ns] + 1
            numbered.append((ns, task_id, owner, seq, polls, forced, facts, used))
        # DO NOTHING: the tasks of a killed worker's log may be in already.
        _insert_rows(conn, _TASK_COLUMNS, numbered, " ON CONFLICT (ns, task_id) DO NOTHING")
        conn.executemany(
            "UPDATE spaces SET seq = ? WHERE ns = ?", [(seq, ns) for ns, seq in seqs.items()]
        )

    @_unavailable
    def _recover(self, rows: list[TaskRow]) -> None:
        with self._transaction() as tx:
            now = self._wall()
            self._touch(tx, dict.fromkeys(row[0] for row in rows), now)
            self._insert_tasks(tx, rows, [now] * len(rows))

    @_unavailable
    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None:
        where = "ns = ? AND task_id = ? AND owner = ?"
        return self._one(where, (ns, task_id, owner)) or self._after_settling(
            lambda: self._one(where, (ns, task_id, owner))
        )

    @_unavailable
    def find(self, ns: str, task_id: str) -> TaskRecord | None:
        """The task, whoever owns it (admin API)."""
        where = "ns = ? AND task_id = ?"
        return self._one(where, (ns, task_id)) or self._after_settling(
            lambda: self._one(where, (ns, task_id))
        )

    def _one(self, where: str, args: tuple[str, ...]) -> TaskRecord | None:
        with self._reading() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM tasks WHERE {where}", args).fetchone()
        return record_from(*row) if row else None

    def _after_settling(self, read: Callable[[], TaskRecord | None]) -> TaskRecord | None:
        """Read again a task not found, once writes behind are in (it may be among them)."""
        self._settle()  # a batch lowered since the miss leaves no mark: read again anyway
        return read()

    @_unavailable
    def poll(
        self,
        ns: str,
        owner: str,
        task_ids: Iterable[str],
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> list[TaskRecord]:
        wanted = list(dict.fromkeys(task_ids))
        found = self._poll_once(ns, owner, wanted, journal, token)
        if len(found) < len(wanted):  # submitted a moment ago, maybe
            # Again even if no mark was up: a batch lowered between the miss and the sweep
            # leaves none, and its tasks are the ones missed.
            self._settle()
            # One journal entry per request; the token held for the first call, and a settings
            # change since reaches these tasks as it would a request a moment earlier.
            missing = [t for t in wanted if t not in found]
            found.update(self._poll_once(ns, owner, missing, None if found else journal, None))
        return [found[t] for t in wanted if t in found]

    def _poll_once(
        self,
        ns: str,
        owner: str,
        wanted: list[str],
        journal: dict[str, Any] | None,
        token: str | None,
    ) -> dict[str, TaskRecord]:
        with self._transaction() as tx:  # one write transaction for the polls and the journal
            self._check(token)
            now = self._wall()
            self._touch(tx, [ns], now)
            found = self._poll(tx, ns, owner, wanted, now)
            if found and journal is not None:
                self._journal_insert(tx, ns, journal)
        return found

    @staticmethod
    def _poll(
        conn: sqlite3.Connection, ns: str, owner: str, wanted: list[str], now: float
    ) -> dict[str, TaskRecord]:
        found: dict[str, TaskRecord] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            # One statement: the increment and the read are atomic across processes.
            rows = conn.execute(
                f"UPDATE tasks SET polls = polls + 1, used = ?"
                f" WHERE ns = ? AND owner = ? AND task_id IN ({marks})"
                f" RETURNING task_id, {_COLUMNS}",
                (now, ns, owner, *chunk),
            ).fetchall()
            for task_id, *rest in rows:
                found[task_id] = record_from(*rest)
        return found

    @_unavailable
    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None:
        def pin() -> TaskRecord | None:
            # A settings change too: workers keep settled tasks (poll_later), forced ones too.
            with self._transaction(settings=True) as tx:
                now = self._wall()
                row = tx.execute(
                    "UPDATE tasks SET forced_step = ?, used = ? WHERE ns = ? AND task_id = ?"
                    f" RETURNING {_COLUMNS}",
                    (step, now, ns, task_id),
                ).fetchone()
                if row:
                    self._touch(tx, [ns], now)
            return record_from(*row) if row else None

        return pin() or self._after_settling(pin)

    @_unavailable
    def tasks(self, ns: str) -> list[TaskRecord]:
        self._settle()
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM tasks WHERE ns = ? ORDER BY seq", (ns,)
            ).fetchall()
        return [record_from(*row) for row in rows]

    # writes behind ----------------------------------------------------------
    @_unavailable
    def poll_later(
        self, ns: str, owner: str, task_ids: Iterable[str], *, journal: dict[str, Any] | None = None
    ) -> None:
        """Count the polls and journal the entry within FLUSH_INTERVAL, from another thread."""
        self._behind().add(ns, owner, list(dict.fromkeys(task_ids)), journal, self._wall())

    def _behind(self) -> Behind:
        handle = self._mine()
        if handle.behind is None:
            with self._lock:
                if handle.behind is None:
                    handle.behind = Behind(self._write_behind, self._marks)
        return handle.behind

    @_unavailable
    def _write_behind(self, batch: Batch) -> None:
        # Statements of many rows, not executemany: every step gives up the GIL, and getting it
        # back from busy request threads took up to 5 ms a row (bench/).
        with self._transaction() as tx:
            used = batch.used
            self._touch_at(tx, used)
            if batch.tasks:
                self._insert_tasks(tx, batch.tasks, batch.submitted)
            # Polled tasks are touched when their namespace was last used in the batch.
            polls = [(n, ns, t, owner, used[ns]) for (ns, owner, t), n in batch.polls.items()]
            for chunk in _chunks(polls):
                tx.execute(
                    "UPDATE tasks SET polls = polls + v.column1, used = v.column5 FROM (VALUES "
                    + ",".join(["(?, ?, ?, ?, ?)"] * len(chunk))
                    + ") AS v WHERE tasks.ns = v.column2 AND tasks.task_id = v.column3"
                    " AND tasks.owner = v.column4",
                    [value for row in chunk for value in row],
                )
            self._journal_insert_many(tx, batch.entries)
        if batch.tasks:
            self._mine().sweeper.wrote(tasks=len(batch.tasks))

    def _settle(self) -> None:
        """Wait until every process's writes behind made before now are in the file."""
        self._behind().flush()
        done, _found = sweep(self._marks, _SETTLE_TIMEOUT, self._recover)
        if not done:
            log.warning("deferred writes of another worker not in after %s s", _SETTLE_TIMEOUT)

    # settings ----------------------------------------------------------------
    def _check(self, token: str | None) -> None:
        if token is not None and token != self.token(""):
            raise SettingsChanged("sqlite store")

    def token(self, ns: str) -> str | None:
        """The settings token of every namespace (one counter): a read of mapped memory."""
        return str(self._mine().signal.counter())

    @_unavailable
    def settings(self, ns: str) -> Settings:
        token = self.token(ns)  # first: a change after it makes the token stale, not the data
        with self._reading() as conn:
            clock, rules = conn.execute(_SETTINGS, (ns, ns)).fetchone()
        if clock is None:  # a new namespace: start its clock, then read both again
            self.clock(ns)
            with self._reading() as conn:
                clock, rules = conn.execute(_SETTINGS, (ns, ns)).fetchone()
        return Settings(
            str(token),
            ClockState.from_dict(json.loads(clock)),
            None if rules is None else list(json.loads(rules)),
        )

    # clock -------------------------------------------------------------------
    @_unavailable
    def clock(self, ns: str) -> ClockState:
        with self._reading() as conn:
            row = conn.execute("SELECT clock FROM spaces WHERE ns = ?", (ns,)).fetchone()
        if row is None:
            # The first worker to get here starts the namespace's clock; the others read it.
            with self._transaction() as tx:
                self._last_seq(tx, ns)
                row = tx.execute("SELECT clock FROM spaces WHERE ns = ?", (ns,)).fetchone()
        return ClockState.from_dict(json.loads(row[0]))

    @_unavailable
    def set_clock(self, ns: str, state: ClockState) -> None:
        with self._transaction(settings=True) as tx:
            tx.execute(
                "INSERT INTO spaces (ns, seq, clock, used) VALUES (?, 0, ?, ?)"
                " ON CONFLICT (ns) DO UPDATE SET clock = excluded.clock, used = excluded.used",
                (ns, dumps(state.to_dict()), self._wall()),
            )

    # journal -----------------------------------------------------------------
    @_unavailable
    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        """Within FLUSH_INTERVAL, from another thread: every fetch is journaled after its
        answer, and a write transaction each would double a poll's cost (journal reads wait)."""
        self._behind().add(ns, "", (), entry, self._wall())

    def _journal_insert(
        self, conn: sqlite3.Connection, ns: str, entry: dict[str, Any], at: float | None = None
    ) -> None:
        self._journal_insert_many(conn, [(ns, time.time() if at is None else at, entry)])

    def _journal_insert_many(
        self, conn: sqlite3.Connection, entries: list[tuple[str, float, dict[str, Any]]]
    ) -> None:
        if self._journal_size <= 0 or not entries:
            return
        _insert_rows(
            conn, "journal (ns, entry, at)", [(ns, entry_text(e), at) for ns, at, e in entries]
        )
        with self._lock:
            before = self._appends
            self._appends += len(entries)
            trim = before // _TRIM_EVERY != self._appends // _TRIM_EVERY
        if trim:
            for ns in dict.fromkeys(ns for ns, _at, _entry in entries):
                conn.execute(
                    "DELETE FROM journal WHERE ns = ? AND id <= (SELECT id FROM journal"
                    " WHERE ns = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (ns, ns, self._journal_size),
                )

    @_unavailable
    def journal(self, ns: str) -> list[dict[str, Any]]:
        self._settle()
        with self._reading() as conn:
            # By the time of the request, not of the write: deferred entries land late.
            rows = conn.execute(
                "SELECT entry FROM (SELECT id, at, entry FROM journal WHERE ns = ?"
                " ORDER BY id DESC LIMIT ?) ORDER BY at, id",
                (ns, self._journal_size),
            ).fetchall()
        return [entry_from(row[0]) for row in rows]

    # faults ------------------------------------------------------------------
    @_unavailable
    def get_faults(self, ns: str) -> list[dict[str, Any]] | None:
        with self._reading() as conn:
            row = conn.execute("SELECT rules FROM faults WHERE ns = ?", (ns,)).fetchone()
        return None if row is None else list(json.loads(row[0]))

    @_unavailable
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None:
        with self._transaction(settings=True) as tx:
            self._touch(tx, [ns], self._wall())
            tx.execute(
                "INSERT INTO faults (ns, rules) VALUES (?, ?)"
                " ON CONFLICT (ns) DO UPDATE SET rules = excluded.rules",
                (ns, dumps(rules)),
            )

    @_unavailable
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int:
        with self._transaction() as tx:
            self._touch(tx, [ns], self._wall())
            row = tx.execute(
                "INSERT INTO counters (ns, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (ns, key) DO UPDATE SET value = value + excluded.value"
                " RETURNING value",
                (ns, key, delta),
            ).fetchone()
        return int(row[0])

    # lifecycle ---------------------------------------------------------------
    @_unavailable
    def reset(self, ns: str) -> None:
        self._settle()  # what every worker deferred before the reset lands before it
        with self._transaction(settings=True) as tx:
            for table in ("tasks", "journal", "spaces", "faults", "counters"):
                tx.execute(f"DELETE FROM {table} WHERE ns = ?", (ns,))

    def ping(self) -> bool:
        try:
            with self._reading() as conn:
                conn.execute("SELECT 1 FROM spaces LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    @_unavailable
    def probe_write(self) -> None:
        """What a submit needs: a task log in ``<file>-behind/`` with its first blocks, then a
        write transaction (the schema version, written again as it is)."""
        mark = Mark(self._marks)
        try:
            mark.reserve()
        finally:
            mark.lower()
        with self._transaction() as tx:
            tx.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def close(self) -> None:
        """Close this process's connection; the last one to close checkpoints the WAL."""
        handle = self._handle
        if handle is not None and handle.pid == os.getpid():  # a parent's is not ours to close
            handle.sweeper.close()
            if handle.behind is not None:  # written with this handle, before it goes
                try:
                    handle.behind.close()
                except StoreUnavailable:
                    log.warning("deferred poll counts and journal entries lost at close")
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None and handle.pid == os.getpid():
            with handle.turn:
                handle.close()

    # limits ------------------------------------------------------------------
    def sweep(self) -> Swept:
        return self._sweep(True, True, True)

    @_unavailable
    def _sweep(self, retention: bool, spaces: bool, tasks_: bool) -> Swept:
        """Forget idle namespaces and untouched tasks (past the retention), then the least
        recently used namespaces and touched tasks past the caps (each looked at if asked):
        one write transaction, and one settings change when anything went (workers drop the
        tasks they held)."""
        limits = self._limits
        if not limits.bounded:
            return Swept()
        # This process's submits written behind count, stamped as they were made (another
        # worker's pending ones, at the next sweep: waiting for them cost a sweep 20 ms).
        self._behind().flush()
        now = self._wall()
        cutoff = limits.cutoff(now) if retention else None
        max_namespaces = limits.max_namespaces if spaces else None
        max_tasks = limits.max_tasks if tasks_ else None
        with self._writer() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Rows from before the used columns, or written by an older release.
                conn.execute("UPDATE spaces SET used = ? WHERE used IS NULL", (now,))
                conn.execute("UPDATE tasks SET used = ? WHERE used IS NULL", (now,))
                doomed: list[str] = []
                if cutoff is not None:
                    doomed += [
                        ns
                        for (ns,) in conn.execute(
                            "SELECT ns FROM spaces WHERE used < ? ORDER BY used", (cutoff,)
                        )
                    ]
                if max_namespaces is not None:
                    (count,) = conn.execute("SELECT count(*) FROM spaces").fetchone()
                    excess = count - len(doomed) - max_namespaces
                    if excess > 0:
                        doomed += [
                            ns
                            for (ns,) in conn.execute(
                                "SELECT ns FROM spaces ORDER BY used LIMIT ? OFFSET ?",
                                (excess, len(doomed)),
                            )
                        ]
                tasks = 0
                for start in range(0, len(doomed), _CHUNK):
                    chunk = doomed[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for table in ("tasks", "journal", "faults", "counters", "spaces"):
                        gone = conn.execute(f"DELETE FROM {table} WHERE ns IN ({marks})", chunk)
                        tasks += gone.rowcount if table == "tasks" else 0
                if cutoff is not None:
                    tasks += conn.execute("DELETE FROM tasks WHERE used < ?", (cutoff,)).rowcount
                if max_tasks is not None:
                    (count,) = conn.execute("SELECT count(*) FROM tasks").fetchone()
                    if count > max_tasks:
                        tasks += conn.execute(
                            "DELETE FROM tasks WHERE (ns, task_id) IN"
                            " (SELECT ns, task_id FROM tasks ORDER BY used LIMIT ?)",
                            (count - max_tasks,),
                        ).rowcount
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            if doomed or tasks:  # a settings change: workers drop what they held, re-read
                self._mine().signal.bump()
        return Swept(len(doomed), tasks)


def _chunks(rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """``rows`` in chunks of a few fixed sizes: a statement's text (and its parsed form in the
    connection's statement cache) is reused, where each batch's own size had to be parsed."""
    start = 0
    for size in _CHUNK_SIZES:
        while len(rows) - start >= size:
            yield rows[start : start + size]
            start += size


def _insert_rows(
    conn: sqlite3.Connection, into: str, rows: list[tuple[Any, ...]], tail: str = ""
) -> None:
    """INSERT INTO ``into`` VALUES (...), (...): many rows a statement."""
    if not rows:
        return
    marks = "(" + ", ".join("?" * len(rows[0])) + ")"
    for chunk in _chunks(rows):
        conn.execute(
            f"INSERT INTO {into} VALUES {', '.join([marks] * len(chunk))}{tail}",
            [value for row in chunk for value in row],
        )


def _row(ns: str, record: TaskRecord) -> tuple[Any, ...]:
    return (
        ns,
        record.task_id,
        record.owner,
        record.seq,
        record.polls,
        record.forced_step,
        facts_of(record),
    )


class _Handle:
    """One process's connection, the turn its threads take on it, and the writers' lock file."""

    def __init__(self, path: Path, busy_timeout: float, sweeper: Sweeper) -> None:
        self.pid = os.getpid()
        self.sweeper = sweeper
        self.turn = threading.RLock()
        self.conn = sqlite3.connect(
            path,
            timeout=busy_timeout,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,  # the threads of a worker take turns on it
        )
        # OFF in WAL mode survives any process crash (the OS has the writes); a power loss may
        # damage the file, which a test double can afford. NORMAL cost a third of a submit in
        # fsyncs at each checkpoint (bench/).
        self.conn.execute("PRAGMA synchronous = OFF")
        self.lock_fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
        self.signal = Signal(f"{path}-settings")
        self.behind: Behind | None = None

    def close(self) -> None:
        self.sweeper.close()
        with suppress(sqlite3.Error):
            self.conn.close()
        os.close(self.lock_fd)
        self.signal.close()
