"""notify_hook callbacks (the elkapi profile): POST a task to its hook once it has ended.

One ``Deliverer`` per service (per worker process). Lifecycles are computed from the clock at
read time, so nothing ticks per task: the deliverer computes when each task it tracks ends
(``lifecycle.terminal_after``, on the gateway's poll grid) and sleeps until the earliest, or
until the clock moves, a step is forced or a poll may have ended a task (``moved``, ``track``).
With a manual clock that is only ever the second. A background thread schedules; each attempt
runs in a thread of its own, so a receiver that hangs delays nothing else, and no request
thread ever waits on a receiver.

Exactly once per task: before the first attempt a worker claims the task through the store's
shared atomic counter (``fault_counter``), so of several workers that see a task end, one
sends. A worker that dies mid-delivery loses that callback (at most once, never twice).
Every attempt is a journal entry (``callback``: url, attempt, status or error), which the
admin API lists at ``GET /__mock/callbacks``; journal entries never hold API keys.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from mock_server.core.cache import BoundedCache
from mock_server.core.config import Config
from mock_server.core.hooks import HOOK_FIELD, backoff, refusal
from mock_server.core.lifecycle import TaskState, poll_phase, shown_after, terminal_after
from mock_server.core.media_urls import PLACEHOLDER, media_origin
from mock_server.core.record import TaskRecord
from mock_server.core.redact import redacted_url
from mock_server.core.scenarios import Scenario
from mock_server.errors import StoreUnavailable
from mock_server.service.rendered import StateTable
from mock_server.stores.base import Store
from mock_server.stores.urls import is_shared
from mock_server.version import version
from mock_server.wire import gojson

__all__ = ["ORIGIN_FIELD", "Deliverer", "callback_entries"]

log = logging.getLogger("mock_server")

# Where the submit reached the fake, kept with the hook: the callback's clip media URLs point
# there, as that client's own fetch would show them.
ORIGIN_FIELD = "notify_origin"
_FALLBACK_ORIGIN = "http://localhost"
_CLAIM = "callback:"  # fault_counter key prefix of a task's delivery claim
_MAX_SENDING = 8  # attempts in flight at once per worker; more wait for a slot
_ERROR_CHARS = 300
_STORE_RETRY = 1.0  # seconds before looking again at a task the store failed us on
_NEVER = math.inf
_PLACEHOLDER = PLACEHOLDER.encode()


class _Service(Protocol):
    """What the deliverer needs of MockService (which imports it: no import circle)."""

    config: Config
    store: Store
    states: StateTable

    def scenario_for(self, record: TaskRecord) -> Scenario: ...

    def state(
        self,
        record: TaskRecord,
        ns: str = "",
        scenario: Scenario | None = None,
        now: float | None = None,
    ) -> TaskState: ...

    def render(
        self, record: TaskRecord, ns: str = "", faults: Any = None, now: float | None = None
    ) -> dict[str, Any]: ...


@dataclass
class _Tracked:
    """A task with a hook that has not ended yet (as far as this worker knows)."""

    wake: float = 0.0  # time.monotonic() at which to look again (inf: when told to)
    polls_matter: bool = True  # whether a poll may end it (else only its clock or a pin can)


@dataclass(frozen=True)
class _Job:
    ns: str
    task_id: str
    owner: str
    url: str
    body: bytes
    attempt: int
    generation: int  # Deliverer.clear() since it was made: a later one drops it


def callback_entries(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The callback attempts among a namespace's journal entries, oldest first."""
    return [{"time": e["time"], **e["callback"]} for e in journal if e.get("callback")]


class Deliverer:
    """Sends each tracked task to its notify_hook once it has ended (see the module doc)."""

    def __init__(self, service: _Service) -> None:
        config = service.config
        self._service = service
        self.mode = config.callbacks
        self.attempts = config.callback_attempts
        self.timeout = config.callback_timeout
        self.first_pause = config.callback_backoff
        # Another process may submit, poll or move the clock: a namespace whose clock moved
        # here is searched whole for tasks to track. A memory store has no other process.
        self._shared = is_shared(config.store)
        self._cond = threading.Condition()
        self._tracked: dict[tuple[str, str], _Tracked] = {}
        self._look: set[tuple[str, str]] = set()  # look at these now
        self._scan: set[str] = set()  # namespaces to search for tasks to track
        self._retries: list[tuple[float, int, _Job]] = []  # heap by time.monotonic()
        self._shown: list[tuple[str, TaskRecord, dict[str, Any]]] = []  # ``shown``, to send
        self._done: BoundedCache[tuple[str, str], bool] = BoundedCache(65536)
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(_MAX_SENDING)
        self._headers = {"Content-Type": "application/json",
                         "User-Agent": f"suno-mock/{version()} (notify_hook)"}
        self._client: httpx.Client | None = None  # made on first use: it costs ~50 ms (TLS)
        self._busy = 0  # batches the scheduler is working on, attempts in flight
        self._generation = 0  # clear()s so far: work made before the last one is dropped
        self.attempts_logged = 0  # by this process: ``wait_logged`` waits for it to grow

    # what the service tells it (request threads: cheap, never blocking on the network) -----
    def track(self, ns: str, record: TaskRecord, *, changed: bool = False) -> None:
        """``record`` has a hook and was polled, or (``changed``) submitted or pinned: look at
        it, unless only its clock can end it now (the clock's moves are ``moved``)."""
        key = (ns, record.task_id)
        if self._done.get(key):
            return
        with self._cond:
            tracked = self._tracked.get(key)
            if tracked is not None and not changed and (
                tracked.wake != _NEVER or not tracked.polls_matter
            ):
                return  # a poll changes nothing: the request thread is done here
            self._tracked.setdefault(key, _Tracked())
            self._look.add(key)
            self._kick()

    def resume(self) -> None:
        """After a (re)start on a store that outlives the process: track the default
        namespace's tasks with a hook that were not sent (others: once touched, ``moved``)."""
        if self._shared:
            with self._cond:
                self._scan.add("")
                self._kick()

    def moved(self, ns: str) -> None:
        """``ns``'s clock moved (advance, set, speed) or a reset: look again at its tasks."""
        with self._cond:
            if self._shared:
                self._scan.add(ns)
            keys = [k for k in self._tracked if k[0] == ns]
            self._look.update(keys)
            if keys or self._shared:
                self._kick()

    def shown(self, ns: str, record: TaskRecord, task: dict[str, Any]) -> None:
        """A fetch showed ``task`` ended although its facts may not have (a fault rule's view):
        send what it showed, if the task was not sent already."""
        if self._done.get((ns, record.task_id)):
            return
        with self._cond:
            self._tracked.pop((ns, record.task_id), None)
            self._shown.append((ns, record, task))
            self._kick()

    def close(self) -> None:
        """Let go of the HTTP client (attempts still running fail, and say so)."""
        with self._cond:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def clear(self) -> None:
        """Forget every tracked task, queued retry and sent mark (MockService.clear): work
        made before now is dropped, and an attempt already in flight is not journaled."""
        with self._cond:
            self._generation += 1
            self._tracked.clear()
            self._look.clear()
            self._scan.clear()
            self._shown.clear()
            self._retries.clear()
            self._done.clear()

    # the scheduler thread ------------------------------------------------------------------
    def _kick(self) -> None:
        """Wake the scheduler, starting it if it stopped (call with the lock held)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="suno-mock-callbacks",
                                            daemon=True)
            self._thread.start()
        else:
            self._cond.notify()

    def _run(self) -> None:
        try:
            while self._batch():
                pass
        finally:
            with self._cond:  # however it ended, the next kick starts a scheduler again
                self._thread = None
                self._cond.notify_all()

    def _batch(self) -> bool:
        """Do what is due; False when nothing will be (the scheduler stops until kicked)."""
        with self._cond:
            work = self._next_work()
            if work is None:
                return False
            self._busy += 1
            generation = self._generation
        try:
            scan, look, jobs, shown = work
            for ns, record, task in shown:
                if not self._guard(self._send_shown, ns, record, task, generation):
                    self._look_later((ns, record.task_id))
            for ns in scan:
                self._guard(self._search, ns, generation)
            for key in look:
                if not self._guard(self._look_at, *key, generation):
                    self._look_later(key)
            for job in jobs:
                self._guard(self._start, job)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()
        return True

    def _send_shown(self, ns: str, record: TaskRecord, task: dict[str, Any],
                    generation: int) -> None:
        self._claim_and_send(ns, record, self._media(record, ns, gojson.dumpb(task)), generation)

    def _look_later(self, key: tuple[str, str]) -> None:
        """The store failed us on ``key``: look at it again soon rather than when told (a
        poll of a task only its clock ends would never tell)."""
        with self._cond:
            self._tracked[key] = _Tracked(wake=time.monotonic() + _STORE_RETRY)

    def wait_logged(self, seen: int, timeout: float) -> int:
        """Wait until this process has journaled more than ``seen`` attempts (or ``timeout``
        seconds pass); the count now."""
        with self._cond:
            self._cond.wait_for(lambda: self.attempts_logged > seen, timeout)
            return self.attempts_logged

    def drain(self, timeout: float) -> bool:
        """Wait until the deliverer has looked at everything it was told about and no attempt
        is in flight (retries and ends still to come may remain); False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._scan or self._look or self._shown or self._busy)
                and not any(t.wake <= time.monotonic() for t in self._tracked.values())
                and not (self._retries and self._retries[0][0] <= time.monotonic()),
                timeout,
            )

    def _next_work(
        self,
    ) -> tuple[set[str], set[tuple[str, str]], list[_Job], list[Any]] | None:
        """What is due now, waiting (lock held) until something is; None: nothing will be."""
        while True:
            now = time.monotonic()
            for key, tracked in self._tracked.items():
                if tracked.wake <= now:
                    self._look.add(key)
            jobs = []
            while self._retries and self._retries[0][0] <= now:
                jobs.append(heapq.heappop(self._retries)[2])
            if self._scan or self._look or jobs or self._shown:
                scan, look, shown = self._scan, self._look, self._shown
                self._scan, self._look, self._shown = set(), set(), []
                for key in look:
                    if key in self._tracked:
                        self._tracked[key].wake = _NEVER  # until _look_at says when
                return scan, look, jobs, shown
            wake = min((t.wake for t in self._tracked.values()), default=_NEVER)
            if self._retries:
                wake = min(wake, self._retries[0][0])
            if wake == _NEVER:
                return None
            self._cond.wait(max(wake - now, 0.0))

    @staticmethod
    def _guard(work: Any, *args: Any) -> bool:
        """Run ``work``; False if the store was unavailable (logged), else True."""
        try:
            work(*args)
        except StoreUnavailable as exc:
            log.warning("notify_hook: store unavailable (%s); will look again", exc)
            return False
        except Exception:  # a bug of ours must not stop every later callback
            log.exception("notify_hook: unexpected error")
        return True

    def _search(self, ns: str, generation: int) -> None:
        """Track every task of ``ns`` with a hook (another worker may have taken its submit)."""
        for record in self._service.store.tasks(ns):
            if record.request.get(HOOK_FIELD) and not self._done.get((ns, record.task_id)):
                with self._cond:
                    self._tracked.setdefault((ns, record.task_id), _Tracked())
                self._look_at(ns, record.task_id, generation)

    def _look_at(self, ns: str, task_id: str, generation: int) -> None:
        """Send the task if it has ended; else note when it will, on its clock."""
        service = self._service
        record = service.store.find(ns, task_id)
        if record is None or not record.request.get(HOOK_FIELD):
            with self._cond:
                self._tracked.pop((ns, task_id), None)  # reset away
            return
        clock = service.store.clock(ns)
        now = clock.now()
        scenario = service.scenario_for(record)
        state = service.state(record, ns, scenario, now)
        if scenario.steps[state.step].terminal:
            with self._cond:
                self._tracked.pop((ns, task_id), None)
            self._claim_and_send(ns, record, self._payload(record, ns, now), generation)
            return
        wake = _NEVER
        after = terminal_after(scenario, record.polls, record.forced_step)
        if after is not None and clock.speed > 0:
            interval = service.states.poll_interval
            ends = record.submit_time + shown_after(after, interval, poll_phase(task_id, interval))
            # A millisecond late: at the very instant, float rounding may still show it open.
            wake = time.monotonic() + max(ends - now, 0.0) / clock.speed + 0.001
        with self._cond:
            tracked = self._tracked.get((ns, task_id))
            if tracked is not None:
                tracked.wake = wake
                tracked.polls_matter = after is None and record.forced_step is None

    def _payload(self, record: TaskRecord, ns: str, now: float) -> bytes:
        """The task as a fetch by its owner shows it at ``now`` (Go-style JSON)."""
        task = self._service.render(record, ns, None, now)
        return self._media(record, ns, getattr(task, "wire", None) or gojson.dumpb(dict(task)))

    def _media(self, record: TaskRecord, ns: str, body: bytes) -> bytes:
        """``body`` with its clips' media URLs on the fake where the submit reached it."""
        if _PLACEHOLDER not in body:
            return body
        base = (self._service.config.media_base_url or record.request.get(ORIGIN_FIELD)
                or _FALLBACK_ORIGIN)
        return body.replace(_PLACEHOLDER, gojson.dumpb(media_origin(base, ns))[1:-1])

    def _claim_and_send(self, ns: str, record: TaskRecord, body: bytes, generation: int) -> None:
        key = (ns, record.task_id)
        if generation != self._generation:
            return  # found before a clear(): that test is over
        # A StoreUnavailable here: not claimed by anyone yet, as far as we know (_look_later).
        claimed = self._service.store.fault_counter(ns, _CLAIM + record.task_id) == 1
        self._done.put(key, True)
        if not claimed:
            return  # another worker (or an earlier life of this one) has it
        url = str(record.request[HOOK_FIELD])
        refused = refusal(url, self.mode)
        if refused is not None:
            self._journal(ns, record.owner, url, 0, None, refused, "refused", 0.0,
                          record.task_id)
            return
        self._start(_Job(ns, record.task_id, record.owner, url, body, 1, generation))

    # attempts --------------------------------------------------------------------------------
    def _start(self, job: _Job) -> None:
        with self._cond:
            if job.generation != self._generation:
                return  # made before a clear(): that test is over
            self._busy += 1
        try:
            threading.Thread(target=self._send, args=(job,), name="suno-mock-callback",
                             daemon=True).start()
        except BaseException:
            with self._cond:
                self._busy -= 1
            raise

    def _http(self) -> httpx.Client:
        with self._cond:
            if self._client is None:
                # trust_env off: the fake calls where the hook says, never through a proxy.
                self._client = httpx.Client(timeout=self.timeout, trust_env=False)
            return self._client

    def _send(self, job: _Job) -> None:
        try:
            self._attempt(job)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        with self._slots:
            started = time.perf_counter()
            status: int | None = None
            error: str | None = None
            try:
                status = self._http().post(job.url, content=job.body, headers=self._headers
                                           ).status_code
            except httpx.TimeoutException:
                error = f"timed out after {self.timeout:g} s"
            except Exception as exc:  # refused, reset, bad TLS, ...: the receiver's problem
                error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
            took = time.perf_counter() - started
        if job.generation != self._generation:
            return  # cleared while it was in flight: the next test must not see it
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
        elif job.attempt >= self.attempts:
            outcome = "failed"
        else:
            outcome = "retrying"
        self._guard(self._journal, job.ns, job.owner, job.url, job.attempt, status, error,
                    outcome, took, job.task_id)
        if outcome == "retrying":
            when = time.monotonic() + backoff(job.attempt, self.first_pause)
            retry = _Job(job.ns, job.task_id, job.owner, job.url, job.body, job.attempt + 1,
                         job.generation)
            with self._cond:
                heapq.heappush(self._retries, (when, next(self._order), retry))
                self._kick()

    def _journal(
        self,
        ns: str,
        owner: str,
        url: str,
        attempt: int,
        status: int | None,
        error: str | None,
        outcome: str,
        took: float,
        task_id: str = "",
    ) -> None:
        store = self._service.store
        shown = redacted_url(url)
        store.journal_append(ns, {
            "time": store.clock(ns).now(),
            "method": "POST",
            "path": shown,
            "status": status or 0,
            "owner": owner,
            "request_id": None,
            "body": None,
            "faults": None,
            "callback": {
                "task_id": task_id,
                "url": shown,
                "attempt": attempt,
                "max_attempts": self.attempts,
                "status": status,
                "error": error,
                "outcome": outcome,
                "wall_time": time.time(),
                "duration": round(took, 6),
            },
        })
        with self._cond:
            self.attempts_logged += 1
            self._cond.notify_all()
