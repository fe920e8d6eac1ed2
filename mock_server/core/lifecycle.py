"""The lifecycle core: which step a task is at, and the timestamps that follow. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from mock_server.core.scenarios import Scenario

__all__ = ["STARTED", "TaskState", "reached_step", "state_of"]

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
