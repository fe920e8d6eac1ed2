"""The OpenAPI 3.1 document of one profile, built from schemas/ (no shape is written twice).

Every schema in the document is a kind of ``validation.KINDS``, resolved for the profile; where a
component appears inside another, it becomes a ``$ref``. What is not a shape (routes, status
codes, headers, auth, quirks, the fake's deliberate deviations from the live gateway) is written
here once. Examples come from the caller: ``web/openapi.py`` records them from a fresh fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_server.contract.profiles import Profile, load_profile
from mock_server.contract.validation import resolved_schema

__all__ = ["DEVIATIONS", "Exchange", "openapi_document"]

OPENAPI_VERSION = "3.1.0"
JSON = "application/json"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"
HTML_UTF8 = "text/html; charset=utf-8"

# component name -> kind (validation.KINDS); the task-holding kinds follow the profile.
_COMPONENTS: dict[str, str] = {
    "SubmitRequest": "submit-request",
    "FetchRequest": "fetch-request",
    "SubmitResponse": "submit-response",
    "FetchBatchResponse": "fetch-batch-response",
    "FetchOneResponse": "fetch-one-response",
    "Task": "task",
    "Clip": "clip",
    "Lyrics": "lyrics",
    "TaskError": "task-error",
    "GatewayError": "gateway-error",
    "Scenario": "scenario",
    "FaultRule": "fault-rule",
    "FaultProfile": "fault",
    "AdminEmpty": "admin-empty",
    "AdminClockAdvance": "admin-clock-advance",
    "AdminClockSet": "admin-clock-set",
    "AdminClockSpeed": "admin-clock-speed",
    "AdminClockResume": "admin-clock-resume",
    "AdminTask": "admin-task",
    "AdminTaskStep": "admin-task-step",
    "AdminClock": "admin-clock",
    "AdminReset": "admin-reset",
    "AdminTaskView": "admin-task-view",
    "AdminTaskList": "admin-task-list",
    "AdminScenarioList": "admin-scenario-list",
    "AdminJournal": "admin-journal",
    "AdminCallbacks": "admin-callbacks",
    "AdminFaultView": "admin-fault-view",
    "AdminFaultList": "admin-fault-list",
    "AdminFaultsAdded": "admin-faults-added",
    "AdminFaultsCleared": "admin-faults-cleared",
    "AdminFaultDeleted": "admin-fault-deleted",
    "Health": "health",
    "Readiness": "readiness",
    "ExportResponse": "export-response",
    "StemsResponse": "stems-response",
    "PersonaRequest": "persona-request",
    "Persona": "persona",
}
# Components worth a $ref where they appear inside another (the rest are only used at the top).
_SHARED = ("Task", "Clip", "Lyrics", "Scenario", "SubmitRequest", "FaultRule", "AdminTaskView",
           "AdminFaultView", "AdminFaultList")

# Where the fake knowingly answers differently from the live gateway (reference §2-§5, §9).
DEVIATIONS: list[dict[str, str]] = [
    {
        "where": "POST /suno/submit/{action}",
        "live": "a Content-Type that is not application/json leaves the body unparsed, and the "
        "gateway panics: 500 new_api_panic (gateway envelope)",
        "fake": "400 invalid_request 'Content-Type must be application/json (the live gateway "
        "answers 500 new_api_panic here)'",
    },
    {
        "where": "POST /suno/submit/{action}",
        "live": "a JSON null body panics the gateway: 500 new_api_panic",
        "fake": "null reads as an empty object: MUSIC is accepted with every field defaulted, "
        "LYRICS is 400 prompt_empty",
    },
    {
        "where": "POST /suno/fetch, GET /suno/fetch/{id}",
        "live": "the task row is written after the submit's answer, so a fetch right after a "
        "submit can miss it (task_not_exist, or a batch without it)",
        "fake": "a task is there as soon as its submit is answered; the 'invisible' fault "
        "rule recreates the race",
    },
    {
        "where": "POST /suno/fetch",
        "live": "the order of data is unspecified (database order)",
        "fake": "data is in task id order; the 'shuffle' fault rule gives another order",
    },
    {
        "where": "every /suno/ route",
        "live": "401 for disabled, expired or exhausted tokens, 403 for banned users, IP "
        "whitelists and model limits, 429 and 5xx from upstream channels",
        "fake": "401 only for a missing key or one outside --api-key; the others come from "
        "'status' fault rules (POST /__mock/faults, X-Mock-Fault)",
    },
    {
        "where": "POST /suno/persona/create/",
        "live": "asked without its trailing slash, gin redirects: 307 to the path with it "
        "(no body)",
        "fake": "308 to the path with it (werkzeug's redirect, a small HTML body); both keep "
        "the method and body",
    },
    {
        "where": "/__mock/*, /healthz, /readyz, /openapi.json, the X-Mock-* headers",
        "live": "do not exist: the gateway answers 200 with its web UI's index page",
        "fake": "the fake's own API, tagged mock-admin and ops in this document",
    },
]


@dataclass(frozen=True)
class Exchange:
    """One request to the fake and its answer, for the document's examples.

    ``path`` is the operation's template (``/suno/fetch/{id}``); ``request`` and ``response``
    are the decoded JSON bodies, or the raw text when a body is not JSON.
    """

    name: str
    summary: str
    method: str
    path: str
    status: int
    content_type: str
    response: Any
    request: Any = None
    request_content_type: str = JSON


# Request bodies the gateway decodes with Go's encoding/json (gin binding).
_GO_BOUND = ("SubmitRequest", "FetchRequest")
_NULL_NOTE = "null binds to every field: Go leaves a field alone when its value is null"


def _null_binds(schema: dict[str, Any]) -> None:
    """Say what the gateway accepts: a null for any field (the schema file says what to send)."""
    widened = []
    for name, field in schema["properties"].items():
        kinds = field.get("type")
        if kinds is not None and "null" not in kinds:
            field["type"] = [*([kinds] if isinstance(kinds, str) else kinds), "null"]
            widened.append(name)
    schema["x-go-null"] = {"note": _NULL_NOTE, "fields": widened}


def _canon(node: Any) -> str:
    return json.dumps(node, sort_keys=True, ensure_ascii=False)


def _components(profile: str, task_id_pattern: str | None) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name, kind in _COMPONENTS.items():
        schema = resolved_schema(kind, profile)
        schema.pop("$schema", None)
        schemas[name] = schema
    if task_id_pattern:
        schemas["AdminTask"]["properties"]["task_id"]["pattern"] = task_id_pattern
    shared = {_canon(schemas[n]): n for n in _SHARED}

    def refs(node: Any, top: bool) -> Any:
        if isinstance(node, dict):
            if not top:
                hit = shared.get(_canon(node))
                if hit is not None:
                    return {"$ref": f"#/components/schemas/{hit}"}
            return {k: refs(v, False) for k, v in node.items()}
        if isinstance(node, list):
            return [refs(v, False) for v in node]
        return node

    out = {name: refs(schema, True) for name, schema in schemas.items()}
    for name in _GO_BOUND:  # after the $refs: the admin API's request field shares it
        _null_binds(out[name])
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _or_null(name: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name), {"type": "null"}]}


def _one_of(*names: str) -> dict[str, Any]:
    return {"anyOf": [_ref(n) for n in names]}


def _response(
    description: str,
    content_type: str | None = None,
    schema: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    all_headers = {"X-Oneapi-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    all_headers.update(headers or {})
    out["headers"] = all_headers
    if content_type is not None:
        out["content"] = {content_type: {"schema": dict(schema or {})}}
    out.update(extensions or {})
    return out


def _admin_response(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON_UTF8: {"schema": _ref(schema)}},
    }


def _admin_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_UTF8: {"schema": _ref("TaskError")}}}


_NAMESPACE = {"$ref": "#/components/parameters/Namespace"}
_PATH_SEGMENT = {"type": "string", "pattern": "^[^/]+$"}


def _suno_paths(p: Profile) -> dict[str, Any]:
    auth_401 = _response(
        "TokenAuth refused the key: none given (" + repr(p.auth_messages["missing"]) + "), or a "
        "key outside the fake's --api-key list (" + repr(p.auth_messages["invalid"]) + "). "
        "The message ends with ' (request id: <X-Oneapi-Request-Id>)'; Accept-Language: zh* "
        "picks the Chinese texts where the profile has them.",
        JSON_UTF8,
        _ref("GatewayError"),
    )
    forbidden = _response(
        "Live gateway only (the fake: 'status' fault rules): a banned user, an IP outside the "
        "token's whitelist, a token with model limits (gateway envelope), or quota exhausted "
        "(task envelope).",
        JSON_UTF8,
        _one_of("GatewayError", "TaskError"),
    )
    rate_limited = _response(
        "Live gateway only (the fake: 'status' fault rules): the channel's upstream is "
        "saturated.",
        JSON_UTF8,
        _ref("TaskError"),
        {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    )
    too_large = _response(
        "The body is over the fake's limit (8 MiB by default): read_request_body_failed.",
        JSON_UTF8,
        _ref("TaskError"),
    )
    submit_headers = {
        name: {"description": f"always {value!r} in profile {p.name}",
               "schema": {"type": "string", "const": value}, "required": True}
        for name, value in p.submit_headers.items()
    }
    elkapi = p.surface == "elkapi"
    submit_actions = ["music", "lyrics", "MUSIC", "LYRICS"] + (
        ["concat", "CONCAT"] if elkapi else []
    )
    submit: dict[str, Any] = {
        "post": {
            "tags": ["suno"],
            "operationId": "submit",
            "summary": "Submit a MUSIC or LYRICS task",
            "description": (
                "The body binds into new-api's dto.SunoSubmitReq: keys match case-insensitively, "
                "unknown keys are dropped, a field of the wrong JSON type is a 400 with Go's "
                "unmarshal text. LYRICS needs a non-empty prompt. The answer's data is the new "
                f"task's id ({p.id_format} ids in profile {p.name}). The task then moves through "
                "its scenario's steps by time elapsed and polls (see GET /__mock/scenarios)."
            ),
            "parameters": [
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "description": "case-insensitive. Any other action has no channel: 503 "
                    "model_not_found before the body is read.",
                    "schema": {"enum": submit_actions},
                },
                {"$ref": "#/components/parameters/Scenario"},
                _NAMESPACE,
            ],
            "requestBody": {
                "required": True,
                "description": "A JSON object; null panics the live gateway, the fake reads "
                "it as {} (x-deviations).",
                "content": {JSON: {"schema": _or_null("SubmitRequest")}},
            },
            "responses": {
                "200": {
                    **_response(
                        f"Accepted: data is the task id. Content-Type exactly "
                        f"{p.submit_content_type!r} in this profile.",
                        p.submit_content_type,
                        _ref("SubmitResponse"),
                        submit_headers,
                    ),
                    "links": {"poll": {
                        "operationId": "fetchOne",
                        "parameters": {"id": "$response.body#/data"},
                        "description": "Poll the new task until SUCCESS or FAILURE (or batch "
                        "its id with others in POST /suno/fetch).",
                    }},
                },
                "400": _response(
                    "invalid_request: the body is not JSON or does not bind (Go's text, e.g. "
                    "'unexpected EOF', 'json: cannot unmarshal number into Go struct field "
                    "SunoSubmitReq.title of type string'), LYRICS without prompt "
                    "('prompt_empty'), an unknown X-Mock-Scenario. The fake only: a "
                    "Content-Type that is not JSON (see x-deviations).",
                    JSON_UTF8,
                    _ref("TaskError"),
                ),
                "401": auth_401,
                "403": forbidden,
                "413": too_large,
                "429": rate_limited,
                "500": _response(
                    "The gateway's database failed during TokenAuth ('Database error, please "
                    "contact the administrator'), or a panic (new_api_panic, no code).",
                    JSON_UTF8,
                    _ref("GatewayError"),
                ),
                "503": _response(
                    "No channel for suno_<action>: an action other than music or lyrics "
                    f"({p.no_channel_message.format(model='suno_<action>')!r}).",
                    JSON_UTF8,
                    _ref("GatewayError"),
                ),
            },
            "x-deviations": [d for d in DEVIATIONS if "submit" in d["where"]],
        }
    }
    fetch_500 = _response(
        "The gateway's database failed: get_tasks_failed (batch) or get_task_failed (one), task "
        "envelope; or a panic (gateway envelope, new_api_panic).",
        JSON_UTF8,
        _one_of("TaskError", "GatewayError"),
    )
    fetch = {
        "post": {
            "tags": ["suno"],
            "operationId": "fetchBatch",
            "summary": "Poll several tasks",
            "description": (
                "Bound with gin's BindJSON into struct{IDs []any; Action string}: any "
                "Content-Type is read as JSON, unknown keys are ignored, ids that are not "
                "strings never match, action is parsed and ignored. Only the caller's own tasks "
                "are answered (the owner of the key, whichever of its keys); unknown ids and "
                "other owners' ids are left out without an error. Every task answered counts "
                "as one poll."
            ),
            "parameters": [_NAMESPACE],
            "requestBody": {
                "required": True,
                "description": "A JSON object; null binds as an empty one (data: []).",
                "content": {JSON: {"schema": _or_null("FetchRequest")}},
            },
            "responses": {
                "200": _response(
                    "data is [] when ids is absent, null or empty; null when no id matched; "
                    "else the caller's tasks. Content-Type exactly 'application/json' (no "
                    "charset: new-api sets it by hand).",
                    JSON,
                    _ref("FetchBatchResponse"),
                ),
                "400": _response(
                    "The body does not bind (e.g. 'EOF' for an empty body, 'json: cannot "
                    "unmarshal string into Go struct field .ids of type []interface {}'). Quirk "
                    "kept from the live gateway: gin writes the status before any Content-Type, "
                    "so net/http sniffs text/plain; the body is still the task envelope's JSON.",
                    TEXT_UTF8,
                    _ref("TaskError"),
                    extensions={"x-quirk": "a text/plain content type on a JSON body"},
                ),
                "401": auth_401,
                "403": forbidden,
                "413": too_large,
                "500": fetch_500,
            },
            "x-deviations": [d for d in DEVIATIONS if "POST /suno/fetch" in d["where"]],
        }
    }
    fetch_one: dict[str, Any] = {
        "get": {
            "tags": ["suno"],
            "operationId": "fetchOne",
            "summary": "Poll one task",
            "description": "The caller's task with this id; counts as one poll.",
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "a task id; any text without / is a lookup (unknown ids "
                    "are 400), a / makes it another path (200 text/html, as every unknown path)",
                    "schema": _PATH_SEGMENT,
                },
                _NAMESPACE,
            ],
            "responses": {
                "200": _response(
                    "The task. Content-Type exactly 'application/json' (no charset).",
                    JSON,
                    _ref("FetchOneResponse"),
                ),
                "400": _response(
                    "task_not_exist: no such task, or another owner's (message 'task_not_exist').",
                    JSON_UTF8,
                    _ref("TaskError"),
                ),
                "401": auth_401,
                "403": forbidden,
                "500": fetch_500,
            },
            "x-deviations": [d for d in DEVIATIONS if "GET /suno/fetch" in d["where"]],
        }
    }
    paths = {
        "/suno/submit/{action}": submit,
        "/suno/fetch": fetch,
        "/suno/fetch/{id}": fetch_one,
    }
    if elkapi:
        submit["post"]["description"] += (
            " ElkAPI (this profile) also takes concat ({clip_id, is_infill}: the whole song "
            "of one of the caller's clips) and, for music, the keys task (extend, cover, "
            "infill, gen_stem), infill_start_s, infill_end_s, stem_type_id, "
            "stem_type_group_name, stem_task, persona_id, negative_tags and generation_type; "
            "a task kind's continue_clip_id and concat's clip_id must name a clip of the "
            "caller's own tasks (else 400 invalid_request, nothing stored)."
        )
        paths["/suno/uploads/audio-url"] = _upload_path(p, submit["post"]["responses"])
        paths["/suno/act/timing/{clip_id}"] = _timing_path(fetch_one["get"]["responses"])
        paths.update(_clip_action_paths(fetch_one["get"]["responses"]))
        paths["/suno/persona/create/"] = _persona_path(submit["post"]["responses"])
    return paths


_NOT_YOURS = "invalid_request: the id is not a clip of one of the caller's tasks (unknown, " \
    "another key's, another namespace's); nothing is stored."


def _clip_action_paths(fetch_responses: dict[str, Any]) -> dict[str, Any]:
    """GET /suno/act/{wav,mp4,stems}/{clip_id}: ElkAPI only (reference section 10)."""
    base = {k: v for k, v in fetch_responses.items() if k not in ("200", "400")}
    not_yours = _response(_NOT_YOURS, JSON_UTF8, _ref("TaskError"))
    clip_id = {"name": "clip_id", "in": "path", "required": True,
               "description": "a clip id of one of the caller's tasks", "schema": _PATH_SEGMENT}

    def export(kind: str, guess: str) -> dict[str, Any]:
        return {"get": {
            "tags": ["suno"],
            "operationId": f"clip{kind.capitalize()}",
            "summary": f"A clip's {kind.upper()} export (ElkAPI)",
            "description": (
                f"data is the clip id{guess}. The file sits beside the clip's MP3: its "
                f"audio_url with .{kind} for .mp3 (https://cdn1.suno.ai/<clip id>.{kind}; the "
                f"fake's /__media/.../cdn1/<clip id>.{kind}), served once the clip is complete."
            ),
            "parameters": [clip_id, _NAMESPACE],
            "responses": {
                **base,
                "200": _response("The clip id in the success envelope.", JSON,
                                 _ref("ExportResponse")),
                "400": not_yours,
            },
        }}

    stems = {"get": {
        "tags": ["suno"],
        "operationId": "clipStems",
        "summary": "A clip's stems, vocals and instrumental (ElkAPI)",
        "description": (
            "The first call for a clip starts its stems (X-Mock-Scenario picks the scenario, "
            "stems_success by default); every call answers the same two clips, their status "
            "moving queued, streaming, complete on the fake's clock. Ask again to poll; their "
            "audio_url and covers are served as any clip's."
        ),
        "parameters": [clip_id, {"$ref": "#/components/parameters/Scenario"}, _NAMESPACE],
        "responses": {
            **base,
            "200": _response("Suno's raw answer (no envelope).", JSON, _ref("StemsResponse")),
            "400": _response(_NOT_YOURS + " Or an X-Mock-Scenario that is not a STEMS one.",
                             JSON_UTF8, _ref("TaskError")),
        },
    }}
    return {
        "/suno/act/wav/{clip_id}": export("wav", " (kkiai's page)"),
        "/suno/act/mp4/{clip_id}": export("mp4", " (not captured: a guess shaped like wav)"),
        "/suno/act/stems/{clip_id}": stems,
    }


def _persona_path(submit_responses: dict[str, Any]) -> dict[str, Any]:
    """POST /suno/persona/create/: ElkAPI only (reference section 10)."""
    responses = {k: v for k, v in submit_responses.items() if k not in ("200", "400", "503")}
    responses["200"] = _response(
        "Suno's raw persona (no envelope); clip is its root clip as a fetch shows it now.",
        JSON, _ref("Persona"))
    responses["400"] = _response(
        "invalid_request: the body is not JSON or does not bind, root_clip_id or name missing "
        "or empty, root_clip_id or an id in clips not a clip of the caller's tasks; nothing "
        "is stored.",
        JSON_UTF8,
        _ref("TaskError"),
    )
    return {"post": {
        "tags": ["suno"],
        "operationId": "createPersona",
        "summary": "Make a persona of one of the caller's clips (ElkAPI)",
        "description": (
            "Its id is a persona_id the same key's POST /suno/submit/music may name; another "
            "key's or an unknown persona_id there is 400 invalid_request."
        ),
        "parameters": [_NAMESPACE],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("PersonaRequest")}}},
        "responses": responses,
        "x-deviations": [d for d in DEVIATIONS if "persona" in d["where"]],
    }}


def _timing_path(fetch_responses: dict[str, Any]) -> dict[str, Any]:
    """GET /suno/act/timing/{clip_id}: ElkAPI only (reference section 10)."""
    responses = {k: v for k, v in fetch_responses.items() if k not in ("200", "400")}
    word = {
        "type": "object",
        "required": ["word", "success", "start_s", "end_s", "p_align"],
        "properties": {
            "word": {"type": "string"},
            "success": {"type": "boolean"},
            "start_s": {"type": "number"},
            "end_s": {"type": "number"},
            "p_align": {"type": "number"},
        },
    }
    responses["200"] = _response(
        "Suno's raw answer (no envelope): the clip's lyrics word by word with times that "
        "increase within its length, a waveform, the alignment's error rate.",
        JSON,
        {
            "type": "object",
            "required": ["aligned_words", "waveform_data", "hoot_cer", "is_streamed"],
            "properties": {
                "aligned_words": {"type": "array", "items": word},
                "waveform_data": {"type": "array", "items": {"type": "number"}},
                "hoot_cer": {"type": "number"},
                "is_streamed": {"type": "boolean"},
            },
        },
    )
    responses["400"] = _response(
        "invalid_request: the id is not a clip of one of the caller's tasks.",
        JSON_UTF8,
        _ref("TaskError"),
    )
    return {
        "get": {
            "tags": ["suno"],
            "operationId": "clipTiming",
            "summary": "A clip's lyrics aligned in time (ElkAPI)",
            "parameters": [
                {"name": "clip_id", "in": "path", "required": True,
                 "description": "a clip id of one of the caller's tasks",
                 "schema": _PATH_SEGMENT},
                _NAMESPACE,
            ],
            "responses": responses,
        }
    }


def _upload_path(p: Profile, submit_responses: dict[str, Any]) -> dict[str, Any]:
    """POST /suno/uploads/audio-url: ElkAPI only (reference section 10)."""
    responses = {k: v for k, v in submit_responses.items() if k != "503"}
    responses["400"] = _response(
        "invalid_request: the body is not JSON or does not bind, or url is missing or empty "
        "('url is empty').",
        JSON_UTF8,
        _ref("TaskError"),
    )
    return {
        "post": {
            "tags": ["suno"],
            "operationId": "uploadAudioUrl",
            "summary": "Upload audio by URL (ElkAPI): a task whose clip is that audio",
            "description": (
                "The fake never fetches the URL: it keeps it in the clip's metadata.upload_url. "
                "The task's one clip has metadata.type 'upload' and completes as its scenario "
                "says (upload_success by default). The answer is the submit envelope with the "
                f"new task's id ({p.id_format} ids)."
            ),
            "parameters": [{"$ref": "#/components/parameters/Scenario"}, _NAMESPACE],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {"url": {"type": "string", "minLength": 1}},
                }}},
            },
            "responses": responses,
        }
    }


def _admin_op(
    summary: str,
    responses: Mapping[str, Any],
    *,
    operation_id: str,
    body: str | None = None,
    body_required: bool = True,
    parameters: Sequence[Any] = (),
    description: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": ["mock-admin"],
        "operationId": operation_id,
        "summary": summary,
        "security": [{}, {"adminToken": []}],
        "parameters": [*parameters, _NAMESPACE],
        "responses": {
            **responses,
            "400": _admin_error("A body that is not a JSON object, a field of the wrong type "
                                "or value, or an unknown field (the message names it)."),
            "403": _admin_error("Not from loopback and no valid X-Mock-Admin-Token "
                                "(or the server has a token and the header is missing)."),
            "503": _admin_error("The store is unavailable: store_unavailable, retry."),
        },
    }
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = {"required": body_required,
                             "content": {JSON: {"schema": _ref(body)}}}
    else:
        del op["responses"]["400"]
    return op


def _admin_paths() -> dict[str, Any]:
    task_path = {"name": "task_id", "in": "path", "required": True, "schema": _PATH_SEGMENT}
    rule_path = {"name": "rule_id", "in": "path", "required": True, "schema": _PATH_SEGMENT}
    return {
        "/__mock/reset": {"post": _admin_op(
            "Forget the namespace's tasks, journal and fault rules; the clock starts again",
            {"200": _admin_response("Reset; the clock's time.", "AdminReset")},
            operation_id="adminReset", body="AdminEmpty", body_required=False,
            description="In the default namespace, a seed file's tasks (--seed) are added "
            "again, as at start.",
        )},
        "/__mock/clock": {"get": _admin_op(
            "Read the clock", {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClock",
        )},
        "/__mock/clock/advance": {"post": _admin_op(
            "Move the clock forward", {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClockAdvance", body="AdminClockAdvance",
        )},
        "/__mock/clock/set": {"post": _admin_op(
            "Set the clock", {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClockSet", body="AdminClockSet",
        )},
        "/__mock/clock/pause": {"post": _admin_op(
            "Stop the clock (it then moves only when advanced or set)",
            {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClockPause", body="AdminEmpty", body_required=False,
        )},
        "/__mock/clock/resume": {"post": _admin_op(
            "Run the clock again, at speed or the server's own (--speed)",
            {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClockResume", body="AdminClockResume", body_required=False,
        )},
        "/__mock/clock/speed": {"post": _admin_op(
            "Run the clock at this speed from where it is",
            {"200": _admin_response("The clock.", "AdminClock")},
            operation_id="adminClockSpeed", body="AdminClockSpeed",
        )},
        "/__mock/tasks": {
            "get": _admin_op(
                "List the namespace's tasks, oldest first",
                {"200": _admin_response("Tasks.", "AdminTaskList")},
                operation_id="adminTasks",
            ),
            "post": _admin_op(
                "Create a task as if its owner had submitted it",
                {
                    "201": {
                        **_admin_response("Created.", "AdminTaskView"),
                        "links": {
                            "poll": {
                                "operationId": "fetchOne",
                                "parameters": {"id": "$response.body#/task_id"},
                                "description": "Poll it with a key of the owner (api_key).",
                            },
                            "pin": {
                                "operationId": "adminForceStep",
                                "parameters": {"task_id": "$response.body#/task_id"},
                                "description": "Pin it at another step.",
                            },
                        },
                    },
                    "409": _admin_error("task_exists: the namespace has a task with this "
                                        "task_id already."),
                },
                operation_id="adminCreateTask", body="AdminTask",
                description="An unknown scenario, a step the scenario does not have, a task_id "
                "not of the profile's id format, or an action that disagrees with the scenario "
                "is a 400 that says so.",
            ),
        },
        "/__mock/tasks/{task_id}/step": {"post": _admin_op(
            "Pin a task at a step (null unpins it)",
            {
                "200": _admin_response("The task.", "AdminTaskView"),
                "404": _admin_error("task_not_exist: no such task in the namespace."),
            },
            operation_id="adminForceStep", body="AdminTaskStep", parameters=[task_path],
        )},
        "/__mock/scenarios": {"get": _admin_op(
            "The scenarios loaded (bundled and --fixtures)",
            {"200": _admin_response("Scenarios.", "AdminScenarioList")},
            operation_id="adminScenarios",
        )},
        "/__mock/journal": {"get": _admin_op(
            "The requests under /suno/ seen in the namespace, and the callbacks sent, oldest first",
            {"200": _admin_response("Journal.", "AdminJournal")},
            operation_id="adminJournal",
        )},
        "/__mock/callbacks": {"get": _admin_op(
            "The notify_hook callback attempts in the namespace, oldest first (elkapi profile)",
            {"200": _admin_response("Callback attempts.", "AdminCallbacks")},
            operation_id="adminCallbacks",
        )},
        "/__mock/faults": {
            "get": _admin_op(
                "The fault rules in force",
                {"200": _admin_response("Rules.", "AdminFaultList")},
                operation_id="adminFaults",
            ),
            "post": _admin_op(
                "Add one fault rule, or a fault profile's rules",
                {"201": _admin_response("Added.", "AdminFaultsAdded")},
                operation_id="adminAddFaults",
                description="A fault rule makes the fake misbehave on purpose (latency, "
                "dropped connections, error statuses, stuck tasks...): see FaultRule.",
                body="AdminFaultBody",
            ),
            "delete": _admin_op(
                "Remove every fault rule",
                {"200": _admin_response("How many were removed.", "AdminFaultsCleared")},
                operation_id="adminClearFaults",
            ),
        },
        "/__mock/faults/{rule_id}": {"delete": _admin_op(
            "Remove one fault rule",
            {
                "200": _admin_response("Removed.", "AdminFaultDeleted"),
                "404": _admin_error("not_found: no rule with this id."),
            },
            operation_id="adminDeleteFault", parameters=[rule_path],
        )},
    }


def _ops_paths() -> dict[str, Any]:
    def op(summary: str, operation_id: str, responses: Mapping[str, Any]) -> dict[str, Any]:
        return {"get": {"tags": ["ops"], "operationId": operation_id, "summary": summary,
                        "security": [], "responses": dict(responses)}}

    return {
        "/healthz": op("Liveness: the process answers (never touches the store)", "healthz",
                       {"200": _admin_response("Alive; which worker answered.", "Health")}),
        "/readyz": op("Readiness: the store answers", "readyz", {
            "200": _admin_response("Ready.", "Readiness"),
            "503": _admin_response("The store does not answer.", "Readiness"),
        }),
        "/openapi.json": op("This document, for the profile the fake serves", "openapi", {
            "200": {"description": "The OpenAPI 3.1 document.",
                    "content": {JSON_UTF8: {"schema": {"type": "object"}}}},
        }),
    }


def _media_paths() -> dict[str, Any]:
    """The files clip URLs name (the fake's stand-in for Suno's CDN; open, no key)."""

    def segment(name: str, description: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "description": description,
                "schema": {"type": "string"}}

    where = [segment("namespace", "the task's X-Mock-Namespace, URL-quoted; - for none"),
             segment("task_id", "the task the clip belongs to")]
    missing = {"404": {"description": "No such clip, or not ready yet (text/plain).",
                       "content": {"text/plain": {"schema": {"type": "string"}}}}}

    def op(summary: str, operation_id: str, parameters: list[dict[str, Any]],
           ok: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"tags": ["media"], "operationId": operation_id, "summary": summary,
                        "security": [], "parameters": where + parameters,
                        "responses": {**ok, **missing}}}

    audio = {"description": "MP3; HEAD and Range (206) as a CDN answers them.",
             "content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}}
    files = {"description": "MP3, WAV (16-bit PCM) or MP4 (H.264 + AAC); HEAD and Range (206) "
             "as a CDN answers them.",
             "content": {kind: {"schema": {"type": "string", "format": "binary"}}
                         for kind in ("audio/mpeg", "audio/wav", "video/mp4")}}
    image = {"description": "JPEG cover.",
             "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/__media/{namespace}/{task_id}/cdn1/{file}": op(
            "A complete clip's audio and exports: <clip id>.mp3, .wav, .mp4", "mediaAudio",
            [segment("file", "<clip id>.mp3, <clip id>.wav or <clip id>.mp4")],
            {"200": files, "206": files}),
        "/__media/{namespace}/{task_id}/cdn2/{file}": op(
            "A clip's cover: image_<clip id>.jpeg or image_large_<clip id>.jpeg", "mediaCover",
            [segment("file", "image_<clip id>.jpeg or image_large_<clip id>.jpeg")],
            {"200": image, "206": image}),
        "/__media/{namespace}/{task_id}/audiopipe/": op(
            "A streaming clip's audio as it is made (chunked); the whole file once complete",
            "mediaStream",
            [{"name": "item_id", "in": "query", "required": True, "description": "the clip id",
              "schema": {"type": "string"}}],
            {"200": audio, "206": audio}),
    }


def _request_id_pattern(p: Profile) -> str:
    # yyyyMMddHHmmss + 8 digits of nanoseconds (+ 8-hex build hash in 2026) + 8 random chars
    build = "[0-9a-f]{8}" if p.request_id_style == "2026" else ""
    return f"^[0-9]{{22}}{build}[A-Za-z0-9]{{8}}$"


def _attach(doc: dict[str, Any], exchanges: Iterable[Exchange]) -> None:
    """Put each exchange's bodies in as examples; refuse one the document does not describe."""
    for ex in exchanges:
        op = doc["paths"].get(ex.path, {}).get(ex.method.lower())
        if op is None:
            raise ValueError(f"example {ex.name}: no operation {ex.method} {ex.path}")
        response = op["responses"].get(str(ex.status))
        if response is None:
            raise ValueError(f"example {ex.name}: {ex.method} {ex.path} has no {ex.status}")
        media = response.get("content", {}).get(ex.content_type)
        if media is None:
            raise ValueError(
                f"example {ex.name}: {ex.method} {ex.path} {ex.status} answered "
                f"{ex.content_type!r}, documented {sorted(response.get('content', {}))}"
            )
        media.setdefault("examples", {})[ex.name] = {"summary": ex.summary, "value": ex.response}
        if ex.request is not None and "requestBody" in op:
            body = op["requestBody"]["content"].get(ex.request_content_type)
            if body is not None:
                body.setdefault("examples", {})[ex.name] = {
                    "summary": ex.summary, "value": ex.request}


def openapi_document(
    profile: str,
    *,
    version: str = "0",
    servers: Sequence[str] = ("http://127.0.0.1:8080",),
    exchanges: Iterable[Exchange] = (),
    task_id_pattern: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``profile`` (``version``: the kit's, in info.version).

    ``exchanges`` become examples (ValueError if one does not fit the document);
    ``task_id_pattern`` is the profile's id format, for admin-made ids.
    """
    p = load_profile(profile)
    schemas = _components(profile, task_id_pattern)
    schemas["AdminFaultBody"] = _one_of("FaultRule", "FaultProfile")
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"Suno task API (new-api / ElkAPI gateway), profile {p.name}",
            "version": version,
            "summary": p.description,
            "description": (
                "The Suno task routes of a new-api gateway (ElkAPI and its lineage) as "
                f"suno-contract-kit's fake serves them in profile {p.name}, generated from the "
                "kit's JSON Schemas. Submit a task, then poll it until its status is SUCCESS or "
                "FAILURE (terminal: they never change again). Every answer carries "
                "X-Oneapi-Request-Id. JSON is written the way Go writes it: compact, with <, > "
                "and & escaped as \\u003c, \\u003e, \\u0026; task keys in struct order, clip "
                "keys by length then bytewise. Unregistered paths and methods under /suno/ are "
                "not errors: the gateway (and the fake) answer 200 text/html with its web UI's "
                "index page. Tags mock-admin and ops are the fake's own API (its dashboard, HTML "
                "pages at /__mock/ui/, is not described here); x-deviations lists where the fake "
                "knowingly differs from the live gateway."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
            "x-profile": p.name,
            "x-task-id-format": p.id_format,
        },
        "servers": [{"url": url} for url in servers],
        "tags": [
            {"name": "suno", "description": "The live API's routes (the fake is true to them)."},
            {"name": "mock-admin", "description": "The fake's admin API: clock, tasks, faults, "
             "journal. Loopback clients only, unless the fake has --admin-token."},
            {"name": "ops", "description": "The fake's probes and this document."},
            {"name": "media", "description": "The files clip URLs name: the fake's stand-in "
             "for Suno's CDN."},
        ],
        "security": [{"bearer": []}, {"mjApiSecret": []}],
        "paths": {**_suno_paths(p), **_admin_paths(), **_ops_paths(), **_media_paths()},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "Authorization: Bearer <key>"
                        + (" (a lowercase 'bearer ' works too)" if p.lowercase_bearer else "")
                        + ". A leading sk- is stripped; keys of one owner see the same tasks."
                    ),
                },
                "mjApiSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "mj-api-secret",
                    "description": "Read instead of Authorization when that carries no key or "
                    "the key 'midjourney-proxy' (new-api's TokenAuth).",
                },
                "adminToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Mock-Admin-Token",
                    "description": "Opens the admin API beyond loopback when the fake runs "
                    "with --admin-token (then loopback needs it too).",
                },
            },
            "headers": {
                "RequestId": {
                    "description": "The gateway's request id; also in gateway error messages.",
                    "required": True,
                    "schema": {"type": "string", "pattern": _request_id_pattern(p)},
                },
            },
            "parameters": {
                "Namespace": {
                    "name": "X-Mock-Namespace",
                    "in": "header",
                    "required": False,
                    "description": "The fake only: an isolated set of tasks, clock, journal and "
                    "fault rules (at most 128 characters; a longer name is a 400).",
                    "schema": {"type": "string"},
                },
                "Scenario": {
                    "name": "X-Mock-Scenario",
                    "in": "header",
                    "required": False,
                    "description": "The fake only: the scenario this task follows (a name from "
                    "GET /__mock/scenarios, of the action's kind); default: the action's "
                    "default scenario.",
                    "schema": {"type": "string"},
                },
            },
        },
        "x-deviations": DEVIATIONS,
    }
    _attach(doc, exchanges)
    return doc
