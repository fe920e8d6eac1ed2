"""How shared stores write a TaskRecord: immutable facts as JSON, counters beside them."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from mock_server.core.cache import BoundedCache
from mock_server.core.record import TaskRecord

__all__ = ["dumps", "entry_from", "entry_text", "facts_of", "record_from"]

# polls and forced_step change after submit; backends keep them as separate columns/fields
# so that a poll is one atomic increment, never a read-modify-write of the whole record.
_MUTABLE = ("polls", "forced_step")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def entry_text(entry: dict[str, Any]) -> str:
    """A journal entry as shared stores keep it: its JSON without ``response``, then a newline
    and the response as sent. The response is JSON text itself; escaping it into the entry
    cost a fetch more than its journal entry's whole encoding (bench/). Compact JSON never
    holds a raw newline (json escapes control characters), so the first one ends it."""
    response = entry.get("response")
    if response is None:
        return dumps(entry)
    return dumps({k: v for k, v in entry.items() if k != "response"}) + "\n" + response


def entry_from(text: str) -> dict[str, Any]:
    """The journal entry ``entry_text`` wrote."""
    head, newline, response = text.partition("\n")
    entry: dict[str, Any] = json.loads(head)
    if newline:
        entry["response"] = response
    return entry


_FACTS = tuple(f.name for f in fields(TaskRecord) if f.name not in _MUTABLE)


def facts_of(record: TaskRecord) -> str:
    # Not to_dict(): asdict deep-copies the request only for dumps to read it (a quarter of a
    # SQLite submit's time).
    facts = record.__dict__
    return dumps({name: facts[name] for name in _FACTS})


# Facts never change after submit, and every poll reads them back: decode each text once per
# process (a 50-id fetch decoded 50 JSON texts per request). Records share the decoded values
# and treat them as read-only, as records from the memory store do.
_DECODED: BoundedCache[str | bytes, dict[str, Any]] = BoundedCache(16384)


def record_from(
    facts: str | bytes, polls: int | str | bytes, forced: Any, seq: int | None = None
) -> TaskRecord:
    """The record; ``seq``, when given, overrides the facts' own (a backend's seq column)."""
    raw = _DECODED.get(facts)
    if raw is None:
        raw = _DECODED.put(facts, json.loads(facts))
        TaskRecord.from_dict({**raw, "polls": 0})  # the fields are checked once, on first read
    record = object.__new__(TaskRecord)
    fields = record.__dict__
    fields.update(raw)
    fields["polls"] = int(polls)
    fields["forced_step"] = None if forced in (None, "", b"") else int(forced)
    if seq is not None:
        fields["seq"] = seq
    return record
