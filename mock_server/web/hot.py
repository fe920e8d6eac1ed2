"""The fast path: the three /suno/ routes without Flask's per-request machinery.

Polling clients call submit and fetch thousands of times a second. Flask's request context,
hooks and response object cost more than the fake's own work (bench/RESULTS.md), so this WSGI
layer runs the routes of service/pipeline.py itself, for plain requests only: one of the three
routes, no fault rule in force, no X-Mock-Fault header, a key TokenAuth lets in, and a body read
whole by its Content-Length within the size limit. Everything else (bad keys, faults, odd
bodies, admin, ops, unknown routes) goes to the Flask app untouched. The routes are the same
functions either way; what this layer adds is that plain check, a per-worker copy of each
namespace's settings (clock and fault rules: retried when the store refuses their token), and
the access-log line. An error a route raises is answered by the Flask app's own error handlers
and after-request hooks, as if Flask had run the route.

It stands in for the Flask app's app-wide hooks only where it knows them (``stands_for``, by
identity): at the first request it checks that every such hook is one of them, and otherwise
hands every request to Flask (tests/test_hot_path.py fails then, so nobody loses the speed
unknowingly). Flask refuses new hooks after an app's first request, so the check holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

from flask import Flask, g
from werkzeug.http import HTTP_STATUS_CODES

from mock_server.core.cache import BoundedCache
from mock_server.core.config import Config
from mock_server.errors import BadNamespace, SettingsChanged
from mock_server.service import pipeline
from mock_server.service.mock_service import MockService
from mock_server.service.pipeline import Answer, Call, Route, begin, finish, owner_of_key
from mock_server.stores.base import Settings
from mock_server.web.ops import write_access_line
from mock_server.wire.request import namespace_of

__all__ = ["HotPath", "app_hooks", "install_hot_path"]

log = logging.getLogger("mock_server")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Hook = Callable[..., Any]
_FETCH_PREFIX = "/suno/fetch/"
_SUBMIT_PREFIX = "/suno/submit/"
_UPLOAD_PATH = "/suno/uploads/audio-url"  # ElkAPI's only
_ATTEMPTS = 3  # tries with fresh settings before the Flask path takes the request


def app_hooks(app: Flask) -> list[Hook]:
    """The app-wide request hooks of ``app``: the ones Flask would run on a /suno/ request."""
    return [
        hook
        for hooks in (
            app.url_value_preprocessors,
            app.before_request_funcs,
            app.after_request_funcs,
            app.teardown_request_funcs,
        )
        for hook in hooks.get(None, ())
    ]


def _body(environ: Environ, limit: int) -> bytes | None:
    """The body by its Content-Length, as werkzeug reads it; None (nothing read) when werkzeug
    must decide: no or odd length, chunked, over the limit (its 413)."""
    if "HTTP_TRANSFER_ENCODING" in environ:
        return None
    length = environ.get("CONTENT_LENGTH")
    if not (isinstance(length, str) and length.isascii() and length.isdigit()):
        return None
    expected = int(length)
    if expected > limit:
        return None
    stream = environ["wsgi.input"]
    body = stream.read(expected) if expected else b""
    while len(body) < expected:  # each pass reads >= 1 byte or stops: bounded
        chunk = stream.read(expected - len(body))
        if not chunk:
            break
        body += chunk
    return body  # possibly short: the caller hands it back to werkzeug, which decides


def _no_body() -> bytes:
    return b""  # a GET route reads none


def _reader(body: bytes) -> Callable[[], bytes]:
    return lambda: body


def _status_line(status: int) -> str:
    if status == 200:
        return "200 OK"
    return f"{status} {HTTP_STATUS_CODES.get(status, 'Unknown').upper()}"  # as werkzeug says it


class HotPath:
    """WSGI middleware in front of the Flask app (``app.wsgi_app = HotPath(...)``)."""

    def __init__(
        self, app: Flask, service: MockService, config: Config, stands_for: Iterable[Hook]
    ) -> None:
        self.app = app
        self.flask_wsgi = app.wsgi_app  # the reference path, for everything not handled here
        self.service = service
        self.limit = config.max_body_bytes
        self.access_log = config.access_log
        self.base_faults = service.faults.base
        self.stands_for = frozenset(stands_for)
        self.serving: bool | None = None  # decided at the first request (``_check_hooks``)
        # Per namespace; bounded, since a client names namespaces (X-Mock-Namespace).
        self._settings: BoundedCache[str, Settings] = BoundedCache(1024)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if not (method in ("GET", "POST") and path.startswith("/suno/") and path.isascii()):
            return self.flask_wsgi(environ, start_response)
        route, param = _match(method, path)
        if route is pipeline.upload_audio_url and self.service.profile.surface != "elkapi":
            route = None  # a vanilla gateway's NoRoute
        if route is None or "HTTP_X_MOCK_FAULT" in environ:
            return self.flask_wsgi(environ, start_response)
        try:
            namespace_of(environ)
        except BadNamespace:  # the Flask app answers it (400)
            return self.flask_wsgi(environ, start_response)
        if not (self.serving or (self.serving is None and self._check_hooks())):
            return self.flask_wsgi(environ, start_response)
        reader, raw = _no_body, None
        if method == "POST":
            raw = _body(environ, self.limit)
            if raw is None:
                return self.flask_wsgi(environ, start_response)
            if len(raw) < int(environ["CONTENT_LENGTH"]):
                return self._hand_over(environ, start_response, raw)  # werkzeug decides
            reader = _reader(raw)
        call = begin(self.service, environ, method, path, reader)
        call.settings = self._plain_settings(call.ns)
        call.owner = owner_of_key(self.service, call.key)
        if call.settings is None or call.owner is None:  # a 401 or faults: the Flask app's
            return self._hand_over(environ, start_response, raw)
        if route is pipeline.fetch_one:
            call.task_id = param
        else:
            call.action = param
        try:
            answer = self._run(route, call)
        except Exception as exc:  # the Flask app's error handlers own every error envelope
            return self._fail(environ, start_response, exc, call)
        if answer is None:
            return self._hand_over(environ, start_response, raw)
        if call.journaled != answer.status:
            finish(self.service, call, answer.status, None, answer.body)
        body = answer.body
        headers = [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(body))),
            *answer.headers.items(),
            ("X-Oneapi-Request-Id", call.request_id),
        ]
        if self.access_log:
            write_access_line(call, answer.status, len(body), environ.get("REMOTE_ADDR"))
        start_response(_status_line(answer.status), headers)
        return [body]

    def _run(self, route: Route, call: Call) -> Answer | None:
        """``route(call)`` on settings as fresh as the store's.

        The clock and fault rules are kept per process (reading them was two of a request's
        four store round trips); the store refuses a stale token (SettingsChanged, nothing
        done), and then they are read again. None: fault rules came into force, or the settings
        keep changing: the Flask path answers.
        """
        for _ in range(_ATTEMPTS):
            try:
                return route(self.service, call)
            except SettingsChanged:
                settings = call.settings = self._read_settings(call.ns)
                if self._faulty(settings):
                    break
        return None

    def _plain_settings(self, ns: str) -> Settings | None:
        """The namespace's settings, if no fault rule is in force and the store answers."""
        settings = self._settings.get(ns)
        if settings is None or self._faulty(settings):  # rules may have gone since: re-read
            try:
                settings = self._read_settings(ns)
            except Exception:  # the Flask path meets it again, and answers it
                return None
            if self._faulty(settings):
                return None
        return settings

    def _read_settings(self, ns: str) -> Settings:
        return self._settings.put(ns, self.service.store.settings(ns))

    def _faulty(self, settings: Settings) -> bool:
        """Whether fault rules are in force (the Flask path applies them)."""
        return bool(self.base_faults if settings.faults is None else settings.faults)

    def _check_hooks(self) -> bool:
        """Whether every app-wide hook is one this layer stands for; decided once.

        After this the app counts as having handled a request, so Flask refuses new hooks.
        """
        unknown = [hook for hook in app_hooks(self.app) if hook not in self.stands_for]
        if unknown:
            names = ", ".join(getattr(hook, "__qualname__", repr(hook)) for hook in unknown)
            log.warning("fast path off: it does not stand for the app hook(s) %s", names)
        self.app._got_first_request = True  # as Flask's own first request would
        self.serving = not unknown
        return self.serving

    def _hand_over(
        self, environ: Environ, start_response: StartResponse, body: bytes | None
    ) -> Iterable[bytes]:
        """The Flask app answers; it reads again what was read of the body."""
        if body is not None:
            environ["wsgi.input"] = BytesIO(body)
        return self.flask_wsgi(environ, start_response)

    def _fail(
        self, environ: Environ, start_response: StartResponse, exc: Exception, call: Call
    ) -> Iterable[bytes]:
        """Answer an exception as the Flask app would have, without running the route again:
        its error handler, then its after-request hooks (the journal, the access log), on the
        call as the route left it."""
        with self.app.request_context(environ):
            g.call, g.request_id = call, call.request_id  # what the app's ``_start`` sets
            response = self.app.finalize_request(self.app.handle_user_exception(exc))
            return response(environ, start_response)


def _match(method: str, path: str) -> tuple[Route | None, str]:
    """The route (and its path parameter) Flask would dispatch ``method path`` to, if plain."""
    if method == "GET":
        task_id = path[len(_FETCH_PREFIX) :] if path.startswith(_FETCH_PREFIX) else ""
        if task_id and "/" not in task_id:
            return pipeline.fetch_one, task_id
    elif path == "/suno/fetch":
        return pipeline.fetch, ""
    elif path == _UPLOAD_PATH:
        return pipeline.upload_audio_url, ""
    elif path.startswith(_SUBMIT_PREFIX):
        action = path[len(_SUBMIT_PREFIX) :]
        if action and "/" not in action:
            return pipeline.submit, action
    return None, ""


def install_hot_path(
    app: Flask, service: MockService, config: Config, stands_for: Iterable[Hook]
) -> HotPath:
    """Put the fast path in front of ``app``. ``stands_for``: the app-wide hooks whose work it
    does itself, or that do nothing on the requests it takes (see the module's docstring)."""
    hot = HotPath(app, service, config, stands_for)
    app.wsgi_app = hot  # type: ignore[method-assign]
    return hot
