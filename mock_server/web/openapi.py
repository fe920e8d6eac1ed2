"""GET /openapi.json, and the examples in it: recorded from a fresh fake of the same profile.

The document itself is ``contract.openapi`` (built from schemas/). Its examples are real answers:
a new app, on a manual clock at a fixed time, is sent one request per example; the random parts
of an answer (new task ids, request ids, the worker's pid) are replaced by fixed ones, so the
document is the same on every run. ``make_app`` is ``create_app``, handed in by the caller
(``web.app`` registers this blueprint: importing it back would be an import circle).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.test import TestResponse

from mock_server.contract.openapi import Exchange, openapi_document
from mock_server.contract.profiles import load_profile
from mock_server.core.config import Config
from mock_server.core.ids import TASK_ID_PATTERNS
from mock_server.core.render import clip_ids
from mock_server.service.mock_service import MockService
from mock_server.version import version
from mock_server.wire.envelopes import JSON_UTF8

__all__ = ["EXAMPLE_TIME", "document", "openapi_blueprint"]

AppFactory = Callable[[Config], Flask]
EXAMPLE_TIME = 1_767_268_800  # 2026-01-01 12:00:00 UTC: every example's clock starts here
_KEY = "sk-example-key"
_AUTH = {"Authorization": f"Bearer {_KEY}"}
_NS = uuid.UUID("0d3c1b2a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")


def example_task_id(fmt: str, n: int) -> str:
    """The ``n``-th example task id of id format ``fmt`` (fixed, and of the format's shape)."""
    if fmt == "task_alnum32":
        return "task_" + hashlib.sha256(f"example-{n}".encode()).hexdigest()[:32]
    h = uuid.uuid5(_NS, f"example-{n}")
    return h.hex if fmt == "hex32" else str(h)


def _example_request_id(style: str) -> str:
    return "20260101120000" + "12345678" + ("38268d9d" if style == "2026" else "") + "ExAmPlE0"


class _Recorder:
    """Sends requests to a fresh fake and keeps each answer as an Exchange."""

    def __init__(self, profile: str, make_app: AppFactory) -> None:
        self.profile = load_profile(profile)
        # No poll grid: each example shows its step at the time the scenario gives it.
        config = Config(profile=profile, clock="manual", clock_start=EXAMPLE_TIME,
                        max_body_bytes=4096, poll_interval=0)
        self.app = make_app(config)
        self.client = self.app.test_client()
        self.fixed: dict[str, str] = {}  # random text in answers -> its fixed example
        self.exchanges: list[Exchange] = []
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return example_task_id(self.profile.id_format, self._n)

    def record(
        self,
        name: str,
        summary: str,
        method: str,
        path: str,
        url: str | None = None,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        keep: bool = True,
        new_task: bool = False,
    ) -> Any:
        body = data if data is not None else (
            None if json_body is None else json.dumps(json_body).encode())
        answer: TestResponse = self.client.open(
            url or path, method=method, data=body, headers=headers or {},
            content_type=content_type if body is not None else None,
        )
        request_id = answer.headers.get("X-Oneapi-Request-Id", "")
        if request_id:
            self.fixed[request_id] = _example_request_id(self.profile.request_id_style)
        text = answer.get_data(as_text=True)
        if new_task and answer.status_code == 200:
            self.fixed[json.loads(text)["data"]] = self.new_id()
        for random_part, fixed in self.fixed.items():
            text = text.replace(random_part, fixed)
        decoded: Any = text  # a text/plain example is the text, even where it holds JSON
        if answer.mimetype == "application/json":
            decoded = json.loads(text)
        if keep:
            self.exchanges.append(Exchange(
                name=name, summary=summary, method=method, path=path, status=answer.status_code,
                content_type=answer.headers.get("Content-Type", ""), response=decoded,
                request=json_body,
            ))
        return decoded

    def submitted(self, name: str, summary: str, action: str, body: Any) -> None:
        """Record a submit, its new (random) task id shown as a fixed example id."""
        self.record(name, summary, "POST", "/suno/submit/{action}", f"/suno/submit/{action}",
                    json_body=body, headers=_AUTH, new_task=True)


def _exchanges(profile: str, make_app: AppFactory) -> Iterator[Exchange]:
    rec = _Recorder(profile, make_app)
    service: MockService = rec.app.extensions["suno_mock"]
    post, get = "POST", "GET"
    song = {"title": "Neon Rain", "tags": "synthwave, female vocals", "mv": "chirp-v3-5",
            "prompt": "[Verse]\nCity lights in the rain\n\n[Chorus]\nNeon rain"}

    # Tasks at known points of their scenarios, made through the admin API.
    ids = {key: rec.new_id() for key in ("streaming", "complete", "failure", "lyrics")}
    made: list[tuple[str, str, dict[str, Any]]] = [
        ("streaming", "A MUSIC task 40 s after submit: two clips streaming",
         {"scenario": "music_success", "elapsed": 40, "request": song}),
        ("complete", "A MUSIC task 3 minutes after submit: SUCCESS",
         {"scenario": "music_success", "elapsed": 180, "request": song}),
        ("failure", "A MUSIC task that failed upstream",
         {"scenario": "music_failure", "step": "error", "request": {"title": "Too Loud"}}),
        ("lyrics", "A LYRICS task, done by its first poll",
         {"scenario": "lyrics_success", "request": {"prompt": "a song about rain"}}),
    ]
    for key, summary, extra in made:
        rec.record(key, summary, post, "/__mock/tasks",
                   json_body={"task_id": ids[key], "api_key": _KEY, **extra})
    rec.record("taken", "The id is taken", post, "/__mock/tasks",
               json_body={"task_id": ids["complete"], "api_key": _KEY})
    rec.record("unknown_field", "A field the admin API does not know", post, "/__mock/tasks",
               json_body={"api_key": _KEY, "colour": "red"})

    # Submits.
    rec.submitted("music", "A custom-mode song", "music", song)
    rec.submitted("lyrics", "Lyrics from a prompt", "lyrics", {"prompt": "a song about rain"})
    submit = "/suno/submit/{action}"
    rec.record("prompt_empty", "LYRICS without a prompt", post, submit, "/suno/submit/lyrics",
               json_body={"prompt": ""}, headers=_AUTH)
    rec.record("wrong_type", "A field of the wrong JSON type", post, submit,
               "/suno/submit/music", json_body={"title": 5}, headers=_AUTH)
    rec.record("not_json", "A body that is not JSON", post, submit, "/suno/submit/music",
               data=b"title=Neon", headers=_AUTH)
    rec.record("content_type", "The fake's 400 where the live gateway panics (x-deviations)",
               post, submit, "/suno/submit/music", data=json.dumps(song).encode(),
               headers=_AUTH, content_type="text/plain")
    rec.record("no_key", "No Authorization header", post, submit, "/suno/submit/music",
               json_body=song)
    rec.record("no_channel", "An action the gateway has no channel for", post, submit,
               "/suno/submit/video", json_body=song, headers=_AUTH)
    rec.record("too_large", "A body over the limit", post, submit, "/suno/submit/music",
               data=b'{"prompt":"' + b"la " * 2000 + b'"}', headers=_AUTH)

    # Polls.
    fetch = "/suno/fetch"
    rec.record("tasks", "The caller's tasks (unknown and other owners' ids left out)", post,
               fetch, json_body={"ids": [ids["streaming"], ids["lyrics"], "not-a-task"]},
               headers=_AUTH)
    rec.record("no_ids", "No ids: an empty list", post, fetch, json_body={"ids": []},
               headers=_AUTH)
    rec.record("no_match", "No id matched: data is null", post, fetch,
               json_body={"ids": ["not-a-task"]}, headers=_AUTH)
    rec.record("empty_body", "An empty body (text/plain: the quirk)", post, fetch,
               data=b"", headers=_AUTH)
    rec.record("wrong_type", "ids of the wrong JSON type", post, fetch,
               json_body={"ids": ids["complete"]}, headers=_AUTH)
    rec.record("no_key", "No Authorization header", post, fetch,
               json_body={"ids": [ids["complete"]]})
    one = "/suno/fetch/{id}"
    for key in ("complete", "failure", "streaming"):
        rec.record(key, made[[m[0] for m in made].index(key)][1], get, one,
                   f"/suno/fetch/{ids[key]}", headers=_AUTH)
    rec.record("unknown", "An unknown id, or another owner's", get, one,
               "/suno/fetch/not-a-task", headers=_AUTH)
    rec.record("no_key", "No Authorization header", get, one, f"/suno/fetch/{ids['complete']}")

    if rec.profile.surface == "elkapi":
        _clip_action_exchanges(rec, clip_ids(ids["complete"], 2)[0])

    # The admin API and the probes.
    rec.record("pinned", "Pinned at a step", post, "/__mock/tasks/{task_id}/step",
               f"/__mock/tasks/{ids['streaming']}/step", json_body={"step": "queued"})
    rec.record("unknown", "No such task", post, "/__mock/tasks/{task_id}/step",
               "/__mock/tasks/not-a-task/step", json_body={"step": "queued"})
    rec.record("tasks", "Every task of the namespace", get, "/__mock/tasks")
    rec.record("scenarios", "The bundled scenarios", get, "/__mock/scenarios")
    rec.record("clock", "A manual clock", get, "/__mock/clock")
    rec.record("advance", "Three minutes on", post, "/__mock/clock/advance",
               json_body={"seconds": 180})
    rec.record("set", "To a given time", post, "/__mock/clock/set",
               json_body={"now": EXAMPLE_TIME})
    rec.record("backwards", "Time only moves forward", post, "/__mock/clock/advance",
               json_body={"seconds": -1})
    # Faults and the journal in a namespace of their own, so the examples above stay as they are.
    ns = {"X-Mock-Namespace": "examples"}
    rec.record("rate_limited", "The next submit answers 429", post, "/__mock/faults",
               json_body={"fault": "status", "status": 429, "route": "submit", "times": 1},
               headers=ns)
    rec.record("rules", "The rules in force", get, "/__mock/faults", headers=ns)
    rec.record("rate_limited", "A 429 (here from a fault rule: the live gateway's channel is "
               "saturated)", post, submit, "/suno/submit/music", json_body=song,
               headers={**_AUTH, **ns})
    rec.record("journal", "One request seen", get, "/__mock/journal", headers=ns)
    rec.record("cleared", "Every rule removed", "DELETE", "/__mock/faults", headers=ns)
    rec.record("unknown", "No such rule", "DELETE", "/__mock/faults/{rule_id}",
               "/__mock/faults/nope", headers=ns)
    rec.record("reset", "A namespace reset", post, "/__mock/reset", headers=ns)
    rec.record("ready", "The store answers", get, "/readyz")
    health = rec.record("alive", "The worker answers", get, "/healthz", keep=False)
    rec.exchanges.append(Exchange(
        name="alive", summary="The worker answers (its pid)", method=get, path="/healthz",
        status=200, content_type=JSON_UTF8, response={**health, "pid": 4242}))
    service.store.close()
    yield from rec.exchanges


def _clip_action_exchanges(rec: _Recorder, clip: str) -> None:
    """ElkAPI's clip actions on the complete example task's first clip."""
    get = "GET"
    for kind in ("wav", "mp4"):
        path = f"/suno/act/{kind}/{{clip_id}}"
        rec.record(kind, f"The clip's {kind.upper()} is beside its MP3", get, path,
                   f"/suno/act/{kind}/{clip}", headers=_AUTH)
        rec.record("unknown", "Not a clip of the caller's", get, path,
                   f"/suno/act/{kind}/not-a-clip", headers=_AUTH)
    stems = "/suno/act/stems/{clip_id}"
    rec.record("queued", "The first call: two stems queued", get, stems,
               f"/suno/act/stems/{clip}", headers=_AUTH)
    rec.record("unknown", "Not a clip of the caller's", get, stems,
               "/suno/act/stems/not-a-clip", headers=_AUTH)
    create = "/suno/persona/create/"
    body = {"root_clip_id": clip, "name": "Neon voice", "description": "bright synthwave",
            "clips": [clip], "is_public": True}
    persona = rec.record("persona", "", "POST", create, json_body=body, headers=_AUTH,
                         keep=False)
    rec.fixed[persona["id"]] = fixed = rec.new_id()  # a new id each run: shown as a fixed one
    rec.exchanges.append(Exchange(
        name="persona", summary="A persona of the caller's clip", method="POST", path=create,
        status=200, content_type="application/json", response={**persona, "id": fixed},
        request=body))
    rec.record("not_yours", "A root clip that is not the caller's", "POST", create,
               json_body={**body, "root_clip_id": "not-a-clip"}, headers=_AUTH)


@cache
def _document_text(profile: str, make_app: AppFactory) -> str:
    doc = openapi_document(
        profile,
        version=version(),
        exchanges=list(_exchanges(profile, make_app)),
        task_id_pattern=TASK_ID_PATTERNS[load_profile(profile).id_format],
    )
    return json.dumps(doc, ensure_ascii=False)


def document(
    profile: str, make_app: AppFactory, servers: Sequence[str] = ("http://127.0.0.1:8080",)
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``profile``, with examples recorded from ``make_app``."""
    doc: dict[str, Any] = json.loads(_document_text(profile, make_app))
    doc["servers"] = [{"url": url} for url in servers]
    return doc


def openapi_blueprint(service: MockService, make_app: AppFactory) -> Blueprint:
    """GET /openapi.json: the document of the profile this fake serves, for this host."""
    bp = Blueprint("suno_mock_openapi", __name__)
    profile = service.profile.name

    @bp.get("/openapi.json")
    def openapi() -> Response:
        doc = document(profile, make_app, [request.host_url.rstrip("/")])
        return Response(json.dumps(doc, ensure_ascii=False, indent=1), content_type=JSON_UTF8)

    return bp
