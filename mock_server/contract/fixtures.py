"""Load fixture files (scenarios, profiles), validated against schemas/ at load time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mock_server.errors import FixtureError

__all__ = ["FixtureError", "load_json_file", "read_json"]


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from None


def load_json_file(path: Path, kind: str) -> Any:
    """Parse ``path`` and validate it as ``kind``; raise FixtureError naming every violation."""
    from mock_server.contract.validation import validate

    data = read_json(path)
    problems = validate(data, kind)
    if problems:
        lines = "\n".join(f"  {p.path}: {p.message}" for p in problems)
        raise FixtureError(f"{path}: invalid {kind}:\n{lines}")
    return data
