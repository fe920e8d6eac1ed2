"""The submit actions the fake knows, as data."""

from __future__ import annotations

__all__ = ["SUBMIT_FIELDS"]

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
