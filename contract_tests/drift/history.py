"""The run history: one JSON line per drift run (time, status, counts per severity).

``--history FILE`` appends this run's line and hands the whole history to the HTML report,
which draws findings per severity over time. A line that cannot be read is skipped (a history
is a convenience, never a reason for a run to fail).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model import SEVERITIES

__all__ = ["HISTORY_KEEP", "append_history", "history_entry", "read_history"]

HISTORY_KEEP = 400  # lines kept in the file (over a year of nightly runs)


def history_entry(report: dict[str, Any]) -> dict[str, Any]:
    """This run's line: when, against what profile, its status and counts (never the URL)."""
    summary = report["summary"]
    return {
        "time": report["finished_at"] or report["started_at"],
        "profile": report["target"]["profile"],
        "status": report["result"]["status"],
        **{s: int(summary[s]) for s in SEVERITIES},
        "accepted": int(summary["accepted"]),
    }


def _valid(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("time"), str)
            and isinstance(entry.get("status"), str)
            and all(isinstance(entry.get(s), int) and not isinstance(entry.get(s), bool)
                    and entry[s] >= 0 for s in SEVERITIES))


def read_history(path: Path) -> list[dict[str, Any]]:
    """The readable lines of ``path`` (none when it does not exist), oldest first."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if _valid(entry):
            entries.append(entry)
    return entries


def append_history(path: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Add ``entry``; keep the last HISTORY_KEEP runs; return the history, ``entry`` last."""
    entries = [*read_history(path), entry][-HISTORY_KEEP:]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return entries
