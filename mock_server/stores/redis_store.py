"""Redis store: several replicas on several hosts share tasks, clocks and journals.

Keys live under ``<prefix>:{<namespace>}:`` so that several fakes share one Redis (one prefix
each) and one namespace's keys share a cluster hash slot. Poll counts, forced steps and resets
are Lua scripts: atomic whichever replica runs them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged, StoreUnavailable
from mock_server.stores.base import Settings, unavailable_on
from mock_server.stores.codec import dumps, facts_of, record_from

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "suno-mock"

# A request's store work is one script, so one round trip: the settings token check
# (ARGV[token] = '' skips it), the work, and the journal entry (ARGV[entry] = '' for none).
_CHECK = """
if ARGV[1] ~= '' and (redis.call('HGET', KEYS[1], 'token') or '0') ~= ARGV[1] then
  return -1
end
local function log(entry)
  if entry ~= '' then
    redis.call('RPUSH', KEYS[2], entry)
    redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
  end
end
"""
# KEYS: space, journal, task...; ARGV: token, entry, journal size, owner
_POLL = _CHECK + """
local out = {}
for i = 3, #KEYS do
  local key = KEYS[i]
  if redis.call('HGET', key, 'owner') == ARGV[4] then
    local polls = redis.call('HINCRBY', key, 'polls', 1)
    local row = redis.call('HMGET', key, 'facts', 'forced')
    out[#out + 1] = {i, row[1], polls, row[2]}
  end
end
if #out > 0 then log(ARGV[2]) end
return out
"""
# KEYS: space, journal, index, task; ARGV: token, entry, journal size, task id, owner,
# facts before the seq, facts after it, polls, forced step
_ADD = _CHECK + """
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local facts = ARGV[6] .. seq .. ARGV[7]
redis.call('HSET', KEYS[4], 'owner', ARGV[5], 'facts', facts, 'polls', ARGV[8], 'forced', ARGV[9])
redis.call('ZADD', KEYS[3], seq, ARGV[4])
log(ARGV[2])
return seq
"""
_FORCE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'forced', ARGV[1])
return redis.call('HMGET', KEYS[1], 'facts', 'polls', 'forced')
"""
_RESET = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[2], 'token', ARGV[2])
return #ids
"""

# A lost or refused connection, or a Redis that takes no writes now (a read-only replica, past
# its maxmemory with noeviction); the message names the error type only, never the URL.
_unavailable = unavailable_on(
    (
        redis.ConnectionError,
        redis.TimeoutError,
        redis.exceptions.ReadOnlyError,
        redis.exceptions.OutOfMemoryError,
    ),
    lambda exc: f"redis store: {type(exc).__name__}",
)
_PROBE_TTL_MS = 60_000  # the probe's key goes by itself


class _Keys:
    """The key names of one namespace."""

    def __init__(self, prefix: str, ns: str) -> None:
        base = f"{prefix}:{{{quote(ns, safe='')}}}:"
        self.space = base + "space"  # hash: seq, clock, faults
        self.index = base + "tasks"  # sorted set: task id -> seq
        self.journal = base + "journal"  # list of JSON entries, newest last
        self.counters = base + "counters"  # hash: fault counter -> value
        self.task_prefix = base + "t:"  # hash per task: owner, facts, polls, forced

    def task(self, task_id: str) -> str:
        return self.task_prefix + task_id


class RedisStore:
    """Everything in Redis, under one key prefix."""

    def __init__(
        self,
        url: str,
        clock_factory: Callable[[], ClockState],
        journal_size: int = 1000,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 2.0,
    ) -> None:
        self.prefix = prefix
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        # One quick retry rides over a connection that a Redis restart left stale; past that
        # the request fails fast with the 500 envelope instead of hanging on backoff.
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._poll = self._redis.register_script(_POLL)
        self._add = self._redis.register_script(_ADD)
        self._force = self._redis.register_script(_FORCE)
        self._reset = self._redis.register_script(_RESET)

    def _keys(self, ns: str) -> _Keys:
        return _Keys(self.prefix, ns)

    # tasks -------------------------------------------------------------------
    @_unavailable
    # Seeding for tests (a record with the seq it carries); not part of the Store protocol.
    def insert(self, ns: str, record: TaskRecord) -> None:
        keys = self._keys(ns)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            keys.task(record.task_id),
            mapping={
                "owner": record.owner,
                "facts": facts_of(record),
                "polls": record.polls,
                "forced": "" if record.forced_step is None else record.forced_step,
            },
        )
        pipe.zadd(keys.index, {record.task_id: record.seq})
        pipe.execute()

    @_unavailable
    def next_seq(self, ns: str) -> int:
        return int(self._redis.hincrby(self._keys(ns).space, "seq", 1))

    @_unavailable
    def add(
        self,
        ns: str,
        record: TaskRecord,
        *,
        journal: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> None:
        keys = self._keys(ns)
        # The script assigns the seq, which sits inside the facts text: send the text around it.
        head, mark, tail = facts_of(replace(record, seq=0)).partition('"seq":0')
        assert mark, "facts without a seq"
        done = self._add(
            keys=[keys.space, keys.journal, keys.index, keys.task(record.task_id)],
            args=[
                *self._script_args(journal, token),
                record.task_id,
                record.owner,
                head + '"seq":',
                tail,
                record.polls,
                "" if record.forced_step is None else record.forced_step,
            ],
        )
        if done == -1:
            raise SettingsChanged("redis store")

    def _script_args(self, journal: dict[str, Any] | None, token: str | None) -> list[Any]:
        entry = "" if journal is None or self._journal_size <= 0 else dumps(journal)
        return ["" if token is None else token, entry, max(self._journal_size, 1)]

    @_unavailable
    def get(self, ns: str, owner: str, task_id: str) -> TaskRecord | None:
        row = self._redis.hmget(self._keys(ns).task(task_id), ["owner", "facts", "polls", "forced"])
        if row[0] != owner or row[1] is None:
            return None
        return record_from(row[1], row[2] or 0, row[3])

    @_unavailable
    def find(self, ns: str, task_id: str) -> TaskRecord | None:
        """The task, whoever owns it (admin API)."""
        row = self._redis.hmget(self._keys(ns).task(task_id), ["facts", "polls", "forced"])
        return None if row[0] is None else record_from(row[0], row[1] or 0, row[2])

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
        if not wanted and token is None:
            return []
        keys = self._keys(ns)
        rows = self._poll(
            keys=[keys.space, keys.journal, *(keys.task(t) for t in wanted)],
            args=[*self._script_args(journal, token), owner],
        )
        if rows == -1:
            raise SettingsChanged("redis store")
        return [record_from(facts, polls, forced) for _i, facts, polls, forced in rows]

    @_unavailable
    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None:
        row = self._force(keys=[self._keys(ns).task(task_id)], args=["" if step is None else step])
        return record_from(*row) if row else None

    @_unavailable
    def tasks(self, ns: str) -> list[TaskRecord]:
        keys = self._keys(ns)
        ids = self._redis.zrange(keys.index, 0, -1)
        pipe = self._redis.pipeline(transaction=False)
        for task_id in map(str, ids):  # str already (decode_responses); map() tells mypy
            pipe.hmget(keys.task(task_id), ["facts", "polls", "forced"])
        return [record_from(*row) for row in pipe.execute() if row[0] is not None]

    def poll_later(
        self, ns: str, owner: str, task_ids: Iterable[str], *, journal: dict[str, Any] | None = None
    ) -> None:
        self.poll(ns, owner, task_ids, journal=journal)

    # settings ----------------------------------------------------------------
    def token(self, ns: str) -> str | None:
        """None: reading the token is a round trip, as costly as the poll it would save."""
        return None

    @_unavailable
    def settings(self, ns: str) -> Settings:
        space = self._keys(ns).space
        token, clock, rules = self._redis.hmget(space, ["token", "clock", "faults"])
        if clock is None:  # a new namespace: start its clock, then read all three again
            self.clock(ns)
            token, clock, rules = self._redis.hmget(space, ["token", "clock", "faults"])
        return Settings(
            str(token or "0"),
            ClockState.from_dict(json.loads(str(clock))),
            None if rules is None else list(json.loads(rules)),
        )

    def _change(self, ns: str, field: str, value: str) -> None:
        """Set a settings field and a token never seen before, together."""
        self._redis.hset(
            self._keys(ns).space, mapping={field: value, "token": os.urandom(8).hex()}
        )

    # clock -------------------------------------------------------------------
    @_unavailable
    def clock(self, ns: str) -> ClockState:
        space = self._keys(ns).space
        raw = self._redis.hget(space, "clock")
        if raw is None:
            # The first replica to get here starts the namespace's clock; the others read it.
            pipe = self._redis.pipeline(transaction=True)
            pipe.hsetnx(space, "clock", dumps(self._clock_factory().to_dict()))
            pipe.hget(space, "clock")
            raw = pipe.execute()[1]
        return ClockState.from_dict(json.loads(raw))

    @_unavailable
    def set_clock(self, ns: str, state: ClockState) -> None:
        self._change(ns, "clock", dumps(state.to_dict()))

    # journal -----------------------------------------------------------------
    @_unavailable
    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        if self._journal_size <= 0:
            return
        key = self._keys(ns).journal
        pipe = self._redis.pipeline(transaction=True)
        pipe.rpush(key, dumps(entry))
        pipe.ltrim(key, -self._journal_size, -1)
        pipe.execute()

    @_unavailable
    def journal(self, ns: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self._redis.lrange(self._keys(ns).journal, 0, -1)]

    # faults ------------------------------------------------------------------
    @_unavailable
    def get_faults(self, ns: str) -> list[dict[str, Any]] | None:
        raw = self._redis.hget(self._keys(ns).space, "faults")
        return None if raw is None else list(json.loads(raw))

    @_unavailable
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None:
        self._change(ns, "faults", dumps(rules))

    @_unavailable
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int:
        return int(self._redis.hincrby(self._keys(ns).counters, key, delta))

    # lifecycle ---------------------------------------------------------------
    @_unavailable
    def reset(self, ns: str) -> None:
        keys = self._keys(ns)
        self._reset(
            keys=[keys.index, keys.space, keys.journal, keys.counters],
            args=[keys.task_prefix, os.urandom(8).hex()],
        )

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    @_unavailable
    def probe_write(self) -> None:
        try:
            self._redis.set(f"{self.prefix}:probe", os.getpid(), px=_PROBE_TTL_MS)
        except redis.ResponseError as exc:  # MISCONF (snapshots failing), NOREPLICAS...
            raise StoreUnavailable(f"redis store: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._redis.close()
