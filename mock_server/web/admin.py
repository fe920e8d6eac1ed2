"""Admin API under /__mock/ (loopback or admin token only)."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Blueprint, Response, request

from mock_server.core.config import Config
from mock_server.core.identity import owner_of
from mock_server.errors import FixtureError
from mock_server.service.mock_service import MockService
from mock_server.wire import gojson
from mock_server.wire.envelopes import JSON_UTF8, task_error
from mock_server.wire.gobind import OWN_MAX_DEPTH, BindError, decode
from mock_server.wire.request import namespace_of

__all__ = ["ADMIN_TOKEN_HEADER", "admin_blueprint"]

ADMIN_TOKEN_HEADER = "X-Mock-Admin-Token"


def _json(data: Any, status: int = 200) -> Response:
    return Response(gojson.dumpb(data), status=status, content_type=JSON_UTF8)


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    # With --host ::, an IPv4 client on 127.0.0.1 arrives as ::ffff:127.0.0.1.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _body() -> dict[str, Any]:
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
    return raw


def _number(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise task_error(400, "invalid_request", f"{key!r} must be a number")
    if abs(value) > 1e11:
        raise task_error(400, "invalid_request", f"{key!r} is out of range")
    return float(value)


def admin_blueprint(service: MockService, config: Config) -> Blueprint:
    bp = Blueprint("suno_mock_admin", __name__, url_prefix="/__mock")

    def ns() -> str:
        return namespace_of(request.environ)

    @bp.before_request
    def _guard() -> None:
        token = request.headers.get(ADMIN_TOKEN_HEADER, "")
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

    @bp.post("/reset")
    def reset() -> Response:
        service.store.reset(ns())
        return _json({"ok": True, "now": service.now(ns())})

    def clock_view() -> dict[str, Any]:
        state = service.store.clock(ns())
        return {"now": state.now(), "mode": state.mode, "speed": state.speed}

    @bp.get("/clock")
    def clock() -> Response:
        return _json(clock_view())

    @bp.post("/clock/advance")
    def advance() -> Response:
        seconds = _number(_body(), "seconds")
        if seconds < 0:
            raise task_error(
                400, "invalid_request", "time only moves forward: 'seconds' must be >= 0"
            )
        service.advance(seconds, ns())
        return _json(clock_view())

    @bp.post("/clock/set")
    def set_clock() -> Response:
        when = _number(_body(), "now")
        if when < 0:
            raise task_error(400, "invalid_request", "'now' must be a unix time >= 0")
        service.set_time(when, ns())
        return _json(clock_view())

    def task_view(record: Any) -> dict[str, Any]:
        state = service.state(record, ns())
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

    @bp.get("/tasks")
    def tasks() -> Response:
        return _json([task_view(r) for r in sorted(service.store.tasks(ns()), key=lambda r: r.seq)])

    @bp.post("/tasks")
    def create_task() -> Response:
        body = _body()
        key = body.get("api_key")
        if not isinstance(key, str) or not key:
            raise task_error(400, "invalid_request", "'api_key' (the owner's key) is required")
        raw = body.get("scenario")
        request_fields = body.get("request", {})
        if not isinstance(request_fields, dict):
            raise task_error(400, "invalid_request", "'request' must be an object of submit fields")
        elapsed = _number(body, "elapsed") if "elapsed" in body else 0.0
        try:
            if isinstance(raw, dict):
                scenario = service.inline_scenario(raw)
                inline: dict[str, Any] | None = raw
            elif raw is None or isinstance(raw, str):
                action = body.get("action", "MUSIC")
                if raw is None and action not in ("MUSIC", "LYRICS"):
                    raise ValueError("'action' must be MUSIC or LYRICS")
                scenario = (
                    service.scenarios.get(raw) if raw else service.resolve_scenario(action, None)
                )
                inline = None
            else:
                raise ValueError("'scenario' must be a scenario name or an inline scenario object")
            step = body.get("step")
            if step is not None:
                if isinstance(step, bool) or not isinstance(step, (str, int)):
                    raise ValueError("'step' must be a step name or index")
                scenario.step_index(step)  # refuse before anything is stored
        except (KeyError, ValueError, FixtureError) as exc:
            raise task_error(400, "invalid_request", str(exc).strip("'\"")) from None
        task_id = service.submit(
            owner_of(key),
            scenario.action,
            request_fields,
            scenario,
            ns=ns(),
            inline=inline,
            elapsed=max(0.0, elapsed),
        )
        if step is not None:
            force(task_id, step)
        record = service.find(task_id, ns())
        return _json({"task_id": task_id, **task_view(record)}, 201)

    def force(task_id: str, step: Any) -> None:
        if (step is not None and not isinstance(step, (str, int))) or isinstance(step, bool):
            raise task_error(400, "invalid_request", "'step' must be a step name, index or null")
        try:
            service.force_step(task_id, step, ns())
        except LookupError as exc:
            raise task_error(404, "task_not_exist", str(exc).strip("'\"")) from None
        except KeyError as exc:
            raise task_error(400, "invalid_request", str(exc).strip("'\"")) from None

    @bp.post("/tasks/<task_id>/step")
    def force_step(task_id: str) -> Response:
        body = _body()
        if "step" not in body:
            raise task_error(
                400, "invalid_request", "'step' is required (a step name, index, or null to unpin)"
            )
        force(task_id, body["step"])
        record = service.find(task_id, ns())
        return _json(task_view(record))

    @bp.get("/scenarios")
    def scenarios() -> Response:
        return _json(
            [
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
                for s in service.scenarios
            ]
        )

    @bp.get("/journal")
    def journal() -> Response:
        return _json(service.store.journal(ns()))

    from mock_server.web.faults import fault_admin_routes

    fault_admin_routes(bp, service, ns)  # /faults: add, list, clear
    return bp
