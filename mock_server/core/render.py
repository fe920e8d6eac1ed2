"""Render a task's computed state as the profile's task object (field set and order, clip shape)."""

from __future__ import annotations

import datetime as _dt
import re
import uuid
import zlib
from collections.abc import Mapping
from typing import Any

from mock_server.contract.profiles import Profile
from mock_server.core.actions import (
    ACTIONS,
    MUSIC_TASK_KINDS,
    VOCAL_STEMS,
    MusicTask,
    channel_model,
    stems_of,
)
from mock_server.core.lifecycle import TaskState
from mock_server.core.media_urls import local_urls
from mock_server.core.record import TaskRecord
from mock_server.core.scenarios import Scenario, Step

__all__ = [
    "aligned_lyrics",
    "clip_facts",
    "clip_ids",
    "model_of",
    "mysql_order",
    "persona_object",
    "render_task",
]

# mv -> (model_name, major_model_version), as Suno reports them.
_MODELS = {
    "chirp-v3-0": ("chirp-v3", "v3"),
    "chirp-v3-5": ("chirp-v3-5", "v3.5"),
    "chirp-v4": ("chirp-v4", "v4"),
    "chirp-auk": ("chirp-auk", "v4.5"),
    "chirp-bluejay": ("chirp-bluejay", "v4.5+"),
    "chirp-crow": ("chirp-crow", "v5"),
}
_MEDIA_KEYS = ("audio_url", "image_url", "image_large_url", "video_url")
_CLIP_NS = uuid.UUID("5b0a1a6e-3c55-4d8e-9b3f-2f1c0d6a7e11")
_MOCK_USER = "6f1c2b4e-0d2a-4c8e-9a57-3b1d5e7f9a20"


def model_of(mv: str) -> tuple[str, str]:
    return _MODELS.get(mv or "chirp-v3-0", (mv, ""))


def mysql_order(obj: Any) -> Any:
    """Order keys as a MySQL JSON column does: by byte length, then bytewise."""
    if isinstance(obj, dict):
        keys = sorted(obj, key=lambda k: (len(k.encode()), k.encode()))
        return {k: mysql_order(obj[k]) for k in keys}
    if isinstance(obj, list):
        return [mysql_order(v) for v in obj]
    return obj


def clip_ids(task_id: str, count: int) -> list[str]:
    return [str(uuid.uuid5(_CLIP_NS, f"{task_id}/{i}")) for i in range(count)]


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        if value == "{duration}":
            return values["duration"]
        return value.format_map(values) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _inputs(record: TaskRecord, scenario: Scenario) -> dict[str, Any]:
    """What the app asked for, falling back on the scenario's template."""
    t, r = scenario.template, record.request
    source = r.get("source")
    if isinstance(source, dict):  # a clip made from the caller's clip: its words by default
        t = {**t, **{k: source[k] for k in ("title", "tags", "prompt", "mv") if k in source}}
    described = bool(r.get("gpt_description_prompt"))
    stems = _stems(record)
    instrumental = bool(r.get("make_instrumental", t.get("make_instrumental", False)))
    prompt = (
        ""
        if instrumental
        else (t.get("prompt", "") if described else r.get("prompt") or t.get("prompt", ""))
    )
    return {
        "title": (t.get("title", "") if described else r.get("title") or t.get("title", "")),
        "tags": (t.get("tags", "") if described else r.get("tags") or t.get("tags", "")),
        "prompt": prompt,
        "gpt_description_prompt": r.get("gpt_description_prompt")
        or t.get("gpt_description_prompt"),
        "mv": r.get("mv") or t.get("mv") or "chirp-v3-0",
        "clip_count": len(stems)
        if stems
        else ACTIONS[record.action].clip_count or int(t.get("clip_count", 2)),
        "stems": stems,
        "durations": _durations(record, list(t.get("durations", [180.0]))),
        "error_type": t.get("error_type", ""),
        "error_message": t.get("error_message", ""),
        "lyrics_prompt": r.get("prompt") or t.get("prompt", ""),
        "lyrics_text": t.get("lyrics_text", "{prompt}"),
    }


def _kind(record: TaskRecord) -> MusicTask | None:
    """The MUSIC task kind of ``record``, or None."""
    task = record.request.get("task")
    if record.action != "MUSIC" or not isinstance(task, str):
        return None
    return MUSIC_TASK_KINDS.get(task)


def _stems(record: TaskRecord) -> tuple[str, ...]:
    """The stems a task's clips are, one each (a gen_stem task's group), or ()."""
    kind = _kind(record)
    return stems_of(record.request) if kind is not None and kind.stems else ()


def _durations(record: TaskRecord, durations: list[Any]) -> list[Any]:
    """A task's clip lengths: the scenario's, or what its source clip makes them (extend: the
    source up to ``continue_at`` plus the new part, the scenario's durations; concat, cover,
    infill, stems: the source's)."""
    r = record.request
    source = r.get("source")
    if not isinstance(source, dict):
        return durations
    whole = float(source.get("duration") or 0.0)
    kind = _kind(record)
    if kind is not None and kind.continues:
        at = r.get("continue_at")
        kept = min(float(at), whole) if isinstance(at, (int, float)) and at > 0 else whole
        return [round(kept + float(d), 2) for d in durations]
    return [whole]


def _lineage(record: TaskRecord) -> dict[str, Any]:
    """The metadata a clip made from another carries (Suno's type, history, concat_history)."""
    r = record.request
    if record.action == "UPLOAD":
        return {"type": "upload", "upload_url": r.get("url", "")}
    source = r.get("source")
    if not isinstance(source, dict):
        return {}
    before = list(source.get("history") or [])
    if record.action == "STEMS":
        return {"type": "stem", "stem_from_id": source["id"],
                "history": [{"id": source["id"], "type": "stem"}]}
    if record.action == "CONCAT":
        return {
            "type": "concat",
            "concat_history": [*before, {"id": source["id"], "type": "gen"}],
            "is_infill": bool(r.get("is_infill", False)),
        }
    task = r.get("task")
    if task == "extend":
        entry: dict[str, Any] = {"id": source["id"], "type": "gen"}
        if isinstance(r.get("continue_at"), (int, float)):
            entry["continue_at"] = r["continue_at"]
        return {"type": "gen", "history": [*before, entry]}
    if task == "cover":
        return {"type": "cover", "cover_clip_id": source["id"],
                "history": [{"id": source["id"], "type": "cover"}]}
    if task == "infill":
        return {"type": "infill", "history": [{
            "id": source["id"], "type": "infill",
            "infill_start_s": r.get("infill_start_s"), "infill_end_s": r.get("infill_end_s"),
        }]}
    if task == "gen_stem":
        return {"type": "stem", "stem_from_id": source["id"],
                "stem_type_group_name": r.get("stem_type_group_name"),
                "history": [{"id": source["id"], "type": "gen_stem"}]}
    return {}


def clip_facts(record: TaskRecord, scenario: Scenario) -> list[dict[str, Any]]:
    """What a task's clips are made of, by clip: id, words, model, full length, history.

    A submit that names a source clip copies them (``request["source"]``).
    """
    inputs = _inputs(record, scenario)
    lineage = _lineage(record)
    history = lineage.get("history") or lineage.get("concat_history")
    durations = inputs["durations"]
    return [
        {
            "id": clip_id,
            "task_id": record.task_id,
            **_stem_words(inputs, i),
            "mv": inputs["mv"],
            "duration": float(durations[i % len(durations)]),
            "history": history,
        }
        for i, clip_id in enumerate(clip_ids(record.task_id, inputs["clip_count"]))
    ]


def _stem_words(inputs: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Clip ``index``'s title, tags and lyrics: a stem's are its source's, titled
    '<title> (<stem>)', with no lyrics unless it is a vocal stem."""
    title, tags, prompt = inputs["title"], inputs["tags"], inputs["prompt"]
    stems = inputs["stems"]
    if stems:
        stem = stems[index % len(stems)]
        title = f"{title} ({stem})"
        prompt = prompt if stem in VOCAL_STEMS else ""
    return {"title": title, "tags": tags, "prompt": prompt}


def _clips(
    record: TaskRecord,
    scenario: Scenario,
    step: Step,
    inputs: dict[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> list[Any]:
    model_name, major = model_of(inputs["mv"])
    created = _iso(record.submit_time)
    lineage = _lineage(record)
    out = []
    for i, clip_id in enumerate(clip_ids(record.task_id, inputs["clip_count"])):
        durations = inputs["durations"]
        words = _stem_words(inputs, i)
        values = {
            "id": clip_id,
            "task_id": record.task_id,
            "index": i,
            **words,
            "model_name": model_name,
            "duration": durations[i % len(durations)],
            "error_type": inputs["error_type"],
            "error_message": inputs["error_message"],
            "lyrics_text": "",
        }
        clip: dict[str, Any] = {
            "id": clip_id,
            "video_url": "",
            "audio_url": "",
            "image_url": "",
            "image_large_url": "",
            "is_video_pending": False,
            "major_model_version": major,
            "model_name": model_name,
            "metadata": {
                "tags": words["tags"],
                "prompt": words["prompt"],
                "gpt_description_prompt": inputs["gpt_description_prompt"],
                "audio_prompt_id": None,
                "history": None,
                "concat_history": None,
                "type": "gen",
                "duration": None,
                "refund_credits": None,
                "stream": True,
                "error_type": None,
                "error_message": None,
            },
            "is_liked": False,
            "user_id": _MOCK_USER,
            "display_name": "SunoMock",
            "handle": "sunomock",
            "is_handle_updated": False,
            "is_trashed": False,
            "reaction": None,
            "created_at": created,
            "status": "submitted",
            "title": words["title"],
            "play_count": 0,
            "upvote_count": 0,
            "is_public": False,
        }
        clip["metadata"].update(lineage)
        if inputs["stems"]:
            clip["metadata"]["stem_type"] = inputs["stems"][i % len(inputs["stems"])].lower()
        if extra:  # keys this profile's deployments add (real captures); the scenario wins
            _merge(clip, _fill(dict(extra), values))
        _merge(clip, _fill(step.clip, values))
        if i < len(step.clips):
            _merge(clip, _fill(step.clips[i], values))
        for path in step.drop:
            _drop(clip, path)
        out.append(mysql_order(clip))
    return out


def _drop(obj: dict[str, Any], path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        inner = obj.get(key)
        if not isinstance(inner, dict):
            return
        obj = inner
    obj.pop(path[-1], None)


def _lyrics(record: TaskRecord, step: Step, inputs: dict[str, Any]) -> Any:
    values = {
        "task_id": record.task_id,
        "id": record.task_id,
        "title": inputs["title"],
        "prompt": inputs["lyrics_prompt"],
        "tags": inputs["tags"],
        "model_name": "",
        "duration": 0,
        "error_type": "",
        "error_message": "",
        "index": 0,
    }
    values["lyrics_text"] = _fill(inputs["lyrics_text"], values)
    return mysql_order(_fill(dict(step.lyrics), values))


def _iso(ts: float) -> str:
    moment = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_number(owner: str) -> int:
    return zlib.crc32(owner.encode()) % 99_999 + 1


def render_task(
    record: TaskRecord,
    scenario: Scenario,
    state: TaskState,
    profile: Profile,
    local_media: bool = False,
) -> dict[str, Any]:
    """The task object a fetch returns, fields in the profile's order.

    ``local_media``: clip URLs point at the fake's media routes (media.urls), not Suno's CDN.
    """
    step = scenario.steps[state.step]
    inputs = _inputs(record, scenario)
    submit = int(record.submit_time)
    fail_reason = _fill(
        state.fail_reason,
        {
            **inputs,
            "task_id": record.task_id,
            "id": record.task_id,
            "index": 0,
            "model_name": "",
            "duration": 0,
        },
    )
    if step.data == "clips":
        data: Any = _clips(record, scenario, step, inputs, profile.clip_extra)
        if local_media and not scenario.keep_media_urls:
            for clip in data:
                for key in _MEDIA_KEYS:
                    if isinstance(clip.get(key), str):
                        clip[key] = local_urls(clip[key], record.task_id)
    elif step.data == "lyrics":
        data = _lyrics(record, step, inputs)
    else:
        data = None
    model = channel_model(record.action)
    values: dict[str, Any] = {
        "id": record.seq,
        "created_at": submit,
        "updated_at": int(record.submit_time + state.changed_offset),
        "task_id": record.task_id,
        "platform": "suno",
        "user_id": user_number(record.owner),
        "group": "default",
        "channel_id": 1,
        "quota": ACTIONS[record.action].quota,
        "notify_hook": record.request.get("notify_hook", ""),
        "action": record.action,
        "status": state.status,
        "fail_reason": fail_reason,
        "result_url": fail_reason,
        "submit_time": submit,
        "start_time": 0
        if state.start_offset is None
        else int(record.submit_time + state.start_offset),
        "finish_time": 0
        if state.finish_offset is None
        else int(record.submit_time + state.finish_offset),
        "progress": state.progress,
        "properties": {"input": "", "upstream_model_name": model, "origin_model_name": model},
        "username": "",
        "data": data,
    }
    return {
        name: values[name]
        for name in profile.task_fields
        if not (name in profile.omitempty and values[name] in ("", None, 0))
    }


def persona_object(record: TaskRecord, clip: Mapping[str, Any] | None) -> dict[str, Any]:
    """A persona (a PERSONA record) as Suno shows it; ``clip``: its root clip as rendered now.

    The reference names id, name, description, root_clip_id and clip; the rest is the shape of
    Suno's persona objects as the lineage's docs show them, not a capture.
    """
    r = record.request
    clips = [c for c in r.get("clips") or [] if isinstance(c, str)]
    return {
        "id": record.task_id,
        "name": r.get("name", ""),
        "description": r.get("description", ""),
        "root_clip_id": r.get("root_clip_id", ""),
        "clip": None if clip is None else dict(clip),
        "persona_clips": [{"clip_id": c} for c in clips],
        "clip_count": len(clips),
        "user_display_name": "SunoMock",
        "user_handle": "sunomock",
        "is_public": bool(r.get("is_public", False)),
        "is_owned": True,
        "is_trashed": False,
        "is_suno_persona": False,
        "upvote_count": 0,
        "created_at": _iso(record.submit_time),
    }


_WAVEFORM_POINTS = 200


def aligned_lyrics(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Suno's timing answer for a clip (``clip_facts``): each word of its lyrics with times that
    increase within its length, a waveform, an alignment error rate. Deterministic per clip."""
    duration = float(facts.get("duration") or 0.0)
    words = re.findall(r"\S+\s*", str(facts.get("prompt") or ""))
    seed = zlib.crc32(str(facts["id"]).encode())
    aligned = []
    if words and duration > 0:
        lead = min(5.0, duration * 0.05)
        step = (duration * 0.95 - lead) / len(words)
        for i, word in enumerate(words):
            start = lead + i * step
            aligned.append({
                "word": word,
                "success": True,
                "start_s": round(start, 3),
                "end_s": round(start + step * 0.8, 3),
                "p_align": round(0.8 + ((seed >> (i % 24)) & 0xFF) / 1275, 3),
            })
    waveform = [
        round(0.2 + 0.8 * (zlib.crc32(f"{seed}/{i}".encode()) % 1000) / 1000, 3)
        for i in range(_WAVEFORM_POINTS)
    ]
    return {
        "aligned_words": aligned,
        "waveform_data": waveform,
        "hoot_cer": round((seed % 100) / 1000, 3),
        "is_streamed": False,
    }


def clip_durations(record: TaskRecord, scenario: Scenario) -> list[float]:
    """The lengths, in seconds, a task's clips have once complete (by clip index, cycled)."""
    return [float(d) for d in _inputs(record, scenario)["durations"]]
