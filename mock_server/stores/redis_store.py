"""Redis store: several replicas on several hosts share tasks, clocks and journals.

Keys live under ``<prefix>:{<namespace>}:`` so that several fakes share one Redis (one prefix
each) and one namespace's keys share a cluster hash slot. Poll counts, forced steps and resets
are Lua scripts: atomic whichever replica runs them.

Limits: every write in a namespace stamps its ``used`` time and gives its keys a time to live of
the retention (so Redis forgets an idle namespace by itself, whoever sweeps or not), and every
touch of a task stamps it in the namespace's ``touched`` sorted set. ``<prefix>:namespaces``
lists the namespaces by their last use (written by each replica at most once a second per
namespace, in the same round trip as the request's script), for the sweeps that hold the caps:
a sweep reads only what it forgets.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any, cast
from urllib.parse import quote, unquote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mock_server.core.cache import BoundedCache
from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import SettingsChanged, StoreUnavailable
from mock_server.stores.base import Limits, Settings, Swept, unavailable_on
from mock_server.stores.codec import dumps, entry_from, entry_text, facts_of, record_from
from mock_server.stores.sweeper import Sweeper

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "suno-mock"

# Every script that writes in a namespace starts with this. KEYS: space, journal, index,
# touched, counters (then its own); ARGV: settings token ('' skips the check), journal entry
# ('' for none), journal size, now (ms), time to live (ms, 0: none) (then its own).
_PRELUDE = """
local function token_ok()
  if ARGV[1] == '' then return true end
  local token = redis.call('HGET', KEYS[1], 'token')
  if not token and redis.call('HEXISTS', KEYS[1], 'clock') == 1 then token = '0' end
  return token == ARGV[1]
end
local ttl = tonumber(ARGV[5])
local now = tonumber(ARGV[4])
local fresh = false  -- a key of the namespace was made: it needs its time to live now
local function log(entry)
  if entry ~= '' then
    if redis.call('RPUSH', KEYS[2], entry) == 1 then fresh = true end
    redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
  end
end
-- A use, or a touch, a second after the last one written is written (with the keys' time to
-- live): a read instead of seven writes for most requests.
-- A replica whose clock is behind never moves a use back.
local function used()
  local last = tonumber(redis.call('HGET', KEYS[1], 'used') or '')
  if not fresh and last and now - last < 1000 then return end
  if last or redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HSET', KEYS[1], 'used', math.max(now, last or 0))
  end
  if ttl > 0 then
    for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
local function touched(key, id, new)
  if not new then
    local last = tonumber(redis.call('ZSCORE', KEYS[4], id) or '')
    if last and now - last < 1000 then return end
  end
  redis.call('ZADD', KEYS[4], ARGV[4], id)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
"""
# KEYS: ..., task...; ARGV: ..., owner, task id... (in the order of their keys)
_POLL = _PRELUDE + """
if not token_ok() then return -1 end
local out = {}
for i = 6, #KEYS do
  local key = KEYS[i]
  if redis.call('HGET', key, 'owner') == ARGV[6] then
    local polls = redis.call('HINCRBY', key, 'polls', 1)
    local row = redis.call('HMGET', key, 'facts', 'forced')
    touched(key, ARGV[i + 1], false)
    out[#out + 1] = {i, row[1], polls, row[2]}
  end
end
if #out > 0 then log(ARGV[2]) end
used()
return out
"""
# KEYS: ..., task; ARGV: ..., task id, owner, facts before the seq, facts after it, polls,
# forced step
_ADD = _PRELUDE + """
if not token_ok() then return -1 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local facts = ARGV[8] .. seq .. ARGV[9]
redis.call('HSET', KEYS[6], 'owner', ARGV[7], 'facts', facts, 'polls', ARGV[10], 'forced', ARGV[11])
redis.call('ZADD', KEYS[3], seq, ARGV[6])
if redis.call('ZCARD', KEYS[3]) == 1 then fresh = true end  -- its first task: tasks, touched
touched(KEYS[6], ARGV[6], true)
log(ARGV[2])
used()
return seq
"""
# KEYS: ..., task; ARGV: ..., step ('' unpins), task id
_FORCE = _PRELUDE + """
if redis.call('EXISTS', KEYS[6]) == 0 then return false end
redis.call('HSET', KEYS[6], 'forced', ARGV[6])
touched(KEYS[6], ARGV[7], false)
used()
return redis.call('HMGET', KEYS[6], 'facts', 'polls', 'forced')
"""
_LOG = _PRELUDE + """
log(ARGV[2])
used()
return 1
"""
# ARGV: ..., field, value, new token. 1: the namespace is new.
_CHANGE = _PRELUDE + """
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], ARGV[6], ARGV[7], 'token', ARGV[8])
used()
if new then return 1 end
return 0
"""
# ARGV: ..., counter, delta
_COUNT = _PRELUDE + """
local value = redis.call('HINCRBY', KEYS[5], ARGV[6], ARGV[7])
if redis.call('PTTL', KEYS[5]) == -1 then fresh = true end
used()
return value
"""
# The first replica to read a new namespace's clock starts it. ARGV: ..., clock, token
_START = _PRELUDE + """
local made = redis.call('HSETNX', KEYS[1], 'clock', ARGV[6])
if made == 1 then
  redis.call('HSETNX', KEYS[1], 'token', ARGV[7])
  used()
end
return {made, redis.call('HGET', KEYS[1], 'clock')}
"""
# KEYS: index, space, journal, counters, touched; ARGV: task prefix, new token, time to live
_RESET = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[2], 'token', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return #ids
"""
# A sweep forgets a namespace not used after ``until``. KEYS: as _RESET; ARGV: task prefix,
# until (ms). {tasks forgotten, 0}, or {-1, its last use} when it was used since: kept.
_FORGET = """
local used = redis.call('HGET', KEYS[2], 'used')
if used and tonumber(used) > tonumber(ARGV[2]) then return {-1, used} end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', ARGV[1] .. id) end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return {#ids, 0}
"""
# A sweep forgets tasks not touched since ``cutoff``: those given, or all. KEYS: index, touched;
# ARGV: task prefix, cutoff (ms), task id...
_DROP = """
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2]) end
local n = 0
for _, id in ipairs(ids) do
  local score = redis.call('ZSCORE', KEYS[2], id)
  if not score or tonumber(score) <= tonumber(ARGV[2]) then
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    n = n + 1
  end
end
return n
"""
# Namespaces from before limits (no use stamped): used now, their tasks touched now.
# KEYS: space, index, touched; ARGV: now (ms)
_STAMP = """
redis.call('HSETNX', KEYS[1], 'used', ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('ZADD', KEYS[3], 'NX', ARGV[1], id)
end
return 1
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
_UNREAD_MAX = 64  # replies of journal appends left unread before the next send reads them
_LIST_EVERY_MS = 1000  # a replica writes a namespace's use in the list at most this often
_SWEEP_LOCK_MS = 30_000  # a sweep's lock goes by itself if its replica dies meanwhile
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _Keys:
    """The key names of one namespace."""

    def __init__(self, prefix: str, ns: str) -> None:
        base = f"{prefix}:{{{quote(ns, safe='')}}}:"
        self.ns = ns
        self.space = base + "space"  # hash: seq, clock, faults, token, used
        self.index = base + "tasks"  # sorted set: task id -> seq
        self.touched = base + "touched"  # sorted set: task id -> last touched (ms)
        self.journal = base + "journal"  # list of JSON entries, newest last
        self.counters = base + "counters"  # hash: fault counter -> value
        self.task_prefix = base + "t:"  # hash per task: owner, facts, polls, forced

    @property
    def common(self) -> list[str]:
        """The keys every namespace script takes first."""
        return [self.space, self.journal, self.index, self.touched, self.counters]

    @property
    def whole(self) -> list[str]:
        """The keys a reset or a sweep deletes, tasks aside."""
        return [self.index, self.space, self.journal, self.counters, self.touched]

    def task(self, task_id: str) -> str:
        return self.task_prefix + task_id


log = logging.getLogger("mock_server")


class _Sender:
    """Journal appends, sent at once on a connection of their own, their replies read later.

    Every fetch is journaled after its answer (with it): waiting for each reply would double
    a poll's round trips. A command is on the socket before the request is answered, so a
    read by another replica made after that answer finds it unless Redis was too busy to read
    it first; readers of this process read the replies first (``drain``): they always do.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._connection: Any = None
        self._pid = 0
        self._unread = 0

    def send(self, *command: Any) -> None:
        """Send ``command``; StoreUnavailable-worthy errors only if a fresh connection fails."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's connection is not ours
                self._connection, self._pid, self._unread = None, os.getpid(), 0
            if self._unread >= _UNREAD_MAX:
                self._read()
            for attempt in (1, 2):  # once more on a new connection: Redis may have restarted
                if self._connection is None:
                    self._connection = self._new_connection()
                try:
                    self._connection.send_command(*command)
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    self._lost("the connection to redis broke")
                    if attempt == 2:
                        raise
                else:
                    self._unread += 1
                    return

    def _new_connection(self) -> Any:
        """A connection like the pool's but not of it: the pool counts each one it makes
        against its cap (100 in redis-py 8) and only forgets those given back, so making ours
        there, once per Redis restart or failed send, would starve every other command."""
        pool = self._client.connection_pool
        return pool.connection_class(**pool.connection_kwargs)

    def drain(self) -> None:
        """Wait until every append sent from this process is processed (or known lost)."""
        with self._lock:
            if self._unread and self._pid == os.getpid():
                self._read()

    def _read(self) -> None:
        refused = 0
        try:
            while self._unread:
                self._unread -= 1
                try:
                    self._connection.read_response()
                except redis.ResponseError:  # out of memory, a read-only replica...
                    refused += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            # Diagnostics: a journal read goes on without them rather than fail.
            self._lost("the connection to redis broke")
        if refused:
            log.warning("%d journal entries lost: redis refused them", refused)

    def _lost(self, why: str) -> None:
        """Drop the connection; the appends whose replies were not read may be lost."""
        if self._unread:
            log.warning("up to %d journal entries lost: %s", self._unread, why)
        if self._connection is not None:
            with suppress(redis.RedisError, OSError):
                self._connection.disconnect()
        self._connection, self._unread = None, 0

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._read()
                self._lost("the store closed")


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
        limits: Limits | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.prefix = prefix
        self._clock_factory = clock_factory
        self._journal_size = journal_size
        self._limits = limits or Limits()
        self._wall = wall
        self._ttl_ms = 0 if self._limits.retention is None else int(self._limits.retention * 1000)
        self._registry = f"{prefix}:namespaces"  # sorted set: namespace -> started (ms)
        self._registered_old = False  # namespaces from before the registry listed, once
        self._listed: BoundedCache[str, int] = BoundedCache(4096)  # ns -> use last listed
        # One quick retry rides over a connection that a Redis restart left stale; past that
        # the request fails fast with the 500 envelope instead of hanging on backoff.
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        script = self._redis.register_script
        self._poll, self._add, self._force = script(_POLL), script(_ADD), script(_FORCE)
        self._log, self._change_script, self._count = script(_LOG), script(_CHANGE), script(_COUNT)
        self._start, self._reset = script(_START), script(_RESET)
        self._forget, self._drop, self._stamp = script(_FORGET), script(_DROP), script(_STAMP)
        self._unlock = script(_UNLOCK)
        self._sweeper = Sweeper(self._sweep, self._limits)
        self._sender = _Sender(self._redis)

    def _keys(self, ns: str) -> _Keys:
        return _Keys(self.prefix, ns)

    def _args(
        self, journal: dict[str, Any] | None = None, token: str | None = None
    ) -> list[Any]:
        """The ARGV every namespace script takes first."""
        entry = "" if journal is None or self._journal_size <= 0 else entry_text(journal)
        return [
            "" if token is None else token,
            entry,
            max(self._journal_size, 1),
            self._now_ms(),
            self._ttl_ms,
        ]

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def _run(self, script: Any, ns: str, keys: list[str], args: list[Any]) -> Any:
        """``script`` on a namespace, with its use listed (when due) in the same round trip.
        ``args`` come from ``_args``: its fourth is the time of the use."""
        used = int(args[3])
        if not self._limits.bounded or used - (self._listed.get(ns) or -_LIST_EVERY_MS) < (
            _LIST_EVERY_MS
        ):
            return script(keys=keys, args=args)
        pipe = self._redis.pipeline(transaction=False)
        script(keys=keys, args=args, client=pipe)
        pipe.zadd(self._registry, {ns: used})
        result = pipe.execute()[0]
        self._listed.put(ns, used)
        return result

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
        pipe.zadd(keys.touched, {record.task_id: self._now_ms()})
        if self._ttl_ms:
            pipe.pexpire(keys.task(record.task_id), self._ttl_ms)
        pipe.execute()
        self._run(self._log, ns, keys.common, self._args())

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
        done = self._run(
            self._add,
            ns,
            [*keys.common, keys.task(record.task_id)],
            [
                *self._args(journal, token),
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
        if done == 1:  # the namespace's first task: it may have no clock yet
            self._register(ns)
        self._sweeper.wrote(tasks=1)

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
        rows = self._run(
            self._poll,
            ns,
            [*keys.common, *(keys.task(t) for t in wanted)],
            [*self._args(journal, token), owner, *wanted],
        )
        if rows == -1:
            raise SettingsChanged("redis store")
        return [record_from(facts, polls, forced) for _i, facts, polls, forced in rows]

    @_unavailable
    def force_step(self, ns: str, task_id: str, step: int | None) -> TaskRecord | None:
        keys = self._keys(ns)
        row = self._run(
            self._force,
            ns,
            [*keys.common, keys.task(task_id)],
            [*self._args(), "" if step is None else step, task_id],
        )
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
        keys = self._keys(ns)
        new = self._run(
            self._change_script,
            ns,
            keys.common,
            [*self._args(), field, value, os.urandom(8).hex()],
        )
        if new:
            self._register(ns)

    # clock -------------------------------------------------------------------
    @_unavailable
    def clock(self, ns: str) -> ClockState:
        keys = self._keys(ns)
        raw = self._redis.hget(keys.space, "clock")
        if raw is None:
            # The first replica to get here starts the namespace's clock; the others read it.
            made, raw = self._start(
                keys=keys.common,
                args=[*self._args(), dumps(self._clock_factory().to_dict()), os.urandom(8).hex()],
            )
            if made:
                self._register(ns)
        return ClockState.from_dict(json.loads(raw))

    def _register(self, ns: str) -> None:
        """List a new namespace for the sweeps that hold the caps (a key of its own slot)."""
        if self._limits.bounded:
            now = self._now_ms()
            self._redis.zadd(self._registry, {ns: now})
            self._listed.put(ns, now)
            self._sweeper.wrote(spaces=1)

    @_unavailable
    def set_clock(self, ns: str, state: ClockState) -> None:
        self._change(ns, "clock", dumps(state.to_dict()))

    # journal -----------------------------------------------------------------
    @_unavailable
    def journal_append(self, ns: str, entry: dict[str, Any]) -> None:
        """Sent, not waited for (``_Sender``). EVAL, not EVALSHA: nobody reads the reply in
        time to load a script a restarted Redis lost (it caches the script by its digest)."""
        keys, args = self._keys(ns).common, self._args(entry)
        used = int(args[3])
        self._sender.send("EVAL", _LOG, len(keys), *keys, *args)
        if self._limits.bounded and used - (self._listed.get(ns) or -_LIST_EVERY_MS) >= (
            _LIST_EVERY_MS
        ):
            self._sender.send("ZADD", self._registry, used, ns)
            self._listed.put(ns, used)

    @_unavailable
    def journal(self, ns: str) -> list[dict[str, Any]]:
        self._sender.drain()
        raws = self._redis.lrange(self._keys(ns).journal, 0, -1)
        return [entry_from(cast(str, raw)) for raw in raws]  # decode_responses

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
        keys = self._keys(ns).common
        return int(self._run(self._count, ns, keys, [*self._args(), key, delta]))

    # lifecycle ---------------------------------------------------------------
    @_unavailable
    def reset(self, ns: str) -> None:
        self._sender.drain()  # entries sent before the reset go with it
        keys = self._keys(ns)
        self._reset(keys=keys.whole, args=[keys.task_prefix, os.urandom(8).hex(), self._ttl_ms])

    # limits ------------------------------------------------------------------
    def sweep(self) -> Swept:
        return self._sweep(True, True, True)

    @_unavailable
    def _sweep(self, retention: bool, spaces: bool, tasks_: bool) -> Swept:
        """Forget idle namespaces and untouched tasks (past the retention; Redis forgets their
        keys by itself too), then the least recently used namespaces and touched tasks past
        the caps (each looked at if asked). Each forgetting is a script that keeps what was
        used meanwhile; several replicas may sweep at once."""
        if not self._limits.bounded:
            return Swept()
        with self._sweeping():
            return self._sweep_alone(retention, spaces, tasks_)

    @contextmanager
    def _sweeping(self) -> Iterator[None]:
        """One sweep at a time among every replica on this prefix: two at once would each
        forget the oldest past a cap, one too many."""
        key, token = f"{self.prefix}:sweeping", os.urandom(8).hex()
        deadline = time.monotonic() + _SWEEP_LOCK_MS / 1000
        while not self._redis.set(key, token, nx=True, px=_SWEEP_LOCK_MS):
            if time.monotonic() > deadline:
                raise StoreUnavailable("redis store: another replica's sweep holds the lock")
            time.sleep(0.01)
        try:
            yield
        finally:
            self._unlock(keys=[key], args=[token])

    def _sweep_alone(self, retention: bool, spaces: bool, tasks_: bool) -> Swept:
        limits = self._limits
        now = self._now_ms()
        if not self._registered_old:
            self._register_old(now)
        cutoff = now - self._ttl_ms if retention and limits.retention is not None else None
        namespaces = tasks = 0
        if cutoff is not None:  # the list is by last use (at most a second old): idle first
            idle = self._redis.zrangebyscore(self._registry, "-inf", f"({cutoff}")
            n, t = self._forget_all([str(ns) for ns in idle], cutoff - 1)
            namespaces, tasks = namespaces + n, tasks + t
        cap = limits.max_namespaces
        for _attempt in range(5 if spaces and cap is not None else 0):
            assert cap is not None
            excess = int(self._redis.zcard(self._registry)) - cap
            if excess <= 0:
                break
            # Those used meanwhile are kept, listed at their use: the next look finds others.
            rows = self._redis.zrange(self._registry, 0, excess - 1, withscores=True)
            oldest = [(str(ns), int(used)) for ns, used in cast(list[tuple[str, float]], rows)]
            n, t = self._forget_all([ns for ns, _used in oldest], oldest[-1][1])
            namespaces, tasks = namespaces + n, tasks + t
        want_tasks = tasks_ and limits.max_tasks is not None
        if cutoff is not None or want_tasks:
            names = [str(ns) for ns in self._redis.zrange(self._registry, 0, -1)]
            if cutoff is not None and names:
                pipe = self._redis.pipeline(transaction=False)
                for ns in names:
                    keys = self._keys(ns)
                    args: list[str | int] = [keys.task_prefix, cutoff - 1]
                    self._drop(keys=[keys.index, keys.touched], args=args, client=pipe)
                tasks += sum(int(n) for n in pipe.execute())
            if want_tasks and names:
                assert limits.max_tasks is not None
                tasks += self._cap_tasks(names, limits.max_tasks)
        return Swept(namespaces, tasks)

    def _forget_all(self, names: list[str], until: int) -> tuple[int, int]:
        """Forget the namespaces not used after ``until`` (ms), unlist them, and list the others
        at their last use; (namespaces, tasks) forgotten."""
        if not names:
            return 0, 0
        pipe = self._redis.pipeline(transaction=False)
        for ns in names:
            keys = self._keys(ns)
            self._forget(keys=keys.whole, args=[keys.task_prefix, until], client=pipe)
        forgotten, used_since, tasks = [], {}, 0
        for ns, (n, used) in zip(names, pipe.execute(), strict=True):
            if int(n) >= 0:
                forgotten.append(ns)
                tasks += int(n)
            else:
                used_since[ns] = int(float(used))
        pipe = self._redis.pipeline(transaction=False)
        if forgotten:
            pipe.zrem(self._registry, *forgotten)
        if used_since:
            pipe.zadd(self._registry, used_since)
        pipe.execute()
        return len(forgotten), tasks

    def _register_old(self, now: int) -> None:
        """List namespaces made before the list was, used now (once per process: a SCAN)."""
        head, tail = f"{self.prefix}:{{", "}:space"
        pattern = _glob_escape(head) + "*" + _glob_escape(tail)
        for key in self._redis.scan_iter(match=pattern, count=1000):
            ns = unquote(str(key)[len(head) : -len(tail)])
            keys = self._keys(ns)
            if self._redis.zscore(self._registry, ns) is None:
                self._stamp(keys=[keys.space, keys.index, keys.touched], args=[now])
                self._redis.zadd(self._registry, {ns: now}, nx=True)
        self._registered_old = True

    def _cap_tasks(self, namespaces: list[str], cap: int) -> int:
        """Forget the least recently touched tasks past ``cap``, across namespaces."""
        pipe = self._redis.pipeline(transaction=False)
        for ns in namespaces:
            pipe.zcard(self._keys(ns).touched)
        excess = sum(int(n) for n in pipe.execute()) - cap
        if excess <= 0:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for ns in namespaces:
            pipe.zrange(self._keys(ns).touched, 0, excess - 1, withscores=True)
        oldest = heapq.nsmallest(
            excess,
            (
                (float(score), ns, str(task_id))
                for ns, rows in zip(namespaces, pipe.execute(), strict=True)
                for task_id, score in rows
            ),
        )
        chosen: dict[str, list[tuple[float, str]]] = {}
        for score, ns, task_id in oldest:
            chosen.setdefault(ns, []).append((score, task_id))
        pipe = self._redis.pipeline(transaction=False)
        for ns, rows in chosen.items():
            keys = self._keys(ns)
            newest = max(score for score, _id in rows)
            ids = [task_id for _score, task_id in rows]
            self._drop(
                keys=[keys.index, keys.touched], args=[keys.task_prefix, newest, *ids], client=pipe
            )
        return sum(int(n) for n in pipe.execute())

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
        self._sweeper.close()
        self._sender.close()
        self._redis.close()


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis MATCH pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
