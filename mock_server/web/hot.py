"""The hot routes without Flask's per-request machinery: the same bytes at a fraction of the cost.

Polling clients call submit and fetch thousands of times a second. Flask's request context,
hooks and response object cost more than the fake's own work (bench/RESULTS.md), so this WSGI
layer answers the plain case of the three /suno/ routes itself: a known route, a usable key, a
body that binds, no fault rule in force, no X-Mock-Fault header. Everything else (every error,
every fault, admin, ops, unknown routes) goes to the Flask app untouched, and the Flask app stays
the reference: tests/test_hot_path.py checks that both give the same status, headers, body,
journal entry and task state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any, TypeVar

from flask import Flask, g

from mock_server.core.actions import SUBMIT_FIELDS
from mock_server.core.cache import BoundedCache
from mock_server.core.config import Config
from mock_server.core.identity import owner_of
from mock_server.core.ids import new_request_id
from mock_server.core.record import TaskRecord
from mock_server.errors import BadNamespace
from mock_server.service.mock_service import MockService
from mock_server.service.rendered import success_body
from mock_server.stores.base import Settings, SettingsChanged, StoreUnavailable
from mock_server.wire.gobind import BindError, bind_object
from mock_server.wire.request import (
    FETCH_FIELDS,
    FETCH_GO_TYPE,
    SCENARIO_HEADER,
    api_key_of,
    environ_key,
    namespace_of,
)

__all__ = ["HotPath", "install_hot_path"]

log = logging.getLogger("mock_server")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
_FETCH_PREFIX = "/suno/fetch/"
_SUBMIT_PREFIX = "/suno/submit/"
_SCENARIO_ENVIRON = environ_key(SCENARIO_HEADER)
_HOT_ONLY = ("now", "settings")  # what ``seen`` holds that the Flask route does not put in g
_ATTEMPTS = 3  # tries with fresh settings before the Flask path takes the request
T = TypeVar("T")
# The app-wide hooks whose work this layer does itself (or, for faults, checks is a no-op).
_KNOWN_HOOKS = {"before": {"_start", "_faults_before"}, "after": {"_finish", "_faults_after"}}


class _Answer:
    """What a handled request sends (its journal entry reads the rest from ``seen``)."""

    __slots__ = ("body", "headers")

    def __init__(self, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.body, self.headers = body, headers


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


def _is_json(environ: Environ) -> bool:
    """True only where werkzeug's ``request.mimetype`` surely ends in "json"."""
    kind = str(environ.get("CONTENT_TYPE", "")).partition(";")[0].strip().lower()
    return kind == "application/json"


class HotPath:
    """WSGI middleware in front of the Flask app (``app.wsgi_app = HotPath(...)``)."""

    def __init__(self, app: Flask, service: MockService, config: Config) -> None:
        self.app = app
        self.flask_wsgi = app.wsgi_app  # the reference path, for everything not handled here
        self.service = service
        self.profile = service.profile
        self.limit = config.max_body_bytes
        self.allowed_owners = {owner_of(k) for k in config.api_keys}
        self.base_faults = service.faults.base
        # Per namespace; bounded, since a client names namespaces (X-Mock-Namespace).
        self._settings: BoundedCache[str, Settings] = BoundedCache(1024)
        # Settled tasks seen by this worker, with the settings token they were seen under.
        self._settled: BoundedCache[tuple[str, str], tuple[str, TaskRecord]] = BoundedCache(
            16384
        )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if not (method in ("GET", "POST") and path.startswith("/suno/") and path.isascii()):
            return self.flask_wsgi(environ, start_response)
        if "HTTP_X_MOCK_FAULT" in environ:
            return self.flask_wsgi(environ, start_response)
        try:
            ns = namespace_of(environ)
        except BadNamespace:  # the Flask app answers it (400)
            return self.flask_wsgi(environ, start_response)
        request_id = new_request_id(self.profile.request_id_style)
        seen: dict[str, Any] = {"request_id": request_id}  # what the Flask route puts in g
        try:
            settings = self._settings.get(ns)
            if settings is None or self._faulty(settings):  # rules may have gone since: re-read
                settings = self._read_settings(ns)
                if self._faulty(settings):
                    return self.flask_wsgi(environ, start_response)
            seen["settings"] = settings
            owner = seen["owner"] = self._owner(environ)
            if owner is None:
                return self.flask_wsgi(environ, start_response)
            answer = self._route(environ, method, path, owner, ns, seen)
        except Exception as exc:  # the Flask app's error handlers own every error envelope
            return self._fail(environ, start_response, exc, seen)
        if answer is None:
            return self.flask_wsgi(environ, start_response)
        start_response("200 OK", [*answer.headers, ("X-Oneapi-Request-Id", request_id)])
        return [answer.body]

    def _read_settings(self, ns: str) -> Settings:
        return self._settings.put(ns, self.service.store.settings(ns))

    def _faulty(self, settings: Settings) -> bool:
        """Whether fault rules are in force (the Flask path applies them)."""
        return bool(self.base_faults if settings.faults is None else settings.faults)

    def _with_settings(
        self,
        ns: str,
        request: tuple[str, str],
        seen: dict[str, Any],
        work: Callable[[dict[str, Any], str], T],
    ) -> T | None:
        """``work(journal entry, settings token)`` on settings as fresh as the store's.

        The clock and fault rules are kept per process (reading them was two of a request's
        four store round trips); the store refuses a stale token, and then they are read again.
        None: fault rules came into force, or the settings keep changing: the Flask path answers.
        """
        for _ in range(_ATTEMPTS):
            settings: Settings = seen["settings"]
            now = seen["now"] = settings.clock.now()
            entry = {
                "time": now,
                "method": request[0],
                "path": request[1],
                "status": 200,
                "owner": seen["owner"],
                "request_id": seen["request_id"],
                "body": seen.get("journal_body"),
                "faults": None,
            }
            try:
                return work(entry, settings.token)
            except SettingsChanged:
                settings = seen["settings"] = self._read_settings(ns)
                if self._faulty(settings):
                    break
        return None

    def _poll(
        self, ns: str, owner: str, wanted: list[str], entry: dict[str, Any], settings_token: str
    ) -> list[TaskRecord]:
        """Poll ``wanted``; tasks this worker holds settled need no store round trip.

        A settled task shows the same whatever its poll count (``MockService.settled``), so
        while the settings token stands, its poll and journal entry may be written behind
        (``Store.poll_later``). Only stores whose token costs no round trip offer that.
        """
        store = self.service.store
        token = store.token(ns)
        if token is not None:
            if token != settings_token:
                raise SettingsChanged(ns)
            known = self._known(ns, owner, wanted, token)
            if known:
                store.poll_later(ns, owner, wanted, journal=entry)
                return known
        records = store.poll(ns, owner, wanted, journal=entry, token=settings_token)
        if token is not None:
            settled = self.service.settled
            for record in records:
                if settled(record):
                    self._settled.put((ns, record.task_id), (token, record))
        return records

    def _known(
        self, ns: str, owner: str, wanted: list[str], token: str
    ) -> list[TaskRecord] | None:
        """The owner's tasks, if this worker holds every one settled under ``token``."""
        out = []
        for task_id in wanted:
            hit = self._settled.get((ns, task_id))
            if hit is None or hit[0] != token or hit[1].owner != owner:
                return None
            out.append(hit[1])
        return out

    def _owner(self, environ: Environ) -> str | None:
        key = api_key_of(environ, self.profile.lowercase_bearer)
        if not key.removeprefix("sk-"):
            return None
        owner = owner_of(key)
        return None if self.allowed_owners and owner not in self.allowed_owners else owner

    def _route(
        self, environ: Environ, method: str, path: str, owner: str, ns: str, seen: dict[str, Any]
    ) -> _Answer | None:
        if method == "GET":
            task_id = path[len(_FETCH_PREFIX) :] if path.startswith(_FETCH_PREFIX) else ""
            if not task_id or "/" in task_id:
                return None

            def poll_one(entry: dict[str, Any], token: str) -> list[TaskRecord]:
                return self._poll(ns, owner, [task_id], entry, token)

            records = self._with_settings(ns, (method, path), seen, poll_one)
            # No such task: nothing was polled or written, and the Flask route answers
            # task_not_exist (and journals it).
            if not records:
                return None
            return self._json(success_body(self.service.render(records[0], ns, None, seen["now"])))
        if path == "/suno/fetch":
            return self._fetch(environ, owner, ns, seen)
        if path.startswith(_SUBMIT_PREFIX):
            return self._submit(environ, path[len(_SUBMIT_PREFIX) :], owner, ns, seen)
        return None

    def _read(self, environ: Environ, seen: dict[str, Any]) -> bytes | None:
        body = _body(environ, self.limit)
        if body is not None and len(body) < int(environ["CONTENT_LENGTH"]):
            environ["wsgi.input"] = BytesIO(body)  # short: werkzeug sees what was there
            return None
        if body is not None:
            seen["journal_body"] = _journal_text(body)
        return body

    def _fetch(
        self, environ: Environ, owner: str, ns: str, seen: dict[str, Any]
    ) -> _Answer | None:
        body = self._read(environ, seen)
        if body is None:
            return None
        try:
            fields = bind_object(body, FETCH_FIELDS, FETCH_GO_TYPE)
        except BindError:
            environ["wsgi.input"] = BytesIO(body)
            return None
        ids = fields.get("ids") or []
        wanted = self.service.wanted(ids)
        store = self.service.store

        def poll(entry: dict[str, Any], token: str) -> list[TaskRecord]:
            records = self._poll(ns, owner, wanted, entry, token)
            if not records:  # nothing polled, so nothing journaled yet
                try:
                    store.journal_append(ns, entry)
                except StoreUnavailable:
                    # The journal is diagnostics: an outage must not turn the answer into a 500.
                    log.warning("journal entry lost: store unavailable")
            return records

        records = self._with_settings(ns, ("POST", "/suno/fetch"), seen, poll)
        if records is None:
            environ["wsgi.input"] = BytesIO(body)
            return None
        now = seen["now"]
        return self._json(self.service.batch_body(records, ns, now) if ids else success_body([]))

    def _submit(
        self, environ: Environ, action: str, owner: str, ns: str, seen: dict[str, Any]
    ) -> _Answer | None:
        action = action.upper()
        if action not in ("MUSIC", "LYRICS") or "/" in action or not _is_json(environ):
            return None
        body = self._read(environ, seen)
        if body is None:
            return None
        try:
            fields = bind_object(body, SUBMIT_FIELDS, "dto.SunoSubmitReq", "SunoSubmitReq")
            if action == "LYRICS" and not fields.get("prompt"):
                raise BindError("prompt_empty")
            scenario = self.service.resolve_scenario(
                action, str(environ.get(_SCENARIO_ENVIRON, "")) or None
            )
        except (BindError, KeyError, ValueError):
            environ["wsgi.input"] = BytesIO(body)
            return None

        def add(entry: dict[str, Any], token: str) -> str:
            return self.service.submit(
                owner, action, fields, scenario, ns=ns, now=entry["time"], journal=entry,
                token=token,
            )

        task_id = self._with_settings(ns, ("POST", environ["PATH_INFO"]), seen, add)
        if task_id is None:
            environ["wsgi.input"] = BytesIO(body)
            return None
        headers = [("Content-Type", self.profile.submit_content_type)]
        answer = success_body(task_id)
        headers.append(("Content-Length", str(len(answer))))
        headers.extend(self.profile.submit_headers.items())
        return _Answer(answer, headers)

    @staticmethod
    def _json(body: bytes) -> _Answer:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        return _Answer(body, headers)

    def _fail(
        self, environ: Environ, start_response: StartResponse, exc: Exception, seen: dict[str, Any]
    ) -> Iterable[bytes]:
        """Answer an exception as the Flask app would have, without running the route again:
        its error handler, then its after-request hooks (the journal) with what the route had
        put in ``g`` by then."""
        with self.app.request_context(environ):
            vars(g).update((k, v) for k, v in seen.items() if k not in _HOT_ONLY)
            response = self.app.finalize_request(self.app.handle_user_exception(exc))
            return response(environ, start_response)


def _journal_text(body: bytes) -> str:
    return body[:4096].decode("utf-8", errors="replace")


def install_hot_path(app: Flask, service: MockService, config: Config) -> bool:
    """Put the hot path in front of ``app``, unless a hook it does not know would be skipped.

    With the access log on, or any app-wide hook besides the known ones, every request takes
    the Flask path (tests/test_hot_path.py fails then, so nobody loses the speed unknowingly).
    """
    hooks = {
        "before": {f.__name__ for f in app.before_request_funcs.get(None, ())},
        "after": {f.__name__ for f in app.after_request_funcs.get(None, ())},
    }
    extra = app.teardown_request_funcs.get(None) or app.url_value_preprocessors.get(None)
    if config.access_log or extra or any(hooks[k] - _KNOWN_HOOKS[k] for k in hooks):
        return False
    app.wsgi_app = HotPath(app, service, config)  # type: ignore[method-assign]
    return True
