"""The pure core of the drift check: a survey (what the probes got back) against a profile
and a baseline.

Four comparisons, each producing findings that carry a dedupe fingerprint:
(a) the lenient profile schema: a field missing or of another type is breaking (a field that
    turned null is a warning: it "became nullable");
(b) the strict form (closed objects, ``x-known`` values closed): a new field is info, a new
    value of a known-values field is a warning;
(c) per probe, the wire contract of the profile: status code and envelope (breaking), error
    code (breaking), content type (warning, or info when only its parameters changed), error
    text (warning: clients that match or show it see the change, the status still tells them
    what happened), the promised ``null``/``[]`` data (warning);
(d) the task id format (warning);
(e) with a baseline, the shapes seen on earlier runs (new or vanished fields, changed types,
    even where the schema says nothing), and the findings it accepted, which are not reported
    again. A baseline never accepts a breaking finding.
Findings about the same thing (across tasks, clips, probe instances) are merged into one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError

from mock_server.contract.profiles import Profile
from mock_server.contract.validation import explained_errors

from .._observation import NOT_JSON
from .._redact import Redactor
from .baseline import (
    Baseline,
    child,
    code_of,
    envelope_of,
    json_type,
    message_of,
    probe_shapes,
)
from .model import (
    BREAKING,
    INFO,
    SEVERITIES,
    WARNING,
    Finding,
    Probe,
    Request,
    Response,
    Survey,
)
from .probes import READ_ONLY_ROUTES

__all__ = [
    "DiffResult",
    "Where",
    "classify_id",
    "diff_body",
    "diff_survey",
    "id_formats_seen",
    "merge",
]

_ID_FORMATS = {
    "uuid": re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"),
    "hex32": re.compile(r"[0-9a-f]{32}"),
    "task_alnum32": re.compile(r"task_[0-9A-Za-z]{32}"),
}
_KIND_TASK_PREFIX = {
    "fetch-batch-response": "$.data[*]",
    "fetch-one-response": "$.data",
    "task": "$",
}


@dataclass(frozen=True)
class Where:
    """Where a payload came from: the probe (name and instance) and the request."""

    name: str
    label: str
    request: Request
    task_prefix: str | None = None

    @classmethod
    def of(cls, probe: Probe) -> Where:
        return cls(probe.name, probe.label, probe.request(), probe.task_prefix)

    def subject(self, path: str) -> str:
        """What a path is about, the same for a task in a batch and in a single fetch."""
        prefix = self.task_prefix
        if prefix and (path == prefix or path.startswith(prefix + ".") or
                       path.startswith(prefix + "[")):
            return "task" + path[len(prefix):]
        return f"{self.name}:{path}"


@dataclass
class DiffResult:
    findings: list[Finding] = field(default_factory=list)  # reported
    accepted: list[Finding] = field(default_factory=list)  # known to the baseline


class _Out:
    """Collects findings with a shared redactor."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.items: list[Finding] = []

    def add(
        self,
        where: Where,
        severity: str,
        category: str,
        check: str,
        path: str,
        expected: str,
        observed: str,
        message: str,
        example: Any = None,
        *,
        subject: str | None = None,
        keep_value: bool = True,
    ) -> None:
        observed = self.redactor.string(observed)
        subject = subject or where.subject(path)
        fingerprint = f"{category}|{subject}" + (f"|{observed}" if keep_value else "")
        self.items.append(
            Finding(
                severity=severity,
                category=category,
                check=check,
                path=path,
                expected=self.redactor.string(expected),
                observed=observed,
                message=self.redactor.string(message),
                example=_shrink(self.redactor.value(example, _leaf(path))),
                requests=[where.request],
                labels=[where.label],
                fingerprint=fingerprint,
            )
        )


def _shrink(value: Any, depth: int = 0) -> Any:
    """A short example: long strings cut, big containers trimmed."""
    if isinstance(value, str):
        return value if len(value) <= 160 else value[:159] + "…"
    if isinstance(value, list):
        return [_shrink(v, depth + 1) for v in value[:3]] if depth < 3 else "[…]"
    if isinstance(value, dict):
        if depth >= 3:
            return "{…}"
        return {k: _shrink(v, depth + 1) for k, v in list(value.items())[:16]}
    return value


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- (a) + (b) the schemas ---------------------------------------------------------------------


@cache
def _path(error: ValidationError) -> str:
    path = "$"
    for key in error.absolute_path:
        path = child(path, key)
    return path


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def _schema_of(error: ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _lenient(out: _Out, where: Where, body: Any, kind: str, profile: str | None) -> None:
    required_done: set[tuple[Any, ...]] = set()
    for error in explained_errors(body, kind, profile):
        path, keyword = _path(error), str(error.validator)
        wanted: Any = error.validator_value
        if keyword == "required":
            # jsonschema yields one error per missing name, each carrying the whole list.
            where_exactly = tuple(error.absolute_path)
            if where_exactly in required_done:
                continue
            required_done.add(where_exactly)
            props = _schema_of(error).get("properties", {})
            for name in wanted:
                if isinstance(error.instance, dict) and name not in error.instance:
                    want = props.get(name, {}).get("type", "present")
                    out.add(where, BREAKING, "missing-field", "schema-lenient",
                            child(path, name), _types(want), "absent",
                            f"field `{name}` is missing (expected {_types(want)})")
        elif keyword in ("type", "anyOf", "oneOf"):
            want = wanted if keyword == "type" else _branch_types(wanted)
            got = json_type(error.instance)
            if error.instance is None:
                out.add(where, WARNING, "became-nullable", "schema-lenient", path,
                        _types(want), "null", f"`{_leaf(path)}` is null (expected "
                        f"{_types(want)}): the field became nullable", None, keep_value=False)
            else:
                out.add(where, BREAKING, "type-changed", "schema-lenient", path, _types(want),
                        got, f"`{_leaf(path)}` is {got}, expected {_types(want)}",
                        error.instance, keep_value=False)
        else:
            out.add(where, BREAKING, "invalid-value", "schema-lenient", path,
                    f"{keyword}: {_show(wanted)}", _show(error.instance),
                    f"`{_leaf(path)}` breaks `{keyword}`: {error.message}", error.instance)


def _branch_types(branches: list[Any]) -> list[str]:
    out: list[str] = []
    for branch in branches:
        kind = branch.get("type", "any") if isinstance(branch, dict) else "any"
        out += kind if isinstance(kind, list) else [kind]
    return out


def _leaf(path: str) -> str:
    return "$" if path == "$" else path.rsplit(".", 1)[-1] if "." in path else path


def _strict(out: _Out, where: Where, body: Any, kind: str, profile: str | None) -> None:
    for error in explained_errors(body, kind, profile, strict=True):
        path, keyword = _path(error), str(error.validator)
        schema = _schema_of(error)
        if keyword == "additionalProperties" and isinstance(error.instance, dict):
            known = schema.get("properties", {})
            for name, value in error.instance.items():
                if name not in known:
                    got = json_type(value)
                    out.add(where, INFO, "new-field", "schema-strict", child(path, name),
                            "no such field", got, f"new field `{name}` ({got})", value,
                            keep_value=False)
        elif keyword == "enum" and "x-known" in schema:
            out.add(where, WARNING, "new-enum-value", "schema-strict", path,
                    "one of " + ", ".join(_show(v) for v in schema["x-known"]),
                    _show(error.instance),
                    f"`{_leaf(path)}` has a value never seen before: {_show(error.instance)}",
                    error.instance)


def _schemas(out: _Out, where: Where, body: Any, kind: str, profile: str | None) -> None:
    _lenient(out, where, body, kind, profile)
    _strict(out, where, body, kind, profile)


# -- (d) id format -----------------------------------------------------------------------------


def classify_id(task_id: str) -> str:
    """``uuid``, ``hex32``, ``task_alnum32`` (the profiles' formats) or ``other``."""
    for name, pattern in _ID_FORMATS.items():
        if pattern.fullmatch(task_id):
            return name
    return "other"


def _task_ids(body: Any, where: Where, kind: str | None) -> Iterator[tuple[str, str]]:
    """(path, id) of every task id in a body."""
    if not isinstance(body, dict):
        return
    data = body.get("data")
    if kind == "submit-response":
        if isinstance(data, str) and data:
            yield "$.data", data
    elif where.task_prefix == "$.data[*]" and isinstance(data, list):
        for task in data:
            if isinstance(task, dict) and isinstance(task.get("task_id"), str):
                yield "$.data[*].task_id", task["task_id"]
    elif where.task_prefix == "$.data" and isinstance(data, dict):
        if isinstance(data.get("task_id"), str):
            yield "$.data.task_id", data["task_id"]
    elif where.task_prefix == "$" and isinstance(body.get("task_id"), str):
        yield "$.task_id", body["task_id"]


def _id_format(out: _Out, where: Where, body: Any, kind: str | None, profile: Profile) -> None:
    for path, task_id in _task_ids(body, where, kind):
        fmt = classify_id(task_id)
        if fmt != profile.id_format:
            described = fmt if fmt != "other" else "other (not uuid, hex32 or task_alnum32)"
            out.add(where, WARNING, "id-format", "id-format", path, profile.id_format, described,
                    f"task ids changed format: {profile.id_format} -> {described}", task_id,
                    subject="task ids")


def id_formats_seen(responses: Iterable[Response]) -> set[str]:
    found = set()
    for response in responses:
        where = Where.of(response.probe)
        for _, task_id in _task_ids(response.body, where, response.probe.expect.kind):
            found.add(classify_id(task_id))
    return found


# -- (c) the wire contract of each probe ---------------------------------------------------------


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _norm_ct(content_type: str) -> str:
    return "; ".join(p.strip().lower() for p in content_type.split(";") if p.strip())


def _contract(out: _Out, response: Response, profile: Profile) -> bool:
    """Wire checks; False when the body should not be checked further (wrong status/envelope)."""
    probe, expect, body = response.probe, response.probe.expect, response.body
    where = Where.of(probe)
    snippet = body if body is not NOT_JSON else response.text[:300]
    if response.status != expect.status:
        out.add(where, BREAKING, "status-code", "contract", "$", str(expect.status),
                str(response.status),
                f"{probe.description}: HTTP {response.status} instead of {expect.status}", snippet)
        return False
    envelope = envelope_of(body)
    if envelope != expect.envelope:
        out.add(where, BREAKING, "envelope", "contract", "$", f"{expect.envelope} envelope",
                f"{envelope} envelope" if envelope != "not-json" else "not JSON",
                f"{probe.description}: the body is not the {expect.envelope} envelope", snippet)
        return False
    if _norm_ct(response.content_type) != _norm_ct(expect.content_type):
        same_mime = _mime(response.content_type) == _mime(expect.content_type)
        out.add(where, INFO if same_mime else WARNING, "content-type", "contract", "$",
                expect.content_type, response.content_type or "(none)",
                f"Content-Type is {response.content_type or 'missing'!r}, "
                f"expected {expect.content_type!r}")
    error_path = "$.error" if envelope == "gateway" else "$"
    code = code_of(body)
    if expect.envelope == "gateway":
        has_code = isinstance(body["error"], dict) and "code" in body["error"]
        if has_code != expect.code_present:
            out.add(where, WARNING, "error-code", "contract", f"{error_path}.code",
                    "present" if expect.code_present else "absent",
                    "present" if has_code else "absent",
                    f"error.code is {'present' if has_code else 'absent'} "
                    f"(expected {'present' if expect.code_present else 'absent'})")
        elif has_code and expect.code is not None and code != expect.code:
            out.add(where, BREAKING, "error-code", "contract", f"{error_path}.code",
                    _show(expect.code), _show(code), f"error code {_show(code)} instead of "
                    f"{_show(expect.code)}", code)
        kind = body["error"].get("type")
        if expect.error_type is not None and kind != expect.error_type:
            out.add(where, WARNING, "error-type", "contract", "$.error.type",
                    _show(expect.error_type), _show(kind),
                    f"error.type {_show(kind)} instead of {_show(expect.error_type)}", kind)
    elif expect.code is not None and code != expect.code:
        out.add(where, BREAKING, "error-code", "contract", "$.code", _show(expect.code),
                _show(code), f"code {_show(code)} instead of {_show(expect.code)}", code)
    message = message_of(body)
    if expect.message is not None and message is not None and message != expect.message:
        path = f"{error_path}.message"
        out.add(where, WARNING, "error-text", "contract", path, _show(expect.message),
                _show(message), f"{probe.description}: the text changed", message)
    if expect.data == "null" and body.get("data") is not None:
        out.add(where, WARNING, "data-value", "contract", "$.data", "null",
                _show(_shrink(body.get("data"))),
                "a batch fetch that matches nothing no longer answers data null", body.get("data"))
    if expect.data == "empty" and body.get("data") != []:
        out.add(where, WARNING, "data-value", "contract", "$.data", "[]",
                _show(_shrink(body.get("data"))),
                "a batch fetch of no ids no longer answers data []", body.get("data"))
    return True


def _route_missing(response: Response) -> bool:
    """The gateway has no such route: 404/405, or gin's NoRoute page (200, not JSON)."""
    return response.status in (404, 405) or (
        response.status == 200 and response.body is NOT_JSON)


def _route_presence(
    out: _Out, response: Response, baseline: Baseline | None, profile: Profile
) -> bool:
    """For an ElkAPI route probe: is the route there as the profile (and the baseline) say?
    False when there is nothing more to check in its answer."""
    probe = response.probe
    if probe.route is None:
        return True
    where = Where.of(probe)
    subject = f"route {probe.route}"
    seen = f"HTTP {response.status} {response.content_type or '(no type)'}"
    snippet = response.body if response.body is not NOT_JSON else response.text[:200]
    missing = _route_missing(response)
    record = baseline.probes.get(probe.name) if baseline is not None else None
    if probe.route_served and missing:
        out.add(where, BREAKING, "route-missing", "route", "$", "the route (HTTP 200 JSON)",
                f"no route ({seen})", f"{probe.route} is missing: {seen}", snippet,
                subject=subject, keep_value=False)
        return False
    if not missing and (not probe.route_served or (
            record is not None and record.status and 200 not in record.status)):
        why = (f"profile {profile.name} has no such route" if not probe.route_served
               else "earlier runs found no such route")
        out.add(where, INFO, "route-appeared", "route", "$", "no route", f"the route ({seen})",
                f"{probe.route} newly appears: {seen} ({why})", snippet, subject=subject,
                keep_value=False)
    return probe.route_served and not missing


def _unprobed_routes(out: _Out, survey: Survey, profile: Profile) -> None:
    """Say so when the clip routes the profile serves could not be probed."""
    served = [r for r in READ_ONLY_ROUTES if profile.surface in r.surfaces]
    if survey.unchecked_reason is not None or survey.clip_ids or not served:
        return
    names = ", ".join(f"{r.method} {r.path}" for r in served)
    where = Where("routes", "routes", Request("-", "-", "-", "-"))
    out.add(where, INFO, "routes-unprobed", "route", "$", "a finished MUSIC task",
            "none among the known ids", f"{names} not probed: no finished MUSIC task among "
            "the known ids, so no clip to ask about", subject="routes unprobed",
            keep_value=False)


def _known_tasks(out: _Out, response: Response) -> None:
    """A batch returns the caller's asked-for tasks, and nothing else."""
    probe, body = response.probe, response.body
    if not probe.known_ids or not isinstance(body, dict):
        return
    where = Where.of(probe)
    data = body.get("data")
    tasks = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    seen = {t.get("task_id") for t in tasks if isinstance(t, dict)}
    asked = set(probe.json_body.get("ids", ())) if isinstance(probe.json_body, dict) else set()
    asked |= set(probe.known_ids)
    for task_id in sorted(i for i in seen - asked if isinstance(i, str)):
        out.add(where, BREAKING, "unexpected-task", "contract", f"{probe.task_prefix}.task_id",
                "only the asked ids", task_id, "the answer holds a task that was not asked for",
                task_id, subject="unexpected tasks", keep_value=False)
    for task_id in probe.known_ids:
        if task_id not in seen:
            out.add(where, BREAKING, "task-missing", "contract", "$.data",
                    "every known id", f"{task_id} missing",
                    f"known task {task_id} is not in the answer (deleted, another account's, "
                    "or no longer found by this id)", data, subject="missing tasks",
                    keep_value=False)


# -- (e) the baseline's shapes -------------------------------------------------------------------


def _parent(path: str) -> tuple[str, str]:
    """(parent path, how the child hangs off it: "key" or "item")."""
    if path.endswith("[*]"):
        return path[:-3], "item"
    if path.endswith("]"):
        return path[: path.rindex("[")], "key"
    return path.rsplit(".", 1)[0], "key"


def _shape_diff(out: _Out, survey: Survey, baseline: Baseline) -> None:
    current = probe_shapes(survey.responses)
    first: dict[str, Probe] = {}
    for response in survey.responses:
        first.setdefault(response.probe.name, response.probe)
    for name, now in current.items():
        record = baseline.probes.get(name)
        if record is None or not record.shapes:
            continue
        then = record.shapes
        where = Where.of(first[name])
        for path, types in sorted(now.items()):
            if path not in then:
                parent, how = _parent(path)
                if path != "$" and parent in then and parent in now and (
                    ("object" if how == "key" else "array") in then[parent]
                ):
                    got = " or ".join(sorted(types))
                    out.add(where, INFO, "new-field", "baseline", path, "not in the baseline",
                            got, f"new field `{_leaf(path)}` ({got}), not seen on earlier runs",
                            keep_value=False)
                continue
            before = then[path]
            if before <= {"null"}:
                continue  # a value arrived where there was none (a task moved on): not drift
            for kind in sorted(types - before):
                if kind == "integer" and "number" in before:
                    continue
                was = " or ".join(sorted(before))
                if kind == "null":
                    out.add(where, WARNING, "became-nullable", "baseline", path, was, "null",
                            f"`{_leaf(path)}` is null now (earlier runs: {was})",
                            keep_value=False)
                elif kind == "number" and before == {"integer"}:
                    out.add(where, WARNING, "type-widened", "baseline", path, was, kind,
                            f"`{_leaf(path)}` now has fractional numbers (earlier runs: integers)",
                            keep_value=False)
                else:
                    out.add(where, BREAKING, "type-changed", "baseline", path, was, kind,
                            f"`{_leaf(path)}` is {kind} now (earlier runs: {was})",
                            keep_value=False)
        for path in sorted(set(then) - set(now)):
            parent, how = _parent(path)
            if how == "key" and "object" in now.get(parent, set()) and parent in then:
                was = " or ".join(sorted(then[path]))
                out.add(where, BREAKING, "missing-field", "baseline", path, was, "absent",
                        f"field `{_leaf(path)}` is gone (earlier runs: {was})", keep_value=False)


def _annotate(finding: Finding, baseline: Baseline) -> None:
    """What the baseline had recorded about the finding's subject, for the reader."""
    if finding.category == "id-format" and baseline.id_formats:
        finding.baseline = ", ".join(sorted(baseline.id_formats))
        return
    for label in finding.labels:
        name = label.split(" #", 1)[0]
        record = baseline.probes.get(name)
        if record is None:
            continue
        if finding.category == "status-code" and record.status:
            finding.baseline = ", ".join(map(str, sorted(record.status)))
        elif finding.category == "content-type" and record.content_type:
            finding.baseline = ", ".join(sorted(record.content_type))
        elif finding.category == "error-code" and record.code:
            finding.baseline = ", ".join(_show(c) for c in sorted(record.code))
        elif finding.category == "error-text" and record.message:
            finding.baseline = ", ".join(_show(m) for m in sorted(record.message))
        elif finding.path in record.shapes:
            finding.baseline = " or ".join(sorted(record.shapes[finding.path]))
        elif finding.category == "new-field":
            finding.baseline = "absent"
        if finding.baseline is not None:
            return


# -- merge and drive ----------------------------------------------------------------------------


def merge(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the highest severity, every request and probe that showed it."""
    merged: dict[str, Finding] = {}
    for f in findings:
        have = merged.get(f.fingerprint)
        if have is None:
            merged[f.fingerprint] = Finding(**{**f.__dict__, "requests": list(f.requests),
                                               "labels": list(f.labels)})
            continue
        have.occurrences += f.occurrences
        if SEVERITIES.index(f.severity) < SEVERITIES.index(have.severity):
            have.severity, have.message, have.expected = f.severity, f.message, f.expected
        if f.check not in have.check.split(", "):
            have.check = f"{have.check}, {f.check}"
        observed = have.observed.split(" | ")
        if f.observed not in observed:
            have.observed = " | ".join(sorted([*observed, f.observed]))
        for request in f.requests:
            if request not in have.requests:
                have.requests.append(request)
        for label in f.labels:
            if label not in have.labels:
                have.labels.append(label)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(
        merged.values(), key=lambda f: (order[f.severity], f.path, f.category, f.observed)
    )


def _drop_echoes(findings: list[Finding]) -> list[Finding]:
    """One finding per place: a changed error code is not also a "new value" of that code."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kept: list[Finding] = []
    for f in sorted(findings, key=lambda f: (rank[f.severity], f.check != "contract")):
        echo = any(
            k.path == f.path and k.category != f.category and set(k.labels) & set(f.labels)
            for k in kept
        )
        if not echo:
            kept.append(f)
    keep = {id(f) for f in kept}
    return [f for f in findings if id(f) in keep]


def diff_survey(
    survey: Survey,
    profile: Profile,
    baseline: Baseline | None = None,
    redactor: Redactor | None = None,
) -> DiffResult:
    """Every finding of one run; those the baseline accepted are set apart."""
    out = _Out(redactor or Redactor())
    for response in survey.responses:
        probe = response.probe
        if not _route_presence(out, response, baseline, profile) or not _contract(
                out, response, profile):
            continue
        where = Where.of(probe)
        if probe.expect.kind and response.body is not NOT_JSON:
            _schemas(out, where, response.body, probe.expect.kind, profile.name)
        _id_format(out, where, response.body, probe.expect.kind, profile)
        _known_tasks(out, response)
    _unprobed_routes(out, survey, profile)
    if baseline is not None:
        _shape_diff(out, survey, baseline)
    result = DiffResult()
    for finding in _drop_echoes(merge(out.items)):
        if baseline is not None:
            _annotate(finding, baseline)
        if baseline is not None and finding.severity != BREAKING and (
            finding.fingerprint in baseline.accepted
        ):
            result.accepted.append(finding)
        else:
            result.findings.append(finding)
    return result


def diff_body(
    payload: Any, kind: str, profile: Profile, redactor: Redactor | None = None
) -> list[Finding]:
    """Schema and id-format findings for one response body read as ``kind`` in ``profile``."""
    out = _Out(redactor or Redactor())
    where = Where(kind, kind, Request("-", "-", "-", "-"), _KIND_TASK_PREFIX.get(kind))
    _schemas(out, where, payload, kind, profile.name)
    _id_format(out, where, payload, kind, profile)
    return _drop_echoes(merge(out.items))
