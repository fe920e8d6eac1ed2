"""Every task the target answers matches the selected profile, in every state it is in."""

from __future__ import annotations

import pytest

from contract_tests import checks
from contract_tests._suite import chunks
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


def _own_tasks(t: Target) -> list[dict[str, object]]:
    if not t.own_ids:
        pytest.skip("needs task ids of the key's owner: pass --suno-task-ids")
    tasks = []
    for ids in chunks(t.own_ids):
        tasks += checks.check_batch(t.fetch({"ids": ids}), ids, own=t.own_ids,
                                    profile=t.profile)
    return tasks


def test_tasks_and_clips_match_the_profile_schema(suno_target: Target) -> None:
    """Field set and order-free shape of each task, its clips or lyrics: the profile's."""
    for index, task in enumerate(_own_tasks(suno_target)):
        checks.check_task(task, suno_target.profile, where=f"task {index}")


def test_each_task_state_is_coherent(suno_target: Target) -> None:
    """Times in order, progress agreeing with status, results on SUCCESS, reason on FAILURE."""
    for task in _own_tasks(suno_target):
        checks.check_task_state(task)
