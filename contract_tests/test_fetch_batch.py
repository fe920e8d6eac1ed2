"""POST /suno/fetch: which tasks a batch answers, for ids drawn by hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_tests import checks, strategies
from contract_tests._suite import suite_settings
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


@suite_settings()
@given(data=st.data())
def test_batch_answers_exactly_the_callers_asked_tasks(suno_target: Target, data: Any) -> None:
    """Ids mixing the caller's, another owner's, unknown, duplicated and non-string values:
    only the caller's asked tasks come back, once each, each valid for the profile."""
    t = suno_target
    body = data.draw(strategies.fetch_bodies(t.own_ids, t.other_ids), label="body")
    checks.check_batch(t.fetch(body), body.get("ids"), own=t.own_ids, foreign=t.other_ids,
                       profile=t.profile)


@pytest.mark.parametrize("body", [{}, {"ids": None}, {"ids": []}, {"ids": [], "action": "MUSIC"}],
                         ids=["no-ids", "null", "empty", "empty-with-action"])
def test_empty_ids_give_empty_list(suno_target: Target, body: dict[str, Any]) -> None:
    """No ids to look up: data is [] (not null)."""
    t = suno_target
    checks.check_batch(t.fetch(body), body.get("ids"), own=t.own_ids, profile=t.profile)


@suite_settings()
@given(body=strategies.fetch_bodies().filter(lambda b: bool(b.get("ids"))))
def test_nothing_matched_gives_null(suno_target: Target, body: dict[str, Any]) -> None:
    """Ids of which none is the caller's: data is null (not [])."""
    t = suno_target
    checks.check_batch(t.fetch(body), body["ids"], own=t.own_ids, profile=t.profile)


@suite_settings()
@given(data=st.data())
def test_other_owners_tasks_are_invisible(suno_target: Target, data: Any) -> None:
    """Asked with another user's key, the owner's tasks are neither listed nor fetchable."""
    t = suno_target
    if not t.has_other_key:
        pytest.skip("needs a key of another user: set the variable --suno-other-api-key-env "
                    "names (default SUNO_OTHER_API_KEY)")
    if not t.own_ids:
        pytest.skip("needs task ids of the key's owner: pass --suno-task-ids")
    body = data.draw(strategies.fetch_bodies(t.other_ids, t.own_ids), label="body")
    checks.check_batch(t.fetch(body, key="other"), body.get("ids"), own=t.other_ids,
                       foreign=t.own_ids, profile=t.profile)
    task_id = data.draw(st.sampled_from(t.own_ids), label="single")
    checks.check_task_not_exist(t.get(task_id, key="other"), rule="other-owners-invisible")
