"""How a granian worker hands requests to the app, so that no slow client and no fault starves it.

granian hands a request to one of its Python threads as soon as the headers are in; a WSGI body
read blocks that thread until the bytes arrive, with no timeout (granian has none:
emmett-framework/granian#728), and the body cannot be read once that call has returned. Its own
dispatch then runs the app on the same thread. Here instead (``Dispatch``, installed in place
of granian's WSGI wrapper):

- The thread reads the body to the end *before* the app runs. A body without progress for
  ``body_timeout`` seconds is answered 408 and its connection closed (``Watchdog``); while more
  than ``SPARE_READS`` bodies are being read at once, a body stalled for ``CROWDED_GRACE``
  seconds is, and while ``FULL_READS`` are, one stalled for ``FULL_GRACE``. granian has
  ``threads + SPARE_READS + 2`` threads: a stalled upload holds a thread, never a request
  slot, and stalled uploads cannot hold them all for long (a flood of them still delays the
  rest: requests wait in granian's queue behind them, about 60 ms per round of threads).
- At most ``threads`` requests run app code at once. A thread that finds every slot taken queues
  its request and goes back to granian; a thread holding a slot runs the queue until it is
  empty. No thread waits for a slot, so granian's threads stay few and busy, as with its own
  dispatch (bench/).
- No thread sleeps for a fault. A latency fault's answer is held back by one timer thread
  (``Held``); a broken transport's answer (truncate, hang, disconnect) is sent from a thread of
  its own, at most ``STREAMS_PER_WORKER`` at once and ``STREAMS_PER_NAMESPACE`` per namespace:
  past that, such a request's connection is closed at once (what a hang ends in anyway).
"""

from __future__ import annotations

import collections
import heapq
import io
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mock_server.core.ids import new_request_id
from mock_server.faults.transport import HELD_KEY, SERVER_KEY, STREAMED_KEY
from mock_server.wire import gojson
from mock_server.wire.envelopes import JSON_UTF8
from mock_server.wire.request import NAMESPACE_HEADER, environ_key

__all__ = [
    "BODY_TIMEOUT",
    "CROWDED_GRACE",
    "FULL_GRACE",
    "FULL_READS",
    "SPARE_READS",
    "STREAMS_PER_NAMESPACE",
    "STREAMS_PER_WORKER",
    "Dispatch",
    "install",
    "threads_for_granian",
]

log = logging.getLogger("mock_server")

BODY_TIMEOUT = 10.0  # seconds without progress on a request body before its 408
SPARE_READS = 4  # bodies read at once (beyond the slots) before slow ones are cut short
CROWDED_GRACE = 0.5  # seconds a body may stall while more than SPARE_READS are being read
FULL_READS = 2 * SPARE_READS  # bodies read at once that leave granian (nearly) no thread ...
FULL_GRACE = 0.05  # ... and how long one may stall then
STREAMS_PER_WORKER = 256  # broken-transport answers being sent at once, per worker
STREAMS_PER_NAMESPACE = 64  # ... of which one namespace may have
_BODY_CHUNK = 64 * 1024  # a body is read in pieces of this size; each one resets the timeout
_WATCH_EVERY = 0.1  # how often the watchdog looks for overdue bodies
_LAG_DECAY = 0.9  # per look: how fast a late wake of the watchdog is forgotten
_FLUSH_PAUSE = 0.05  # lets granian write a 408 before its connection is dropped
_CUT_EVERY = 0.1  # how often held answers check whether a clear of the faults released them
_NAMESPACE_ENVIRON = environ_key(NAMESPACE_HEADER)

Environ = dict[str, Any]
WSGIApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]
_HeldAnswer = tuple[float, int, Callable[[], bool], Callable[[], None]]  # at, order, cut, send

# What granian's own wrapper puts in every environ, minus its copy of os.environ (a request's
# environ is no place for the server's secrets, and copying it cost every request).
_BASE_ENVIRON: Environ = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SCRIPT_NAME": "",
    "SERVER_SOFTWARE": "Granian",
    "wsgi.errors": sys.stderr,
    "wsgi.input_terminated": True,
    "wsgi.multiprocess": False,
    "wsgi.multithread": True,
    "wsgi.run_once": False,
    "wsgi.version": (1, 0),
    SERVER_KEY: True,
}


class _StartResponse:
    __slots__ = ("headers", "status")

    def __init__(self) -> None:
        self.status = 200
        self.headers: Headers = []

    def __call__(self, status: str, headers: Headers, exc_info: Any = None) -> None:
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers


class _Closing:
    """A response iterable as granian's ``response_iter`` wants it: ``__next__`` and ``close``."""

    __slots__ = ("__next__", "inner")

    def __init__(self, inner: Iterable[bytes]) -> None:
        self.inner = inner
        self.__next__ = iter(inner).__next__

    def close(self) -> None:
        _close(self.inner)


def _close(iterable: Iterable[bytes]) -> None:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


# --- bodies ------------------------------------------------------------------------------------


class _Upload:
    """A body being read: since when it has made no progress, and whether it was answered."""

    __slots__ = ("proto", "since", "timed_out")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.since = time.monotonic()
        self.timed_out = False


class Watchdog:
    """Answers 408 for bodies that stopped arriving, which closes their connections.

    A body may make no progress for ``timeout`` seconds. Each body being read holds one of
    granian's few threads, so stalled clients must not keep them: while more than ``spare``
    bodies are being read at once, a body may stall for ``grace`` seconds; while ``full`` or
    more are, for ``full_grace`` seconds.

    A stall is measured in the process's own time: under CPU load a reading thread whose body
    is all in may wait for the GIL longer than ``full_grace``, which is no slow client. The
    watchdog waits for the GIL like any reader, so how late its own wakes are (``lag``, decaying)
    is added to every grace: a flood of stalled uploads costs no CPU and keeps the short grace.

    The reading thread stays blocked inside granian until its connection goes away, so the
    answer goes from here: a 408 streamed one byte short of its Content-Length, which makes
    hyper close the connection after it (it keeps open a connection whose request body is still
    being read, even after ``Connection: close``); then the blocked read returns.
    """

    def __init__(
        self,
        timeout: float,
        spare: int = SPARE_READS,
        grace: float = CROWDED_GRACE,
        full: int = FULL_READS,
        full_grace: float = FULL_GRACE,
    ) -> None:
        self.timeout = timeout
        self.spare, self.grace = spare, min(grace, timeout)
        self.full, self.full_grace = full, min(full_grace, timeout)
        self._uploads: set[_Upload] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self.lag = 0.0  # seconds: how late the watchdog's recent wakes were (see the class doc)

    def start(self, proto: Any) -> _Upload:
        upload = _Upload(proto)
        with self._lock:
            self._uploads.add(upload)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="suno-mock-body-watchdog", daemon=True
                )
                self._thread.start()
            if len(self._uploads) == self.full:
                self._wake.notify()  # look more often from now on
        return upload

    @staticmethod
    def progressed(upload: _Upload) -> None:
        upload.since = time.monotonic()

    def finish(self, upload: _Upload) -> bool:
        """The read is over; False if the watchdog answered it already."""
        with self._lock:
            self._uploads.discard(upload)
            return not upload.timed_out

    def allowed(self, reading: int) -> float:
        """How long a body may stall while ``reading`` bodies are being read."""
        if reading >= self.full:
            grace = self.full_grace
        else:
            grace = self.grace if reading > self.spare else self.timeout
        return min(grace + 2 * self.lag, self.timeout)

    def woke(self, asked: float, wait: float, now: float) -> None:
        """The watchdog asked at ``asked`` to sleep ``wait`` s and runs again at ``now``."""
        self.lag = max(now - asked - wait, self.lag * _LAG_DECAY, 0.0)

    def _watch(self) -> None:
        while True:
            with self._lock:
                crowded = len(self._uploads) >= self.full
                wait = self.full_grace / 2 if crowded else _WATCH_EVERY
                asked = time.monotonic()
                notified = self._wake.wait(wait)
                now = time.monotonic()
                self.woke(asked, 0.0 if notified else wait, now)
                allowed = self.allowed(len(self._uploads))
                overdue = [u for u in self._uploads if now - u.since >= allowed]
                for upload in overdue:
                    upload.timed_out = True
                    self._uploads.discard(upload)
            for upload in overdue:
                # A thread each: an answer takes a flush pause.
                threading.Thread(
                    target=_answer_timeout, args=(upload.proto, self.timeout), daemon=True
                ).start()


def _answer_timeout(proto: Any, timeout: float) -> None:
    body = gojson.dumpb(
        {
            "code": "read_request_body_failed",
            "message": f"request body not received: no progress for {timeout:g} s",
            "data": None,
        }
    )
    headers = [
        ("Content-Type", JSON_UTF8),
        ("Content-Length", str(len(body) + 1)),  # one byte short: hyper then drops the line
        ("Connection", "close"),
        ("X-Oneapi-Request-Id", new_request_id()),
    ]
    try:
        proto.response_iter(408, headers, _Closing(_then_pause(body)))
    except Exception:  # the connection may be gone already
        log.debug("could not answer an overdue body", exc_info=True)


def _then_pause(body: bytes) -> Iterator[bytes]:
    yield body
    time.sleep(_FLUSH_PAUSE)  # as faults/transport.py does for a truncated answer


def _body_length(environ: Environ, limit: int) -> int:
    """How many bytes to read before the app runs: 0 for none (also for a declared length over
    the limit: the app answers 413 without reading it)."""
    length = environ.get("CONTENT_LENGTH", "")
    if length:
        if not (length.isascii() and length.isdigit()):
            return 0
        return int(length) if int(length) <= limit else 0
    if "HTTP_TRANSFER_ENCODING" in environ:
        return limit + 1  # chunked: up to one byte past the limit, so the app sees it is over
    return 0


# --- held answers and streamed answers ----------------------------------------------------------


class Held:
    """Answers a latency fault holds back: one thread sends each when its time comes, or as
    soon as a clear of the faults releases it."""

    def __init__(self) -> None:
        self._heap: list[_HeldAnswer] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, seconds: float, cut: Callable[[], bool], send: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), cut, send))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="suno-mock-held-answers", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                now = time.monotonic()
                due: list[_HeldAnswer] = []
                kept: list[_HeldAnswer] = []
                for item in self._heap:
                    (due if item[0] <= now or item[2]() else kept).append(item)
                if due:
                    heapq.heapify(kept)
                    self._heap = kept
                else:
                    self._wake.wait(min(self._heap[0][0] - now, _CUT_EVERY))
            for _at, _n, _cut, send in due:
                try:
                    send()
                except Exception:
                    log.exception("a held answer could not be sent")


class _Streams:
    """Threads that send broken-transport answers, counted per worker and per namespace."""

    def __init__(self, per_worker: int, per_namespace: int) -> None:
        self.per_worker = per_worker
        self.per_namespace = per_namespace
        self._lock = threading.Lock()
        self._total = 0
        self._by_ns: dict[str, int] = {}

    def take(self, ns: str) -> bool:
        with self._lock:
            if self._total >= self.per_worker or self._by_ns.get(ns, 0) >= self.per_namespace:
                return False
            self._total += 1
            self._by_ns[ns] = self._by_ns.get(ns, 0) + 1
            return True

    def give_back(self, ns: str) -> None:
        with self._lock:
            self._total -= 1
            left = self._by_ns[ns] - 1
            if left:
                self._by_ns[ns] = left
            else:
                del self._by_ns[ns]


def _drop(proto: Any) -> None:
    """Close the connection without an answer (hyper will not send this Content-Length)."""
    proto.response_iter(200, [("Content-Length", "dropped")], _Closing([b""]))


# --- the dispatcher ------------------------------------------------------------------------------


class Dispatch:
    """Our stand-in for granian's WSGI callback wrapper (the same protocol calls): bodies read
    before the app runs, app code on ``threads`` slots at a time, no thread asleep for a fault."""

    def __init__(
        self,
        app: WSGIApp,
        threads: int,
        *,
        body_timeout: float = BODY_TIMEOUT,
        limit: int = 8 * 1024 * 1024,
        streams: tuple[int, int] = (STREAMS_PER_WORKER, STREAMS_PER_NAMESPACE),
    ) -> None:
        self.app = app
        self.limit = limit
        self.watchdog = Watchdog(body_timeout)
        self.held = Held()
        self.streams = _Streams(*streams)
        self._lock = threading.Lock()
        self._free = threads
        self._queue: collections.deque[tuple[Any, Environ]] = collections.deque()

    def __call__(self, proto: Any, scope: Environ) -> int:
        environ = _BASE_ENVIRON | scope
        length = _body_length(environ, self.limit)
        if length:
            # On this thread: granian drops the body once this call returns.
            body = self._read(proto, environ["wsgi.input"], length)
            if body is None:
                return 408
            environ["wsgi.input"] = io.BytesIO(body)
            if not environ.get("CONTENT_LENGTH"):
                # A chunked body, now read: its length tells the app whether it is over the
                # limit (413), as a declared one would.
                environ["CONTENT_LENGTH"] = str(len(body))
                environ.pop("HTTP_TRANSFER_ENCODING", None)
        self._take_turn(proto, environ)
        return 0

    def _take_turn(self, proto: Any, environ: Environ) -> None:
        """Run the request on a free slot, then whatever queued meanwhile; or queue it."""
        job = (proto, environ)
        with self._lock:
            if not self._free:
                self._queue.append(job)  # a thread holding a slot will run it
                return
            self._free -= 1
        while True:
            self._run(*job)
            with self._lock:
                if not self._queue:
                    self._free += 1
                    return
                job = self._queue.popleft()

    def _read(self, proto: Any, stream: Any, length: int) -> bytes | None:
        """Up to ``length`` bytes (fewer if the body ends); None if the watchdog answered."""
        upload = self.watchdog.start(proto)
        chunks = []
        got = 0
        try:
            while got < length:
                want = min(_BODY_CHUNK, length - got)
                data = stream.read(want)
                if upload.timed_out:
                    break
                chunks.append(data)
                got += len(data)
                if len(data) < want:  # the body ended (or the client went away)
                    break
                self.watchdog.progressed(upload)
        finally:
            ours = self.watchdog.finish(upload)
        return b"".join(chunks) if ours else None

    def _run(self, proto: Any, environ: Environ) -> None:
        """Run the app for one request and send (or hand over) its answer. Never raises."""
        start_response = _StartResponse()
        try:
            result = self.app(environ, start_response)
            status, headers = start_response.status, start_response.headers
            held = environ.get(HELD_KEY)
            if environ.get(STREAMED_KEY):
                self._stream(proto, environ, status, headers, result, held)
                return
            if isinstance(result, list):
                body = b"".join(result)
            else:
                try:
                    body = b"".join(result)
                finally:
                    _close(result)
        except Exception:
            log.exception("unhandled error on %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            proto.response_bytes(500, [], b"")
            return
        if held is None:
            proto.response_bytes(status, headers, body)
            return
        seconds, _wait, cut = held

        def send() -> None:
            proto.response_bytes(status, headers, body)

        self.held.add(seconds, cut, send)

    def _stream(
        self,
        proto: Any,
        environ: Environ,
        status: int,
        headers: Headers,
        result: Iterable[bytes],
        held: tuple[float, Callable[[float], Any], Callable[[], bool]] | None,
    ) -> None:
        """A broken transport's answer (it may stall): from a thread of its own, if one is
        left for this namespace; else the connection is closed at once."""
        ns = str(environ.get(_NAMESPACE_ENVIRON, ""))
        if not self.streams.take(ns):
            log.warning("too many stalled answers at once (namespace %r): connection closed", ns)
            _close(result)
            _drop(proto)
            return

        def send() -> None:
            try:
                if held is not None:
                    held[1](held[0])  # the latency first (a clear of the faults cuts it short)
                proto.response_iter(status, headers, _Closing(result))
            except Exception:
                log.exception("a streamed answer could not be sent")
            finally:
                self.streams.give_back(ns)

        threading.Thread(target=send, name="suno-mock-stream", daemon=True).start()


def threads_for_granian(threads: int) -> int:
    """granian's blocking threads: the slots, the spare body reads, two to take new requests.

    Few on purpose: a thread per connection would make stalled bodies free, but granian wakes a
    parked thread for each request then, which cost 40-70 % more CPU per request at 32
    connections (measured against this).
    """
    return threads + SPARE_READS + 2


def install(app: WSGIApp, threads: int, *, body_timeout: float, limit: int) -> None:
    """Make this granian worker process call ``Dispatch`` instead of granian's WSGI wrapper.

    Runs in the worker (from the loader ``serve`` hands granian), before granian wraps the app
    the loader returned: granian looks its wrapper up then. tests/test_serve_robustness.py
    fails if a granian release moves it.
    """
    import granian
    import granian.server.mp as granian_mp

    if not hasattr(granian_mp, "_wsgi_call_wrap"):
        raise RuntimeError(
            f"granian {granian.__version__} has no granian.server.mp._wsgi_call_wrap: "
            "suno-mock serve needs the granian version pinned in pyproject.toml"
        )
    dispatch = Dispatch(app, threads, body_timeout=body_timeout, limit=limit)

    def wrap(
        callback: Callable[..., Any], scope_opts: dict[str, Any], access_log_fmt: Any = None
    ) -> Any:
        return dispatch

    granian_mp._wsgi_call_wrap = wrap
