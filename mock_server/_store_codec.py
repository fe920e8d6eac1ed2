"""How shared stores write a TaskRecord: immutable facts as JSON, counters beside them."""

from __future__ import annotations

import json
from typing import Any

from .store import TaskRecord

__all__ = ["dumps", "facts_of", "record_from"]

# polls and forced_step change after submit; backends keep them as separate columns/fields
# so that a poll is one atomic increment, never a read-modify-write of the whole record.
_MUTABLE = ("polls", "forced_step")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def facts_of(record: TaskRecord) -> str:
    raw = record.to_dict()
    for name in _MUTABLE:
        raw.pop(name)
    return dumps(raw)


def record_from(facts: str | bytes, polls: int | str | bytes, forced: Any) -> TaskRecord:
    raw = json.loads(facts)
    raw["polls"] = int(polls)
    raw["forced_step"] = None if forced in (None, "", b"") else int(forced)
    return TaskRecord.from_dict(raw)
