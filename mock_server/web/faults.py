"""The HTTP edge of faults: X-Mock-Fault, latency, error responses, broken transports, admin.

Before the route: latency, then a status fault or a dropped connection (the request is not
handled). After the route (its side effects happened, as when a network fails on the way back):
a truncated, stalled or non-JSON answer. How a connection is broken depends on the server
(``_fault_transport``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, g, request

from mock_server.core.identity import owner_of
from mock_server.errors import FaultError
from mock_server.faults.responses import FaultResponse, not_json_response, status_response
from mock_server.faults.rules import FaultRequest, Rule, parse_header
from mock_server.faults.tasks import TaskFaults
from mock_server.faults.transport import ConnectionDropped, Wire, hold_answer
from mock_server.web.responses import json_response
from mock_server.wire.envelopes import task_error
from mock_server.wire.gobind import OWN_MAX_DEPTH, BindError, decode
from mock_server.wire.request import FAULT_HEADER, api_key_of, namespace_of

if TYPE_CHECKING:
    from mock_server.service.mock_service import MockService

__all__ = ["FAULT_HEADER", "ConnectionDropped", "fault_admin_routes", "install_faults"]

_ROUTES = {"submit": "submit", "fetch": "fetch_batch", "fetch_one": "fetch_one"}
_NO_RESPONSE = 0  # journal status of a request whose connection was closed without an answer


def _respond(fault: FaultResponse) -> Response:
    response = Response(fault.body, status=fault.status, content_type=fault.content_type)
    response.headers.update(fault.headers)
    return response


def _task_ids() -> tuple[str, ...]:
    """The ids a fetch asks about, for rules scoped to a task (a lenient reading of the body)."""
    if request.endpoint == "fetch_one":
        return (str((request.view_args or {}).get("task_id", "")),)
    if request.endpoint != "fetch":
        return ()
    try:
        body = decode(request.get_data())
    except BindError:
        return ()
    ids = body.get("ids") if isinstance(body, dict) else None
    return tuple(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else ()


def install_faults(app: Flask, service: MockService) -> None:
    """Apply the service's fault rules (and X-Mock-Fault) to every request under /suno/."""
    book = service.faults
    profile = service.profile

    def owner() -> str | None:
        key = api_key_of(request.environ, profile.lowercase_bearer)
        return owner_of(key) if key.removeprefix("sk-") else None

    @app.before_request
    def _faults_before() -> Response | None:
        if not request.path.startswith("/suno/"):
            return None
        header = request.headers.get(FAULT_HEADER)
        extra: Rule | None = None
        if header is not None:
            try:
                extra = parse_header(header)
            except FaultError as exc:
                raise task_error(400, "invalid_request", f"{FAULT_HEADER}: {exc}") from None
        ns = namespace_of(request.environ)
        route = _ROUTES.get(request.endpoint or "")
        plan = book.decide(FaultRequest(route, owner, _task_ids), ns, extra)
        if not plan.fired and not plan.task_rules:
            return None
        g.fault_plan = plan
        if plan.latency > 0:
            # On suno-mock serve no thread sleeps for it: the answer is held back instead.
            hold_answer(request.environ, plan.latency, book.wait, book.cut_short())
        if plan.batch or plan.task_rules:
            g.task_faults = TaskFaults(book, ns, plan.task_rules, plan.batch)
        rule = plan.outcome
        if rule is not None and rule.fault == "status":
            action = str((request.view_args or {}).get("action", "music")).lower()
            return _respond(
                status_response(
                    rule,
                    route,
                    profile,
                    g.request_id,
                    request.headers.get("Accept-Language", ""),
                    model=f"suno_{action}",
                )
            )
        if rule is not None and rule.fault == "disconnect":
            body, headers = Wire(request.environ, book.wait).disconnect()
            response = Response(status=200)
            response.response = body
            response.headers.update(headers)
            g.wire_status = _NO_RESPONSE
            return response
        return None

    @app.after_request
    def _faults_after(response: Response) -> Response:
        plan = g.get("fault_plan")
        if plan is None:
            return response
        touched = g.task_faults.touched if "task_faults" in g else set()
        g.faults = [*plan.fired, *sorted(touched - set(plan.fired))] or None
        rule = plan.outcome
        if rule is None or rule.fault in ("status", "disconnect"):
            return response
        return _after_route(rule, response, Wire(request.environ, book.wait))


def _after_route(rule: Rule, response: Response, wire: Wire) -> Response:
    """Faults that spoil an answer the route already produced (its side effects happened)."""
    if rule.fault == "not_json":
        return _respond(not_json_response(rule))
    body = response.get_data()
    if rule.fault == "truncate":
        cut = body[: rule.params.get("bytes", len(body) // 2)]
        if not rule.params.get("close", True):
            response.set_data(cut)
            return response
        response.response = wire.truncated(cut)
    elif rule.fault == "hang":
        prefix = body[: rule.params.get("bytes", 0)]
        seconds = float(rule.params.get("seconds", 30))
        response.response = wire.stalled(prefix, seconds)
    response.headers["Content-Length"] = str(len(body))  # promise the whole body
    return response



def fault_admin_routes(bp: Blueprint, service: MockService, ns: Callable[[], str]) -> None:
    """/__mock/faults: GET list, POST add (one rule or {"rules": [...]}), DELETE clear or one."""
    book = service.faults

    @bp.get("/faults")
    def list_faults() -> Response:
        return json_response(book.listing(ns()))

    @bp.post("/faults")
    def add_faults() -> Response:
        raw = request.get_data()
        try:
            payload = decode(raw, OWN_MAX_DEPTH, whole=True) if raw.strip() else None
        except BindError as exc:
            problem = (
                f"nested deeper than {OWN_MAX_DEPTH} levels"
                if "exceeded max depth" in str(exc)
                else "body is not JSON"
            )
            raise task_error(400, "invalid_request", f"invalid fault: $: {problem}") from None
        try:
            added = {r.id for r in book.add(payload, ns(), now=service.now(ns()))}
        except FaultError as exc:
            raise task_error(400, "invalid_request", f"invalid fault: {exc}") from None
        views = [v for v in book.listing(ns()) if v["id"] in added]
        if isinstance(payload, dict) and "fault" in payload:
            return json_response(views[0], 201)
        return json_response({"rules": views}, 201)

    @bp.delete("/faults")
    def clear_faults() -> Response:
        return json_response({"cleared": book.clear(ns())})

    @bp.delete("/faults/<rule_id>")
    def delete_fault(rule_id: str) -> Response:
        if not book.remove(rule_id, ns()):
            raise task_error(404, "not_found", f"no fault {rule_id!r}")
        return json_response({"deleted": rule_id})
