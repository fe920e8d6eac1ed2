"""Decode a request body the way gin's BindJSON does, with Go's error texts.

Where Python's json and Go's encoding/json part ways on hostile input, this follows Go:

- nesting: Go accepts 10,000 levels and refuses the next with ``invalid character '['
  exceeded max depth``; Python's decoder recurses in C and fails near 1,000 levels. Deeper
  documents are decoded here without recursion (``_decode_deep``).
- lone surrogates: Go decodes an escaped ``\\ud800`` that is not half of a pair as U+FFFD;
  Python keeps it, and the str can then not be encoded as UTF-8 anywhere later.
- numbers: Go decodes a number for a float64 or interface{} with ``strconv.ParseFloat``, which
  refuses one out of float64's range (``1e400``, a 5000-digit integer) with ``json: cannot
  unmarshal number 1e400 into Go struct field ...``; numbers under keys the struct does not
  have are skipped, never converted. Python turns 1e400 into inf and refuses integers past
  4300 digits with its own text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mock_server.contract.fixtures import nests_deeper
from mock_server.errors import BindError

__all__ = ["GO_MAX_DEPTH", "OWN_MAX_DEPTH", "BindError", "bind_object", "decode"]

GO_MAX_DEPTH = 10_000  # encoding/json: maxNestingDepth
# Our own JSON (admin API bodies, fault rules): they are stored and encoded again, and need
# no more than a few levels.
OWN_MAX_DEPTH = 64


class _OutOfRange:
    """A number float64 cannot hold, kept as written (Go names it in its error)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return f"_OutOfRange({self.literal!r})"


_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object",
         _OutOfRange: "number"}


def _kind(value: Any) -> str:
    return _KIND.get(type(value), "value")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _parse_int(literal: str) -> Any:
    # Up to 308 digits always fit a float64 (and Python's int conversion limit).
    if len(literal) <= 308:
        return int(literal)
    return _OutOfRange(literal) if math.isinf(float(literal)) else int(literal)


def _parse_float(literal: str) -> Any:
    value = float(literal)
    return _OutOfRange(literal) if math.isinf(value) else value


_decoder = json.JSONDecoder(
    parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_HUGE_NUMBER = re.compile(r"\d{309}|[eE][-+]?\d{3}")


def decode(body: bytes, max_depth: int = GO_MAX_DEPTH, *, whole: bool = False) -> Any:
    """The first JSON value in ``body``, decoded as Go's json.Decoder.Decode does (trailing
    bytes ignored; with ``whole``, refused as json.Unmarshal refuses them); BindError with
    Go's message if it does not decode."""
    value, text, end = _decode_text(body, max_depth)
    if whole:
        rest = text[end:].lstrip(" \t\r\n")
        if rest:
            raise BindError(f"invalid character {rest[0]!r} after top-level value")
    return value


def _decode_text(body: bytes, max_depth: int = GO_MAX_DEPTH) -> tuple[Any, str, int]:
    # Go replaces invalid UTF-8 with U+FFFD instead of failing.
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    if not text:
        raise BindError("EOF")
    try:
        value, end = _decoder.raw_decode(text)
    except RecursionError:
        value, end = _decode_deep(text, max_depth)
    except ValueError as exc:
        raise BindError(_go_message(exc, text)) from None
    else:
        if max_depth < GO_MAX_DEPTH and nests_deeper(value, max_depth):
            _decode_deep(text, max_depth)  # raises, naming the first opener past the limit
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        value = _replace_surrogates(value)
    return value, text, end


def _go_message(exc: ValueError, text: str) -> str:
    message = str(exc)
    if message.startswith("invalid character"):
        return message
    if isinstance(exc, json.JSONDecodeError):
        if exc.pos >= len(text) or "Unterminated" in exc.msg:
            return "unexpected EOF"
        return f"invalid character {text[exc.pos]!r} looking for beginning of value"
    return message


def _replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings and keys replaced by U+FFFD, as Go's
    decoder writes them (Python pairs the valid ones itself). Iterative: any depth."""

    def fix(text: str) -> str:
        return _SURROGATES.sub("\ufffd", text)

    if isinstance(value, str):
        return fix(value)
    if not isinstance(value, (list, dict)):
        return value
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, str):
                    item[i] = fix(child)
                elif isinstance(child, (list, dict)):
                    stack.append(child)
        else:
            for key in list(item):
                child = item[key]
                if isinstance(child, str):
                    child = fix(child)
                elif isinstance(child, (list, dict)):
                    stack.append(child)
                fixed = fix(key)
                if fixed != key:
                    del item[key]
                item[fixed] = child
    return value


# --- documents too deep for Python's decoder ----------------------------------------------------

_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
        (?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
      | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
      | (?P<literal>true|false|null)
      | (?P<punct>[\[\]{},:])
    )""",
    re.VERBOSE,
)
_LITERALS = {"true": True, "false": False, "null": None}
_WHERE = {  # what Go's scanner says after "invalid character 'x' ", by what it expected
    "value": "looking for beginning of value",
    "key": "looking for beginning of object key string",
    "colon": "after object key",
    "object": "after object key:value pair",
    "array": "after array element",
}


def _decode_deep(text: str, max_depth: int) -> tuple[Any, int]:
    """Decode ``text`` with an explicit stack, refusing nesting past ``max_depth`` with Go's
    message. Only for documents Python's recursive decoder gave up on (and admin bodies past
    their lower limit: to name the opener that broke it)."""
    pos = 0
    stack: list[Any] = []  # the open containers
    keys: list[Any] = []  # for each open object, the key whose value comes next
    expect = "value"  # value | key | colon | array (after an element) | object (after a member)
    first = False  # just after "[" or "{": the container may close at once
    while True:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise BindError(_stuck_at(text[pos:].lstrip(" \t\r\n"), expect))
        pos = match.end()
        kind = match.lastgroup or "punct"
        token = match.group(kind)
        value: Any
        if first and token == ("]" if expect == "value" else "}"):
            first = False
            value = stack.pop()
            keys.pop()
        elif expect == "value":
            first = False
            if kind == "punct" and token in "[{":
                if len(stack) >= max_depth:
                    raise BindError(f"invalid character {token!r} exceeded max depth")
                stack.append([] if token == "[" else {})
                keys.append(None)
                expect, first = ("value" if token == "[" else "key"), True
                continue
            if kind == "string":
                value = json.loads(token)
            elif kind == "number":
                fractional = "." in token or "e" in token or "E" in token
                value = _parse_float(token) if fractional else _parse_int(token)
            elif kind == "literal":
                value = _LITERALS[token]
            else:
                raise BindError(f"invalid character {token!r} {_WHERE['value']}")
        elif expect == "key":
            first = False
            if kind != "string":
                raise BindError(f"invalid character {token[0]!r} {_WHERE['key']}")
            keys[-1] = json.loads(token)
            expect = "colon"
            continue
        elif expect == "colon":
            if token != ":":
                raise BindError(f"invalid character {token[0]!r} {_WHERE['colon']}")
            expect = "value"
            continue
        else:  # after a value inside a container: "," or the container's closer
            if token == ",":
                expect = "value" if expect == "array" else "key"
                continue
            if token != ("]" if expect == "array" else "}"):
                raise BindError(f"invalid character {token[0]!r} {_WHERE[expect]}")
            value = stack.pop()
            keys.pop()
        # ``value`` is complete: it goes into its container, or it is the document.
        if not stack:
            return value, pos
        container = stack[-1]
        if isinstance(container, list):
            container.append(value)
            expect = "array"
        else:
            container[keys[-1]] = value
            expect = "object"


_STRING_PROBLEM = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')


def _stuck_at(rest: str, expect: str) -> str:
    """Go's message for the text where no token starts."""
    if not rest or any(lit.startswith(rest) for lit in _LITERALS) or rest == "-":
        return "unexpected EOF"
    if rest[0] == '"' and expect in ("value", "key"):
        good = _STRING_PROBLEM.match(rest)
        end = good.end() if good else 1
        if end >= len(rest) or (rest[end] == "\\" and end + 1 >= len(rest)):
            return "unexpected EOF"
        if rest[end] == "\\":
            return f"invalid character {rest[end + 1]!r} in string escape code"
        return f"invalid character {rest[end]!r} in string literal"
    return f"invalid character {rest[0]!r} {_WHERE[expect]}"


# --- binding --------------------------------------------------------------------------------------


def _out_of_range_in(value: Any) -> _OutOfRange | None:
    """The first number float64 cannot hold inside ``value``, in document order."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _OutOfRange):
            return item
        if isinstance(item, (list, dict)):
            children = list(item.values() if isinstance(item, dict) else item)
            stack.extend(reversed(children))
    return None


def bind_object(
    body: bytes,
    fields: dict[str, tuple[type, ...]],
    go_type: str,
    struct_name: str = "",
    *,
    null: str | None = None,
) -> dict[str, Any]:
    """Decode ``body`` into the named fields, matching keys case-insensitively as Go does.

    ``fields`` maps each Go field name to the Python types it accepts (None always is).
    Returns only the fields present and non-null. The first problem in document order is
    the one reported, as Go's decoder reports the first it met.
    """
    value, text, _end = _decode_text(body)
    if value is None:
        if null is not None:  # where the gateway cannot take a JSON null (it panics)
            raise BindError(null)
        return {}
    if not isinstance(value, dict):
        raise BindError(f"json: cannot unmarshal {_kind(value)} into Go value of type {go_type}")
    out: dict[str, Any] = {}
    by_key: dict[str, str] = {}
    for name in fields:
        key = name if name in value else next((k for k in value if k.lower() == name), None)
        if key is not None:
            by_key[key] = name
    for key, item in value.items():
        field = by_key.get(key)
        if field is None or item is None:
            continue
        types = fields[field]
        where = f"Go struct field {struct_name}.{field}"
        if isinstance(item, _OutOfRange) and float in types:
            raise BindError(f"json: cannot unmarshal number {item.literal} into {where} of type "
                            "float64")
        ok = isinstance(item, types) and not (isinstance(item, bool) and bool not in types)
        if not ok:
            go = {list: "[]interface {}", str: "string", bool: "bool", float: "float64"}[types[0]]
            raise BindError(f"json: cannot unmarshal {_kind(item)} into {where} of type {go}")
        if isinstance(item, (list, dict)) and _HUGE_NUMBER.search(text):
            # interface{} elements: every number in them is converted to float64.
            huge = _out_of_range_in(item)
            if huge is not None:
                raise BindError(
                    f"json: cannot unmarshal number {huge.literal} into {where} of type float64"
                )
        out[field] = item
    return out
