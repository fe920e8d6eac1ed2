"""``suno-mock serve --proxy-to URL [--record DIR]``: the app's /suno/ traffic goes to the live
gateway and back; with --record, what came back is written as scenarios plus a seed file.

WSGI middleware in front of everything else (the fast path, Flask): a /suno/ request never
reaches the fake's own routes, faults or journal, while /__mock/ (the clock the recording's
timing is read from), the probes and the media routes stay the fake's.
"""

from __future__ import annotations

import json
import re
import sys
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from mock_server.core.config import Config
from mock_server.core.ids import new_request_id
from mock_server.service.mock_service import MockService
from mock_server.service.proxy import Unreachable, Upstream, request_headers
from mock_server.service.recording import Recorder
from mock_server.wire.envelopes import WireError, task_error
from mock_server.wire.request import api_key_of

__all__ = ["ProxyPass", "install_proxy"]

_SUBMIT = re.compile(r"/suno/submit/([^/]+)")
_FETCH = re.compile(r"/suno/fetch(?:/[^/]+)?")
WSGIApp = Callable[..., Iterable[bytes]]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class ProxyPass:
    """The middleware: /suno/ to the gateway, the rest to ``inner``."""

    def __init__(self, inner: WSGIApp, service: MockService, config: Config,
                 upstream: Upstream, recorder: Recorder | None) -> None:
        self.inner = inner
        self.service = service
        self.limit = config.max_body_bytes
        self.upstream = upstream
        self.recorder = recorder

    def _reply(self, start_response: Callable[..., Any], status: int,
               headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
        reason = HTTP_STATUS_CODES.get(status, "Unknown")
        start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _error(self, start_response: Callable[..., Any], error: WireError) -> list[bytes]:
        request_id = new_request_id(self.service.profile.request_id_style)
        headers = [("Content-Type", error.content_type), ("X-Oneapi-Request-Id", request_id)]
        return self._reply(start_response, error.status, headers, error.body)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith("/suno/"):
            return self.inner(environ, start_response)
        url = self.upstream.url_for(path, str(environ.get("QUERY_STRING", "")))
        if url is None:  # a path that climbs out of the base: the fake answers (NoRoute)
            return self.inner(environ, start_response)
        request = Request(environ)
        request.max_content_length = self.limit
        try:  # werkzeug reads and limits it as Flask does for the fake's own routes
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return self._error(start_response, task_error(
                413, "read_request_body_failed", "http: request body too large"))
        method = str(environ.get("REQUEST_METHOD", "GET"))
        try:
            answer = self.upstream.forward(method, url, request_headers(environ), body)
        except Unreachable as exc:
            # new-api's code for "the request to the upstream failed", with a gateway's
            # status: 504 for a timeout (a submit may have been taken: do not retry blindly),
            # 502 when no connection was made.
            status = 504 if exc.timed_out else 502
            return self._error(start_response, task_error(status, "do_request_failed", str(exc)))
        if self.recorder is not None and answer.status == 200:
            self._record(environ, method, path, body, answer.body)
        return self._reply(start_response, answer.status, answer.headers, answer.body)

    def _record(self, environ: dict[str, Any], method: str, path: str, body: bytes,
                answer: bytes) -> None:
        assert self.recorder is not None
        key = api_key_of(environ, lowercase_bearer=True)
        if not key:
            return
        submit = _SUBMIT.fullmatch(path)
        if method == "POST" and submit:
            self.recorder.submitted(key, submit.group(1), _json(body), _json(answer))
        elif _FETCH.fullmatch(path) and (method == "GET") == (path != "/suno/fetch"):
            self.recorder.fetched(key, _json(answer))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def install_proxy(app: Flask, service: MockService, config: Config) -> None:
    """Put ProxyPass in front of ``app`` (config.proxy_to is set)."""
    assert config.proxy_to is not None
    upstream = Upstream(config.proxy_to, config.proxy_timeout)
    recorder = None
    if config.record is not None:
        recorder = Recorder(Path(config.record), lambda: service.now(""),
                            source=f"{upstream.host} through suno-mock --proxy-to", log=_stderr)
    app.extensions["suno_mock_proxy"] = upstream
    weakref.finalize(app, upstream.close)  # its pooled connections go with the app
    app.wsgi_app = ProxyPass(  # type: ignore[method-assign]
        app.wsgi_app, service, config, upstream, recorder)
