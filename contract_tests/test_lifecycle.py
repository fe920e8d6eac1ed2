"""A task over repeated polls: forward only, terminal states stick."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests import checks
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


def _poll(t: Target, task_id: str, poll: int) -> dict[str, Any]:
    # Alternate the two read routes: both must tell the same story.
    if poll % 2:
        (task,) = checks.check_batch(t.fetch({"ids": [task_id]}), [task_id], own=[task_id],
                                     profile=t.profile)
        return task
    return checks.check_get(t.get(task_id), task_id, t.profile)


def test_lifecycle_over_repeated_polls(suno_target: Target) -> None:
    """Statuses move forward only, SUCCESS/FAILURE never change, times stay in order, progress
    agrees with status, SUCCESS has results and FAILURE a reason, at every poll."""
    t = suno_target
    subjects = t.lifecycle_subjects()
    if not subjects:
        pytest.skip("needs task ids of the key's owner: pass --suno-task-ids")
    history: dict[str, list[dict[str, Any]]] = {task_id: [] for task_id in subjects}
    for poll in range(t.polls):
        for task_id, seen in history.items():
            seen.append(_poll(t, task_id, poll))
            checks.check_lifecycle(seen, task_id)
        t.between_polls()
