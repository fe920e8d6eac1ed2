"""Operating the fake as a service: /healthz, /readyz, store outages on the wire, access log."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, g, request

from mock_server.errors import StoreUnavailable
from mock_server.service.mock_service import MockService
from mock_server.service.pipeline import Call
from mock_server.stores.base import Store
from mock_server.web.responses import json_response
from mock_server.wire.envelopes import WireError, gateway_error, task_error
from mock_server.wire.request import namespace_for_log

__all__ = [
    "DB_ERROR_MESSAGE",
    "READY_FOR",
    "install_access_log",
    "ops_blueprint",
    "write_access_line",
]

log = logging.getLogger("mock_server")
access_log = logging.getLogger("mock_server.access")

# new-api's TokenAuth text for a database error (2026 i18n wording, reference §2).
DB_ERROR_MESSAGE = "Database error, please contact the administrator"
READY_FOR = 1.0  # seconds a worker keeps its readiness answer: probes stay cheap
_BACKENDS = {"MemoryStore": "memory", "SQLiteStore": "sqlite", "RedisStore": "redis"}



def _outage(error: StoreUnavailable, gateway_error_code: bool) -> WireError:
    """What the gateway answers when its database fails, by route (reference §2, §3)."""
    path = request.path
    if path == "/suno/fetch":
        return task_error(500, "get_tasks_failed", str(error))
    if path.startswith("/suno/fetch/"):
        return task_error(500, "get_task_failed", str(error))
    if path.startswith("/__mock/"):
        # Our own admin API: a plain retryable answer for test harnesses.
        return task_error(503, "store_unavailable", str(error))
    return gateway_error(
        500, DB_ERROR_MESSAGE, g.get("request_id", ""), with_code=gateway_error_code
    )


def _enable_access_log() -> None:
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False


def write_access_line(call: Call, status: int, size: int | None, remote: str | None) -> None:
    """The access log's line for ``call``: one JSON object; the owner is a digest, the API key
    is never logged. The fast path (web/hot.py) writes its requests' lines through this too."""
    access_log.info(
        json.dumps(
            {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "method": call.method,
                "path": call.path,
                "status": status,
                "ms": round((time.perf_counter() - call.started) * 1000, 3),
                "bytes": size,
                "namespace": call.ns,
                "owner": call.owner,
                "request_id": call.request_id,
                "remote": remote,
            },
            separators=(",", ":"),
        )
    )


def install_access_log(app: Flask) -> Callable[[Response], Response]:
    """Log every request as a JSON line on stderr (``--access-log``); the hook it added."""
    _enable_access_log()

    @app.after_request
    def _access_line(response: Response) -> Response:
        call: Call | None = g.get("call")
        if call is None:  # refused before it became a call: a namespace too long to use
            line = {"method": request.method, "path": request.path,
                    "status": response.status_code, "namespace": namespace_for_log(request.environ),
                    "remote": request.remote_addr}
            access_log.info(json.dumps(line, separators=(",", ":")))
            return response
        write_access_line(
            call, response.status_code, response.calculate_content_length(), request.remote_addr
        )
        return response

    return _access_line


class _Readiness:
    """Whether the store takes writes: a small write (``Store.probe_write``) at most once per
    READY_FOR seconds in a worker, whatever the rate of probes; the answer between."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._at = -math.inf
        self._ready = False
        self._why = ""

    def __call__(self) -> bool:
        if time.monotonic() - self._at < READY_FOR:
            return self._ready
        with self._lock:  # one probe at a time; the others take its answer
            if time.monotonic() - self._at >= READY_FOR:
                try:
                    self._store.probe_write()
                    ready, why = True, ""
                except StoreUnavailable as exc:
                    ready, why = False, str(exc)
                if not ready and why != self._why:  # once per outage (and reason), not per probe
                    log.warning("not ready: %s", why)
                self._ready, self._why, self._at = ready, why, time.monotonic()
        return self._ready


def ops_blueprint(service: MockService) -> Blueprint:
    bp = Blueprint("suno_mock_ops", __name__)
    backend = _BACKENDS.get(type(service.store).__name__, type(service.store).__name__)
    gateway_error_code = service.profile.gateway_error_code

    @bp.get("/healthz")
    def healthz() -> Response:
        """Liveness: the process answers (and says which worker did). Never touches the store."""
        return json_response({"status": "ok", "pid": os.getpid()})

    readiness = _Readiness(service.store)

    @bp.get("/readyz")
    def readyz() -> Response:
        """Readiness: the store takes writes (a load balancer stops routing here while a submit
        would fail: store down, read-only, disk full)."""
        ready = readiness()
        return json_response(
            {"status": "ready" if ready else "unavailable", "store": backend}, 200 if ready else 503
        )

    @bp.app_errorhandler(StoreUnavailable)
    def _store_unavailable(error: StoreUnavailable) -> Response:
        log.warning("store unavailable on %s %s: %s", request.method, request.path, error)
        wire = _outage(error, gateway_error_code)
        return Response(wire.body, status=wire.status, content_type=wire.content_type)

    return bp
