"""Shapes of responses, and the baseline file that accepts the shapes of earlier runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_server.contract.validation import validate

from .._observation import NOT_JSON
from .._redact import Redactor
from .model import BREAKING, Finding, Response, Survey

__all__ = [
    "BASELINE_FORMAT",
    "Baseline",
    "BaselineError",
    "ProbeRecord",
    "build_baseline",
    "dumps_baseline",
    "json_type",
    "load_baseline",
    "probe_shapes",
    "save_baseline",
    "shapes",
    "strip_request_id",
]

BASELINE_FORMAT = "suno-contract-kit/drift-baseline"


class BaselineError(ValueError):
    """The baseline file is unreadable or not a baseline."""


def json_type(value: Any) -> str:
    """JSON Schema's name for the type of a parsed JSON value (1.0 is a number, 1 an integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "not-json"


def child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[*]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def shapes(
    body: Any, path: str = "$", out: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """JSON path (array indexes as ``[*]``) -> the set of JSON types seen there."""
    out = {} if out is None else out
    if body is NOT_JSON:
        out.setdefault(path, set()).add("not-json")
        return out
    out.setdefault(path, set()).add(json_type(body))
    if isinstance(body, dict):
        for key, value in body.items():
            shapes(value, child(path, key), out)
    elif isinstance(body, list):
        for value in body:
            shapes(value, child(path, 0), out)
    return out


def _matches(response: Response) -> bool:
    return response.status == response.probe.expect.status


def probe_shapes(responses: Iterable[Response]) -> dict[str, dict[str, set[str]]]:
    """Per probe name, the union of the shapes of its responses that had the expected status.

    A response with another status is already a breaking finding; its error body's shape
    would only repeat that.
    """
    out: dict[str, dict[str, set[str]]] = {}
    for response in responses:
        if _matches(response):
            shapes(response.body, "$", out.setdefault(response.probe.name, {}))
    return out


def strip_request_id(message: str) -> str:
    """The gateway suffixes its texts with ``(request id: ...)``, different on every call."""
    head, sep, tail = message.rpartition(" (request id:")
    return head if sep and tail.endswith(")") else message


@dataclass
class ProbeRecord:
    status: set[int] = field(default_factory=set)
    content_type: set[str] = field(default_factory=set)
    envelope: set[str] = field(default_factory=set)
    code: set[str] = field(default_factory=set)
    message: set[str] = field(default_factory=set)
    shapes: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Baseline:
    """What earlier runs saw and accepted."""

    profile: str = ""
    updated_at: str = ""
    id_formats: set[str] = field(default_factory=set)
    probes: dict[str, ProbeRecord] = field(default_factory=dict)
    accepted: dict[str, str] = field(default_factory=dict)  # fingerprint -> summary

    def to_json(self) -> dict[str, Any]:
        return {
            "$schema": "https://suno-contract-kit.invalid/schemas/baseline.schema.json",
            "format": BASELINE_FORMAT,
            "version": 1,
            "profile": self.profile,
            "updated_at": self.updated_at,
            "id_formats": sorted(self.id_formats),
            "probes": {
                name: {
                    "status": sorted(rec.status),
                    "content_type": sorted(rec.content_type),
                    "envelope": sorted(rec.envelope),
                    "code": sorted(rec.code),
                    "message": sorted(rec.message),
                    "shapes": {p: sorted(t) for p, t in sorted(rec.shapes.items())},
                }
                for name, rec in sorted(self.probes.items())
            },
            "accepted": [
                {"fingerprint": fp, "summary": summary}
                for fp, summary in sorted(self.accepted.items())
            ],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Baseline:
        return cls(
            profile=raw.get("profile", ""),
            updated_at=raw.get("updated_at", ""),
            id_formats=set(raw.get("id_formats", [])),
            probes={
                name: ProbeRecord(
                    status=set(rec.get("status", [])),
                    content_type=set(rec.get("content_type", [])),
                    envelope=set(rec.get("envelope", [])),
                    code=set(rec.get("code", [])),
                    message=set(rec.get("message", [])),
                    shapes={p: set(t) for p, t in rec.get("shapes", {}).items()},
                )
                for name, rec in raw.get("probes", {}).items()
            },
            accepted={a["fingerprint"]: a.get("summary", "") for a in raw.get("accepted", [])},
        )


def envelope_of(body: Any) -> str:
    """``task`` ({code,message,data}), ``gateway`` ({error:{...}}), ``other-json``, ``not-json``."""
    if body is NOT_JSON:
        return "not-json"
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            return "gateway"
        if "code" in body:
            return "task"
    return "other-json"


def code_of(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            code = body["error"].get("code")
            return code if isinstance(code, str) else None
        code = body.get("code")
        return code if isinstance(code, str) else None
    return None


def message_of(body: Any) -> str | None:
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict):
            message = body["error"].get("message")
        else:
            message = body.get("message")
        if isinstance(message, str):
            return strip_request_id(message)
    return None


def build_baseline(
    survey: Survey,
    findings: Iterable[Finding],
    id_formats: Iterable[str],
    redactor: Redactor,
    updated_at: str,
) -> Baseline:
    """The current run as a baseline: its shapes, and its non-breaking findings accepted."""
    baseline = Baseline(profile=survey.profile, updated_at=updated_at,
                        id_formats=set(id_formats))
    for response in survey.responses:
        rec = baseline.probes.setdefault(response.probe.name, ProbeRecord())
        rec.status.add(response.status)
        rec.content_type.add(response.content_type)
        rec.envelope.add(envelope_of(response.body))
        code, message = code_of(response.body), message_of(response.body)
        if code is not None:
            rec.code.add(redactor.string(code))
        if message is not None and response.status != 200:
            rec.message.add(redactor.string(message))
    for name, found in probe_shapes(survey.responses).items():
        baseline.probes.setdefault(name, ProbeRecord()).shapes = found
    for finding in findings:
        if finding.severity != BREAKING:
            baseline.accepted[finding.fingerprint] = redactor.string(
                f"{finding.severity}: {finding.message}"
            )
    return baseline


_SCALAR_LIST = re.compile(r"\[\n\s+([^\[\]{}]*?)\n\s*\]")


def dumps_baseline(baseline: Baseline) -> str:
    """Indented JSON with lists of scalars on one line: short, and reviewable as a diff."""
    text = json.dumps(baseline.to_json(), ensure_ascii=False, indent=2)
    # JSON strings hold no raw newlines, so ",\n" only ever separates list items here.
    return _SCALAR_LIST.sub(
        lambda m: "[" + ", ".join(i.strip() for i in m.group(1).split(",\n")) + "]", text
    ) + "\n"


def save_baseline(path: Path, baseline: Baseline, redactor: Redactor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(dumps_baseline(baseline)), encoding="utf-8")


def load_baseline(path: Path) -> Baseline:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from None
    problems = validate(raw, "drift-baseline")
    if problems:
        raise BaselineError(f"{path}: not a drift baseline: " + "; ".join(map(str, problems[:5])))
    return Baseline.from_json(raw)
