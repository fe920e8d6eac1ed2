"""POST /suno/submit/{action}. Marked ``suno_spend``: against live these run only within
``--suno-allow-spend N``, and the suite never sends more than N submits."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from contract_tests import checks, strategies
from contract_tests._suite import given_within_budget
from contract_tests.targets import Target
from mock_server.core.actions import NEWAPI_ACTIONS

pytestmark = [pytest.mark.suno_contract, pytest.mark.suno_spend]

BODIES = {
    "music": {"prompt": "[Verse]\nA short contract check", "mv": "chirp-v3-5",
              "title": "suno-contract-kit check", "tags": "test"},
    "lyrics": {"prompt": "a short song about contract tests"},
}


def _fetch_new(t: Target, task_id: str) -> dict[str, Any]:
    # The gateway inserts the row after answering, so the first read may race it.
    obs = t.get(task_id)
    for _ in range(2):
        if obs.status != 400:
            break
        obs = t.get(task_id)
    return checks.check_get(obs, task_id, t.profile)


@pytest.mark.parametrize("action", ["music", "lyrics"])
def test_submit_returns_a_task_id_that_can_be_fetched(suno_target: Target, action: str) -> None:
    """An accepted submit answers the new task id; the task is then the caller's."""
    t = suno_target
    if t.spend_remaining() == 0:
        pytest.skip("the spend budget is used up")
    task_id = checks.check_submit_accepted(t.submit(action, BODIES[action]))
    task = _fetch_new(t, task_id)
    checks.check_task_state(task)


def test_submit_accepts_schema_valid_bodies(suno_target: Target) -> None:
    """Bodies generated from submit-request (strict form) are all accepted."""
    t = suno_target
    bodies = st.sampled_from(list(NEWAPI_ACTIONS)).flatmap(
        lambda action: st.tuples(st.just(action), strategies.submit_bodies(action)))

    def run(case: tuple[str, dict[str, Any]]) -> None:
        action, body = case
        task_id = checks.check_submit_accepted(t.submit(action, body))
        checks.check_get(t.get(task_id), task_id, t.profile)

    given_within_budget(t, bodies, run)


def test_submit_rejects_invalid_bodies(suno_target: Target) -> None:
    """Wrongly typed fields, non-objects, LYRICS without a prompt: 400 invalid_request."""
    t = suno_target
    bodies = st.sampled_from(list(NEWAPI_ACTIONS)).flatmap(
        lambda action: st.tuples(st.just(action), strategies.invalid_submit_bodies(action)))

    def run(case: tuple[str, Any]) -> None:
        action, body = case
        checks.check_invalid_request(t.submit(action, body), "invalid-body-rejected")

    given_within_budget(t, bodies, run)
