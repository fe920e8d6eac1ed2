"""Decode a request body the way gin's BindJSON does, with Go's error texts."""

from __future__ import annotations

import json
import math
from typing import Any

from mock_server.errors import BindError

__all__ = ["BindError", "bind_object"]


_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _kind(value: Any) -> str:
    return _KIND.get(type(value), "value")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def _decode(body: bytes) -> Any:
    # Go replaces invalid UTF-8 with U+FFFD instead of failing.
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise BindError("EOF")
    try:
        value, _end = _decoder.raw_decode(text)  # like json.Decoder.Decode: trailing bytes ignored
    except ValueError as exc:
        message = str(exc)
        if message.startswith("invalid character"):
            raise BindError(message) from None
        if isinstance(exc, json.JSONDecodeError):
            if exc.pos >= len(text) or "Unterminated" in exc.msg:
                raise BindError("unexpected EOF") from None
            ch = text[exc.pos]
            raise BindError(f"invalid character {ch!r} looking for beginning of value") from None
        raise BindError(message) from None
    return value


def bind_object(
    body: bytes, fields: dict[str, tuple[type, ...]], go_type: str, struct_name: str = ""
) -> dict[str, Any]:
    """Decode ``body`` into the named fields, matching keys case-insensitively as Go does.

    ``fields`` maps each Go field name to the Python types it accepts (None always is).
    Returns only the fields present and non-null.
    """
    value = _decode(body)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BindError(f"json: cannot unmarshal {_kind(value)} into Go value of type {go_type}")
    out: dict[str, Any] = {}
    for name, types in fields.items():
        key = name if name in value else next((k for k in value if k.lower() == name), None)
        if key is None or value[key] is None:
            continue
        item = value[key]
        ok = isinstance(item, types) and not (isinstance(item, bool) and bool not in types)
        if isinstance(item, float) and not math.isfinite(item):
            ok = False
        if not ok:
            go = {list: "[]interface {}", str: "string", bool: "bool", float: "float64"}[types[0]]
            raise BindError(
                f"json: cannot unmarshal {_kind(item)} into Go struct field "
                f"{struct_name}.{name} of type {go}"
            )
        out[name] = item
    return out
