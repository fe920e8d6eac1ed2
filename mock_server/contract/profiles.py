"""Profiles: one version of the live API's wire shape, loaded from data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from mock_server.contract.fixtures import load_json_file
from mock_server.contract.resources import profile_path, profiles_dir, schemas_dir
from mock_server.errors import FixtureError

__all__ = ["Profile", "load_profile", "profile_names"]


@dataclass(frozen=True)
class Profile:
    """Field set and order, id format, error texts and header quirks of one API version."""

    name: str
    description: str
    task_schema: str
    task_fields: tuple[str, ...]
    omitempty: frozenset[str]
    id_format: str
    auth_messages: dict[str, str]
    auth_messages_zh: dict[str, str]
    gateway_error_code: bool
    lowercase_bearer: bool
    no_channel_message: str
    submit_content_type: str
    submit_headers: dict[str, str] = field(default_factory=dict)
    request_id_style: str = "2025"
    continuation_check: bool = False
    clip_extra: dict[str, Any] = field(default_factory=dict)
    surface: str = "newapi"  # "elkapi": ElkAPI's routes and submit keys too (reference §10)

    def auth_message(self, which: str, accept_language: str = "") -> str:
        table = self.auth_messages
        if accept_language.lower().startswith("zh"):
            table = self.auth_messages_zh or table
        return table[which]


def profile_names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.json"))


@cache
def load_profile(name: str) -> Profile:
    """Load and validate the bundled profile ``name``."""
    path = profile_path(name)
    if not path.is_file():
        raise FixtureError(
            f"unknown profile {name!r}; known profiles: {', '.join(profile_names())}"
        )
    raw = load_json_file(path, "profile")
    task_path = schemas_dir() / raw["task_schema"]
    if not task_path.is_file():
        raise FixtureError(f"{path}: $.task_schema: no schema file {raw['task_schema']}")
    task = json.loads(task_path.read_text(encoding="utf-8"))
    fields = tuple(task["properties"])
    return Profile(
        name=raw["name"],
        description=raw.get("description", ""),
        task_schema=raw["task_schema"],
        task_fields=fields,
        omitempty=frozenset(fields) - frozenset(task.get("required", ())),
        id_format=raw["id_format"],
        auth_messages=raw["auth_messages"],
        auth_messages_zh=raw.get("auth_messages_zh", {}),
        gateway_error_code=raw.get("gateway_error_code", True),
        lowercase_bearer=raw.get("lowercase_bearer", False),
        no_channel_message=raw["no_channel_message"],
        submit_content_type=raw["submit_content_type"],
        submit_headers=raw.get("submit_headers", {}),
        request_id_style=raw.get("request_id_style", "2025"),
        continuation_check=raw.get("continuation_check", False),
        clip_extra=raw.get("clip_extra", {}),
        surface=raw.get("surface", "newapi"),
    )
