"""Deliberately broken servers: the fake behind a WSGI middleware that breaks one rule each.

Each is served on loopback and checked through the live target; the suite must fail and name
the rule. Also: serving a WSGI app on loopback, and seeding a served fake through its admin API.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from werkzeug.serving import WSGIRequestHandler, make_server

from mock_server import Config, create_app

__all__ = [
    "BROKEN",
    "BROKEN_ROUTES",
    "OTHER",
    "PRIMARY",
    "broken_app",
    "broken_route_app",
    "seed",
    "serve",
    "timing_rewritten",
    "without_route",
    "write_ids",
]

PRIMARY = "sk-proof-primary-7Hq2"
OTHER = "sk-proof-other-9Zx4"
WSGIApp = Callable[..., Any]
Rewrite = Callable[[dict[str, Any], int, Any], tuple[int, Any]]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve(app: WSGIApp) -> Iterator[str]:
    """Serve ``app`` on an ephemeral loopback port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def seed(base_url: str, primary: str = PRIMARY, other: str = OTHER) -> list[str]:
    """Tasks of ``primary`` in every step of every scenario (pinned), plus unpinned fresh ones
    whose poll-driven steps move while the suite polls; one finished task of ``other``."""
    with httpx.Client(base_url=base_url, timeout=10) as admin:
        scenarios = admin.get("/__mock/scenarios").json()
        ids = []
        for scenario in scenarios:
            for step in scenario["steps"]:
                body = {"api_key": primary, "scenario": scenario["name"], "step": step["name"]}
                ids.append(admin.post("/__mock/tasks", json=body).json()["task_id"])
            body = {"api_key": primary, "scenario": scenario["name"]}
            ids.append(admin.post("/__mock/tasks", json=body).json()["task_id"])
            body = {"api_key": other, "scenario": scenario["name"], "step": -1 + len(
                scenario["steps"])}
            admin.post("/__mock/tasks", json=body).raise_for_status()
    return ids


def write_ids(path: Any, ids: list[str]) -> str:
    path.write_text("# seeded by the proof tests\n" + "\n".join(ids) + "\n", encoding="utf-8")
    return str(path)


def _rewriting(app: WSGIApp, rewrite: Rewrite) -> WSGIApp:
    """Middleware: hand every JSON answer under /suno/ to ``rewrite`` before it leaves."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not environ.get("PATH_INFO", "").startswith("/suno/"):
            return app(environ, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status = int(captured["status"].split()[0])
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if payload is not None:
            status, payload = rewrite(environ, status, payload)
            body = json.dumps(payload).encode()
        start_response(f"{status} X", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return middleware


def _tasks(payload: Any) -> list[dict[str, Any]]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict) and "task_id" in data:
        return [data]
    if isinstance(data, list):
        return [t for t in data if isinstance(t, dict) and "task_id" in t]
    return []


def _each_task(change: Callable[[dict[str, Any]], None]) -> Rewrite:
    def rewrite(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
        for task in _tasks(payload):
            change(task)
        return status, payload

    return rewrite


def _success_regresses() -> Rewrite:
    """Every second read of a SUCCESS task reports it IN_PROGRESS again."""
    reads: dict[str, int] = {}

    def change(task: dict[str, Any]) -> None:
        if task.get("status") != "SUCCESS":
            return
        reads[task["task_id"]] = seen = reads.get(task["task_id"], 0) + 1
        if seen % 2 == 0:
            task.update(status="IN_PROGRESS", progress="0%", finish_time=0)

    return _each_task(change)


def _unknown_ids_error(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
    """A batch with any id that is not answered gets 404 instead of the omission."""
    asked = environ.get("suno.asked")
    if environ["PATH_INFO"] != "/suno/fetch" or status != 200 or not asked:
        return status, payload
    answered = {t["task_id"] for t in _tasks(payload)}
    if any(not (isinstance(i, str) and i in answered) for i in asked):
        return 404, {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    return status, payload


def _duplicates_answered(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
    """A batch answers an id the caller asked for more than once with its task twice."""
    asked = environ.get("suno.asked")
    data = payload.get("data") if isinstance(payload, dict) else None
    if environ["PATH_INFO"] != "/suno/fetch" or status != 200 or not asked or not data:
        return status, payload
    payload["data"] = [copy for task in _tasks(payload)
                       for copy in [task] * (2 if asked.count(task["task_id"]) > 1 else 1)]
    return status, payload


def _remember_asked_ids(app: WSGIApp) -> WSGIApp:
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/suno/fetch" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                ids = json.loads(raw).get("ids")
            except (ValueError, AttributeError):
                ids = None
            environ["suno.asked"] = ids if isinstance(ids, list) else None
        return app(environ, start_response)

    return middleware


def _bad_json_500(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
    """A body that does not bind crashes the handler instead of a 400."""
    if status == 400 and isinstance(payload, dict) and payload.get("code") == "invalid_request":
        return 500, {"error": {"message": "Panic detected", "type": "new_api_panic"}}
    return status, payload


def _owners_ignored(app: WSGIApp) -> WSGIApp:
    """Every valid key reads as the primary key's owner: other owners' tasks become visible."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_AUTHORIZATION") == f"Bearer {OTHER}":
            environ["HTTP_AUTHORIZATION"] = f"Bearer {PRIMARY}"
        return app(environ, start_response)

    return middleware


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda task: task.pop(name, None)


def _stringify(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda task: task.update({name: str(task.get(name))})


def _no_percent(task: dict[str, Any]) -> None:
    if isinstance(task.get("progress"), str):
        task["progress"] = task["progress"].rstrip("%")


# name -> (how to break the fake, rules the failure output must name)
BROKEN: dict[str, tuple[Callable[[WSGIApp], WSGIApp], tuple[str, ...]]] = {
    "missing-field": (lambda app: _rewriting(app, _each_task(_drop("status"))),
                      ("task-field-set", "missing status")),
    "wrong-type": (lambda app: _rewriting(app, _each_task(_stringify("submit_time"))),
                   ("task-schema", "$.submit_time")),
    "progress-without-percent": (lambda app: _rewriting(app, _each_task(_no_percent)),
                                 ("task-schema", "$.progress")),
    "success-regresses": (lambda app: _rewriting(app, _success_regresses()),
                          ("terminal-sticks", "status 'SUCCESS' -> 'IN_PROGRESS'")),
    "unknown-ids-error": (lambda app: _remember_asked_ids(_rewriting(app, _unknown_ids_error)),
                          ("unknown-ids-omitted",)),
    "duplicates-answered-twice": (
        lambda app: _remember_asked_ids(_rewriting(app, _duplicates_answered)),
        ("ids-no-duplicates",)),
    "other-owners-visible": (_owners_ignored, ("other-owners-invisible",)),
    "bad-json-500": (lambda app: _rewriting(app, _bad_json_500),
                     ("bad-json-invalid-request", "expected HTTP 400")),
}


def broken_app(name: str, profile: str = "elkapi") -> WSGIApp:
    """The fake (keys PRIMARY and OTHER only, manual clock) broken the way ``name`` says."""
    app = create_app(Config(
            profile=profile, clock="manual", poll_interval=0, api_keys=(PRIMARY, OTHER)))
    return BROKEN[name][0](app)


# -- ElkAPI routes (contract_tests.routes) ----------------------------------------------------


def _timing(change: Callable[[list[dict[str, Any]]], None]) -> Rewrite:
    def rewrite(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
        words = payload.get("aligned_words") if isinstance(payload, dict) else None
        if environ["PATH_INFO"].startswith("/suno/act/timing/") and words:
            change(words)
        return status, payload

    return rewrite


def _words_reversed(words: list[dict[str, Any]]) -> None:
    """The words keep their times but come last-first (a karaoke view scrolls backwards)."""
    times = [(w["start_s"], w["end_s"]) for w in words]
    for word, (start, end) in zip(words, reversed(times), strict=True):
        word["start_s"], word["end_s"] = start, end


def _last_word_late(words: list[dict[str, Any]]) -> None:
    """The last word ends an hour in, past any clip's end."""
    words[-1]["end_s"] = 3600.0


def _history_forgotten(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
    """A task kind's clips name a clip that is not their source."""
    for task in _tasks(payload):
        for clip in task.get("data") or []:
            meta = clip.get("metadata") if isinstance(clip, dict) else None
            if isinstance(meta, dict) and meta.get("history"):
                meta["history"] = [{**meta["history"][0], "id": "another-clip"}]
    return status, payload


def _foreign_clips_accepted(app: WSGIApp) -> WSGIApp:
    """The clip routes let any valid key use the primary owner's clips."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/suno/act/") and environ.get(
                "HTTP_AUTHORIZATION") == f"Bearer {OTHER}":
            environ["HTTP_AUTHORIZATION"] = f"Bearer {PRIMARY}"
        return app(environ, start_response)

    return middleware


def _export_of_another_clip(environ: dict[str, Any], status: int,
                            payload: Any) -> tuple[int, Any]:
    """act/wav answers a clip id, but not the one it was asked about."""
    if environ["PATH_INFO"].startswith("/suno/act/wav/") and isinstance(payload, dict):
        payload["data"] = "00000000-0000-4000-8000-0000000000aa"
    return status, payload


# name -> (how to break the fake, rules the failure output must name, whether the suite must
# spend to see it: those run with a budget, on a fake whose MUSIC tasks end at the first poll)
BROKEN_ROUTES: dict[str, tuple[Callable[[WSGIApp], WSGIApp], tuple[str, ...], bool]] = {
    "timing-words-out-of-order": (
        lambda app: _rewriting(app, _timing(_words_reversed)),
        ("timing-words-in-order", "before the end of the word before"), False),
    "timing-past-duration": (
        lambda app: _rewriting(app, _timing(_last_word_late)),
        ("timing-words-in-order", "past the clip's duration"), False),
    "foreign-clip-accepted": (
        _foreign_clips_accepted,
        ("route-refuses-bad-input", "[timing-other-keys-clip]", "got HTTP 200"), False),
    "extend-forgets-its-source": (
        lambda app: _rewriting(app, _history_forgotten),
        ("result-refers-to-source", "not the source clip"), True),
    "wav-names-another-clip": (
        lambda app: _rewriting(app, _export_of_another_clip),
        ("result-refers-to-source", "not the clip asked about"), True),
}


def broken_route_app(name: str) -> WSGIApp:
    """The fake in the elkapi profile, its MUSIC submits ending at the first poll (so a live
    run sees a task kind's clips), broken the way ``BROKEN_ROUTES[name]`` says."""
    app = create_app(Config(
        profile="elkapi", clock="manual", poll_interval=0, api_keys=(PRIMARY, OTHER),
        default_scenarios={"MUSIC": "music_instant", "LYRICS": "lyrics_success",
                           "CONCAT": "concat_success", "UPLOAD": "upload_success"}))
    return BROKEN_ROUTES[name][0](app)


def without_route(app: WSGIApp, prefix: str) -> WSGIApp:
    """A gateway that lost the routes under ``prefix``: gin's 404 ``404 page not found``."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith(prefix):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"404 page not found"]
        return app(environ, start_response)

    return middleware


def timing_rewritten(app: WSGIApp, change: Callable[[dict[str, Any]], None]) -> WSGIApp:
    """A gateway whose timing answers pass through ``change`` (the whole body)."""

    def rewrite(environ: dict[str, Any], status: int, payload: Any) -> tuple[int, Any]:
        if environ["PATH_INFO"].startswith("/suno/act/timing/") and isinstance(payload, dict):
            change(payload)
        return status, payload

    return _rewriting(app, rewrite)
