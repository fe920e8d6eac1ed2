"""Envelope shape and status code, one request per case."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contract_tests import checks
from contract_tests._suite import NO_SUCH_TASK, own_ids
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


def _batch_no_ids(t: Target) -> None:
    checks.check_batch(t.fetch({"ids": []}), [], own=t.own_ids, profile=t.profile)


def _batch_own(t: Target) -> None:
    ids = own_ids(t, min(2, len(t.own_ids) or 1))
    checks.check_batch(t.fetch({"ids": ids}), ids, own=t.own_ids, profile=t.profile)


def _batch_unknown(t: Target) -> None:
    checks.check_batch(t.fetch({"ids": [NO_SUCH_TASK]}), [NO_SUCH_TASK], own=t.own_ids,
                       profile=t.profile)


def _get_own(t: Target) -> None:
    (task_id,) = own_ids(t)
    checks.check_get(t.get(task_id), task_id, t.profile)


def _get_unknown(t: Target) -> None:
    checks.check_task_not_exist(t.get(NO_SUCH_TASK))


def _fetch_bad_json(t: Target) -> None:
    checks.check_invalid_request(t.fetch_raw(b"{not json"))


def _fetch_wrong_type(t: Target) -> None:
    checks.check_invalid_request(t.fetch({"ids": "not-a-list"}), "invalid-body-rejected")


def _submit_bad_json(t: Target) -> None:
    # Not JSON, so the gateway refuses it before any upstream call: it cannot spend.
    checks.check_invalid_request(t.submit("music", content=b"{not json"))


def _auth(key: str, send: Callable[[Target, str], object]) -> Callable[[Target], None]:
    rule = "missing-key-401" if key == "none" else "wrong-key-401"

    def case(t: Target) -> None:
        obs = send(t, key)
        assert isinstance(obs, checks.Observation)
        checks.check_auth_rejected(obs, rule)

    return case


CASES: dict[str, Callable[[Target], None]] = {
    "batch-no-ids-200-empty-list": _batch_no_ids,
    "batch-own-ids-200-tasks": _batch_own,
    "batch-unknown-ids-200-null": _batch_unknown,
    "get-own-id-200-task": _get_own,
    "get-unknown-id-400-task_not_exist": _get_unknown,
    "fetch-bad-json-400-invalid_request": _fetch_bad_json,
    "fetch-wrong-type-400-invalid_request": _fetch_wrong_type,
    "submit-bad-json-400-invalid_request": _submit_bad_json,
    "fetch-no-key-401": _auth("none", lambda t, k: t.fetch({"ids": []}, key=k)),
    "fetch-wrong-key-401": _auth("invalid", lambda t, k: t.fetch({"ids": []}, key=k)),
    "get-no-key-401": _auth("none", lambda t, k: t.get(NO_SUCH_TASK, key=k)),
    "get-wrong-key-401": _auth("invalid", lambda t, k: t.get(NO_SUCH_TASK, key=k)),
    # A body that is not JSON: even a gateway that let the key through could not spend.
    "submit-no-key-401": _auth("none", lambda t, k: t.submit("music", content=b"{", key=k)),
    "submit-wrong-key-401": _auth("invalid",
                                  lambda t, k: t.submit("music", content=b"{", key=k)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_envelope_and_status_per_case(suno_target: Target, case: str) -> None:
    """Each kind of request gets its documented status code and envelope."""
    CASES[case](suno_target)
