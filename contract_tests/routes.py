"""The ElkAPI routes beyond new-api (reference section 10) as data: one row per route.

The contract suite (``test_routes``) turns every row into cases: its answer against the row's
schema and meaning, bad input refused with the reference's envelope, and, in a new-api
profile, the answer of a vanilla gateway. The drift check probes the rows that spend nothing
for the clip ids of the known tasks. A new route is one row of ``ROUTES`` (and its response
schema in ``schemas/`` with its kind in ``mock_server.contract.validation.KINDS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["CLIP", "NO_SUCH_CLIP", "ROUTES", "RouteCase", "fill", "path_of"]

#: ``needs`` of a row that works on a finished clip of the caller's (from an earlier task)
CLIP = "clip"
#: a clip id no task has (a uuid, like Suno's, so only the lookup can refuse it)
NO_SUCH_CLIP = "00000000-0000-4000-8000-00000000c0de"


@dataclass(frozen=True)
class RouteCase:
    """One route. ``path`` and ``body`` name the source clip as ``{clip_id}`` and its task as
    ``{task_id}``; the suite fills them in from a finished MUSIC task of the caller's."""

    name: str  # the case id: "timing", "extend"
    method: str
    path: str  # "/suno/act/timing/{clip_id}"
    needs: str  # CLIP, or "" for nothing
    spends: bool  # may cost credits: on live only within --suno-allow-spend, never in drift
    schema: str  # kind (mock_server.contract.validation.KINDS) of the 200 answer
    body: Mapping[str, Any] | None = None  # JSON body of a POST
    # What the answer means beyond its schema (checks.check_route_meaning): "timing", or for a
    # task-id answer, what the task's clips show: "extend", "cover", "infill", "stem",
    # "concat", "upload"; for a raw answer about the clip: "stems", "export", "persona".
    # "": the schema only.
    meaning: str = ""
    # Body fields that must be present: the "missing-fields" case leaves them out.
    required: tuple[str, ...] = ()
    # Error codes the reference names for a clip of another key's owner (400 each).
    foreign_codes: tuple[str, ...] = ("invalid_request",)
    surfaces: tuple[str, ...] = ("elkapi",)  # the profiles' surfaces that serve it
    # How a vanilla new-api gateway answers it: "no-route" (200, its web index page),
    # "no-channel" (503 model_not_found: an unknown submit action), "dropped" (accepted as
    # a plain MUSIC submit, the ElkAPI keys dropped by the re-marshal).
    on_newapi: str = "no-route"

    @property
    def follows_task(self) -> bool:
        """Its answer is a task id whose task the suite follows."""
        return self.schema == "submit-response"


def fill(value: Any, clip_id: str, task_id: str) -> Any:
    """``value`` with ``{clip_id}`` and ``{task_id}`` replaced (ids percent-encoded in paths
    by ``path_of``)."""
    if isinstance(value, str):
        return value.replace("{clip_id}", clip_id).replace("{task_id}", task_id)
    if isinstance(value, Mapping):
        return {k: fill(v, clip_id, task_id) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, clip_id, task_id) for v in value]
    return value


def path_of(row: RouteCase, clip_id: str, task_id: str = "") -> str:
    """The row's path for this clip (and task), the ids percent-encoded."""
    return fill(row.path, quote(clip_id, safe=""), quote(task_id, safe=""))


# The music task kinds: a MUSIC submit on a source clip. The continuation check of the
# profile (origin task_id before 2026-02-22) meets another owner's task first: task_not_exist.
_KIND = {"continue_clip_id": "{clip_id}", "task_id": "{task_id}"}
_KIND_ROW: dict[str, Any] = {
    "method": "POST", "path": "/suno/submit/music", "needs": CLIP, "spends": True,
    "schema": "submit-response", "required": ("continue_clip_id",),
    "foreign_codes": ("invalid_request", "task_not_exist"), "on_newapi": "dropped",
}

ROUTES: tuple[RouteCase, ...] = (
    RouteCase("timing", "GET", "/suno/act/timing/{clip_id}", CLIP, spends=False,
              schema="timing-response", meaning="timing"),
    RouteCase("extend", body={"task": "extend", **_KIND, "continue_at": 30,
                              "prompt": "[Verse 2]\nsuno-contract-kit check"},
              meaning="extend", **_KIND_ROW),
    RouteCase("cover", body={"task": "cover", **_KIND}, meaning="cover", **_KIND_ROW),
    RouteCase("infill", body={"task": "infill", **_KIND, "infill_start_s": 10,
                              "infill_end_s": 20}, meaning="infill", **_KIND_ROW),
    RouteCase("gen_stem", body={"task": "gen_stem", **_KIND, "stem_type_id": 91,
                                "stem_type_group_name": "Two", "stem_task": "two"},
              meaning="stem", **_KIND_ROW),
    RouteCase("concat", "POST", "/suno/submit/concat", CLIP, spends=True,
              schema="submit-response", body={"clip_id": "{clip_id}", "is_infill": False},
              meaning="concat", required=("clip_id",), on_newapi="no-channel"),
    RouteCase("upload-audio-url", "POST", "/suno/uploads/audio-url", "", spends=True,
              schema="submit-response",
              body={"url": "https://suno-contract-kit.invalid/check.mp3"}, meaning="upload",
              required=("url",)),
    # The clip actions start work upstream (stem separation, a WAV conversion, a video), which
    # Suno and the aggregators bill: they spend, so drift never calls them.
    RouteCase("stems", "GET", "/suno/act/stems/{clip_id}", CLIP, spends=True,
              schema="stems-response", meaning="stems"),
    RouteCase("wav", "GET", "/suno/act/wav/{clip_id}", CLIP, spends=True,
              schema="export-response", meaning="export"),
    RouteCase("mp4", "GET", "/suno/act/mp4/{clip_id}", CLIP, spends=True,
              schema="export-response", meaning="export"),
    RouteCase("persona", "POST", "/suno/persona/create/", CLIP, spends=True, schema="persona",
              body={"root_clip_id": "{clip_id}", "name": "suno-contract-kit check",
                    "description": "", "clips": ["{clip_id}"], "is_public": False},
              meaning="persona", required=("root_clip_id",)),
)
