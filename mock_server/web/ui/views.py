"""What the dashboard shows: plain view data computed from the store's facts, the scenarios and
the journal. No Flask here, so it is tested without a request.

The journal keeps each request's body and its answer's body (the first 4096 bytes of each),
status, owner digest, request id and the fault rules that hit it. What a poll *saw* is read
from the answer it was sent when the journal has it, and otherwise computed (entries of older
stores, answers a fault streamed): a task's state is a pure function of its scenario, the time
since submit and its poll count, and the journal gives the time of each poll and, counted back
from the task's poll count, its number.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from mock_server.core.lifecycle import state_of
from mock_server.core.media_urls import PLACEHOLDER
from mock_server.core.record import TaskRecord
from mock_server.core.scenarios import Scenario
from mock_server.service.pipeline import JOURNAL_BODY_LIMIT  # what the journal keeps of a body

__all__ = [
    "ClipPlayer",
    "EntryView",
    "PollView",
    "StepView",
    "TaskView",
    "clip_players",
    "entry_views",
    "fmt_offset",
    "fmt_time",
    "parse_time",
    "polls_of",
    "task_view",
]


TRACK_LEFT, TRACK_WIDTH = 90.0, 820.0  # the task page's track, in its SVG's 1000 units
LABEL_ROWS = (26.0, 68.0, 12.0, 82.0)  # label baselines: above, below, higher, lower (axis: 46)
_FETCH_ONE = "/suno/fetch/"
_FETCH_BATCH = "/suno/fetch"
_SUBMIT = "/suno/submit/"
_DOM_ID = re.compile(r"[^A-Za-z0-9_-]")


def fmt_time(when: float | None) -> str:
    """A time on the fake's clock, in UTC to the second (the clock's own unit)."""
    if when is None:
        return "-"
    try:
        shown = datetime.fromtimestamp(when, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{when:.0f}"
    return shown.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_offset(seconds: float) -> str:
    """``+2m05s``: a duration after a task's submit."""
    sign = "-" if seconds < 0 else "+"
    left = abs(seconds)
    if left < 60:
        text = f"{left:.0f}s" if left == int(left) else f"{left:.1f}s"
        return sign + text
    whole = int(left)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m{secs:02d}s"
    return f"{sign}{minutes}m{secs:02d}s"


def parse_time(text: str) -> float:
    """A unix time, or an ISO 8601 date-time (UTC unless it names its zone); ValueError if not."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    when = datetime.fromisoformat(text.replace(" UTC", "").replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


@dataclass(frozen=True)
class StepView:
    index: int
    name: str
    status: str
    after_seconds: float
    after_polls: int
    at: float  # on the fake's clock: submit time + after_seconds
    reached: bool  # by the timeline (time and polls), whatever a pin says
    current: bool  # the step the task shows now (pinned or reached)
    x: float  # position on the task page's track, 0..1000


@dataclass(frozen=True)
class TaskView:
    task_id: str
    owner: str
    action: str
    scenario: str
    description: str
    inline: bool
    submit_time: float
    elapsed: float
    polls: int
    status: str
    step: str
    progress: str
    fail_reason: str
    pinned: str | None  # the step name a pin holds it at
    terminal: bool
    request: Mapping[str, Any]
    steps: tuple[StepView, ...]
    now_x: float  # "now" on the track

    @property
    def marks(self) -> list[Mark]:
        """The track's marks: steps at the same time share one, labels kept apart."""
        groups: list[tuple[float, tuple[StepView, ...]]] = []
        for step in self.steps:
            if groups and groups[-1][0] == step.x:
                groups[-1] = (step.x, (*groups[-1][1], step))
            else:
                groups.append((step.x, (step,)))
        ends = dict.fromkeys(LABEL_ROWS, float("-inf"))  # where each row's last label ends
        out = []
        for x, steps in groups:
            label = " › ".join(s.name for s in steps)
            half = len(label) * 3.6 + 6  # about half its width at 12 units a letter
            free = [y for y in LABEL_ROWS if ends[y] < x - half]
            row = free[0] if free else min(LABEL_ROWS, key=lambda y: ends[y])
            ends[row] = x + half
            out.append(Mark(x, steps, label, row))
        return out


@dataclass(frozen=True)
class Mark:
    """One point on the task page's track and its label's row."""

    x: float
    steps: tuple[StepView, ...]
    label: str
    label_y: float

    @property
    def current(self) -> bool:
        return any(s.current for s in self.steps)

    @property
    def last(self) -> StepView:
        return self.steps[-1]


def task_view(record: TaskRecord, scenario: Scenario, now: float) -> TaskView:
    elapsed = now - record.submit_time
    natural = state_of(scenario, elapsed, record.polls)
    shown = state_of(scenario, elapsed, record.polls, record.forced_step)
    span = max(scenario.steps[-1].after_seconds, elapsed, 1.0) * 1.05

    def x(seconds: float) -> float:
        return round(TRACK_LEFT + TRACK_WIDTH * max(0.0, seconds) / span, 1)

    steps = tuple(
        StepView(
            index=i,
            name=step.name,
            status=step.status,
            after_seconds=step.after_seconds,
            after_polls=step.after_polls,
            at=record.submit_time + step.after_seconds,
            reached=i <= natural.step,
            current=i == shown.step,
            x=x(step.after_seconds),
        )
        for i, step in enumerate(scenario.steps)
    )
    current = scenario.steps[shown.step]
    return TaskView(
        task_id=record.task_id,
        owner=record.owner,
        action=record.action,
        scenario=record.scenario,
        description=scenario.description,
        inline=record.inline_scenario is not None,
        submit_time=record.submit_time,
        elapsed=elapsed,
        polls=record.polls,
        status=shown.status,
        step=current.name,
        progress=shown.progress,
        fail_reason=shown.fail_reason,
        pinned=current.name if record.forced_step is not None else None,
        terminal=current.terminal,
        request=dict(record.request),
        steps=steps,
        now_x=x(elapsed),
    )


def _ids_in(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The task ids a journaled fetch asked about (a lenient reading, as the fault layer's)."""
    path = str(entry.get("path") or "")
    if path.startswith(_FETCH_ONE):
        return (path[len(_FETCH_ONE) :],)
    if path != _FETCH_BATCH:
        return ()
    try:
        body = json.loads(entry.get("body") or "")
    except (ValueError, RecursionError):
        return ()
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list):
        return ()
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, str)))


@dataclass(frozen=True)
class PollView:
    time: float
    elapsed: float
    method: str
    path: str
    http_status: int
    request_id: str
    faults: tuple[str, ...]
    counted: bool  # counted as one of the task's polls
    number: int | None  # which of its polls (1 = the first), when counted
    seen_step: str | None  # what the timeline gave at that time and poll count
    seen_status: str | None
    note: str
    sent_status: str | None = None  # the task's status in the answer the journal kept


def _sent_status(entry: Mapping[str, Any], task_id: str) -> str | None:
    """The status the journaled answer gave ``task_id``, if it kept one whole."""
    text = entry.get("response")
    if not isinstance(text, str) or _cut(text):
        return None
    try:
        data = json.loads(text).get("data")
    except (ValueError, RecursionError, AttributeError):
        return None
    for task in data if isinstance(data, list) else [data]:
        if isinstance(task, dict) and task.get("task_id") == task_id:
            status = task.get("status")
            return status if isinstance(status, str) else None
    return None


def polls_of(
    record: TaskRecord, scenario: Scenario, journal: Sequence[Mapping[str, Any]]
) -> list[PollView]:
    """The journal's fetches of this task, oldest first, each with what it saw (computed).

    A fetch is counted as a poll when its owner is the task's and it was answered 200; the
    counted ones are numbered back from the task's poll count, so a journal that has dropped
    its oldest entries still numbers the rest right.
    """
    mine = [e for e in journal if record.task_id in _ids_in(e)]
    counted = [e.get("owner") == record.owner and e.get("status") == 200 for e in mine]
    number = record.polls - sum(counted)
    out = []
    for entry, was_counted in zip(mine, counted, strict=True):
        time = float(entry.get("time") or 0.0)
        elapsed = time - record.submit_time
        faults = tuple(str(f) for f in entry.get("faults") or ())
        poll: int | None = None
        seen_step = seen_status = None
        if entry.get("owner") is None:
            note = "answered before its key was read (a fault rule or a bad key): not a poll"
        elif entry.get("owner") != record.owner:
            note = "another key's request: the task is not theirs (task_not_exist, or omitted)"
        elif not was_counted:
            note = "not answered 200: not counted as a poll"
        else:
            number += 1
            note = "a fault rule touched this request: what it sent may differ" if faults else ""
            if number >= 1:
                poll = number
                state = state_of(scenario, elapsed, number)
                seen_step, seen_status = scenario.steps[state.step].name, state.status
        out.append(
            PollView(
                time=time,
                elapsed=elapsed,
                method=str(entry.get("method") or ""),
                path=str(entry.get("path") or ""),
                http_status=int(entry.get("status") or 0),
                request_id=str(entry.get("request_id") or ""),
                faults=faults,
                counted=was_counted,
                number=poll,
                seen_step=seen_step,
                seen_status=seen_status,
                note=note,
                sent_status=_sent_status(entry, record.task_id),
            )
        )
    return out


@dataclass(frozen=True)
class EntryView:
    dom_id: str  # unique on the page, stable across refreshes
    time: float
    method: str
    path: str
    status: int
    owner: str | None
    request_id: str
    body: str | None  # pretty-printed when it is JSON
    body_cut: bool  # the journal kept only the first JOURNAL_BODY_LIMIT bytes
    response: str | None  # the answer's body as sent, pretty-printed when it is JSON
    response_cut: bool
    response_kept: bool  # False: an entry of a journal from before answers were kept
    faults: tuple[str, ...]
    task_ids: tuple[str, ...]  # tasks it names that exist in the namespace
    kind: str  # submit, fetch, fetch_one or other


def _cut(text: str) -> bool:
    """Whether a journaled body is likely the cut one: its bytes fill the limit (a character
    split at the cut became one U+FFFD, so up to 3 bytes fewer)."""
    return len(text.encode("utf-8", "surrogatepass")) >= JOURNAL_BODY_LIMIT - 3


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return body


def entry_views(
    journal: Sequence[Mapping[str, Any]], known: Iterable[str], limit: int
) -> list[EntryView]:
    """The newest ``limit`` entries, newest first."""
    tasks = set(known)
    seen: set[str] = set()
    out = []
    for index in range(len(journal) - 1, max(-1, len(journal) - 1 - limit), -1):
        entry = journal[index]
        request_id = str(entry.get("request_id") or "")
        time = float(entry.get("time") or 0.0)
        dom_id = "j-" + (_DOM_ID.sub("_", request_id) or f"{index}-{time:.3f}".replace(".", "_"))
        while dom_id in seen:
            dom_id += "_"
        seen.add(dom_id)
        path = str(entry.get("path") or "")
        body = entry.get("body")
        text = body if isinstance(body, str) else None
        answer = entry.get("response")
        answered = answer if isinstance(answer, str) else None
        kind = (
            "submit"
            if path.startswith(_SUBMIT)
            else "fetch_one"
            if path.startswith(_FETCH_ONE)
            else "fetch"
            if path == _FETCH_BATCH
            else "other"
        )
        out.append(
            EntryView(
                dom_id=dom_id,
                time=time,
                method=str(entry.get("method") or ""),
                path=path,
                status=int(entry.get("status") or 0),
                owner=entry.get("owner"),
                request_id=request_id,
                body=_pretty(text) if text else None,
                body_cut=text is not None and _cut(text),
                response=None if answered is None else _pretty(answered),
                response_cut=answered is not None and _cut(answered),
                response_kept="response" in entry,
                faults=tuple(str(f) for f in entry.get("faults") or ()),
                task_ids=tuple(i for i in _ids_in(entry) if i in tasks),
                kind=kind,
            )
        )
    return out


@dataclass(frozen=True)
class ClipPlayer:
    """A clip of the task as its app would play it: the media URLs a fetch hands out."""

    clip_id: str
    title: str
    status: str
    audio: str
    image: str

    @property
    def dom_id(self) -> str:
        """Stable while its media URLs are: the page's live refresh keeps the player (it would
        stop a clip being played), and swaps it when a URL changes (a clip that completed)."""
        digest = hashlib.sha1(f"{self.audio}\n{self.image}".encode()).hexdigest()[:10]
        return f"clip-{_DOM_ID.sub('_', self.clip_id)}-{digest}"


def clip_players(task: Mapping[str, Any], origin: str) -> list[ClipPlayer]:
    """The clips of a rendered task whose audio or cover can be played or drawn now."""
    data = task.get("data")
    if not isinstance(data, list):
        return []

    def url(value: Any) -> str:
        return value.replace(PLACEHOLDER, origin) if isinstance(value, str) else ""

    return [
        ClipPlayer(str(clip.get("id", "")), str(clip.get("title", "")),
                   str(clip.get("status", "")), url(clip.get("audio_url")),
                   url(clip.get("image_url")))
        for clip in data
        if isinstance(clip, dict) and (clip.get("audio_url") or clip.get("image_url"))
    ]
