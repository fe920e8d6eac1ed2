"""One request sent to a target and the response it got: what every contract check reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NOT_JSON", "Observation", "parse_json"]


class _NotJson:
    """Marker for a response body that is not JSON."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJson()
_SHOW = 400


def parse_json(data: str | bytes) -> Any:
    """``data`` decoded as JSON, or ``NOT_JSON``."""
    try:
        return json.loads(data)
    except ValueError:
        return NOT_JSON


def _short(text: str) -> str:
    return text if len(text) <= _SHOW else f"{text[:_SHOW]}... ({len(text)} chars)"


@dataclass(frozen=True)
class Observation:
    """A request and its response. Holds no credential: ``key`` is a label, never the key."""

    method: str
    path: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    request: Any = None
    key: str = "primary"

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or ``NOT_JSON``."""
        return parse_json(self.body)

    def describe(self) -> str:
        """One readable line for failure messages (the key by its label only)."""
        if isinstance(self.request, (bytes, bytearray)):
            sent = repr(bytes(self.request[:_SHOW]))
        elif self.request is None:
            sent = "no body"
        else:
            sent = json.dumps(self.request, ensure_ascii=False, default=repr)
        got = self.body.decode("utf-8", errors="replace")
        return (
            f"{self.method} {self.path} (key: {self.key}) body={_short(sent)} -> "
            f"{self.status} {_short(got)}"
        )
