"""The submit actions the fake knows, as data: one row per action.

``POST /suno/submit/{action}`` upper-cases ``action`` and looks it up here. A new action is one
row of ``ACTIONS`` plus its default scenario file (``fixtures/scenarios/``) and its name in
``schemas/scenario.schema.json``'s action enum (tests/test_actions.py keeps the two lists equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIONS",
    "ELKAPI_MUSIC_FIELDS",
    "FORWARDED_FIELDS",
    "MUSIC_TASKS",
    "MUSIC_TASK_KINDS",
    "NEWAPI_ACTIONS",
    "STEM_GROUPS",
    "SUBMIT_FIELDS",
    "SURFACES",
    "VOCAL_STEMS",
    "Action",
    "MusicTask",
    "channel_model",
    "stems_of",
]

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
# struct, and notify_hook is bound but never forwarded (reference §9); ElkAPI keeps it
# (``Action.binding``).
FORWARDED_FIELDS: tuple[str, ...] = tuple(name for name in SUBMIT_FIELDS if name != "notify_hook")

# The API surfaces a profile serves (its "surface"): a vanilla new-api gateway's, or ElkAPI's,
# whose upstream (bltcy lineage) also takes the keys and routes of reference §10.
SURFACES = ("newapi", "elkapi")
# ElkAPI's MUSIC body beyond dto.SunoSubmitReq (reference §10): vanilla new-api drops these.
ELKAPI_MUSIC_FIELDS: dict[str, tuple[type, ...]] = {
    **SUBMIT_FIELDS,
    "task": (str,),
    "infill_start_s": (float, int),
    "infill_end_s": (float, int),
    "stem_type_id": (float, int),
    "stem_type_group_name": (str,),
    "stem_task": (str,),
    "persona_id": (str,),
    "negative_tags": (str,),
    "generation_type": (str,),
}


@dataclass(frozen=True)
class MusicTask:
    """One MUSIC ``task`` kind ElkAPI takes (reference §10): what its clips are made of.

    Its clips' lineage (metadata.type, history) is render's ``_lineage``; their lengths and
    count follow from these facts and the task's source clip.
    """

    name: str  # the ``task`` value: extend
    # The scenario its tasks follow when the submit names none (no X-Mock-Scenario) and the
    # Config names none for it (Config.default_scenario).
    default_scenario: str
    # Its clips are the source up to ``continue_at`` plus a new part (the scenario's
    # durations); otherwise they are as long as the source.
    continues: bool = False
    # One clip per stem of its ``stem_type_group_name`` (STEM_GROUPS), whatever the
    # scenario's clip_count.
    stems: bool = False


# The MUSIC ``task`` kinds, all of which work on a source clip (continue_clip_id).
MUSIC_TASK_KINDS: dict[str, MusicTask] = {
    kind.name: kind
    for kind in (
        MusicTask("extend", default_scenario="extend_success", continues=True),
        MusicTask("cover", default_scenario="cover_success"),
        MusicTask("infill", default_scenario="infill_success"),
        MusicTask("gen_stem", default_scenario="gen_stem_success", stems=True),
    )
}
MUSIC_TASKS = tuple(MUSIC_TASK_KINDS)
# gen_stem's stem_type_group_name (or stem_task, lower case) -> the stems it makes, one clip
# each, in order. The reference names the groups (Two, Twelve), not their stems: these are
# the stems Suno's app offers, modelled, not captured.
STEM_GROUPS: dict[str, tuple[str, ...]] = {
    "Two": ("Vocals", "Instrumental"),
    "Twelve": (
        "Vocals", "Backing Vocals", "Drums", "Bass", "Guitar", "Keyboard",
        "Percussion", "Strings", "Synth", "FX", "Brass", "Woodwinds",
    ),
}
# The stems that carry the song's words (the others' clips have no lyrics).
VOCAL_STEMS = frozenset({"Vocals", "Backing Vocals"})


def stems_of(request: Mapping[str, Any]) -> tuple[str, ...]:
    """The stems a gen_stem submit's clips are, one clip each: those of its
    ``stem_type_group_name``, else of its ``stem_task``, else of the Two group."""
    for key in ("stem_type_group_name", "stem_task"):
        value = request.get(key)
        if isinstance(value, str):
            for group, stems in STEM_GROUPS.items():
                if value.casefold() == group.casefold():
                    return stems
    return STEM_GROUPS["Two"]


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
    # What a finished task's data holds: "clips" or "lyrics" (a scenario step's data); None for
    # a record that is no task (PERSONA).
    data: str | None
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
    # The surfaces that serve it (a profile's "surface"); elsewhere it is an unknown action.
    surfaces: tuple[str, ...] = SURFACES
    # ElkAPI's body and kept fields where they differ from ``bind`` and ``kept``.
    elkapi_bind: dict[str, tuple[type, ...]] | None = None
    elkapi_kept: tuple[str, ...] | None = None
    submit_route: bool = True  # served as POST /suno/submit/{name}; else by a route of its own
    clip_count: int | None = None  # its tasks' clips, whatever the scenario's template says

    @property
    def model(self) -> str:
        return channel_model(self.name)

    def binding(self, surface: str) -> tuple[dict[str, tuple[type, ...]], tuple[str, ...]]:
        """The body as ``surface`` binds it, and the fields its task keeps."""
        if surface == "elkapi":
            bind, kept = self.bind, self.kept
            if self.elkapi_bind is not None:
                bind, kept = self.elkapi_bind, self.elkapi_kept or tuple(self.elkapi_bind)
            if "notify_hook" in bind and "notify_hook" not in kept:
                # ElkAPI's upstream keeps the hook, shows it on the task and calls it back.
                kept = (*kept, "notify_hook")
            return bind, kept
        return self.bind, self.kept

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
            "MUSIC",
            data="clips",
            quota=50_000,
            default_scenario="music_success",
            elkapi_bind=ELKAPI_MUSIC_FIELDS,
            elkapi_kept=tuple(name for name in ELKAPI_MUSIC_FIELDS if name != "notify_hook"),
            continues=True,
        ),
        Action(
            "LYRICS",
            data="lyrics",
            quota=5_000,
            default_scenario="lyrics_success",
            required={"prompt": "prompt_empty"},
        ),
        # ElkAPI only (reference §10): the whole song of an extended clip.
        Action(
            "CONCAT",
            data="clips",
            quota=50_000,
            default_scenario="concat_success",
            bind={"clip_id": (str,), "is_infill": (bool,)},
            go_type=("dto.SunoConcatReq", "SunoConcatReq"),
            kept=("clip_id", "is_infill"),
            required={"clip_id": "clip_id is empty"},
            surfaces=("elkapi",),
            clip_count=1,
        ),
        # ElkAPI only: POST /suno/uploads/audio-url, a clip of the audio at ``url``.
        Action(
            "UPLOAD",
            data="clips",
            quota=50_000,
            default_scenario="upload_success",
            bind={"url": (str,)},
            go_type=("dto.SunoUploadReq", "SunoUploadReq"),
            kept=("url",),
            required={"url": "url is empty"},
            surfaces=("elkapi",),
            submit_route=False,
            clip_count=1,
        ),
        # ElkAPI only: GET /suno/act/stems/{clip_id}, the clip's vocals and instrumental as
        # two clips of their own. One task per (caller, clip), made by the first call.
        Action(
            "STEMS",
            data="clips",
            quota=0,
            default_scenario="stems_success",
            bind={},
            go_type=("", ""),
            kept=(),
            surfaces=("elkapi",),
            submit_route=False,
            clip_count=2,
        ),
        # ElkAPI only: POST /suno/persona/create/, a persona of one of the caller's clips. Kept
        # as a record of the task store (every backend, its limits and resets), on a shelf of
        # the caller's that fetches never look at (pipeline.persona_shelf). It is no task: its
        # scenario holds it at NOT_START with no data, a valid task wherever one is shown.
        Action(
            "PERSONA",
            data=None,
            quota=0,
            default_scenario="persona_created",
            bind={
                "root_clip_id": (str,),
                "name": (str,),
                "description": (str,),
                "clips": (list,),
                "is_public": (bool,),
            },
            go_type=("dto.SunoPersonaReq", "SunoPersonaReq"),
            kept=("root_clip_id", "name", "description", "clips", "is_public"),
            required={"root_clip_id": "root_clip_id is empty", "name": "name is empty"},
            surfaces=("elkapi",),
            submit_route=False,
        ),
    )
}

# The actions a vanilla new-api gateway serves (the contract suite's submit cases; the ElkAPI
# surface's own cases are still to come: issue 16).
NEWAPI_ACTIONS: tuple[str, ...] = tuple(n for n, a in ACTIONS.items() if "newapi" in a.surfaces)
