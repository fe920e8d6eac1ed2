"""GET /suno/fetch/{id}: the owner's task, or 400 task_not_exist."""

from __future__ import annotations

import pytest
from hypothesis import given

from contract_tests import checks, strategies
from contract_tests._suite import suite_settings
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


def test_get_answers_the_asked_task(suno_target: Target) -> None:
    """Each of the owner's tasks, fetched alone, is that task and valid for the profile."""
    t = suno_target
    if not t.own_ids:
        pytest.skip("needs task ids of the key's owner: pass --suno-task-ids")
    for task_id in t.own_ids:
        checks.check_get(t.get(task_id), task_id, t.profile)


@suite_settings()
@given(task_id=strategies.path_ids())
def test_get_unknown_id_is_task_not_exist(suno_target: Target, task_id: str) -> None:
    """An id nobody has (odd unicode, well-formed uuids): 400 task_not_exist, data null."""
    t = suno_target
    if task_id in t.own_ids:
        return
    checks.check_task_not_exist(t.get(task_id))
