"""The Seedable contract, run against every backend: memory://, sqlite:// and redis://."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged
from mock_server.stores import sqlite_store as _store_sqlite
from mock_server.stores.base import Limits, Store, Swept
from mock_server.stores.codec import dumps, facts_of
from mock_server.stores.memory import MemoryStore
from mock_server.stores.urls import open_store
from tests._servers import RedisServer, redis_server

BACKENDS = ["memory", "sqlite", "redis"]
SHARED = ["sqlite", "redis"]
JOURNAL = 5



class Seedable(Store, Protocol):
    """A backend as these tests drive it: seeding by ``insert``/``next_seq`` is for tests only."""

    def insert(self, ns: str, record: TaskRecord) -> None: ...
    def next_seq(self, ns: str) -> int: ...


def manual_clock() -> ClockState:
    return ClockState.manual(1_000.0)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    backend = request.param
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'store.db'}"
    server: RedisServer = request.getfixturevalue("redis")
    return server.url(prefix=f"t-{uuid.uuid4().hex[:12]}")  # one prefix per test: isolated


@pytest.fixture
def open_(store_url: str) -> Iterator[Callable[..., Seedable]]:
    opened: list[Seedable] = []

    def _open(journal_size: int = JOURNAL) -> Seedable:
        store = open_store(store_url, manual_clock, journal_size)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_: Callable[..., Seedable]) -> Seedable:
    return open_()


def all_backends(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.parametrize("store_url", BACKENDS, indirect=True)(test)


def shared_backends(test: Callable[..., None]) -> Callable[..., None]:
    return pytest.mark.parametrize("store_url", SHARED, indirect=True)(test)


def record(task_id: str, owner: str = "o_alice", seq: int = 1, **kw: object) -> TaskRecord:
    fields: dict[str, object] = {
        "action": "MUSIC",
        "scenario": "music_success",
        "submit_time": 1_000.125,
        "request": {"prompt": "lo-fi ü \"quoted\"", "continue_at": 12.5, "make_instrumental": True},
    }
    fields.update(kw)
    return TaskRecord(task_id=task_id, owner=owner, seq=seq, **fields)  # type: ignore[arg-type]


# --- tasks -------------------------------------------------------------------------------------


@all_backends
def test_insert_then_get_returns_the_same_facts(store: Seedable) -> None:
    inline = {"name": "inline", "action": "MUSIC", "steps": [{"name": "a", "status": "SUCCESS"}]}
    rec = record("t1", inline_scenario=inline, scenario="inline", forced_step=2, polls=3)
    store.insert("", rec)
    assert store.get("", "o_alice", "t1") == rec


@all_backends
def test_get_hides_other_owners_and_unknown_ids(store: Seedable) -> None:
    store.insert("", record("t1"))
    assert store.get("", "o_bob", "t1") is None
    assert store.get("", "o_alice", "nope") is None


@all_backends
def test_find_looks_a_task_up_whoever_owns_it(store: Seedable) -> None:
    rec = record("t1", forced_step=1, polls=2)
    store.insert("", rec)
    assert store.find("", "t1") == rec
    assert store.find("", "nope") is None
    assert store.find("other-ns", "t1") is None


@all_backends
def test_next_seq_counts_from_one_per_namespace(store: Seedable) -> None:
    assert [store.next_seq("a") for _ in range(3)] == [1, 2, 3]
    assert store.next_seq("b") == 1


@all_backends
def test_poll_counts_each_poll_and_keeps_the_requested_order(store: Seedable) -> None:
    for i, tid in enumerate(["t1", "t2", "t3"], start=1):
        store.insert("", record(tid, seq=i))
    store.insert("", record("bobs", owner="o_bob", seq=4))
    first = store.poll("", "o_alice", ["t3", "unknown", "t1", "bobs"])
    assert [(r.task_id, r.polls) for r in first] == [("t3", 1), ("t1", 1)]
    again = store.poll("", "o_alice", ["t1"])
    assert [(r.task_id, r.polls) for r in again] == [("t1", 2)]
    assert store.get("", "o_bob", "bobs").polls == 0  # type: ignore[union-attr]
    assert store.poll("", "o_alice", []) == []


@all_backends
def test_force_step_pins_and_unpins(store: Seedable) -> None:
    store.insert("", record("t1"))
    pinned = store.force_step("", "t1", 2)
    assert pinned is not None and pinned.forced_step == 2
    assert store.get("", "o_alice", "t1").forced_step == 2  # type: ignore[union-attr]
    unpinned = store.force_step("", "t1", None)
    assert unpinned is not None and unpinned.forced_step is None
    assert store.force_step("", "missing", 1) is None


@all_backends
def test_tasks_lists_every_task_of_a_namespace(store: Seedable) -> None:
    store.insert("a", record("late", seq=2))
    store.insert("a", record("early", seq=1, owner="o_bob"))
    store.insert("b", record("other", seq=1))
    listed = sorted(store.tasks("a"), key=lambda r: r.seq)  # callers sort: order is free
    assert [(r.task_id, r.owner) for r in listed] == [("early", "o_bob"), ("late", "o_alice")]
    assert [r.task_id for r in store.tasks("b")] == ["other"]
    assert store.tasks("empty") == []


@all_backends
@pytest.mark.parametrize("ns", ["", "team:1", "{tag}", "t:x", "ü ns/with spaces"])
def test_namespaces_never_see_each_other(store: Seedable, ns: str) -> None:
    neighbours = ["", "team", "team:1:t:", "other", "{tag}x"]
    store.insert(ns, record("same-id"))
    for other in neighbours:
        if other != ns:
            assert store.get(other, "o_alice", "same-id") is None
            assert store.poll(other, "o_alice", ["same-id"]) == []
    assert store.get(ns, "o_alice", "same-id") is not None


# --- add, settings tokens, journal with the work ------------------------------------------------


@all_backends
def test_add_numbers_tasks_and_journals_with_them(store: Seedable) -> None:
    store.add("a", record("t1", seq=0), journal={"i": 1})
    store.add("a", record("t2", seq=0, owner="o_bob"))
    store.add("b", record("t1", seq=0))
    assert store.get("a", "o_alice", "t1") == TaskRecord(**{**record("t1").to_dict(), "seq": 1})
    assert [(r.task_id, r.seq) for r in store.tasks("a")] == [("t1", 1), ("t2", 2)]
    assert [(r.task_id, r.seq) for r in store.tasks("b")] == [("t1", 1)]
    assert store.journal("a") == [{"i": 1}]  # only the add that brought an entry wrote one
    assert store.next_seq("a") == 3


@all_backends
def test_a_poll_journals_only_when_it_found_a_task(store: Seedable) -> None:
    store.add("", record("t1", seq=0))
    assert store.poll("", "o_alice", ["nope"], journal={"i": 1}) == []
    assert store.poll("", "o_bob", ["t1"], journal={"i": 2}) == []
    assert [r.polls for r in store.poll("", "o_alice", ["t1"], journal={"i": 3})] == [1]
    assert store.journal("") == [{"i": 3}]


@all_backends
def test_journal_entries_come_back_as_written_with_their_answers(store: Seedable) -> None:
    """Shared stores keep ``response`` beside the entry's JSON: any text, newlines too."""
    answer = '{"code":"success",\n "data":"\u2028 line\nbreaks \\n"}\r\n'
    entries = [
        {"i": 1, "body": "a\nb", "response": answer},
        {"i": 2, "body": None, "response": None},
        {"i": 3, "response": ""},
        {"i": 4},
    ]
    store.add("", record("t1", seq=0), journal=entries[0])
    store.poll("", "o_alice", ["t1"], journal=entries[1])
    for entry in entries[2:]:
        store.journal_append("", entry)
    assert store.journal("") == entries


def test_the_memory_store_keeps_one_copy_of_an_answer_journaled_again() -> None:
    """Polls of a task at one step are answered the same bytes: a full journal of them would
    hold a thousand copies (3.1 MB for a finished task's polls instead of 0.6)."""
    store = MemoryStore(manual_clock)
    for i in range(50):
        store.journal_append("", {"i": i, "response": "".join(["{", '"data": "same"', "}"])})
    store.journal_append("", {"i": 50, "response": "{}"})
    answers = [e["response"] for e in store.journal("")]
    assert len({id(a) for a in answers[:50]}) == 1 and answers[50] == "{}"


@all_backends
def test_settings_hold_clock_and_rules_under_a_token_that_changes_with_them(
    store: Seedable,
) -> None:
    first = store.settings("a")
    assert first.clock == store.clock("a") and first.faults is None
    assert store.settings("a").token == first.token  # reading changes nothing
    store.add("a", record("t0", seq=0))
    store.poll("a", "o_alice", ["t0"])
    store.journal_append("a", {"i": 0})
    store.fault_counter("a", "k")
    assert store.settings("a").token == first.token  # nor does task, journal or counter work
    tokens = {first.token}
    store.set_clock("a", first.clock.set_to(7_000.0))
    moved = store.settings("a")
    assert moved.clock.now() == 7_000.0
    tokens.add(moved.token)
    store.put_faults("a", [{"uid": "r"}])
    ruled = store.settings("a")
    assert ruled.faults == [{"uid": "r"}]
    tokens.add(ruled.token)
    store.reset("a")
    after_reset = store.settings("a")
    assert after_reset.faults is None and after_reset.clock.now() == 1_000.0
    tokens.add(after_reset.token)
    assert len(tokens) == 4  # never the same twice, not even after a reset


@all_backends
def test_a_stale_token_is_refused_and_nothing_is_done(store: Seedable) -> None:
    store.add("", record("t1", seq=0))
    token = store.settings("").token
    assert len(store.poll("", "o_alice", ["t1"], journal={"i": 1}, token=token)) == 1
    store.add("", record("t2", seq=0), journal={"i": 2}, token=token)
    store.set_clock("", store.clock("").set_to(2_000.0))  # an admin call moves the clock
    with pytest.raises(SettingsChanged):
        store.poll("", "o_alice", ["t1"], journal={"i": 3}, token=token)
    with pytest.raises(SettingsChanged):
        store.add("", record("t3", seq=0), journal={"i": 4}, token=token)
    assert [(r.task_id, r.polls) for r in store.tasks("")] == [("t1", 1), ("t2", 0)]
    assert store.journal("") == [{"i": 1}, {"i": 2}]
    fresh = store.settings("").token
    assert [r.polls for r in store.poll("", "o_alice", ["t1"], token=fresh)] == [2]


@all_backends
def test_poll_later_counts_and_journals_as_poll_does_once_read_back(store: Seedable) -> None:
    store.add("", record("t1", seq=0))
    store.add("", record("t2", seq=0))
    for i in range(3):
        store.poll_later("", "o_alice", ["t2", "t1", "t1"], journal={"i": i})
    store.poll("", "o_alice", ["t1"], journal={"i": 3})
    assert [(r.task_id, r.polls) for r in store.tasks("")] == [("t1", 4), ("t2", 3)]
    assert [e["i"] for e in store.journal("")] == [0, 1, 2, 3]


@all_backends
def test_a_token_is_offered_only_where_reading_it_is_free(store: Seedable, store_url: str) -> None:
    token = store.token("")
    if not store_url.startswith("sqlite"):
        assert token is None  # a round trip (Redis) or nothing to save (memory)
        return
    assert token == store.settings("").token
    store.add("", record("t1", seq=0))
    store.poll("", "o_alice", ["t1"], journal={"i": 1})
    store.poll_later("", "o_alice", ["t1"])
    store.fault_counter("", "k")
    assert store.token("") == token  # task work changes no settings
    seen = {token}
    for change in (
        lambda: store.set_clock("", store.clock("").set_to(5.0)),
        lambda: store.put_faults("", []),
        lambda: store.force_step("", "t1", 0),  # held tasks hold their forced step too
        lambda: store.reset(""),
    ):
        change()
        seen.add(store.token(""))
        assert store.token("") == store.settings("").token
    assert len(seen) == 5


def test_sqlite_journal_is_in_request_order_when_writes_land_out_of_order(
    tmp_path: Path,
) -> None:
    """Two workers' entries: the one written behind lands after a later one written at once."""
    url = f"sqlite://{tmp_path / 'store.db'}"
    first, second = (open_store(url, manual_clock, JOURNAL) for _ in range(2))
    try:
        first.add("", record("t1", seq=0))
        first.poll_later("", "o_alice", ["t1"], journal={"i": 1})  # lands within 20 ms
        second.journal_append("", {"i": 2})  # lands now
        assert [e["i"] for e in second.journal("")] == [1, 2]  # waits for the first's write
        assert second.get("", "o_alice", "t1").polls == 1  # type: ignore[union-attr]
    finally:
        first.close()
        second.close()


def _slow_writes(store: Seedable, seconds: float) -> None:
    """Make this store's writes behind land ``seconds`` late (a worker under load)."""
    write = store._write_behind  # type: ignore[attr-defined]

    def slow(pending: object) -> None:
        time.sleep(seconds)
        write(pending)

    store._write_behind = slow  # type: ignore[attr-defined]


def test_sqlite_reads_wait_for_every_workers_deferred_writes_however_late(
    tmp_path: Path,
) -> None:
    """A worker's writes behind that land late, then another worker's own: reads see both."""
    url = f"sqlite://{tmp_path / 'store.db'}"
    busy, other = (open_store(url, manual_clock, JOURNAL) for _ in range(2))
    try:
        _slow_writes(busy, 0.3)  # far past the 20 ms interval
        busy.add("", record("t1", seq=0), journal={"i": 1})
        busy.poll_later("", "o_alice", ["t1"], journal={"i": 2})
        polled = other.poll("", "o_alice", ["t1"], journal={"i": 3})  # found once busy's are in
        assert [(r.seq, r.polls) for r in polled] == [(1, 2)]
        other.poll_later("", "o_alice", ["t1"], journal={"i": 4})  # the latest deferral: its own
        assert [e["i"] for e in other.journal("")] == [1, 2, 3, 4]
        assert [r.polls for r in other.tasks("")] == [3]
    finally:
        busy.close()
        other.close()


@pytest.mark.parametrize("read", ["get", "find", "poll", "force_step"])
def test_a_task_submitted_through_one_sqlite_worker_is_found_at_once_through_another(
    tmp_path: Path, read: str
) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    first, second = (open_store(url, manual_clock, JOURNAL) for _ in range(2))
    try:
        _slow_writes(first, 0.2)
        first.add("", record("t1", seq=0))
        found = {
            "get": lambda: second.get("", "o_alice", "t1"),
            "find": lambda: second.find("", "t1"),
            "poll": lambda: next(iter(second.poll("", "o_alice", ["t1"])), None),
            "force_step": lambda: second.force_step("", "t1", 1),
        }[read]()
        assert found is not None and found.task_id == "t1"
        assert second.get("", "o_alice", "nope") is None  # a miss with nothing pending
    finally:
        first.close()
        second.close()


def _submit_and_die(url: str) -> None:
    store = open_store(url, manual_clock, JOURNAL)
    store._write_behind = lambda batch: time.sleep(60)  # type: ignore[attr-defined]
    for i in range(3):
        store.add("", record(f"t{i}", seq=0), journal={"i": i})
    os.kill(os.getpid(), signal.SIGKILL)


def test_tasks_submitted_by_a_sqlite_worker_killed_before_writing_them_are_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Acknowledged submits are logged outside the database; whoever comes next writes them."""
    url = f"sqlite://{tmp_path / 'store.db'}"
    store = open_store(url, manual_clock, JOURNAL)
    try:
        proc = multiprocessing.get_context("fork").Process(target=_submit_and_die, args=(url,))
        proc.start()
        proc.join(timeout=30)
        assert proc.exitcode == -signal.SIGKILL
        assert store.get("", "o_alice", "t1") is not None  # the miss looks for left-behind marks
        assert [(r.task_id, r.seq) for r in store.tasks("")] == [("t0", 1), ("t1", 2), ("t2", 3)]
        # One mark per batch: under load the three submits may span two batches.
        found = re.findall(r"wrote (\d+) submitted task\(s\) logged by a killed", caplog.text)
        assert sum(map(int, found)) == 3
        assert list((tmp_path / "store.db-behind").iterdir()) == []
        assert store.journal("") == []  # diagnostics of the killed worker are lost
    finally:
        store.close()
    again = open_store(url, manual_clock, JOURNAL)  # and a restart finds them too
    try:
        assert len(again.tasks("")) == 3
    finally:
        again.close()


def test_sqlite_reads_do_not_wait_for_marks_of_killed_workers(tmp_path: Path) -> None:
    """A mark left by a killed worker (unlocked) neither holds reads up nor stays forever."""
    url = f"sqlite://{tmp_path / 'store.db'}"
    store = open_store(url, manual_clock, JOURNAL)
    marks = tmp_path / "store.db-behind"  # made by the store
    (marks / "old").touch()
    os.utime(marks / "old", (time.time() - 60, time.time() - 60))
    (marks / "new").touch()  # just created: its process may not have locked it yet
    try:
        started = time.monotonic()
        store.journal_append("", {"i": 1})
        assert store.journal("") == [{"i": 1}]
        assert time.monotonic() - started < 0.5
        assert sorted(p.name for p in marks.iterdir()) == ["new"]
    finally:
        store.close()


def test_a_sqlite_read_gives_up_on_a_stuck_worker_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite://{tmp_path / 'store.db'}"
    stuck, reader = (open_store(url, manual_clock, JOURNAL) for _ in range(2))
    monkeypatch.setattr(_store_sqlite, "_SETTLE_TIMEOUT", 0.1)
    release = threading.Event()
    write = stuck._write_behind  # type: ignore[attr-defined]
    stuck._write_behind = lambda pending: (release.wait(10), write(pending))  # type: ignore[attr-defined]
    try:
        reader.journal_append("", {"i": 1})  # the reader's own writes behind are not stuck
        stuck.poll_later("", "o_alice", [], journal={"i": 2})
        assert reader.journal("") == [{"i": 1}]  # after 0.1 s, without the stuck entry
        assert "deferred writes of another worker not in after 0.1 s" in caplog.text
        release.set()
        assert [e["i"] for e in reader.journal("")] == [1, 2]
    finally:
        release.set()
        stuck.close()
        reader.close()


def _change_clock(url: str) -> None:
    store = open_store(url, manual_clock, JOURNAL)
    try:
        store.set_clock("", store.clock("").set_to(3_000.0))
    finally:
        store.close()


@shared_backends
def test_a_settings_change_in_another_process_voids_this_ones_token(
    store: Seedable, store_url: str
) -> None:
    store.add("", record("t1", seq=0))
    token = store.settings("").token
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_change_clock, args=(store_url,))
    proc.start()
    proc.join(timeout=30)
    assert proc.exitcode == 0
    with pytest.raises(SettingsChanged):
        store.poll("", "o_alice", ["t1"], token=token)
    assert store.settings("").clock.now() == 3_000.0


# --- clock -------------------------------------------------------------------------------------


@all_backends
def test_each_namespace_starts_its_own_clock_and_keeps_it(store: Seedable) -> None:
    assert (store.clock("a").now(), store.clock("a").mode) == (1_000.0, "manual")
    moved = store.clock("a").set_to(5_000.0)
    store.set_clock("a", moved)
    assert store.clock("a") == moved
    assert store.clock("b").now() == 1_000.0


@all_backends
def test_set_clock_before_any_other_call_creates_the_namespace(store: Seedable) -> None:
    state = ClockState(anchor_real=10.0, anchor_virtual=20.0, speed=2.5)
    store.set_clock("fresh", state)
    assert store.clock("fresh") == state
    assert store.next_seq("fresh") == 1


# --- journal -----------------------------------------------------------------------------------


@all_backends
def test_a_large_batch_of_writes_behind_numbers_counts_and_journals_every_one(
    open_: Callable[..., Seedable],
) -> None:
    """Batches are written in statements of many rows: sizes across their chunk sizes."""
    store = open_(journal_size=5)
    ids = [f"t{i:02d}" for i in range(37)]
    for task_id in ids:
        store.add("", record(task_id, seq=0), journal={"i": task_id})
    store.poll_later("", "o_alice", [*ids, "unknown"], journal={"i": "poll"})
    store.poll_later("", "o_alice", ids[:21])
    listed = store.tasks("")
    assert [(r.task_id, r.seq) for r in listed] == [(t, n) for n, t in enumerate(ids, 1)]
    assert [r.polls for r in listed] == [2] * 21 + [1] * 16
    assert [e["i"] for e in store.journal("")] == [*ids[-4:], "poll"]


@all_backends
def test_journal_keeps_the_last_entries_in_order(store: Seedable) -> None:
    for i in range(JOURNAL + 3):
        store.journal_append("a", {"i": i, "path": "/suno/fetch", "body": "ü"})
    store.journal_append("b", {"i": 99})
    assert [e["i"] for e in store.journal("a")] == list(range(3, JOURNAL + 3))
    assert store.journal("a")[-1] == {"i": JOURNAL + 2, "path": "/suno/fetch", "body": "ü"}
    assert store.journal("b") == [{"i": 99}]
    assert store.journal("none") == []


@shared_backends
def test_journal_stays_bounded_under_many_appends(open_: Callable[..., Seedable]) -> None:
    store = open_(journal_size=3)
    for i in range(200):
        store.journal_append("a", {"i": i})
    assert [e["i"] for e in store.journal("a")] == [197, 198, 199]


# --- faults ------------------------------------------------------------------------------------


@all_backends
def test_fault_rules_and_counters_are_per_namespace(store: Seedable) -> None:
    assert store.get_faults("a") is None
    rules = [{"fault": "latency", "seconds": 0.5, "uid": "r1"}]
    store.put_faults("a", rules)
    assert store.get_faults("a") == rules
    assert store.get_faults("b") is None
    store.put_faults("a", [])
    assert store.get_faults("a") == []
    assert [store.fault_counter("a", "r1") for _ in range(3)] == [1, 2, 3]
    assert store.fault_counter("a", "r1", 5) == 8
    assert store.fault_counter("b", "r1") == 1


# --- reset, ping -------------------------------------------------------------------------------


@all_backends
def test_reset_clears_one_namespace_only(store: Seedable) -> None:
    for ns in ("a", "b"):
        store.insert(ns, record("t1", seq=store.next_seq(ns)))
        store.set_clock(ns, store.clock(ns).set_to(9_000.0))
        store.journal_append(ns, {"i": 1})
        store.put_faults(ns, [{"uid": "r"}])
        store.fault_counter(ns, "r")
    store.reset("a")
    assert store.tasks("a") == [] and store.get("a", "o_alice", "t1") is None
    assert store.next_seq("a") == 1
    assert store.clock("a").now() == 1_000.0
    assert store.journal("a") == []
    assert store.get_faults("a") is None and store.fault_counter("a", "r") == 1
    assert [r.task_id for r in store.tasks("b")] == ["t1"]
    assert store.clock("b").now() == 9_000.0 and store.journal("b") == [{"i": 1}]
    assert store.get_faults("b") == [{"uid": "r"}] and store.fault_counter("b", "r") == 2


@all_backends
def test_ping_says_the_store_answers(store: Seedable) -> None:
    assert store.ping() is True


# --- limits: retention and caps ---------------------------------------------------------------


class Wall:
    """The wall time a store reads for its limits, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def limited(store_url: str, wall: Wall) -> Iterator[Callable[..., Seedable]]:
    """Open the store with ``Limits(**kw)`` on the test's wall clock."""
    opened: list[Seedable] = []

    def _open(**kw: object) -> Seedable:
        limits = Limits(**kw)  # type: ignore[arg-type]
        store = open_store(store_url, manual_clock, JOURNAL, limits=limits, wall=wall)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


def _start(store: Seedable, ns: str, *task_ids: str) -> None:
    """A namespace as requests make it: its settings read first, then its submits."""
    store.settings(ns)
    for task_id in task_ids:
        store.add(ns, record(task_id, seq=0), journal={"submit": task_id})


def _ids(store: Seedable, ns: str) -> list[str]:
    return sorted(r.task_id for r in store.tasks(ns))


@all_backends
def test_namespaces_and_tasks_unused_past_the_retention_are_forgotten(
    limited: Callable[..., Seedable], wall: Wall
) -> None:
    store = limited(retention=3600)
    _start(store, "idle", "i1")
    store.set_clock("idle", store.clock("idle").set_to(5_000.0))
    store.put_faults("idle", [{"uid": "r"}])
    _start(store, "busy", "polled", "left")
    wall.advance(2_000)
    assert [r.task_id for r in store.poll("busy", "o_alice", ["polled"])] == ["polled"]
    store.journal_append("busy", {"i": "late"})
    wall.advance(2_000)  # idle: 4000 s unused; busy: used 2000 s ago, "left" untouched 4000 s
    swept = store.sweep()
    assert (swept.namespaces, swept.tasks) == (1, 2)
    # The idle namespace is gone whole, as after a reset.
    assert store.tasks("idle") == [] and store.find("idle", "i1") is None
    assert store.journal("idle") == [] and store.get_faults("idle") is None
    assert store.clock("idle").now() == 1_000.0
    # The busy one keeps what it touched, and its journal.
    assert _ids(store, "busy") == ["polled"]
    assert store.get("busy", "o_alice", "left") is None
    assert store.journal("busy")[-1] == {"i": "late"}
    assert store.sweep() == Swept()  # nothing more to forget


@all_backends
def test_past_max_namespaces_the_least_recently_used_go_first(
    limited: Callable[..., Seedable], wall: Wall
) -> None:
    store = limited(max_namespaces=3)
    for ns in ("a", "b", "c"):
        _start(store, ns, f"{ns}1")
        wall.advance(10)
    store.poll("a", "o_alice", ["a1"])  # a used again: b is now the least recently used
    wall.advance(10)
    _start(store, "d", "d1")
    store.sweep()
    assert [ns for ns in "abcd" if _ids(store, ns)] == ["a", "c", "d"]
    assert store.journal("b") == []
    wall.advance(10)
    _start(store, "e", "e1")
    store.sweep()
    assert [ns for ns in "abcde" if _ids(store, ns)] == ["a", "d", "e"]


@all_backends
def test_past_max_tasks_the_least_recently_touched_go_first(
    limited: Callable[..., Seedable], wall: Wall
) -> None:
    store = limited(max_tasks=4)
    _start(store, "x")
    _start(store, "y")
    for ns, task_id in [("x", "x1"), ("y", "y1"), ("x", "x2"), ("y", "y2")]:
        store.add(ns, record(task_id, seq=0))
        wall.advance(10)
    store.poll("x", "o_alice", ["x1"])  # polled again: touched, kept
    wall.advance(10)
    store.add("x", record("x3", seq=0))
    store.sweep()
    assert (_ids(store, "x"), _ids(store, "y")) == (["x1", "x2", "x3"], ["y2"])
    assert [r.seq for r in sorted(store.tasks("x"), key=lambda r: r.seq)] == [1, 2, 3]


@all_backends
def test_a_forgotten_namespace_refuses_tokens_read_before(
    limited: Callable[..., Seedable], wall: Wall
) -> None:
    """A worker that kept the settings of a namespace since forgotten reads them again."""
    store = limited(retention=60)
    _start(store, "ns", "t1")
    token = store.settings("ns").token
    wall.advance(120)
    assert store.sweep().namespaces == 1
    with pytest.raises(SettingsChanged):
        store.add("ns", record("t2", seq=0), token=token)
    with pytest.raises(SettingsChanged):
        store.poll("ns", "o_alice", ["t1"], token=token)
    assert store.settings("ns").token != token


@all_backends
def test_without_limits_nothing_is_forgotten(
    limited: Callable[..., Seedable], wall: Wall
) -> None:
    store = limited()
    for ns in ("a", "b"):
        _start(store, ns, "t1", "t2")
    wall.advance(10 * 365 * 24 * 3600.0)
    assert store.sweep() == Swept()
    assert (_ids(store, "a"), _ids(store, "b")) == (["t1", "t2"], ["t1", "t2"])


@pytest.mark.parametrize("store_url", ["redis"], indirect=True)
def test_redis_forgets_an_idle_namespace_by_itself(
    store_url: str, redis: RedisServer
) -> None:
    """Every key of a namespace lives for the retention from its last use, whoever sweeps."""
    import redis as redis_client

    client = redis_client.Redis(port=redis.port, decode_responses=True)
    prefix = store_url.rpartition("prefix=")[2]
    store = open_store(store_url, manual_clock, JOURNAL, limits=Limits(retention=3600))
    try:
        _start(store, "ns", "t1")
        store.journal_append("ns", {"i": 1})
        store.fault_counter("ns", "k")
        keys = [k for k in client.scan_iter(match=f"{prefix}:{{ns}}:*")]
        assert len(keys) >= 6  # space, tasks, touched, journal, counters, the task
        assert all(0 < client.pttl(k) <= 3_600_000 for k in keys)
        short = open_store(store_url, manual_clock, JOURNAL, limits=Limits(retention=0.2))
        try:
            _start(short, "brief", "t1")
        finally:
            short.close()
        deadline = time.monotonic() + 20
        while any(client.scan_iter(match=f"{prefix}:{{brief}}:*")):
            assert time.monotonic() < deadline, "Redis kept an idle namespace past its TTL"
            time.sleep(0.05)
    finally:
        store.close()
        client.close()


@pytest.mark.parametrize("store_url", ["redis"], indirect=True)
def test_redis_caps_namespaces_made_before_the_caps(store_url: str, wall: Wall) -> None:
    unbounded = open_store(store_url, manual_clock, JOURNAL, wall=wall)
    capped = Limits(max_namespaces=2)
    bounded = open_store(store_url, manual_clock, JOURNAL, limits=capped, wall=wall)
    try:
        for ns in ("a", "b", "c"):
            _start(unbounded, ns, f"{ns}1")
            wall.advance(10)
        assert bounded.sweep().namespaces == 1
        assert [ns for ns in "abc" if _ids(bounded, ns)] == ["b", "c"]
    finally:
        unbounded.close()
        bounded.close()


def test_sqlite_rows_from_before_the_limits_are_kept_a_retention_from_now(
    tmp_path: Path, wall: Wall
) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(_RELEASED_SCHEMA)
    old.execute(
        "INSERT INTO tasks VALUES ('', 't1', 'o_alice', 1, 0, NULL, ?)", (facts_of(record("t1")),)
    )
    old.execute("INSERT INTO spaces VALUES ('', 1, ?)", (dumps(manual_clock().to_dict()),))
    old.commit()
    old.close()
    url = f"sqlite://{path}"
    store = open_store(url, manual_clock, JOURNAL, limits=Limits(retention=60), wall=wall)
    try:
        assert store.sweep() == Swept()  # stamped now: not forgotten at once
        assert _ids(store, "") == ["t1"]
        wall.advance(61)
        assert store.sweep() == Swept(1, 1)
        assert store.tasks("") == []
    finally:
        store.close()


# --- sharing -----------------------------------------------------------------------------------


@shared_backends
def test_a_second_store_on_the_same_url_sees_everything(open_: Callable[..., Seedable]) -> None:
    one, two = open_(), open_()
    one.insert("ns", record("t1", seq=one.next_seq("ns")))
    one.set_clock("ns", one.clock("ns").set_to(7_000.0))
    assert two.get("ns", "o_alice", "t1") == one.get("ns", "o_alice", "t1")
    assert two.next_seq("ns") == 2
    assert two.clock("ns").now() == 7_000.0
    two.poll("ns", "o_alice", ["t1"])
    assert one.get("ns", "o_alice", "t1").polls == 1  # type: ignore[union-attr]


@all_backends
def test_concurrent_polls_from_threads_are_all_counted(store: Seedable) -> None:
    store.insert("", record("t1"))
    barrier = threading.Barrier(8)

    def hammer() -> None:
        barrier.wait()
        for _ in range(25):
            store.poll("", "o_alice", ["t1"])

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert store.get("", "o_alice", "t1").polls == 200  # type: ignore[union-attr]


@all_backends
def test_concurrent_submits_in_one_process_each_get_their_own_seq(store: Seedable) -> None:
    """SQLite writes the submits of an interval together: none lost, none numbered twice."""

    def submit(worker: int) -> None:
        for i in range(25):
            store.add("", record(f"w{worker}-{i}", seq=0), journal={"i": i})

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stored = store.tasks("")
    assert sorted(r.seq for r in stored) == list(range(1, 201))
    assert {r.task_id for r in stored} == {f"w{w}-{i}" for w in range(8) for i in range(25)}
    assert len(store.journal("")) == JOURNAL  # the last entries; the journal keeps JOURNAL


def _poll_and_count(url: str, rounds: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(url, manual_clock, JOURNAL)
    try:
        seqs = []
        for _ in range(rounds):
            store.poll("", "o_alice", ["t1"])
            seqs.append(store.next_seq("p"))
            store.fault_counter("", "k")
        out.put(seqs)
    finally:
        store.close()


@shared_backends
def test_concurrent_processes_never_lose_an_increment(store: Seedable, store_url: str) -> None:
    store.insert("", record("t1"))
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_poll_and_count, args=(store_url, 40, out)) for _ in range(3)]
    for p in procs:
        p.start()
    seqs = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert store.get("", "o_alice", "t1").polls == 120  # type: ignore[union-attr]
    flat = sorted(s for chunk in seqs for s in chunk)
    assert flat == list(range(1, 121))  # every seq handed out exactly once
    assert store.fault_counter("", "k") == 121


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'nested' / 'dir' / 'store.db'}"
    first = open_store(url, manual_clock, JOURNAL)
    rec = record("t1", seq=first.next_seq(""))
    first.insert("", rec)
    first.poll("", "o_alice", ["t1"])
    first.set_clock("", first.clock("").set_to(4_242.0))
    first.journal_append("", {"i": 1})
    first.close()
    again = open_store(url, manual_clock, JOURNAL)
    try:
        assert again.get("", "o_alice", "t1") == TaskRecord(**{**rec.to_dict(), "polls": 1})
        assert again.clock("").now() == 4_242.0
        assert again.journal("") == [{"i": 1}]
        assert again.next_seq("") == 2
    finally:
        again.close()
    assert not (tmp_path / "nested" / "dir" / "store.db-wal").exists()  # closed = checkpointed


_RELEASED_SCHEMA = """
CREATE TABLE spaces (ns TEXT PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0, clock TEXT NOT NULL)
    WITHOUT ROWID;
CREATE TABLE tasks (ns TEXT NOT NULL, task_id TEXT NOT NULL, owner TEXT NOT NULL,
    seq INTEGER NOT NULL, polls INTEGER NOT NULL DEFAULT 0, forced_step INTEGER,
    facts TEXT NOT NULL, PRIMARY KEY (ns, task_id)) WITHOUT ROWID;
CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, entry TEXT NOT NULL);
CREATE INDEX journal_by_ns ON journal (ns, id);
CREATE TABLE faults (ns TEXT PRIMARY KEY, rules TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE counters (ns TEXT NOT NULL, key TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (ns, key)) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


def test_a_sqlite_file_from_before_deferred_writes_opens_with_its_tasks_and_journal(
    tmp_path: Path,
) -> None:
    """A store file of the previous release (a Docker volume, say) opens as it was."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(_RELEASED_SCHEMA)
    kept = record("t1", seq=1, polls=3)
    old.execute(
        "INSERT INTO tasks VALUES ('', 't1', 'o_alice', 1, 3, NULL, ?)", (facts_of(kept),)
    )
    old.execute("INSERT INTO spaces VALUES ('', 1, ?)", (dumps(manual_clock().to_dict()),))
    old.execute("INSERT INTO journal (ns, entry) VALUES ('', '{\"i\": 0}')")
    old.commit()
    old.close()
    store = open_store(f"sqlite://{path}", manual_clock, JOURNAL)
    try:
        assert store.get("", "o_alice", "t1") == kept
        store.add("", record("t2", seq=0))
        assert store.find("", "t2").seq == 2  # type: ignore[union-attr]
        assert [r.polls for r in store.poll("", "o_alice", ["t1"], journal={"i": 1})] == [4]
        store.poll_later("", "o_alice", ["t1"], journal={"i": 2})
        assert [e["i"] for e in store.journal("")] == [0, 1, 2]  # the old entry first
    finally:
        store.close()
