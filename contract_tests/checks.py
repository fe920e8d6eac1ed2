"""The contract as pure checks: each reads observations and raises ``ContractViolation``.

A violation is an ``AssertionError`` whose message starts with the broken rule's name (see
``RULES``), so a failing suite says *which* promise the target broke, with the JSON path and the
request and response that showed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NoReturn

from mock_server.contract.validation import resolved_schema, validate
from mock_server.core.actions import ACTIONS

from ._observation import NOT_JSON, Observation

__all__ = [
    "RULES",
    "ContractViolation",
    "Observation",
    "check_auth_rejected",
    "check_batch",
    "check_get",
    "check_invalid_request",
    "check_keys_dropped",
    "check_lifecycle",
    "check_no_channel",
    "check_no_route",
    "check_nothing_stored",
    "check_refused",
    "check_route_answer",
    "check_route_meaning",
    "check_submit_accepted",
    "check_success_envelope",
    "check_task",
    "check_task_not_exist",
    "check_task_state",
]

RULES: dict[str, str] = {
    "success-envelope": "a success is HTTP 200, JSON, {code: 'success', message, data}",
    "task-field-set": "a task has exactly the selected profile's fields: none missing, none extra",
    "task-schema": "every task field has the type and format of the selected profile's schema",
    "clip-schema": "every clip in a task's data validates against the clip schema",
    "lyrics-schema": "a lyrics object in a task's data validates against the lyrics schema",
    "unknown-ids-omitted": "a batch with unknown ids still succeeds; the unknown ids are left out",
    "ids-subset-of-asked": "a batch answers only ids that were asked for",
    "ids-no-duplicates": "a batch answers each task once, however often it was asked",
    "own-tasks-returned": "a batch answers every asked id the caller owns",
    "empty-ids-give-empty-list": "a batch with no ids (absent, null or []) answers data []",
    "no-match-gives-null": "a batch where no id matched answers data null",
    "other-owners-invisible": "tasks of another key's owner are never answered",
    "get-returns-asked-task": "GET /suno/fetch/{id} answers the task with that id",
    "unknown-id-task-not-exist": "GET of an unknown id is 400 {code: 'task_not_exist'}",
    "bad-json-invalid-request": "a body that is not JSON is 400 {code: 'invalid_request'}",
    "invalid-body-rejected": "a JSON body of the wrong shape is 400 {code: 'invalid_request'}",
    "missing-key-401": "no key is 401 with the gateway envelope {error: {message, type}}",
    "wrong-key-401": "an invalid key is 401 with the gateway envelope {error: {message, type}}",
    "submit-returns-task-id": "an accepted submit is 200 {code: 'success', data: '<task id>'}",
    "status-moves-forward": "status never goes back: NOT_START|SUBMITTED|QUEUED, IN_PROGRESS, end",
    "terminal-sticks": "SUCCESS and FAILURE never change again (status, progress, times, reason)",
    "time-order": "submit_time <= start_time <= finish_time, for the times that are set",
    "progress-matches-status": "progress is '100%' exactly when the task ended",
    "success-has-results": "SUCCESS has complete clips with audio URLs (MUSIC) or lyrics (LYRICS)",
    "failure-has-reason": "FAILURE has a non-empty fail_reason",
    # ElkAPI's routes beyond new-api (contract_tests.routes)
    "route-schema": "an ElkAPI route answers HTTP 200 JSON matching its response schema",
    "timing-words-in-order": "timing: aligned words with start <= end, times increasing, within "
                             "the clip's duration; waveform_data a list of numbers",
    "result-refers-to-source": "the clips of an extend, cover, infill, stem or concat task "
                               "and a clip's stems name their source clip (metadata.history / "
                               "concat_history); an extend is longer than continue_at; an "
                               "upload's clip is type upload; a WAV or MP4 export answers its "
                               "clip's id, a persona's root_clip_id is its clip",
    "route-refuses-bad-input": "bad input to an ElkAPI route (wrong types, missing fields, an "
                               "unknown clip, another key's clip) is 400 in the task envelope "
                               "with the code the reference names",
    "refused-call-stores-nothing": "a refused call leaves no task behind (checked on the fake)",
    "route-absent-on-new-api": "a new-api profile answers the ElkAPI routes as a vanilla "
                               "gateway: no route (200 index page), 503 model_not_found, or "
                               "the ElkAPI keys dropped",
}

# Status ranks: the early statuses may be skipped or reported in any order (the gateway polls
# every 15 s and copies the upstream's word); only leaving a later rank for an earlier one is a
# regression. Unknown status strings are left to the schema and drift check.
_RANK = {"NOT_START": 0, "SUBMITTED": 0, "QUEUED": 0, "IN_PROGRESS": 1, "SUCCESS": 2, "FAILURE": 2}
TERMINAL = frozenset({"SUCCESS", "FAILURE"})
_TASK_KINDS = frozenset({"fetch-batch-response", "fetch-one-response"})


class ContractViolation(AssertionError):
    """A broken contract rule; ``rule`` is its name in ``RULES``."""

    def __init__(self, rule: str, detail: str, obs: Observation | None = None) -> None:
        message = f"contract rule {rule!r} broken: {detail}"
        if obs is not None:
            message += f"\n  observed: {obs.describe()}"
        super().__init__(message)
        self.rule = rule


def _fail(rule: str, detail: str, obs: Observation | None = None) -> NoReturn:
    raise ContractViolation(rule, detail, obs)


def _payload(obs: Observation, rule: str) -> Any:
    payload = obs.json
    if payload is NOT_JSON:
        _fail(rule, "the body is not JSON", obs)
    return payload


def _lines(problems: Iterable[str]) -> str:
    return "".join(f"\n    {p}" for p in problems)


# envelopes -----------------------------------------------------------------------------------
def check_success_envelope(
    obs: Observation, kind: str, profile: str | None = None, *, rule: str = "success-envelope"
) -> Any:
    """HTTP 200 with a JSON success envelope of ``kind``; returns the decoded body.

    Task objects inside ``data`` are left to ``check_task``, which names the rule they break.
    """
    if obs.status != 200:
        _fail(rule, f"expected HTTP 200, got {obs.status}", obs)
    if not obs.content_type.startswith("application/json"):
        _fail(rule, f"expected an application/json body, got {obs.content_type!r}", obs)
    payload = _payload(obs, rule)
    problems = validate(payload, kind, profile)
    if kind in _TASK_KINDS:
        inner = "$.data[" if kind == "fetch-batch-response" else "$.data"
        problems = [p for p in problems if not p.path.startswith(inner)]
    if problems:
        _fail(rule, f"the body does not match {kind}:{_lines(map(str, problems))}", obs)
    return payload


def _check_task_error(obs: Observation, rule: str, status: int, code: str) -> None:
    if obs.status != status:
        _fail(rule, f"expected HTTP {status} with code {code!r}, got HTTP {obs.status}", obs)
    payload = _payload(obs, rule)
    problems = validate(payload, "task-error")
    if problems:
        _fail(rule, f"the error envelope does not match task-error:{_lines(map(str, problems))}",
              obs)
    if payload["code"] != code:
        _fail(rule, f"expected code {code!r}, got {payload['code']!r}", obs)


def check_task_not_exist(obs: Observation, rule: str = "unknown-id-task-not-exist") -> None:
    """GET of an id the caller does not own: 400 task_not_exist."""
    _check_task_error(obs, rule, 400, "task_not_exist")


def check_invalid_request(obs: Observation, rule: str = "bad-json-invalid-request") -> None:
    """A body the gateway cannot bind: 400 invalid_request, data null (any content type)."""
    _check_task_error(obs, rule, 400, "invalid_request")


def check_refused(obs: Observation, codes: Sequence[str],
                  rule: str = "route-refuses-bad-input") -> None:
    """400 in the task envelope with one of ``codes`` (data null)."""
    if obs.status != 400:
        _fail(rule, f"expected HTTP 400 with code {' or '.join(map(repr, codes))}, got HTTP "
              f"{obs.status}", obs)
    payload = _payload(obs, rule)
    problems = validate(payload, "task-error")
    if problems:
        _fail(rule, f"the error envelope does not match task-error:{_lines(map(str, problems))}",
              obs)
    if payload["code"] not in codes:
        _fail(rule, f"expected code {' or '.join(map(repr, codes))}, got {payload['code']!r}",
              obs)


def check_no_route(obs: Observation, rule: str = "route-absent-on-new-api") -> None:
    """A route gin does not have: new-api's NoRoute serves its web index page, HTTP 200 HTML."""
    if obs.status != 200 or not obs.content_type.startswith("text/html"):
        _fail(rule, f"expected the gateway's index page (HTTP 200 text/html) for a route "
              f"new-api does not have, got HTTP {obs.status} {obs.content_type!r}", obs)


def check_no_channel(obs: Observation, model: str, rule: str = "route-absent-on-new-api") -> None:
    """An unknown submit action: 503 model_not_found in the gateway envelope, naming ``model``."""
    if obs.status != 503:
        _fail(rule, f"expected HTTP 503 (no channel for {model}), got {obs.status}", obs)
    payload = _payload(obs, rule)
    problems = validate(payload, "gateway-error")
    if problems:
        _fail(rule, f"the body is not the gateway envelope:{_lines(map(str, problems))}", obs)
    if model not in str(payload["error"].get("message")):
        _fail(rule, f"the message does not name {model}", obs)


def check_nothing_stored(before: int | None, after: int | None, obs: Observation) -> None:
    """A refused call left the target's task count as it was (None: the target cannot tell)."""
    if before is not None and after is not None and after != before:
        _fail("refused-call-stores-nothing", f"the refused call left {after - before} task(s) "
              "behind", obs)


def check_keys_dropped(task: Mapping[str, Any], what: str) -> None:
    """A MUSIC task made by a new-api gateway from a body with ElkAPI's task-kind keys: a plain
    song (``metadata.type`` gen, no ``history``), as its re-marshal drops those keys."""
    for i, clip in enumerate(task.get("data") or []):
        meta = clip.get("metadata") if isinstance(clip, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("history") or meta.get("type") != "gen":
            _fail("route-absent-on-new-api", f"{_label(task, 'task')} $.data[{i}].metadata has "
                  f"type {meta.get('type')!r} and history {meta.get('history')!r}: the {what} "
                  "keys were not dropped")


def check_auth_rejected(obs: Observation, rule: str) -> None:
    """``rule`` is ``missing-key-401`` or ``wrong-key-401``."""
    if obs.status != 401:
        _fail(rule, f"expected HTTP 401, got {obs.status}", obs)
    payload = _payload(obs, rule)
    problems = validate(payload, "gateway-error")
    if problems:
        _fail(rule, f"the body is not the gateway envelope:{_lines(map(str, problems))}", obs)


def check_submit_accepted(obs: Observation) -> str:
    """An accepted submit; returns the new task id."""
    payload = check_success_envelope(obs, "submit-response", rule="submit-returns-task-id")
    return str(payload["data"])


# ElkAPI routes --------------------------------------------------------------------------------
def check_route_answer(obs: Observation, kind: str) -> Any:
    """HTTP 200, JSON, valid against ``kind`` (a task envelope or a raw Suno answer)."""
    return check_success_envelope(obs, kind, rule="route-schema")


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


def _check_timing(payload: Mapping[str, Any], clip: Mapping[str, Any],
                  obs: Observation | None) -> None:
    rule = "timing-words-in-order"
    duration = _number((clip.get("metadata") or {}).get("duration"))
    last = 0.0
    for i, word in enumerate(payload.get("aligned_words") or []):
        start, end = _number(word.get("start_s")), _number(word.get("end_s"))
        where = f"$.aligned_words[{i}] ({word.get('word')!r})"
        if start is None or end is None:
            _fail(rule, f"{where}: start_s {start!r}, end_s {end!r} are not numbers", obs)
        if start < last:
            _fail(rule, f"{where}: starts at {start}, before the end of the word before "
                  f"({last})", obs)
        if end < start:
            _fail(rule, f"{where}: ends at {end}, before it starts ({start})", obs)
        if duration is not None and end > duration:
            _fail(rule, f"{where}: ends at {end}, past the clip's duration {duration}", obs)
        last = end
    waveform = payload.get("waveform_data")
    if not isinstance(waveform, list) or any(_number(v) is None for v in waveform):
        _fail(rule, f"$.waveform_data is not a list of numbers: {str(waveform)[:120]}", obs)


def _history_ids(meta: Mapping[str, Any], key: str) -> list[Any]:
    entries = meta.get(key)
    return [e.get("id") for e in entries if isinstance(e, dict)] if isinstance(
        entries, list) else []


def _check_about_clip(answer: Mapping[str, Any], meaning: str, source: Mapping[str, Any],
                      obs: Observation | None) -> None:
    """An export answers its clip's id; a persona is rooted in the clip it was made of."""
    key = "data" if meaning == "export" else "root_clip_id"
    if answer.get(key) != source.get("id"):
        _fail("result-refers-to-source", f"$.{key} is {answer.get(key)!r}, not the clip asked "
              f"about ({source.get('id')!r})", obs)


def _check_source(task: Mapping[str, Any], meaning: str, source: Mapping[str, Any],
                  body: Mapping[str, Any], obs: Observation | None = None) -> None:
    rule = "result-refers-to-source"
    label = _label(task, "task")
    clips = task.get("data")
    if not (isinstance(clips, list) and clips):
        _fail(rule, f"{label}: no clips to check (data {str(clips)[:120]})", obs)
    source_id = source.get("id")
    for i, clip in enumerate(clips):
        meta = clip.get("metadata") if isinstance(clip, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        where = f"{label} $.data[{i}].metadata"
        kind = meta.get("type")
        if meaning == "upload":
            if kind != "upload":
                _fail(rule, f"{where}.type is {kind!r}, not 'upload'", obs)
            continue
        if meaning == "concat":
            ids = _history_ids(meta, "concat_history")
            if kind != "concat" or not ids or ids[-1] != source_id:
                _fail(rule, f"{where}: type {kind!r}, concat_history ids {ids}; expected type "
                      f"'concat' ending with the source clip {source_id!r}", obs)
            continue
        ids = _history_ids(meta, "history")
        if not ids or ids[0] != source_id:
            _fail(rule, f"{where}.history names {ids}, not the source clip {source_id!r}", obs)
        if meaning != "extend" and kind != meaning:
            _fail(rule, f"{where}.type is {kind!r}, not {meaning!r}", obs)
        at, length = _number(body.get("continue_at")), _number(meta.get("duration"))
        if meaning == "extend" and at is not None and length is not None and length <= at:
            _fail(rule, f"{where}.duration {length} is not longer than continue_at {at}", obs)


def check_route_meaning(
    meaning: str,
    answer: Any,
    source: Mapping[str, Any],
    *,
    body: Mapping[str, Any] | None = None,
    obs: Observation | None = None,
) -> None:
    """What a row's answer means beyond its schema (``RouteCase.meaning``): ``answer`` is the
    raw answer ("timing") or the finished task its task id named."""
    if meaning == "timing":
        _check_timing(answer, source, obs)
    elif meaning == "stems":  # Suno's raw clips, made from the source like a gen_stem's
        _check_source({"data": answer.get("clips")}, "stem", source, {}, obs)
    elif meaning in ("export", "persona"):
        _check_about_clip(answer, meaning, source, obs)
    elif meaning:
        _check_source(answer, meaning, source, body or {}, obs)


# tasks ---------------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _field_set(profile: str | None) -> tuple[tuple[str, ...], frozenset[str]]:
    schema = resolved_schema("task", profile)
    return tuple(schema.get("required", ())), frozenset(schema.get("properties", {}))


def _label(task: Mapping[str, Any], where: str) -> str:
    task_id = task.get("task_id")
    return f"{where} (task_id {task_id!r})" if isinstance(task_id, str) else where


def check_task(
    task: Any, profile: str | None, *, where: str = "task", obs: Observation | None = None
) -> None:
    """One task object against the selected profile: field set, field types, clips, lyrics."""
    if not isinstance(task, dict):
        _fail("task-schema", f"{where} is {type(task).__name__}, not a task object", obs)
    label = _label(task, where)
    required, known = _field_set(profile)
    missing = [f for f in required if f not in task]
    extra = sorted(f for f in task if f not in known)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"not in the profile: {', '.join(extra)}")
        _fail("task-field-set", f"{label} does not have profile {profile!r}'s fields: "
              + "; ".join(parts), obs)
    problems = [p for p in validate(task, "task", profile) if not p.path.startswith("$.data")]
    if problems:
        _fail("task-schema", f"{label} breaks profile {profile!r}'s task schema:"
              + _lines(map(str, problems)), obs)
    data = task.get("data")
    if data is None:
        return
    if isinstance(data, list):
        found = [
            f"$.data[{i}]{p.path[1:]}: {p.message}"
            for i, clip in enumerate(data)
            for p in validate(clip, "clip")
        ]
        if found:
            _fail("clip-schema", f"{label} has invalid clips:{_lines(found)}", obs)
    elif isinstance(data, dict):
        found = [f"$.data{p.path[1:]}: {p.message}" for p in validate(data, "lyrics")]
        if found:
            _fail("lyrics-schema", f"{label} has an invalid lyrics object:{_lines(found)}", obs)
    else:
        _fail("task-schema", f"{label}: $.data is {type(data).__name__}; expected null, a list "
              "of clips or a lyrics object", obs)


def check_get(obs: Observation, task_id: str, profile: str | None) -> dict[str, Any]:
    """GET /suno/fetch/{task_id} of an owned task; returns the task."""
    payload = check_success_envelope(obs, "fetch-one-response", profile)
    task = payload["data"]
    check_task(task, profile, where="$.data", obs=obs)
    if task["task_id"] != task_id:
        _fail("get-returns-asked-task", f"asked for {task_id!r}, got {task['task_id']!r}", obs)
    return dict(task)


def check_batch(
    obs: Observation,
    asked: Any,
    *,
    own: Iterable[str],
    foreign: Iterable[str] = (),
    profile: str | None,
) -> list[dict[str, Any]]:
    """POST /suno/fetch with ``{"ids": asked}``; ``own`` are the caller's task ids, ``foreign``
    another owner's. Returns the answered tasks."""
    strings = [i for i in asked if isinstance(i, str)] if isinstance(asked, list) else []
    own_set, foreign_set = set(own), set(foreign)
    unknown = isinstance(asked, list) and any(
        not (isinstance(i, str) and i in own_set) for i in asked
    )
    rule = "unknown-ids-omitted" if obs.status != 200 and unknown else "success-envelope"
    payload = check_success_envelope(obs, "fetch-batch-response", profile, rule=rule)
    data = payload["data"]
    if not asked:
        if data != []:
            _fail("empty-ids-give-empty-list", f"ids {asked!r} answered data {data!r}", obs)
        return []
    tasks = data if isinstance(data, list) else []
    for index, task in enumerate(tasks):
        check_task(task, profile, where=f"$.data[{index}]", obs=obs)
    returned = [t["task_id"] for t in tasks]
    leaked = sorted(set(returned) & foreign_set)
    if leaked:
        _fail("other-owners-invisible", f"answered another owner's tasks {leaked}", obs)
    stray = sorted(set(returned) - set(strings))
    if stray:
        _fail("ids-subset-of-asked", f"answered ids nobody asked for: {stray}", obs)
    doubled = sorted({i for i in returned if returned.count(i) > 1})
    if doubled:
        _fail("ids-no-duplicates", f"answered these ids more than once: {doubled}", obs)
    matched = set(strings) & own_set
    if not matched:
        if data is not None:
            _fail("no-match-gives-null", f"no asked id is the caller's, yet data is {data!r}"[:300],
                  obs)
        return []
    absent = sorted(matched - set(returned))
    if absent:
        _fail("own-tasks-returned", f"the caller's tasks {absent} were asked for but not "
              "answered", obs)
    return [dict(t) for t in tasks]


# lifecycle -----------------------------------------------------------------------------------
def _time(task: Mapping[str, Any], name: str) -> int:
    value = task.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def check_task_state(task: Mapping[str, Any], where: str = "task") -> None:
    """What must hold for any single snapshot of a task: times, progress, results, reasons."""
    label = _label(task, where)
    status, progress = task.get("status"), task.get("progress")
    submit, start, finish = (_time(task, n) for n in ("submit_time", "start_time", "finish_time"))
    if start and submit and start < submit:
        _fail("time-order", f"{label}: start_time {start} is before submit_time {submit}")
    if finish and start and finish < start:
        _fail("time-order", f"{label}: finish_time {finish} is before start_time {start}")
    if finish and submit and finish < submit:
        _fail("time-order", f"{label}: finish_time {finish} is before submit_time {submit}")
    ended = status in TERMINAL
    # new-api also sets 100% when an upstream reports a fail_reason before its status.
    if ended and progress != "100%":
        _fail("progress-matches-status", f"{label}: status {status} with progress {progress!r}")
    if not ended and progress == "100%" and not task.get("fail_reason"):
        _fail("progress-matches-status", f"{label}: progress '100%' while status is {status}")
    if status == "FAILURE" and not (isinstance(task.get("fail_reason"), str)
                                    and task["fail_reason"]):
        _fail("failure-has-reason", f"{label}: FAILURE with fail_reason "
              f"{task.get('fail_reason')!r}")
    if status == "SUCCESS":
        _check_results(task, label)


def _check_results(task: Mapping[str, Any], label: str) -> None:
    data, action = task.get("data"), task.get("action")
    known = ACTIONS.get(action) if isinstance(action, str) else None
    # An action we know says what its data holds; another one, the data's shape.
    if (known.data == "lyrics") if known is not None else isinstance(data, dict):
        text = data.get("text") if isinstance(data, dict) else None
        if not (isinstance(text, str) and text):
            _fail("success-has-results", f"{label}: SUCCESS LYRICS without lyrics text "
                  f"(data {str(data)[:200]})")
        return
    if not (isinstance(data, list) and data):
        _fail("success-has-results", f"{label}: SUCCESS MUSIC without clips (data {data!r})")
    for i, clip in enumerate(data):
        clip = clip if isinstance(clip, dict) else {}
        if clip.get("status") != "complete":
            _fail("success-has-results", f"{label}: SUCCESS with clip $.data[{i}] in status "
                  f"{clip.get('status')!r}, not 'complete'")
        if not _is_url(clip.get("audio_url")):
            _fail("success-has-results", f"{label}: SUCCESS with clip $.data[{i}] without an "
                  f"audio URL ({clip.get('audio_url')!r})")


_STICKY = ("status", "progress", "finish_time", "fail_reason")


def check_lifecycle(snapshots: Sequence[Mapping[str, Any]], task_id: str = "") -> None:
    """Successive polls of one task, in the order they were answered."""
    ended: Mapping[str, Any] | None = None
    best = -1
    for poll, task in enumerate(snapshots, start=1):
        where = f"poll {poll} of {task_id or task.get('task_id')!r}"
        check_task_state(task, where)
        status = task.get("status")
        if ended is not None:
            changed = [f"{k} {ended.get(k)!r} -> {task.get(k)!r}" for k in _STICKY
                       if task.get(k) != ended.get(k)]
            if changed:
                _fail("terminal-sticks", f"{where}: the task had ended with {ended['status']}, "
                      f"then changed: {', '.join(changed)}")
        rank = _RANK.get(status) if isinstance(status, str) else None
        if rank is not None:
            if rank < best:
                _fail("status-moves-forward", f"{where}: status went back to {status} "
                      f"(statuses seen: {[t.get('status') for t in snapshots[:poll]]})")
            best = max(best, rank)
        if ended is None and status in TERMINAL:
            ended = task
