"""The lifecycle core: which step a task is at, and the timestamps that follow. Pure functions."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from mock_server.core.scenarios import Scenario

__all__ = [
    "STARTED",
    "TaskState",
    "gateway_elapsed",
    "poll_phase",
    "reached_step",
    "shown_after",
    "state_of",
    "terminal_after",
]

STARTED = frozenset({"IN_PROGRESS", "SUCCESS", "FAILURE"})


def reached_step(scenario: Scenario, elapsed: float, polls: int) -> int:
    """Index of the last step whose thresholds are met (thresholds never decrease)."""
    index = 0
    for i, step in enumerate(scenario.steps):
        if elapsed < step.after_seconds or polls < step.after_polls:
            break
        index = i
    return index


@dataclass(frozen=True)
class TaskState:
    step: int
    status: str
    progress: str
    fail_reason: str
    start_offset: float | None
    finish_offset: float | None
    changed_offset: float


def state_of(
    scenario: Scenario, elapsed: float, polls: int, forced: int | None = None
) -> TaskState:
    """The task's state; ``forced`` pins it to a step whatever the clock says."""
    index = forced if forced is not None else reached_step(scenario, elapsed, polls)
    step = scenario.steps[index]
    start = next(
        (s.after_seconds for s in scenario.steps[: index + 1] if s.status in STARTED), None
    )
    return TaskState(
        step=index,
        status=step.status,
        progress=step.progress or ("100%" if step.terminal else "0%"),
        fail_reason=step.fail_reason,
        start_offset=start,
        finish_offset=step.after_seconds if step.terminal else None,
        changed_offset=step.after_seconds,
    )


def poll_phase(task_id: str, interval: float) -> float:
    """When, within its first ``interval`` seconds, the gateway's poller first sees the task.

    The poller runs on its own timer, not the task's: a fresh task waits between 0 and one
    interval for it. Drawn from the task id, so a task keeps its phase in every worker.
    """
    if interval <= 0:
        return 0.0
    return interval * zlib.crc32(task_id.encode("utf-8", "surrogatepass")) / 2**32


def gateway_elapsed(elapsed: float, interval: float, phase: float) -> float | None:
    """The task's age when the gateway last copied the upstream's view of it; None before the
    poller's first run after the submit (the gateway still shows the row it inserted).

    new-api updates a task only when its poller runs (every 15 s), so clients see states change
    on that grid and may never see the short ones. ``interval`` 0: no grid, the upstream's view.
    """
    if interval <= 0:
        return elapsed
    if elapsed < phase:
        return None
    return phase + ((elapsed - phase) // interval) * interval


def terminal_after(scenario: Scenario, polls: int, forced: int | None = None) -> float | None:
    """The upstream age (seconds since submit) at which the task turns terminal if it is polled
    no more; None if time alone never gets it there (more polls needed, or pinned to an open
    step). Terminal states stick, so only the last step can be terminal."""
    if forced is not None:
        return 0.0 if scenario.steps[forced].terminal else None
    last = scenario.steps[-1]
    if not last.terminal or polls < last.after_polls:
        return None
    return last.after_seconds


def shown_after(threshold: float, interval: float, phase: float) -> float:
    """The first age at which a fetch shows an upstream age of ``threshold`` or more: the first
    run of the gateway's poller at or after it (``gateway_elapsed``); ``threshold`` itself when
    there is no poll grid."""
    if interval <= 0:
        return threshold
    if threshold <= phase:
        return phase
    return phase + math.ceil((threshold - phase) / interval) * interval
