"""The Flask app: the routes of service/pipeline.py, error envelopes, admin, ops, faults."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mock_server.core.config import Config
from mock_server.core.ids import new_request_id
from mock_server.errors import MockError
from mock_server.service import pipeline
from mock_server.service.mock_service import MockService
from mock_server.service.pipeline import Call, Route, begin, finish
from mock_server.stores.base import Store
from mock_server.web.error_tables import API, envelope
from mock_server.wire.envelopes import HTML_UTF8, INDEX_HTML, WireError, gateway_error, task_error

__all__ = ["create_app"]

log = logging.getLogger("mock_server")



def _respond(
    status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(body, status=status, content_type=content_type)
    if headers:
        response.headers.update(headers)
    return response


def create_app(config: Config | None = None, *, store: Store | None = None) -> Flask:
    """Build the fake. ``store`` overrides the one ``config.store`` names."""
    config = config or Config()
    service = MockService(config, store)
    app = Flask("mock_server")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.url_map.merge_slashes = False  # gin does not merge slashes: /suno//fetch is NoRoute
    app.extensions["suno_mock"] = service

    def read_body() -> bytes:
        return request.get_data(cache=False)

    def new_call() -> Call:
        return begin(service, request.environ, request.method, request.path, read_body)

    @app.before_request
    def _start() -> Response | None:
        if request.environ.get("PATH_INFO", "").startswith("//"):
            # gin routes the path as sent (werkzeug's router would fold the slashes):
            # "//suno/fetch" is NoRoute, the web UI's page.
            return _respond(200, INDEX_HTML, HTML_UTF8)
        call = g.call = new_call()
        g.request_id = call.request_id  # the error envelopes quote it
        return None

    @app.after_request
    def _finish(response: Response) -> Response:
        call: Call | None = g.get("call")
        if call is None:  # begin refused the request (a bad namespace): nothing to journal
            response.headers["X-Oneapi-Request-Id"] = new_request_id(
                service.profile.request_id_style
            )
            return response
        response.headers["X-Oneapi-Request-Id"] = call.request_id
        if request.path.startswith("/suno/"):
            # 0: dropped (a fault); ``faults``: the ids of the fault rules that hit it. A body
            # a fault streams (cut, stalled, dropped) is not read here: that would send it.
            status = g.get("wire_status", response.status_code)
            sent = response.get_data() if status and response.is_sequence else None
            finish(service, call, status, g.get("faults"), sent)
        return response

    @app.errorhandler(WireError)
    def _wire_error(error: WireError) -> Response:
        return _respond(error.status, error.body, error.content_type)

    @app.errorhandler(MockError)
    def _mock_error(error: MockError) -> Response:
        wire = envelope(error, API)
        if wire is None:
            return _unexpected(error)
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
        return _respond(200, INDEX_HTML, HTML_UTF8)

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

    def run(route: Route, **params: str) -> Response:
        """``route`` on this request's call, with what the fault hooks decided for it."""
        call: Call = g.call
        for name, value in params.items():
            setattr(call, name, value)
        call.faults = g.get("task_faults")
        call.faulted = "fault_plan" in g
        answer = route(service, call)
        return _respond(answer.status, answer.body, answer.content_type, answer.headers)

    @app.post("/suno/submit/<action>")
    def submit(action: str) -> Response:
        return run(pipeline.submit, action=action)

    if service.profile.surface == "elkapi":  # elsewhere NoRoute, as a vanilla gateway

        @app.post("/suno/uploads/audio-url")
        def upload_audio_url() -> Response:
            return run(pipeline.upload_audio_url)

        # The clip actions; the fast path leaves them to Flask.
        @app.get("/suno/act/timing/<clip_id>")
        def timing(clip_id: str) -> Response:
            return run(pipeline.timing, task_id=clip_id)

        @app.get("/suno/act/wav/<clip_id>")
        @app.get("/suno/act/mp4/<clip_id>")
        def clip_export(clip_id: str) -> Response:
            return run(pipeline.clip_export, task_id=clip_id)

        @app.get("/suno/act/stems/<clip_id>")
        def stems(clip_id: str) -> Response:
            return run(pipeline.stems, task_id=clip_id)

        @app.post("/suno/persona/create/")
        def create_persona() -> Response:
            return run(pipeline.create_persona)

    @app.post("/suno/fetch")
    def fetch() -> Response:
        return run(pipeline.fetch)

    @app.get("/suno/fetch/<task_id>")
    def fetch_one(task_id: str) -> Response:
        return run(pipeline.fetch_one, task_id=task_id)

    from mock_server.web.admin import admin_blueprint
    from mock_server.web.faults import install_faults
    from mock_server.web.hot import app_hooks, install_hot_path
    from mock_server.web.media import media_blueprint
    from mock_server.web.openapi import openapi_blueprint
    from mock_server.web.ops import install_access_log, ops_blueprint
    from mock_server.web.ui import ui_blueprint

    # The fast path (web/hot.py) stands for each app-wide hook, by identity: _start and _finish
    # are the pipeline's begin and finish, which it calls itself; the fault hooks act only on
    # requests a fault rule or X-Mock-Fault applies to, which it leaves to Flask; the access
    # log's line it writes itself, through the same function.
    stands_for: list[Callable[..., object]] = [_start, _finish]
    before = app_hooks(app)
    install_faults(app, service)
    stands_for += [hook for hook in app_hooks(app) if hook not in before]
    app.register_blueprint(admin_blueprint(service, config))
    app.register_blueprint(ops_blueprint(service))
    app.register_blueprint(ui_blueprint(service, config))  # the dashboard at /__mock/ui
    if config.access_log:
        stands_for.append(install_access_log(app))
    app.register_blueprint(openapi_blueprint(service, create_app))  # GET /openapi.json
    app.register_blueprint(media_blueprint(service))  # the files clip URLs name
    install_hot_path(app, service, config, stands_for)
    if config.proxy_to is not None:  # in front of the fast path: /suno/ goes to the gateway
        from mock_server.web.proxy import install_proxy

        install_proxy(app, service, config)
    return app
