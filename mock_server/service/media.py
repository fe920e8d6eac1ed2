"""The files behind a task's media URLs: found through the task, made on demand, cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_server.core.cache import BoundedCache
from mock_server.core.record import TaskRecord
from mock_server.core.render import clip_durations
from mock_server.media.audio import mp3_for, wav_for
from mock_server.media.covers import SIZES, cover_jpeg
from mock_server.media.video import mp4_for
from mock_server.service.mock_service import MockService

__all__ = ["ClipView", "MediaShelf"]


@dataclass(frozen=True)
class ClipView:
    """One clip of a task as a fetch would show it now (no poll counted)."""

    record: TaskRecord
    clip: dict[str, Any]
    index: int
    now: float
    stream_window: tuple[float, float] | None  # (start, end) offsets from submit, in seconds

    @property
    def status(self) -> str:
        return str(self.clip.get("status", ""))

    @property
    def final_seconds(self) -> float:
        duration = self.clip.get("metadata", {}).get("duration")
        return float(duration) if isinstance(duration, (int, float)) else 0.0


class MediaShelf:
    """Audio, video and covers per clip. Each is costly to make (an MP3 of a 3-minute clip
    takes about 0.2 s to encode, its MP4 0.4 s) and never changes, so all are kept in bounded
    caches. A WAV is cheap to write but large, so few are kept."""

    def __init__(self, service: MockService) -> None:
        self.service = service
        self._audio: BoundedCache[tuple[str, float], bytes] = BoundedCache(32)  # ~0.7 MB each
        self._wav: BoundedCache[tuple[str, float], bytes] = BoundedCache(4)  # ~5.8 MB each
        self._video: BoundedCache[tuple[str, float], bytes] = BoundedCache(16)  # ~0.8 MB each
        self._covers: BoundedCache[tuple[str, str, int, str, str], bytes] = BoundedCache(256)

    def clip(self, ns: str, task_id: str, clip_id: str) -> ClipView | None:
        """The clip ``clip_id`` of task ``task_id``, or None where the fake shows no such clip."""
        service = self.service
        record = service.find(task_id, ns)
        if record is None:
            return None
        now = service.now(ns)
        task = service.render(record, ns, now=now)
        data = task.get("data")
        if not isinstance(data, list):
            return None
        for index, clip in enumerate(data):
            if isinstance(clip, dict) and clip.get("id") == clip_id:
                durations = clip_durations(record, service.scenario_for(record))
                final = durations[index % len(durations)] if durations else 0.0
                if clip.get("metadata", {}).get("duration") is None:
                    clip = {**clip, "metadata": {**clip.get("metadata", {}), "duration": final}}
                return ClipView(record, clip, index, now, self._window(record))
        return None

    def _window(self, record: TaskRecord) -> tuple[float, float] | None:
        """When the task streams: from its first IN_PROGRESS step to its terminal step."""
        steps = self.service.scenario_for(record).steps
        start = next((s.after_seconds for s in steps if s.status == "IN_PROGRESS"), None)
        end = next((s.after_seconds for s in steps if s.terminal), None)
        if start is None or end is None or end <= start:
            return None
        return start, end

    def mp3(self, view: ClipView) -> bytes:
        seconds = round(view.final_seconds, 2)
        key = (str(view.clip["id"]), seconds)
        return self._audio.get_or_make(key, lambda: mp3_for(key[0], seconds))

    def wav(self, view: ClipView) -> bytes:
        seconds = round(view.final_seconds, 2)
        key = (str(view.clip["id"]), seconds)
        return self._wav.get_or_make(key, lambda: wav_for(key[0], seconds))

    def mp4(self, view: ClipView) -> bytes:
        """The clip's cover (the small one) over its audio."""
        seconds = round(view.final_seconds, 2)
        key = (str(view.clip["id"]), seconds)
        return self._video.get_or_make(
            key, lambda: mp4_for(key[0], seconds, self.cover(view, "image"))
        )

    def cover(self, view: ClipView, kind: str) -> bytes:
        clip = view.clip
        title, tags = str(clip.get("title", "")), str(clip.get("metadata", {}).get("tags", ""))
        size = SIZES[kind]
        key = (str(clip["id"]), kind, size, title, tags)
        return self._covers.get_or_make(key, lambda: cover_jpeg(key[0], title, tags, size))

    def streamed_bytes(self, view: ClipView, now: float, total: int) -> int:
        """How much of the clip's ``total`` MP3 bytes the stream has produced at ``now``."""
        if view.status == "complete":
            return total
        window = view.stream_window
        if window is None:
            return 0
        start, end = window
        elapsed = now - view.record.submit_time
        share = (elapsed - start) / (end - start)
        return int(total * min(1.0, max(0.0, share)))
