"""POST /suno/fetch: which tasks a batch answers, in fixed cases and for ids drawn by hypothesis.

The fixed cases run on every target in every run, so each batch rule is checked whatever
hypothesis draws (a gateway that answers a duplicated id twice is caught every time, not when a
draw happens to repeat an own id); the hypothesis tests explore beyond them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract_tests import checks, strategies
from contract_tests._suite import NO_SUCH_TASK, own_ids, suite_settings
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract

# How many of the owner's (and the other owner's) ids a fixed case asks for: doubled and mixed
# with the rest, a case stays well under the batch size every gateway takes.
FIXED = 10
# An id in the uuid format that no task has (NO_SUCH_TASK is in no profile's id format).
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"
# JSON values that are not strings: ids are Go's []any, so they bind, and they never match.
NOT_STRINGS: list[Any] = [123456789, 2.5, True, None]

Case = Callable[[list[str], list[str]], list[Any]]


def _interleave(first: list[Any], second: list[Any]) -> list[Any]:
    """first[0], second[0], first[1], second[1], ..., then the rest of the longer list."""
    out: list[Any] = []
    for index in range(max(len(first), len(second))):
        out += first[index : index + 1] + second[index : index + 1]
    return out


# Batches asked with the caller's key: (caller's ids, another owner's ids) -> the ids to ask.
# Another owner's ids are known on the fake only; against live those cases ask the rest.
FIXED_BATCHES: dict[str, Case] = {
    "own": lambda own, others: own,
    "own-reversed": lambda own, others: own[::-1],
    "own-twice": lambda own, others: [*own, *own],
    "own-each-twice-in-a-row": lambda own, others: [i for i in own for _ in range(2)],
    "own-unknown-others-mixed": lambda own, others: _interleave(
        own, [NO_SUCH_TASK, *others, UNKNOWN_UUID]),
    "own-twice-unknown-others-mixed-reversed": lambda own, others: _interleave(
        [*own, *own], [NO_SUCH_TASK, *others, UNKNOWN_UUID, *others])[::-1],
    "own-and-not-strings": lambda own, others: _interleave(own, NOT_STRINGS),
    "unknown-others-not-strings": lambda own, others: [
        NO_SUCH_TASK, NO_SUCH_TASK, *others, *others, UNKNOWN_UUID, *NOT_STRINGS],
}

# Batches asked with another owner's key: (the first owner's ids, that owner's own ids).
OTHER_KEY_BATCHES: dict[str, Case] = {
    "first-owners-ids": lambda first, mine: first,
    "first-owners-ids-twice-mixed-with-own": lambda first, mine: _interleave(
        [*first, *first], [*mine, *mine]),
}


@pytest.mark.parametrize("case", list(FIXED_BATCHES))
def test_fixed_batches_answer_exactly_the_callers_asked_tasks(
    suno_target: Target, case: str
) -> None:
    """The caller's ids duplicated, reversed, mixed with unknown ids, another owner's ids and
    values that are not strings: only the caller's asked tasks come back, once each."""
    t = suno_target
    own = own_ids(t, min(FIXED, len(t.own_ids) or 1))
    ids = FIXED_BATCHES[case](own, list(t.other_ids[:FIXED]))
    checks.check_batch(t.fetch({"ids": ids}), ids, own=t.own_ids, foreign=t.other_ids,
                       profile=t.profile)


def _other_key(t: Target) -> list[str]:
    if not t.has_other_key:
        pytest.skip("needs a key of another user: set the variable --suno-other-api-key-env "
                    "names (default SUNO_OTHER_API_KEY)")
    return own_ids(t, min(FIXED, len(t.own_ids) or 1))


@pytest.mark.parametrize("case", list(OTHER_KEY_BATCHES))
def test_fixed_batches_of_another_owner_leave_the_first_owners_tasks_out(
    suno_target: Target, case: str
) -> None:
    """Asked with another user's key, the owner's ids (twice, mixed with that user's own)
    answer none of the owner's tasks."""
    t = suno_target
    ids = OTHER_KEY_BATCHES[case](_other_key(t), list(t.other_ids[:FIXED]))
    checks.check_batch(t.fetch({"ids": ids}, key="other"), ids, own=t.other_ids,
                       foreign=t.own_ids, profile=t.profile)


def test_another_owner_cannot_get_the_owners_tasks(suno_target: Target) -> None:
    """Asked with another user's key, GET of the owner's ids is 400 task_not_exist."""
    t = suno_target
    for task_id in _other_key(t)[:3]:
        checks.check_task_not_exist(t.get(task_id, key="other"), rule="other-owners-invisible")


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
