"""The real API's error envelopes, as (status, body, content type)."""

from __future__ import annotations

from dataclasses import dataclass

from mock_server.wire import gojson

__all__ = [
    "HTML_UTF8",
    "INDEX_HTML",
    "JSON",
    "JSON_UTF8",
    "TEXT_UTF8",
    "WireError",
    "gateway_error",
    "task_error",
]

# gin's NoRoute answer: the web UI's index page, 200, for any path or method it does not route.
INDEX_HTML = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>New API</title></head>'
    b'<body><div id="root"></div></body></html>'
)
HTML_UTF8 = "text/html; charset=utf-8"
JSON = "application/json"
JSON_UTF8 = "application/json; charset=utf-8"
TEXT_UTF8 = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class WireError(Exception):
    """An error response ready for the wire."""

    status: int
    body: bytes
    content_type: str = JSON_UTF8


def task_error(status: int, code: str, message: str, content_type: str = JSON_UTF8) -> WireError:
    """dto.TaskError: ``{"code","message","data":null}``."""
    return WireError(
        status, gojson.dumpb({"code": code, "message": message, "data": None}), content_type
    )


def gateway_error(
    status: int,
    message: str,
    request_id: str,
    *,
    code: str = "",
    with_code: bool = True,
    kind: str = "new_api_error",
) -> WireError:
    """The middleware's OpenAI-style envelope, message suffixed with the request id.

    The error object is a gin.H, a Go map: encoding/json writes its keys sorted (code,
    message, type), as real 401 and 503 captures show.
    """
    error: dict[str, str] = {"code": code} if with_code else {}
    error["message"] = f"{message} (request id: {request_id})"
    error["type"] = kind
    return WireError(status, gojson.dumpb({"error": error}), JSON_UTF8)
