"""Flask routes: a thin HTTP edge over MockService, with the gateway's wire details."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mock_server.core.actions import SUBMIT_FIELDS
from mock_server.core.config import Config
from mock_server.core.identity import owner_of
from mock_server.core.ids import new_request_id
from mock_server.errors import BadNamespace
from mock_server.service.mock_service import MockService
from mock_server.service.rendered import success_body
from mock_server.stores.base import Store, StoreUnavailable
from mock_server.wire.envelopes import JSON, TEXT_UTF8, WireError, gateway_error, task_error
from mock_server.wire.gobind import BindError, bind_object
from mock_server.wire.request import (
    FETCH_FIELDS,
    FETCH_GO_TYPE,
    SCENARIO_HEADER,
    api_key_of,
    namespace_of,
)

__all__ = ["create_app"]

log = logging.getLogger("mock_server")

_INDEX_HTML = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>New API</title></head>'
    b'<body><div id="root"></div></body></html>'
)


def _respond(
    status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    response = Response(body, status=status, content_type=content_type)
    if headers:
        response.headers.update(headers)
    return response


def _success(
    data: Any, content_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    # success_body splices tasks' cached JSON: byte-identical to encoding the whole envelope.
    return _respond(200, success_body(data), content_type, headers)


def _language() -> str:
    return request.headers.get("Accept-Language", "")


def create_app(config: Config | None = None, *, store: Store | None = None) -> Flask:
    """Build the fake. ``store`` overrides the one ``config.store`` names."""
    config = config or Config()
    service = MockService(config, store)
    profile = service.profile
    app = Flask("mock_server")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.url_map.merge_slashes = False  # gin does not merge slashes: /suno//fetch is NoRoute
    app.extensions["suno_mock"] = service
    allowed_owners = {owner_of(k) for k in config.api_keys}

    def authenticate() -> str:
        """The caller's owner id, or a 401 in the gateway envelope (TokenAuth)."""
        key = api_key_of(request.environ, profile.lowercase_bearer)
        if not key.removeprefix("sk-"):
            raise gateway_error(
                401,
                profile.auth_message("missing", _language()),
                g.request_id,
                with_code=profile.gateway_error_code,
            )
        owner = owner_of(key)
        if allowed_owners and owner not in allowed_owners:
            raise gateway_error(
                401,
                profile.auth_message("invalid", _language()),
                g.request_id,
                with_code=profile.gateway_error_code,
            )
        return owner

    @app.before_request
    def _start() -> None:
        g.request_id = new_request_id(profile.request_id_style)

    @app.after_request
    def _finish(response: Response) -> Response:
        seen = vars(g)  # one context lookup instead of one per g.get: this runs every request
        response.headers["X-Oneapi-Request-Id"] = seen.get("request_id") or new_request_id()
        path = request.path
        if path.startswith("/suno/"):
            try:
                ns = namespace_of(request.environ)
            except BadNamespace:
                return response  # answered 400; no namespace to journal it in
            try:
                service.store.journal_append(
                    ns,
                    {
                        "time": service.now(ns),
                        "method": request.method,
                        "path": path,
                        "status": seen.get("wire_status", response.status_code),  # 0: dropped
                        "owner": seen.get("owner"),
                        "request_id": seen.get("request_id"),
                        "body": seen.get("journal_body"),
                        "faults": seen.get("faults"),  # ids of the fault rules that hit it
                    },
                )
            except StoreUnavailable:
                # The journal is diagnostics: a store outage must not turn the answer into a panic.
                log.warning("journal entry lost: store unavailable")
        return response

    @app.errorhandler(WireError)
    def _wire_error(error: WireError) -> Response:
        return _respond(error.status, error.body, error.content_type)

    @app.errorhandler(BadNamespace)
    def _bad_namespace(error: BadNamespace) -> Response:
        wire = task_error(400, "invalid_request", str(error))
        return _respond(wire.status, wire.body, wire.content_type)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_error: RequestEntityTooLarge) -> Response:
        error = task_error(413, "read_request_body_failed", "http: request body too large")
        return _respond(error.status, error.body, error.content_type)

    @app.errorhandler(HTTPException)
    def _no_route(error: HTTPException) -> Response:
        # gin's NoRoute serves the web UI's index page with 200 for any unknown path or method.
        if request.path.startswith("/__mock/"):
            body = task_error(
                error.code or 404, "not_found", f"no admin route {request.method} {request.path}"
            )
            return _respond(body.status, body.body, body.content_type)
        return _respond(200, _INDEX_HTML, "text/html; charset=utf-8")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # Never a traceback on the wire: the gateway's panic envelope, details in our log only.
        log.exception("unhandled error on %s %s", request.method, request.path)
        wire = gateway_error(
            500,
            "Panic detected, error: internal error in suno-mock",
            g.get("request_id", ""),
            kind="new_api_panic",
            with_code=False,
        )
        return _respond(wire.status, wire.body, wire.content_type)

    def read_body() -> bytes:
        body = request.get_data(cache=False)
        g.journal_body = body[:4096].decode("utf-8", errors="replace")
        return body

    @app.post("/suno/submit/<action>")
    def submit(action: str) -> Response:
        g.owner = authenticate()
        action = action.upper()
        if action not in ("MUSIC", "LYRICS"):
            # Distribute finds no channel for suno_<action> before the body is read.
            raise gateway_error(
                503,
                profile.no_channel_message.format(model="suno_" + action.lower()),
                g.request_id,
                code="model_not_found",
                with_code=profile.gateway_error_code,
            )
        body = read_body()
        if not (request.mimetype or "").endswith("json"):
            # The live gateway leaves the request unparsed and panics (500 new_api_panic).
            raise task_error(
                400,
                "invalid_request",
                "Content-Type must be application/json "
                "(the live gateway answers 500 new_api_panic here)",
            )
        try:
            fields = bind_object(body, SUBMIT_FIELDS, "dto.SunoSubmitReq", "SunoSubmitReq")
        except BindError as exc:
            raise task_error(400, "invalid_request", str(exc)) from None
        if action == "LYRICS" and not fields.get("prompt"):
            raise task_error(400, "invalid_request", "prompt_empty")
        try:
            scenario = service.resolve_scenario(
                action, request.headers.get(SCENARIO_HEADER) or None
            )
        except (KeyError, ValueError) as exc:
            raise task_error(400, "invalid_request", str(exc).strip("'\"")) from None
        task_id = service.submit(
            g.owner, action, fields, scenario, ns=namespace_of(request.environ)
        )
        return _success(task_id, profile.submit_content_type, profile.submit_headers)

    @app.post("/suno/fetch")
    def fetch() -> Response:
        g.owner = authenticate()
        try:
            fields = bind_object(read_body(), FETCH_FIELDS, FETCH_GO_TYPE)
        except BindError as exc:
            # gin writes the status before any Content-Type, so net/http sniffs text/plain.
            raise task_error(400, "invalid_request", str(exc), TEXT_UTF8) from None
        ids = fields.get("ids") or []
        if not ids:
            return _success([])
        ns = namespace_of(request.environ)
        return _success(service.fetch(g.owner, ids, ns, faults=g.get("task_faults")))

    @app.get("/suno/fetch/<task_id>")
    def fetch_one(task_id: str) -> Response:
        g.owner = authenticate()
        ns = namespace_of(request.environ)
        task = service.fetch_one(g.owner, task_id, ns, faults=g.get("task_faults"))
        if task is None:
            raise task_error(400, "task_not_exist", "task_not_exist")
        return _success(task)

    from mock_server.web.faults import install_faults

    install_faults(app, service)
    from mock_server.web.admin import admin_blueprint

    app.register_blueprint(admin_blueprint(service, config))
    from mock_server.web.ops import ops_blueprint

    app.register_blueprint(ops_blueprint(service, config))
    # Last, once every hook is known: plain submits and fetches skip Flask (same bytes).
    from mock_server.web.hot import install_hot_path

    install_hot_path(app, service, config)
    return app
