"""Plain data shared by the drift check's parts: probes, responses, surveys, findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BREAKING",
    "INFO",
    "SEVERITIES",
    "WARNING",
    "Expectation",
    "Finding",
    "Probe",
    "Request",
    "Response",
    "Survey",
]

BREAKING = "breaking"
WARNING = "warning"
INFO = "info"
SEVERITIES = (BREAKING, WARNING, INFO)


@dataclass(frozen=True)
class Request:
    """What was sent, described without headers (so never with a key)."""

    method: str
    path: str
    body: str
    auth: str  # "api key", "no key", "wrong key"

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path, "body": self.body, "auth": self.auth}

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Expectation:
    """What the profile says a probe gets back."""

    status: int
    envelope: str  # "task" or "gateway"
    content_type: str
    code: str | None = None  # task envelope "code", or the gateway's error.code
    code_present: bool = True  # gateway error.code exists (2025-08-15 on)
    error_type: str | None = None  # gateway error.type
    message: str | None = None  # error text, request-id suffix removed
    kind: str | None = None  # schema kind of the body
    data: str | None = None  # "null" or "empty": the exact data value promised


@dataclass(frozen=True)
class Probe:
    """One read-only request (or one budgeted submit) and what it should get."""

    name: str  # the check, shared by its instances ("fetch-one-known")
    label: str  # this instance ("fetch-one-known #2")
    description: str
    method: str
    path: str
    auth: str  # "key", "none" or "wrong"
    expect: Expectation
    json_body: Any = None
    raw_body: bytes | None = None
    body_description: str = "none"
    task_prefix: str | None = None  # JSON path of the task(s) in the body: "$.data[*]", "$.data"
    known_ids: tuple[str, ...] = ()
    spends: bool = False
    # An ElkAPI route (contract_tests.routes): its "METHOD path template", and whether the
    # profile serves it (False: its appearance is the news).
    route: str | None = None
    route_served: bool = True

    def request(self) -> Request:
        auth = {"key": "api key", "none": "no key", "wrong": "wrong key"}[self.auth]
        return Request(self.method, self.path, self.body_description, auth)


@dataclass
class Response:
    """What one probe got back. ``body`` is parsed JSON or NOT_JSON; ``text`` stays in memory."""

    probe: Probe
    status: int
    content_type: str
    body: Any
    text: str
    elapsed_ms: float


@dataclass
class Survey:
    """Everything one run saw of the target: each probe's response, or why it stopped.

    (Not ``contract_tests.Observation``, which is one request and its response.)
    """

    base_url: str
    profile: str
    known_ids: tuple[str, ...]
    responses: list[Response] = field(default_factory=list)
    unchecked_reason: str | None = None
    started_at: str = ""
    finished_at: str = ""
    requests_sent: int = 0
    spent_ids: list[str] = field(default_factory=list)
    clip_ids: list[str] = field(default_factory=list)  # of finished MUSIC tasks: route probes


@dataclass
class Finding:
    """One difference between what was seen and what was expected."""

    severity: str
    category: str
    check: str
    path: str
    expected: str
    observed: str
    message: str
    example: Any = None
    requests: list[Request] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    occurrences: int = 1
    # Identity for dedupe and for a baseline to accept: category, subject (the task-relative
    # path, or probe + path) and, where the value is the news (an enum value, a text), the value.
    fingerprint: str = ""
    baseline: str | None = None  # what the baseline had recorded here, if anything

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "category": self.category,
            "check": self.check,
            "path": self.path,
            "expected": self.expected,
            "observed": self.observed,
            "baseline": self.baseline,
            "message": self.message,
            "example": self.example,
            "request": self.requests[0].to_json() if self.requests else None,
            "requests": [r.to_json() for r in self.requests],
            "probes": list(self.labels),
            "occurrences": self.occurrences,
            "fingerprint": self.fingerprint,
        }
