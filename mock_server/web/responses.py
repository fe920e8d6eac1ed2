"""The JSON answers of our own routes (admin, ops, faults), encoded as the gateway encodes."""

from __future__ import annotations

from typing import Any

from flask import Response

from mock_server.wire import gojson
from mock_server.wire.envelopes import JSON_UTF8

__all__ = ["json_response"]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(gojson.dumpb(data), status=status, content_type=JSON_UTF8)
