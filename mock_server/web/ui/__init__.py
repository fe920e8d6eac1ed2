"""The dashboard at /__mock/ui: see what an app did to the fake, and steer what it sees next.

Server-rendered pages (Jinja, so everything shown is escaped). htmx, vendored in ``static/``
(see NOTICE), makes the forms swap the page in place and refreshes the live parts by short
polling: one GET of ``/live`` a second answers the clock, tasks, fault rules and journal as
out-of-band fragments. Without JavaScript every page reads the same and every form still works
(a POST, then a 303 back to the page).

Access follows the admin API's rules (``admin_guard``): loopback clients, or with
``--admin-token`` whoever sends the token, in the X-Mock-Admin-Token header or in a cookie that
``/login`` sets. Forms post to routes here that call ``AdminOps`` or the service, like the admin
API's routes do; a namespace is the ``ns`` query parameter (the API's X-Mock-Namespace header).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, url_for

from mock_server.core.config import Config
from mock_server.core.media_urls import media_origin
from mock_server.errors import MockError, NotFound, StoreUnavailable, TaskNotFound
from mock_server.service.mock_service import MockService
from mock_server.web.admin import ADMIN_TOKEN_HEADER, AdminOps, admin_guard
from mock_server.web.error_tables import ADMIN, envelope
from mock_server.web.ui.views import (
    clip_players,
    entry_views,
    fmt_offset,
    fmt_time,
    parse_time,
    polls_of,
)
from mock_server.web.ui.views import task_view as build_task_view
from mock_server.wire.envelopes import WireError
from mock_server.wire.request import NAMESPACE_HEADER, environ_key, namespace_of, origin_of

__all__ = ["UI_TOKEN_COOKIE", "content_policy", "media_source", "ui_blueprint"]

UI_TOKEN_COOKIE = "suno_mock_admin_token"
PREFIX = "/__mock/ui"
POLL_SECONDS = 1
SHOWN_TASKS = 100
SHOWN_JOURNAL = 100
ADVANCE_PRESETS = ((1, "+1s"), (5, "+5s"), (30, "+30s"), (60, "+1m"), (300, "+5m"), (3600, "+1h"))
SPEEDS = (0.5, 1, 2, 5, 10, 60)
_T = "suno_mock_ui/"
# No inline script or style anywhere, so the page may forbid them (htmx is told not to add any).
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{media}; "
    "media-src 'self'{media}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def media_source(base_url: str | None) -> str | None:
    """The origin of ``--media-base-url`` as a CSP source, or None: not set, or not a plain
    scheme://host[:port] (nothing a URL holds may add to the policy)."""
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    if port is not None:
        host = host[: -len(f":{port}")] if host.endswith(f":{port}") else ""
    if parts.scheme not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def content_policy(config: Config) -> str:
    """The pages' Content-Security-Policy: our own origin only, and the origin clip URLs point
    at when ``--media-base-url`` names another (for the players and covers)."""
    source = media_source(config.media_base_url)
    return _POLICY.format(media="" if source is None else " " + source)


def _problem(error: Exception) -> tuple[int, str]:
    """The status and message the admin API would answer for ``error``."""
    wire = error if isinstance(error, WireError) else None
    if isinstance(error, MockError):
        wire = envelope(error, ADMIN)
    if wire is None:
        return 500, f"internal error ({type(error).__name__})"
    try:
        message = json.loads(wire.body).get("message", "")
    except (ValueError, AttributeError):
        message = wire.body.decode(errors="replace")
    return wire.status, str(message)


def _same_origin() -> bool:
    """Whether a POST comes from our own pages (or from no browser at all): no cross-site forms.

    Browsers say where a request comes from (Sec-Fetch-Site, else Origin); a script or curl sends
    neither, and then there is nothing to forge.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


def _form_number(name: str) -> Any:
    """A form field as a number when it reads as one, else as given (AdminOps says what's wrong)."""
    raw = request.form.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


def _present(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the fields left empty, as a JSON caller would leave them out."""
    return {k: v for k, v in body.items() if v is not None}


def ui_blueprint(service: MockService, config: Config) -> Blueprint:
    bp = Blueprint(
        "suno_mock_ui",
        __name__,
        url_prefix=PREFIX,
        template_folder="templates",
        static_folder="static",
    )
    ops = AdminOps(service, config)
    headers = {**_SECURITY_HEADERS, "Content-Security-Policy": content_policy(config)}
    open_endpoints = {f"{bp.name}.static", f"{bp.name}.login"}

    def ns() -> str:
        given = request.args.get("ns")
        environ = request.environ if given is None else {environ_key(NAMESPACE_HEADER): given}
        return namespace_of(environ)

    def url(endpoint: str, **values: Any) -> str:
        return url_for(f"{bp.name}.{endpoint}", ns=ns() or None, **values)

    @bp.context_processor
    def _helpers() -> dict[str, Any]:
        return {
            "ns": ns(),
            "url": url,
            "fmt_time": fmt_time,
            "fmt_offset": fmt_offset,
            "poll_seconds": POLL_SECONDS,
            "server_speed": config.speed,
            "profile": service.profile.name,
            "token_configured": config.admin_token is not None,
        }

    def page(template: str, status: int = 200, **context: Any) -> Response:
        return Response(render_template(_T + template, **context), status=status)

    @bp.before_request
    def _guard() -> Response | None:
        if request.endpoint in open_endpoints:
            return None
        token = request.headers.get(ADMIN_TOKEN_HEADER) or request.cookies.get(UI_TOKEN_COOKIE, "")
        try:
            admin_guard(config, token)
        except WireError as error:
            status, message = _problem(error)
            return page("problem.html", status, message=message, forbidden=True)
        if request.method == "POST" and not _same_origin():
            return page("problem.html", 403, message="cross-site form posts are refused")
        return None

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(headers)
        return response

    @bp.errorhandler(MockError)
    @bp.errorhandler(WireError)
    def _error(error: Exception) -> Response:
        status, message = _problem(error)
        if request.endpoint in (f"{bp.name}.live", f"{bp.name}.task_live"):
            return page("live_problem.html", status, message=message)
        if isinstance(error, StoreUnavailable):
            return page("problem.html", status, message=message)
        try:  # the page the form was on, with what went wrong on top
            return dashboard_page(message, status)
        except MockError:
            return page("problem.html", status, message=message)

    # reading ---------------------------------------------------------------
    def live_state(current: str) -> dict[str, Any]:
        clock = ops.clock(current)
        records = sorted(service.store.tasks(current), key=lambda r: r.seq, reverse=True)
        journal = service.store.journal(current)
        return {
            "clock": clock,
            "tasks": [
                build_task_view(r, service.scenario_for(r), clock["now"])
                for r in records[:SHOWN_TASKS]
            ],
            "task_count": len(records),
            "entries": entry_views(journal, (r.task_id for r in records), SHOWN_JOURNAL),
            "journal_count": len(journal),
            "faults": service.faults.listing(current),
        }

    def dashboard_page(problem: str | None = None, status: int = 200) -> Response:
        return page(
            "dashboard.html",
            status,
            problem=problem,
            scenarios=ops.scenarios(),
            presets=ADVANCE_PRESETS,
            speeds=SPEEDS,
            **live_state(ns()),
        )

    @bp.get("/")
    def dashboard() -> Response:
        return dashboard_page()

    @bp.get("/live")
    def live() -> Response:
        return page("live.html", **live_state(ns()))

    def task_state(task_id: str) -> dict[str, Any]:
        current = ns()
        record = service.find(task_id, current)
        if record is None:
            raise TaskNotFound(f"no task {task_id!r} in this namespace")
        scenario = service.scenario_for(record)
        now = service.now(current)
        shown = service.render(record, current)
        return {
            "clips": clip_players(shown, media_origin(
                service.config.media_base_url or origin_of(request.environ), current)),
            "task": build_task_view(record, scenario, now),
            "now": now,
            "media_local": config.media_urls == "local",
            "polls": polls_of(record, scenario, service.store.journal(current)),
            "fetched": json.dumps(shown, indent=2, ensure_ascii=False),
        }

    @bp.get("/tasks/<task_id>")
    def task_page(task_id: str) -> Response:
        return page("task.html", **task_state(task_id))

    @bp.get("/tasks/<task_id>/live")
    def task_live(task_id: str) -> Response:
        return page("task_live.html", **task_state(task_id))

    # steering --------------------------------------------------------------
    def back(task_id: str | None = None) -> Response:
        if task_id is not None and request.form.get("back") == "task":
            return redirect(url("task_page", task_id=task_id), 303)  # type: ignore[return-value]
        return redirect(url("dashboard"), 303)  # type: ignore[return-value]

    @bp.post("/tasks")
    def create_task() -> Response:
        form = request.form
        fields = {k: form[k] for k in ("prompt", "title", "tags") if form.get(k)}
        step = form.get("step", "").strip()
        ops.create_task(
            ns(),
            _present(
                {
                    "api_key": form.get("api_key", ""),
                    "scenario": form.get("scenario") or None,
                    "request": fields,
                    "step": (int(step) if step.isdecimal() else step) or None,
                    "elapsed": _form_number("elapsed"),
                }
            ),
        )
        return back()

    @bp.post("/tasks/<task_id>/step")
    def force_step(task_id: str) -> Response:
        step = request.form.get("step", "")
        ops.force_step(ns(), task_id, {"step": step or None})  # "" (or none): unpin
        return back(task_id)

    @bp.post("/clock/advance")
    def advance() -> Response:
        ops.advance(ns(), _present({"seconds": _form_number("seconds")}))
        return back()

    @bp.post("/clock/set")
    def set_clock() -> Response:
        raw = request.form.get("now", "")
        try:
            when: Any = parse_time(raw)
        except ValueError:
            when = raw  # AdminOps: "'now' must be a number"
        ops.set_time(ns(), {"now": when})
        return back()

    @bp.post("/clock/pause")
    def pause() -> Response:
        ops.pause(ns())
        return back()

    @bp.post("/clock/resume")
    def resume() -> Response:
        ops.resume(ns(), _present({"speed": _form_number("speed")}))
        return back()

    @bp.post("/clock/speed")
    def speed() -> Response:
        ops.speed(ns(), _present({"speed": _form_number("speed")}))
        return back()

    @bp.post("/faults/<rule_id>/lift")
    def lift_fault(rule_id: str) -> Response:
        if not service.faults.remove(rule_id, ns()):
            raise NotFound(f"no fault rule {rule_id!r} in force (lifted already?)")
        return back()

    @bp.post("/reset")
    def reset() -> Response:
        ops.reset(ns())
        return back()

    # access with a token ---------------------------------------------------
    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        if request.method == "GET":
            return page("login.html")
        if not _same_origin():
            return page("problem.html", 403, message="cross-site form posts are refused")
        token = request.form.get("token", "")
        try:
            admin_guard(config, token)
        except WireError as error:
            return page("login.html", 403, problem=_problem(error)[1])
        response = redirect(url("dashboard"), 303)
        if config.admin_token is not None:
            response.set_cookie(
                UI_TOKEN_COOKIE,
                token,
                httponly=True,
                samesite="Strict",
                secure=request.is_secure,
                path=PREFIX,
            )
        return response  # type: ignore[return-value]

    @bp.post("/logout")
    def logout() -> Response:
        response = redirect(url_for(f"{bp.name}.login"), 303)
        response.delete_cookie(UI_TOKEN_COOKIE, path=PREFIX)
        return response  # type: ignore[return-value]

    return bp
