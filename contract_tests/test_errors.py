"""Bodies the gateway cannot bind, and requests without a valid key."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from contract_tests import checks, strategies
from contract_tests._suite import suite_settings
from contract_tests.targets import Target

pytestmark = pytest.mark.suno_contract


@suite_settings()
@given(body=strategies.bad_json("fetch-request"))
def test_bad_json_is_invalid_request(suno_target: Target, body: bytes) -> None:
    """A fetch body that is not JSON (cut short, or any text): 400 invalid_request."""
    checks.check_invalid_request(suno_target.fetch_raw(body))


@suite_settings()
@given(body=strategies.invalid_fetch_bodies())
def test_wrongly_typed_body_is_invalid_request(suno_target: Target, body: Any) -> None:
    """JSON that is not a fetch request (wrong field types, not an object): 400
    invalid_request."""
    checks.check_invalid_request(suno_target.fetch(body), "invalid-body-rejected")


@pytest.mark.parametrize("endpoint", ["batch", "single"])
def test_missing_key_is_401(suno_target: Target, endpoint: str) -> None:
    """No Authorization header: 401 in the gateway's {error: {...}} envelope."""
    t = suno_target
    obs = t.fetch({"ids": []}, key="none") if endpoint == "batch" else t.get("x", key="none")
    checks.check_auth_rejected(obs, "missing-key-401")


@pytest.mark.parametrize("endpoint", ["batch", "single"])
def test_wrong_key_is_401(suno_target: Target, endpoint: str) -> None:
    """A key no gateway issued: 401 in the gateway's {error: {...}} envelope."""
    t = suno_target
    obs = (t.fetch({"ids": []}, key="invalid") if endpoint == "batch"
           else t.get("x", key="invalid"))
    checks.check_auth_rejected(obs, "wrong-key-401")
