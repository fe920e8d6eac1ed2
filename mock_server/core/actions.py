"""The submit actions the fake knows, as data: one row per action.

``POST /suno/submit/{action}`` upper-cases ``action`` and looks it up here. A new action is one
row of ``ACTIONS`` plus its default scenario file (``fixtures/scenarios/``) and its name in
``schemas/scenario.schema.json``'s action enum (tests/test_actions.py keeps the two lists equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ACTIONS", "FORWARDED_FIELDS", "SUBMIT_FIELDS", "Action", "channel_model"]

# dto.SunoSubmitReq as gin binds it: Go field name -> the JSON types it accepts.
SUBMIT_FIELDS: dict[str, tuple[type, ...]] = {
    "gpt_description_prompt": (str,),
    "prompt": (str,),
    "mv": (str,),
    "title": (str,),
    "tags": (str,),
    "continue_at": (float, int),
    "task_id": (str,),
    "continue_clip_id": (str,),
    "make_instrumental": (bool,),
    "notify_hook": (str,),
}
# What a task keeps of its submit body: what new-api forwards upstream. It re-marshals the
# struct, and notify_hook is bound but never forwarded (reference §9).
FORWARDED_FIELDS: tuple[str, ...] = tuple(name for name in SUBMIT_FIELDS if name != "notify_hook")


def channel_model(action: str) -> str:
    """The billing/channel model name of ``action``, known or not: ``suno_music``.

    Distribute looks up a channel for it before the body is read, so an unknown action's 503
    names it too (reference §1).
    """
    return "suno_" + action.lower()


@dataclass(frozen=True)
class Action:
    """One submit action: how its body binds, what its task keeps and shows."""

    name: str  # upper case, as the route sees it: MUSIC
    data: str  # what a finished task's data holds: "clips" or "lyrics" (a scenario step's data)
    quota: int  # the task object's quota field
    default_scenario: str  # the scenario a submit without X-Mock-Scenario follows
    # The body as gin binds it: Go field name -> JSON types, and the Go type names of its errors.
    bind: dict[str, tuple[type, ...]] = field(default_factory=lambda: SUBMIT_FIELDS)
    go_type: tuple[str, str] = ("dto.SunoSubmitReq", "SunoSubmitReq")
    kept: tuple[str, ...] = FORWARDED_FIELDS  # the bound fields the task stores
    # Fields that must be present and non-empty, each with its invalid_request message.
    required: Mapping[str, str] = field(default_factory=dict)
    # A submit that continues a clip (continue_clip_id) must name its origin task where the
    # profile checks it (new-api before 2026-02-22: MUSIC only).
    continues: bool = False

    @property
    def model(self) -> str:
        return channel_model(self.name)

    def missing(self, fields: Mapping[str, Any]) -> str | None:
        """The invalid_request message of the first required field ``fields`` lacks, or None."""
        for name, message in self.required.items():
            if not fields.get(name):
                return message
        return None


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "MUSIC", data="clips", quota=50_000, default_scenario="music_success", continues=True
        ),
        Action(
            "LYRICS",
            data="lyrics",
            quota=5_000,
            default_scenario="lyrics_success",
            required={"prompt": "prompt_empty"},
        ),
    )
}
