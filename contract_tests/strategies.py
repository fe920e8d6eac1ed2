"""Hypothesis strategies for request bodies and ids, generated from ``schemas/``.

Every strategy starts from ``mock_server.contract.validation.resolved_schema`` and hands it to
hypothesis-jsonschema; the edits below only say what the schema cannot (which ids exist,
which numbers Go can decode, which fields need an existing task).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, cast

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mock_server.contract.validation import resolved_schema
from mock_server.core.actions import ACTIONS

__all__ = [
    "bad_json",
    "fetch_bodies",
    "id_item_schema",
    "invalid_fetch_bodies",
    "invalid_submit_bodies",
    "path_ids",
    "submit_bodies",
]

# Go decodes a JSON number in an ``any`` as float64 and fails beyond its range, so bodies meant
# to be valid keep their numbers inside it.
_INT = {"type": "integer", "minimum": -(2**53), "maximum": 2**53}
_NUMBER = {"type": "number", "minimum": -1e300, "maximum": 1e300}
_SCALAR = {"type": ["string", "boolean", "null"]}
_ODD_IDS: list[dict[str, Any]] = [
    {"type": "string", "maxLength": 64},
    {"type": "string", "minLength": 300, "maxLength": 2000},
    _INT,
    _NUMBER,
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array", "maxItems": 3, "items": _SCALAR},
    {"type": "object", "maxProperties": 3, "additionalProperties": _SCALAR},
]
# Unknown keys the gateway ignores. Go matches field names case-insensitively, so a random key
# could be a case variant of "ids"; these never are.
_EXTRA_KEYS = "^x-[a-z]{1,8}$"
# Continuations name an existing task of the caller's (checked by gateways up to 2026-02), so
# generated submits leave them out and stay valid on every profile.
_CONTINUATION = ("task_id", "continue_clip_id", "continue_at")
# A wrongly typed notify_hook may be dropped unread by some gateways, which would then spend.
_UNSURE = ("notify_hook",)
# A notify_hook makes an ElkAPI gateway (and the fake) POST the task to that URL: generated
# submits, which may go to a live gateway, never name one.
_CALLS_OUT = ("notify_hook",)
_JSON_TYPES = ("array", "boolean", "number", "object", "string")
_JSON_SPACE = " \t\r\n"


def id_item_schema(known: Sequence[str] = (), foreign: Sequence[str] = ()) -> dict[str, Any]:
    """One entry of a fetch's ``ids``: a known id, another owner's, or any odd JSON value."""
    options = [{"enum": list(ids)} for ids in (known, foreign) if ids]
    return {"anyOf": [*options, *_ODD_IDS]}


def fetch_bodies(
    known: Sequence[str] = (), foreign: Sequence[str] = (), *, max_ids: int = 20
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid POST /suno/fetch bodies whose ids mix ``known``, ``foreign`` and odd values.

    Half the bodies carry a non-empty id list. Duplicates are drawn only sometimes (often when
    the id lists are short, rarely for a long ``known``): the fixed cases of the suite's
    ``test_fetch_batch`` ask for them in every run.
    """
    return _fetch_bodies(tuple(known), tuple(foreign), max_ids)


@lru_cache(maxsize=64)
def _fetch_bodies(
    known: tuple[str, ...], foreign: tuple[str, ...], max_ids: int
) -> st.SearchStrategy[dict[str, Any]]:
    schema = resolved_schema("fetch-request")
    ids = schema["properties"]["ids"]
    schema["properties"]["ids"] = {**ids, "items": id_item_schema(known, foreign),
                                   "maxItems": max_ids}
    schema["additionalProperties"] = False
    schema["patternProperties"] = {_EXTRA_KEYS: _SCALAR}
    listed = copy.deepcopy(schema)
    listed["required"] = ["ids"]
    listed["properties"]["ids"].update(type="array", minItems=1)
    return cast("st.SearchStrategy[dict[str, Any]]",
                st.one_of(from_schema(listed), from_schema(schema)))


def _wrong_types(kind: str, skip: Sequence[str] = ()) -> list[dict[str, Any]]:
    """For each field of ``kind``: an object whose field has a type the schema rules out.

    ``null`` is never used: Go leaves a field alone when it is null, so null binds fine.
    """
    schema = resolved_schema(kind)
    options = []
    for name, field in schema["properties"].items():
        allowed = field.get("type")
        if name in skip or allowed is None:
            continue
        allowed = {allowed} if isinstance(allowed, str) else set(allowed)
        wrong = [t for t in _JSON_TYPES if t not in allowed]
        options.append({"type": "object", "required": [name], "additionalProperties": False,
                        "properties": {name: {"type": wrong}}})
    return options


def invalid_fetch_bodies() -> st.SearchStrategy[Any]:
    """JSON that decodes but does not bind to the fetch request (wrong field types, not an
    object). The gateway answers 400 invalid_request."""
    options = [*_wrong_types("fetch-request"), {"type": [t for t in _JSON_TYPES if t != "object"]}]
    return from_schema({"anyOf": options})


def _decodes(text: str) -> bool:
    # Like Go's json.Decoder: leading JSON whitespace skipped, trailing bytes ignored.
    text = text.lstrip(_JSON_SPACE)
    try:
        json.JSONDecoder().raw_decode(text)
    except ValueError:
        return False
    return bool(text)


def bad_json(kind: str = "fetch-request") -> st.SearchStrategy[bytes]:
    """Bodies that are not JSON: valid ``kind`` bodies cut short, and arbitrary text."""
    serialised = from_schema(resolved_schema(kind)).map(
        lambda v: json.dumps(v, ensure_ascii=False)
    )
    cut = st.tuples(serialised, st.integers(min_value=0)).map(
        lambda pair: pair[0][: pair[1] % max(len(pair[0]), 1)]
    )
    return st.one_of(cut, st.text(max_size=64)).filter(lambda t: not _decodes(t)).map(
        lambda t: t.encode("utf-8")
    )


def submit_bodies(action: str = "MUSIC") -> st.SearchStrategy[dict[str, Any]]:
    """Submit bodies every profile accepts (strict form: known models, no unknown keys)."""
    schema = resolved_schema("submit-request", strict=True)
    for name in (*_CONTINUATION, *_CALLS_OUT):
        schema["properties"].pop(name, None)
    required = ACTIONS[action.upper()].required
    if required:
        schema["required"] = list(required)
        for name in required:
            schema["properties"][name] = {**schema["properties"][name], "minLength": 1}
    return cast("st.SearchStrategy[dict[str, Any]]", from_schema(schema))


def invalid_submit_bodies(action: str = "MUSIC") -> st.SearchStrategy[Any]:
    """Submit bodies the gateway must refuse with 400 invalid_request before spending:
    wrongly typed fields, JSON that is not an object (``null`` excepted: it panics the live
    gateway), and for an action with required fields (LYRICS) a body without them."""
    options = [*_wrong_types("submit-request", skip=_UNSURE),
               {"type": [t for t in _JSON_TYPES if t != "object"]}]
    required = ACTIONS[action.upper()].required
    if required:
        schema = resolved_schema("submit-request", strict=True)
        for name in (*required, *_CONTINUATION):
            schema["properties"].pop(name, None)
        options.append(schema)
    return from_schema({"anyOf": options})


def path_ids() -> st.SearchStrategy[str]:
    """Ids for GET /suno/fetch/{id} that no task has: odd unicode and well-formed uuids.

    No ``/`` (it would change the route) and no dot segments (clients collapse them); at most
    200 characters so the request line fits every server's limit.
    """
    odd = cast("st.SearchStrategy[str]", from_schema(
        {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}))
    return st.one_of(odd.filter(lambda s: s.strip(".") != "" and "/" not in s),
                     st.uuids().map(str))
