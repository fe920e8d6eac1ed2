"""Breaking a connection from inside a WSGI app, on whichever server is running it.

WSGI has no "drop this connection" call, so each server needs its own trick:

- werkzeug's and gunicorn's servers hand us the socket: shut it down, then raise a
  ``ConnectionResetError`` into the server, which both treat as a client that went away (quietly).
- granian owns its sockets (Rust/hyper) and a Python exception there is logged with a traceback,
  so nothing is raised: hyper refuses to send a response whose Content-Length is not a number and
  closes the connection instead, and closes it too when a body ends short of its Content-Length.
- in process (Flask's test client, httpx.WSGITransport) there is no connection: the exception
  reaches the caller, and a hang raises ``TimeoutError`` at once (those transports have no
  timeout to run into).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["HELD_KEY", "SERVER_KEY", "STREAMED_KEY", "ConnectionDropped", "Wire", "hold_answer"]

# Under ``suno-mock serve`` (mock_server/server.py) no request thread sleeps for a fault: the
# server marks each environ with SERVER_KEY, a latency fault leaves its delay under HELD_KEY and
# the server holds the finished answer back that long; a broken transport's body (below) is
# marked STREAMED_KEY and the server sends it from a thread of its own.
SERVER_KEY = "suno_mock.server"
HELD_KEY = "suno_mock.held"
STREAMED_KEY = "suno_mock.streamed"

_UNSENDABLE_LENGTH = "dropped"  # hyper will not send this header: it drops the connection
_FLUSH_PAUSE = 0.05  # lets granian write the head and the cut body before the body ends short


def hold_answer(
    environ: dict[str, Any],
    seconds: float,
    wait: Callable[[float], Any],
    cut: Callable[[], bool],
) -> None:
    """Delay this request's answer by ``seconds`` (a latency fault).

    ``wait`` sleeps and ``cut`` tells whether a clear of the faults ended the wait early. On
    ``suno-mock serve`` the route runs now and its answer leaves later; elsewhere this thread
    sleeps before the route (a test server has a thread per request).
    """
    if environ.get(SERVER_KEY):
        environ[HELD_KEY] = (seconds, wait, cut)
    else:
        wait(seconds)


class ConnectionDropped(ConnectionResetError):
    """A fault closed the connection (raised into the server, or to an in-process caller)."""


class Wire:
    """The connection of one request, and how to spoil it on this server."""

    def __init__(self, environ: dict[str, Any], wait: Callable[[float], Any]) -> None:
        sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        self._sock = sock if isinstance(sock, socket.socket) else None
        self._granian = environ.get("SERVER_SOFTWARE") == "Granian"
        self._wait = wait  # bounded sleep that a clear of the faults cuts short
        self._environ = environ

    def _drop(self, what: str) -> ConnectionDropped:
        if self._sock is not None:
            # Otherwise a keep-alive server would wait on the connection for a next request.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        return ConnectionDropped(errno.ECONNRESET, f"suno-mock fault: {what}")

    def disconnect(self) -> tuple[Iterator[bytes], dict[str, str]]:
        """A body and headers that make the server close the connection without a response."""
        if self._granian:
            self._environ[STREAMED_KEY] = True  # see SERVER_KEY
            return iter([b""]), {"Content-Length": _UNSENDABLE_LENGTH}
        return self._raising(b"", "connection closed without a response"), {}

    def truncated(self, cut: bytes) -> Iterator[bytes]:
        """A body that stops after ``cut``, then a closed connection (Content-Length says more)."""
        if self._granian:
            self._environ[STREAMED_KEY] = True
            return self._short(cut, lambda: time.sleep(_FLUSH_PAUSE))
        return self._raising(cut, "connection closed mid-body")

    def stalled(self, prefix: bytes, seconds: float) -> Iterator[bytes]:
        """Headers and ``prefix``, then nothing for ``seconds``, then a closed connection."""
        if self._granian:
            self._environ[STREAMED_KEY] = True
            return self._short(prefix, lambda: self._wait(seconds))
        return self._stalling(prefix, seconds)

    def _raising(self, prefix: bytes, what: str) -> Iterator[bytes]:
        if prefix:
            yield prefix
        raise self._drop(what)

    @staticmethod
    def _short(prefix: bytes, pause: Callable[[], Any]) -> Iterator[bytes]:
        yield prefix
        pause()  # then the body ends short of its Content-Length: hyper closes the connection

    def _stalling(self, prefix: bytes, seconds: float) -> Iterator[bytes]:
        yield prefix  # even b"": werkzeug and gunicorn send the status line and headers now
        if self._sock is None:
            raise TimeoutError(f"suno-mock fault: the response stalls for {seconds:g} s (hang)")
        self._wait(seconds)
        raise self._drop("response abandoned after the hang")
