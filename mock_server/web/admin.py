"""Admin API under /__mock/ (loopback or admin token only)."""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from mock_server.contract.validation import resolved_schema
from mock_server.core.config import Config
from mock_server.errors import MockError
from mock_server.service.callbacks import callback_entries
from mock_server.service.mock_service import MockService
from mock_server.service.seeding import add_task, apply_seed, new_task
from mock_server.web.error_tables import ADMIN, envelope
from mock_server.web.responses import json_response
from mock_server.wire.envelopes import task_error
from mock_server.wire.gobind import OWN_MAX_DEPTH, BindError, decode
from mock_server.wire.request import namespace_of

__all__ = ["ADMIN_TOKEN_HEADER", "AdminOps", "admin_blueprint", "admin_guard"]

ADMIN_TOKEN_HEADER = "X-Mock-Admin-Token"



def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    # With --host ::, an IPv4 client on 127.0.0.1 arrives as ::ffff:127.0.0.1.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@cache
def _fields(kind: str) -> frozenset[str]:
    """The fields a body of ``kind`` may have (admin.schema.json: closed objects)."""
    return frozenset(resolved_schema(kind)["properties"])


def _body(kind: str) -> dict[str, Any]:
    """The request's JSON object, refused (400) if it has a field ``kind`` does not know."""
    data = request.get_data()
    try:
        raw = decode(data, OWN_MAX_DEPTH, whole=True) if data else {}
    except BindError as exc:
        if "exceeded max depth" in str(exc):
            too_deep = f"admin request body nests deeper than {OWN_MAX_DEPTH} levels"
            raise task_error(400, "invalid_request", too_deep) from None
        raw = None
    if not isinstance(raw, dict):
        raise task_error(400, "invalid_request", "admin request body must be a JSON object")
    unknown = sorted(set(raw) - _fields(kind))
    if unknown:
        known = ", ".join(sorted(_fields(kind))) or "no fields"
        raise task_error(
            400,
            "invalid_request",
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(k) for k in unknown)}; {request.path} takes {known}",
        )
    return raw


def _number(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise task_error(400, "invalid_request", f"{key!r} must be a number")
    if abs(value) > 1e11:
        raise task_error(400, "invalid_request", f"{key!r} is out of range")
    return float(value)


def admin_guard(config: Config, token: str) -> None:
    """Refuse (403) a request that may not use the admin surfaces: the admin API and the UI.

    With an admin token configured, ``token`` must be it (from any address); without one, only
    loopback clients may.
    """
    if config.admin_token is not None:
        if not hmac.compare_digest(token.encode(), config.admin_token.encode()):
            raise task_error(
                403, "forbidden", f"admin API needs a valid {ADMIN_TOKEN_HEADER} header"
            )
    elif not _is_loopback(request.remote_addr):
        raise task_error(
            403,
            "forbidden",
            "admin API is open to loopback clients only "
            "(start the server with --admin-token to open it)",
        )


class AdminOps:
    """What each admin call does, given its namespace and JSON body; the routes and the UI both
    call these, so a check or a view is written once."""

    def __init__(self, service: MockService, config: Config) -> None:
        self.service = service
        self.config = config

    def reset(self, ns: str) -> dict[str, Any]:
        self.service.store.reset(ns)
        if self.config.seed and not ns:  # the default namespace starts again with its seed
            apply_seed(self.service, Path(self.config.seed))
        return {"ok": True, "now": self.service.now(ns)}

    # clock -----------------------------------------------------------------
    def clock(self, ns: str) -> dict[str, Any]:
        state = self.service.store.clock(ns)
        return {"now": state.now(), "mode": state.mode, "speed": state.speed}

    def advance(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        seconds = _number(body, "seconds")
        if seconds < 0:
            raise task_error(
                400, "invalid_request", "time only moves forward: 'seconds' must be >= 0"
            )
        self.service.advance(seconds, ns)
        return self.clock(ns)

    def set_time(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        when = _number(body, "now")
        if when < 0:
            raise task_error(400, "invalid_request", "'now' must be a unix time >= 0")
        self.service.set_time(when, ns)
        return self.clock(ns)

    def pause(self, ns: str) -> dict[str, Any]:
        self.service.set_speed(0.0, ns)
        return self.clock(ns)

    def resume(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run the clock again, at ``speed`` or the server's own (--speed, 1 by default)."""
        speed = self._speed(body) if "speed" in body else self.config.speed
        self.service.set_speed(speed, ns)
        return self.clock(ns)

    def speed(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        self.service.set_speed(self._speed(body), ns)
        return self.clock(ns)

    @staticmethod
    def _speed(body: dict[str, Any]) -> float:
        speed = _number(body, "speed")
        if speed <= 0:
            raise task_error(
                400, "invalid_request", "'speed' must be > 0 (POST /__mock/clock/pause stops it)"
            )
        return speed

    # tasks -----------------------------------------------------------------
    def task_view(self, record: Any, ns: str) -> dict[str, Any]:
        service = self.service
        state = service.state(record, ns)
        scenario = service.scenario_for(record)
        return {
            "task_id": record.task_id,
            "owner": record.owner,
            "action": record.action,
            "scenario": record.scenario,
            "step": scenario.steps[state.step].name,
            "status": state.status,
            "polls": record.polls,
            "submit_time": record.submit_time,
            "forced": record.forced_step is not None,
        }

    def tasks(self, ns: str) -> list[dict[str, Any]]:
        records = sorted(self.service.store.tasks(ns), key=lambda r: r.seq)
        return [self.task_view(r, ns) for r in records]

    def create_task(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        """A task made as if its owner had submitted it (service/seeding.py checks the body)."""
        task_id = add_task(self.service, new_task(self.service, body), ns)
        record = self.service.find(task_id, ns)
        return {"task_id": task_id, **self.task_view(record, ns)}

    def _force(self, ns: str, task_id: str, step: Any) -> None:
        if (step is not None and not isinstance(step, (str, int))) or isinstance(step, bool):
            raise task_error(400, "invalid_request", "'step' must be a step name, index or null")
        self.service.force_step(task_id, step, ns)

    def force_step(self, ns: str, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if "step" not in body:
            raise task_error(
                400, "invalid_request", "'step' is required (a step name, index, or null to unpin)"
            )
        self._force(ns, task_id, body["step"])
        record = self.service.find(task_id, ns)
        return self.task_view(record, ns)

    def scenarios(self) -> list[dict[str, Any]]:
        return [
            {
                "name": s.name,
                "action": s.action,
                "description": s.description,
                "steps": [
                    {
                        "name": st.name,
                        "status": st.status,
                        "after_seconds": st.after_seconds,
                        "after_polls": st.after_polls,
                    }
                    for st in s.steps
                ],
            }
            for s in self.service.scenarios
        ]


def admin_blueprint(service: MockService, config: Config) -> Blueprint:
    bp = Blueprint("suno_mock_admin", __name__, url_prefix="/__mock")
    ops = AdminOps(service, config)

    def ns() -> str:
        return namespace_of(request.environ)

    @bp.errorhandler(MockError)
    def _mock_error(error: MockError) -> Response:
        # Anything not in the table is a bug of ours, not the caller's: say so, without a trace.
        wire = envelope(error, ADMIN) or task_error(500, "internal_error", type(error).__name__)
        return Response(wire.body, status=wire.status, content_type=wire.content_type)

    @bp.before_request
    def _guard() -> None:
        admin_guard(config, request.headers.get(ADMIN_TOKEN_HEADER, ""))

    @bp.post("/reset")
    def reset() -> Response:
        _body("admin-empty")
        return json_response(ops.reset(ns()))

    @bp.get("/clock")
    def clock() -> Response:
        return json_response(ops.clock(ns()))

    @bp.post("/clock/advance")
    def advance() -> Response:
        return json_response(ops.advance(ns(), _body("admin-clock-advance")))

    @bp.post("/clock/set")
    def set_clock() -> Response:
        return json_response(ops.set_time(ns(), _body("admin-clock-set")))

    @bp.post("/clock/pause")
    def pause_clock() -> Response:
        _body("admin-empty")
        return json_response(ops.pause(ns()))

    @bp.post("/clock/resume")
    def resume_clock() -> Response:
        return json_response(ops.resume(ns(), _body("admin-clock-resume")))

    @bp.post("/clock/speed")
    def clock_speed() -> Response:
        return json_response(ops.speed(ns(), _body("admin-clock-speed")))

    @bp.get("/tasks")
    def tasks() -> Response:
        return json_response(ops.tasks(ns()))

    @bp.post("/tasks")
    def create_task() -> Response:
        return json_response(ops.create_task(ns(), _body("admin-task")), 201)

    @bp.post("/tasks/<task_id>/step")
    def force_step(task_id: str) -> Response:
        return json_response(ops.force_step(ns(), task_id, _body("admin-task-step")))

    @bp.get("/scenarios")
    def scenarios() -> Response:
        return json_response(ops.scenarios())

    @bp.get("/journal")
    def journal() -> Response:
        return json_response(service.store.journal(ns()))

    @bp.get("/callbacks")
    def callbacks() -> Response:
        return json_response(callback_entries(service.store.journal(ns())))

    from mock_server.web.faults import fault_admin_routes

    fault_admin_routes(bp, service, ns)  # /faults: add, list, clear
    return bp
