"""The three /suno/ routes, written once: from a parsed call to an answer, free of any web stack.

The Flask app (web/app.py) and the fast WSGI path (web/hot.py) both run a request the same way:
``begin`` reads a ``Call`` from the WSGI environ, a route (``submit``, ``fetch``,
``fetch_one``) turns it into an ``Answer`` (or raises: every error answer is an exception the
web layer words, as the gateway would), and
``finish`` journals it. The journal entry is made in one place (``journal_entry``), with the
request's and the answer's bodies: a submit, whose answer is known before its store call (the
task id is drawn first), hands it to that call (add), so it costs one store round trip; a fetch's
answer comes from its poll, so ``finish`` appends it after (stores defer or batch that write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mock_server.core.actions import ACTIONS, MUSIC_TASKS, Action, channel_model
from mock_server.core.hooks import HOOK_FIELD, hook_problem
from mock_server.core.identity import owner_of
from mock_server.core.ids import derived_task_id, new_request_id
from mock_server.core.media_urls import PLACEHOLDER, media_origin
from mock_server.core.record import TaskRecord
from mock_server.core.render import aligned_lyrics, persona_object
from mock_server.errors import BindError, StoreUnavailable
from mock_server.service.mock_service import MockService
from mock_server.service.rendered import success_body
from mock_server.stores.base import Settings
from mock_server.wire import gojson
from mock_server.wire.envelopes import JSON, TEXT_UTF8, gateway_error, task_error
from mock_server.wire.gobind import bind_object
from mock_server.wire.request import (
    FETCH_FIELDS,
    FETCH_GO_TYPE,
    SCENARIO_HEADER,
    api_key_of,
    environ_key,
    mimetype_of,
    namespace_of,
    origin_of,
)

if TYPE_CHECKING:
    from mock_server.faults.tasks import TaskFaults

__all__ = [
    "JOURNAL_BODY_LIMIT",
    "Answer",
    "Call",
    "Route",
    "authenticate",
    "begin",
    "clip_export",
    "create_persona",
    "fetch",
    "fetch_one",
    "finish",
    "journal_entry",
    "owner_of_key",
    "persona_shelf",
    "stems",
    "submit",
    "timing",
    "upload_audio_url",
]

log = logging.getLogger("mock_server")

JOURNAL_BODY_LIMIT = 4096  # bytes of a request body, and of an answer, the journal keeps
_SCENARIO_ENVIRON = environ_key(SCENARIO_HEADER)
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_PLACEHOLDER = PLACEHOLDER.encode()
_NULL_SUBMIT = (
    "the body is JSON null, not an object (the live gateway answers 500 new_api_panic here)"
)


@dataclass(eq=False, slots=True)
class Call:
    """One request as the routes see it: what the gateway reads of it, and what it led to."""

    method: str
    path: str
    ns: str  # X-Mock-Namespace
    request_id: str
    key: str  # the API key, as TokenAuth reads it ("" when there is none)
    language: str  # Accept-Language: the 401 texts
    content_type: str
    scenario: str | None  # X-Mock-Scenario
    reader: Callable[[], bytes]  # reads the body (``read`` calls it once, when a route asks)
    started: float  # time.perf_counter() at ``begin`` (the access log's duration)
    environ: Mapping[str, Any]  # the rest, read only where a route needs it
    # The route's path parameter.
    action: str = ""
    task_id: str = ""
    # How to run it. ``settings``: the caller's copy of the namespace's clock and token (the
    # store refuses a stale token: SettingsChanged); None: read the clock from the store.
    settings: Settings | None = None
    faults: TaskFaults | None = None  # fault hooks on the tasks it touches
    faulted: bool = False  # fault rules act on it: its journal entry waits for the answer
    # What the route found: the journal entry's facts.
    owner: str | None = None
    body: bytes | None = None  # once read
    journaled: int | None = None  # the status its store call journaled it with, if it did

    def read(self) -> bytes:
        if self.body is None:
            self.body = self.reader()
        return self.body


@dataclass(eq=False, slots=True)
class Answer:
    """A route's success: status, body and headers beyond Content-Type and Content-Length."""

    body: bytes
    content_type: str
    headers: Mapping[str, str]
    status: int


Route = Callable[[MockService, Call], Answer]  # submit, fetch, fetch_one


def _json(body: bytes) -> Answer:
    return Answer(body, JSON, _NO_HEADERS, 200)


def _tasks(service: MockService, call: Call, body: bytes) -> Answer:
    """A fetch's answer, its clips' media URLs pointed at where this client reaches the fake.

    Rendered tasks are cached for every client, so they carry a placeholder origin.
    """
    if _PLACEHOLDER in body:
        base = service.config.media_base_url or origin_of(call.environ)
        origin = gojson.dumpb(media_origin(base, call.ns))[1:-1]  # the Host header is the client's
        body = body.replace(_PLACEHOLDER, origin)
    return Answer(body, JSON, _NO_HEADERS, 200)


def begin(
    service: MockService,
    environ: Mapping[str, Any],
    method: str,
    path: str,
    reader: Callable[[], bytes],
) -> Call:
    """The call ``environ`` makes (``method`` and ``path`` as the web layer decoded them)."""
    profile = service.profile
    return Call(  # by position: this runs on every request (bench/)
        method,
        path,
        namespace_of(environ),
        new_request_id(profile.request_id_style),
        api_key_of(environ, profile.lowercase_bearer),
        str(environ.get("HTTP_ACCEPT_LANGUAGE", "")),
        str(environ.get("CONTENT_TYPE", "")),
        str(environ.get(_SCENARIO_ENVIRON, "")) or None,
        reader,
        time.perf_counter(),
        environ,
    )


def _kept(body: bytes | None) -> str | None:
    return None if body is None else body[:JOURNAL_BODY_LIMIT].decode("utf-8", errors="replace")


def journal_entry(
    call: Call,
    status: int,
    now: float,
    faults: list[str] | None = None,
    response: bytes | None = None,
) -> dict[str, Any]:
    """The journal's record of ``call`` (``faults``: the ids of the fault rules that hit it;
    ``response``: the answer's body as sent, None when none was sent whole)."""
    return {
        "time": now,
        "method": call.method,
        "path": call.path,
        "status": status,  # 0: the connection was dropped
        "owner": call.owner,
        "request_id": call.request_id,
        "body": _kept(call.body),
        "faults": faults,
        "response": _kept(response),  # last: shared stores keep it after the rest (codec)
    }


def finish(
    service: MockService,
    call: Call,
    status: int,
    faults: list[str] | None = None,
    response: bytes | None = None,
) -> None:
    """Journal ``call``, answered with ``status`` and ``response``, unless its store call
    already did."""
    if call.journaled == status:
        return
    try:
        # The fast path's copy of the clock, as the route read it: no store round trip.
        settings = call.settings
        now = service.now(call.ns) if settings is None else settings.clock.now()
        entry = journal_entry(call, status, now, faults, response)
        service.store.journal_append(call.ns, entry)
    except StoreUnavailable:
        # The journal is diagnostics: a store outage must not turn the answer into a panic.
        log.warning("journal entry lost: store unavailable")


def owner_of_key(service: MockService, key: str) -> str | None:
    """The owner of ``key`` if TokenAuth lets it in, else None."""
    if not key.removeprefix("sk-"):
        return None
    owner = owner_of(key)
    allowed = service.allowed_owners
    return None if allowed and owner not in allowed else owner


def authenticate(service: MockService, call: Call) -> str:
    """The caller's owner id (kept in ``call``, where the fast path may have put it already),
    or a 401 in the gateway envelope."""
    owner = call.owner or owner_of_key(service, call.key)
    if owner is None:
        profile = service.profile
        reason = "invalid" if call.key.removeprefix("sk-") else "missing"
        raise gateway_error(
            401,
            profile.auth_message(reason, call.language),
            call.request_id,
            with_code=profile.gateway_error_code,
        )
    call.owner = owner
    return owner


def _work(
    service: MockService, call: Call, response: bytes | None = None
) -> tuple[float, dict[str, Any] | None, str | None]:
    """What a route's one store call needs: the time, the journal entry it writes with the
    work (a success answered with ``response``; None while fault rules act, or with no
    ``response``: ``finish`` journals it after the answer) and the settings token (None: the
    store does not check)."""
    settings = call.settings
    if settings is None:
        now, token = service.now(call.ns), None
    else:
        now, token = settings.clock.now(), settings.token
    if call.faulted or response is None:
        return now, None, token
    return now, journal_entry(call, 200, now, None, response), token


def submit(service: MockService, call: Call) -> Answer:
    """POST /suno/submit/{action}: the new task's id."""
    profile = service.profile
    authenticate(service, call)
    name = call.action.upper()
    action = ACTIONS.get(name)
    if action is None or profile.surface not in action.surfaces or not action.submit_route:
        # Distribute finds no channel for suno_<action> before the body is read.
        raise gateway_error(
            503,
            profile.no_channel_message.format(model=channel_model(name)),
            call.request_id,
            code="model_not_found",
            with_code=profile.gateway_error_code,
        )
    return _submit(service, call, action)


def upload_audio_url(service: MockService, call: Call) -> Answer:
    """POST /suno/uploads/audio-url (ElkAPI): a task whose clip is the audio at ``url``."""
    authenticate(service, call)
    return _submit(service, call, ACTIONS["UPLOAD"])


def _source(
    service: MockService, call: Call, owner: str, action: Action, fields: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The caller's clip a submit works on (concat's clip_id; continue_clip_id of a MUSIC
    task kind), or None when it names none; a 400 when it is not one of the caller's clips."""
    if action.name == "CONCAT":
        name = "clip_id"
    elif action.name == "MUSIC" and service.profile.surface == "elkapi" and "task" in fields:
        task = fields["task"]
        if task not in MUSIC_TASKS:
            raise task_error(
                400,
                "invalid_request",
                f"unknown task {task!r}: one of {', '.join(MUSIC_TASKS)}",
            )
        name = "continue_clip_id"
        if not fields.get(name):
            raise task_error(400, "invalid_request", f"task {task} needs continue_clip_id")
    else:
        return None
    return _own_clip(service, call, owner, fields[name], name)


def _submit(service: MockService, call: Call, action: Action) -> Answer:
    """A submit of ``action`` by the authenticated caller: the new task's id."""
    profile = service.profile
    owner = authenticate(service, call)
    body = call.read()
    if not mimetype_of(call.content_type).endswith("json"):
        # The live gateway leaves the request unparsed and panics (500 new_api_panic).
        raise task_error(
            400,
            "invalid_request",
            "Content-Type must be application/json "
            "(the live gateway answers 500 new_api_panic here)",
        )
    bind, kept = action.binding(profile.surface)
    try:
        fields = bind_object(body, bind, *action.go_type, null=_NULL_SUBMIT)
    except BindError as exc:
        raise task_error(400, "invalid_request", str(exc)) from None
    if HOOK_FIELD in kept:  # ElkAPI keeps the hook and calls it: it must be a URL
        bad_hook = hook_problem(fields.get(HOOK_FIELD, ""))
        if bad_hook is not None:
            raise task_error(400, "invalid_request", bad_hook)
    problem = action.missing(fields)
    if problem is not None:
        raise task_error(400, "invalid_request", problem)
    if profile.continuation_check and action.continues and fields.get("continue_clip_id"):
        # Before 2026-02-22 a continuation names its origin task, which must be the caller's.
        origin = fields.get("task_id")
        if not origin:
            raise task_error(400, "invalid_request", "task id is empty")
        if service.store.get(call.ns, owner, origin) is None:
            raise task_error(400, "task_not_exist", "task_origin_not_exist")
    source = _source(service, call, owner, action, fields)
    # ElkAPI's persona_id names one of the caller's personas (POST /suno/persona/create/).
    persona = fields.get("persona_id") if profile.surface == "elkapi" else None
    if persona and action.name == "MUSIC" and _persona(service, call.ns, owner, persona) is None:
        raise task_error(
            400, "invalid_request", f"persona_id {persona!r} is not one of your personas"
        )
    # A MUSIC task kind (ElkAPI: _source checked it) follows its own default scenario.
    kind = fields.get("task") if source is not None and action.name == "MUSIC" else None
    scenario = service.resolve_scenario(action.name, call.scenario, kind)
    task_id = service.new_task_id()  # drawn first: the answer is journaled with it
    answer = success_body(task_id)
    now, entry, token = _work(service, call, answer)
    service.submit(
        owner,
        action.name,
        fields,
        scenario,
        ns=call.ns,
        now=now,
        journal=entry,
        token=token,
        source=source,
        origin=origin_of(call.environ) if fields.get(HOOK_FIELD) else None,
        task_id=task_id,
    )
    call.journaled = None if entry is None else 200
    return Answer(answer, profile.submit_content_type, profile.submit_headers, 200)


def _own_clip(
    service: MockService, call: Call, owner: str, clip_id: str, name: str = "clip_id"
) -> dict[str, Any]:
    """The facts of the caller's clip ``clip_id`` (find_clip), or the 400 a source clip that is
    not the caller's gets."""
    facts = service.find_clip(call.ns, owner, clip_id)
    if facts is None:
        raise task_error(
            400, "invalid_request", f"{name} {clip_id!r} is not a clip of one of your tasks"
        )
    return facts


def timing(service: MockService, call: Call) -> Answer:
    """GET /suno/act/timing/{clip_id} (ElkAPI): the caller's clip's lyrics aligned in time, as
    Suno's raw answer (``call.task_id`` holds the clip id)."""
    owner = authenticate(service, call)
    return _json(gojson.dumpb(aligned_lyrics(_own_clip(service, call, owner, call.task_id))))


def clip_export(service: MockService, call: Call) -> Answer:
    """GET /suno/act/wav/{clip_id} and /suno/act/mp4/{clip_id} (ElkAPI): the clip id in the
    success envelope. The file is beside the clip's MP3 (cdn1/<clip id>.wav, .mp4), served once
    the clip is complete (docs/reference/media.md)."""
    owner = authenticate(service, call)
    _own_clip(service, call, owner, call.task_id)
    return _json(success_body(call.task_id))


def stems(service: MockService, call: Call) -> Answer:
    """GET /suno/act/stems/{clip_id} (ElkAPI): the clip's stems as Suno's raw ``{"clips":[…]}``.

    The stems are the clips of a STEMS task of the caller's, made by the first call for the
    clip (X-Mock-Scenario chooses its scenario) and found again by its derived id, so every call
    for the clip shows the same clips, their status moving on the fake's clock. Asking again is
    how an app polls them (their media is served like any clip's).
    """
    owner = authenticate(service, call)
    facts = _own_clip(service, call, owner, call.task_id)
    task_id = derived_task_id(service.profile.id_format, "stems", owner, call.task_id)
    record = service.store.get(call.ns, owner, task_id)
    if record is None:
        # Two first calls at once both add it; the later one restarts it milliseconds later.
        scenario = service.resolve_scenario("STEMS", call.scenario)
        now, entry, token = _work(service, call)
        service.submit(owner, "STEMS", {}, scenario, ns=call.ns, now=now, journal=entry,
                       token=token, task_id=task_id, source=facts)
        call.journaled = None if entry is None else 200
        record = service.store.get(call.ns, owner, task_id)
        if record is None:  # reset or swept between the two calls
            raise task_error(400, "invalid_request", "stems task vanished: ask again")
    data = service.render(record, call.ns)["data"]
    return _tasks(service, call, gojson.dumpb({"clips": data if isinstance(data, list) else []}))


def persona_shelf(owner: str) -> str:
    """Where ``owner``'s personas are kept in the task store: an owner no key digests to
    (owner ids are ``o_`` and hex), so no fetch ever finds a persona as a task."""
    return owner + "/personas"


def _persona(service: MockService, ns: str, owner: str, persona_id: str) -> TaskRecord | None:
    """``owner``'s persona ``persona_id`` (its record), or None."""
    record = service.store.get(ns, persona_shelf(owner), persona_id)
    return record if record is not None and record.action == "PERSONA" else None


def create_persona(service: MockService, call: Call) -> Answer:
    """POST /suno/persona/create/ (ElkAPI): a persona of the caller's clip, as Suno's raw
    persona object; its ``id`` is a ``persona_id`` the caller's music submits may name."""
    owner = authenticate(service, call)
    action = ACTIONS["PERSONA"]
    body = call.read()
    if not mimetype_of(call.content_type).endswith("json"):
        raise task_error(400, "invalid_request", "Content-Type must be application/json")
    try:
        fields = bind_object(body, action.bind, *action.go_type, null=_NULL_SUBMIT)
    except BindError as exc:
        raise task_error(400, "invalid_request", str(exc)) from None
    problem = action.missing(fields)
    if problem is not None:
        raise task_error(400, "invalid_request", problem)
    root = _own_clip(service, call, owner, fields["root_clip_id"], "root_clip_id")
    for index, clip_id in enumerate(fields.get("clips") or []):
        if not isinstance(clip_id, str):
            raise task_error(400, "invalid_request", f"clips[{index}] is not a clip id (a string)")
        _own_clip(service, call, owner, clip_id, "clips[]")
    scenario = service.resolve_scenario("PERSONA", call.scenario)
    now, entry, token = _work(service, call)
    persona_id = service.submit(persona_shelf(owner), "PERSONA", fields, scenario, ns=call.ns,
                                now=now, journal=entry, token=token, source=root)
    call.journaled = None if entry is None else 200
    record = _persona(service, call.ns, owner, persona_id)
    if record is None:  # reset or swept between the two calls
        raise task_error(400, "invalid_request", "persona vanished: create it again")
    source = service.store.get(call.ns, owner, str(root["task_id"]))
    clips = [] if source is None else service.render(source, call.ns, now=now)["data"]
    clip = next((c for c in clips or [] if c.get("id") == root["id"]), None)
    return _tasks(service, call, gojson.dumpb(persona_object(record, clip)))


def fetch(service: MockService, call: Call) -> Answer:
    """POST /suno/fetch: the caller's tasks among ``ids``, each counted as a poll."""
    owner = authenticate(service, call)
    try:
        fields = bind_object(call.read(), FETCH_FIELDS, FETCH_GO_TYPE)
    except BindError as exc:
        # gin writes the status before any Content-Type, so net/http sniffs text/plain.
        raise task_error(400, "invalid_request", str(exc), TEXT_UTF8) from None
    ids = fields.get("ids") or []
    if not ids:
        return _json(success_body([]))
    if call.faults is not None:
        tasks = service.fetch(owner, ids, call.ns, faults=call.faults)
        return _tasks(service, call, success_body(tasks))
    now, _entry, token = _work(service, call)  # journaled by ``finish``, with the answer
    records = service.poll(call.ns, owner, service.wanted(ids), token=token)
    return _tasks(service, call, service.batch_body(records, call.ns, now))


def fetch_one(service: MockService, call: Call) -> Answer:
    """GET /suno/fetch/{task_id}: the caller's task, counted as a poll."""
    owner = authenticate(service, call)
    if call.faults is not None:
        task = service.fetch_one(owner, call.task_id, call.ns, faults=call.faults)
        if task is None:
            raise task_error(400, "task_not_exist", "task_not_exist")
        return _tasks(service, call, success_body(task))
    now, _entry, token = _work(service, call)  # journaled by ``finish``, with the answer
    records = service.poll(call.ns, owner, [call.task_id], token=token)
    if not records:
        raise task_error(400, "task_not_exist", "task_not_exist")
    return _tasks(service, call, success_body(service.render(records[0], call.ns, None, now)))

