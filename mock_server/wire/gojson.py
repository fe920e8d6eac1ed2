"""JSON encoding as Go's encoding/json writes it: compact, HTML-safe, UTF-8."""

from __future__ import annotations

import json
import re
from typing import Any

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# These characters can only occur inside JSON strings, so replacing them in the
# encoded text is safe and matches Go's HTMLEscape + U+2028/2029 escaping.
_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


_SURROGATES = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> str:
    """Encode ``value`` exactly as Go's ``json.Marshal`` would."""
    return _encoder.encode(value).translate(_ESCAPES)


def dumpb(value: Any) -> bytes:
    text = dumps(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from anywhere but a request: those are cleaned when decoded) is
        # invalid UTF-16; Go writes invalid UTF-8 in a string as U+FFFD.
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")
