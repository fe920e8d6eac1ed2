"""ElkAPI's routes beyond new-api, one case per row of ``contract_tests.routes.ROUTES``.

In a profile whose surface serves a route, its answer must match the row's schema and meaning
and bad input must get the reference's envelope; in a new-api profile the fake must answer as
a vanilla gateway, and a live target skips the route (it has none to check). Rows that spend
credits are marked ``suno_spend``: on live they run only within ``--suno-allow-spend``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contract_tests import checks
from contract_tests._suite import chunks
from contract_tests.routes import CLIP, NO_SUCH_CLIP, ROUTES, RouteCase, fill, path_of
from contract_tests.targets import SpendBudgetExceeded, Target

pytestmark = pytest.mark.suno_contract

_UNSET: Any = object()


def _param(row: RouteCase, case: str = "") -> Any:
    # Without a key nothing can be spent: those cases run on live whatever the budget.
    marks = [pytest.mark.suno_spend] if row.spends and case != "no-key" else []
    return pytest.param(row, case, id=f"{row.name}-{case}" if case else row.name, marks=marks)


def _bad_cases(row: RouteCase) -> list[str]:
    cases = ["no-key"]
    if row.needs == CLIP:
        cases += ["unknown-clip", "other-keys-clip"]
    if row.body is not None:
        cases += ["wrong-types"]
        if row.required:
            cases += ["missing-fields"]
    return cases


def _source(t: Target) -> tuple[str, dict[str, Any]]:
    """A finished MUSIC task of the caller's and its first clip: what the routes work on."""
    if not t.own_ids:
        pytest.skip("needs task ids of the key's owner, one a finished MUSIC task: pass "
                    "--suno-task-ids")
    for ids in chunks(t.own_ids):
        for task in checks.check_batch(t.fetch({"ids": ids}), ids, own=t.own_ids,
                                       profile=t.profile):
            clips = task.get("data")
            if (task.get("action") == "MUSIC" and task.get("status") == "SUCCESS"
                    and isinstance(clips, list) and clips and isinstance(clips[0], dict)):
                return str(task["task_id"]), clips[0]
    pytest.skip("needs a finished (SUCCESS) MUSIC task among --suno-task-ids")


def _request(t: Target, row: RouteCase, clip_id: str, task_id: str, *, body: Any = _UNSET,
             key: str = "primary") -> checks.Observation:
    path = path_of(row, clip_id, task_id)
    if body is _UNSET:
        body = _UNSET if row.body is None else fill(row.body, clip_id, task_id)
    if row.spends:
        try:
            if body is _UNSET:  # a spending GET (stems, exports): no body to send
                return t.send_spending(row.method, path, key=key)
            return t.send_spending(row.method, path, body, key=key)
        except SpendBudgetExceeded as exc:
            pytest.skip(str(exc))
    if body is _UNSET:
        return t.send(row.method, path, key=key)
    return t.send(row.method, path, json_body=body, key=key)


def _follow(t: Target, task_id: str, row: RouteCase) -> dict[str, Any]:
    """The task polled until it ends (the fake's clock moves between polls)."""
    task: dict[str, Any] = {}
    for _ in range(t.polls):
        task = checks.check_get(t.get(task_id), task_id, t.profile)
        if task.get("status") in checks.TERMINAL:
            return task
        t.between_polls()
    if t.name == "mock":
        raise checks.ContractViolation(
            "status-moves-forward", f"task {task_id} did not end within {t.polls} polls")
    pytest.skip(f"{row.name} task {task_id} did not finish within {t.polls} polls: what its clips "
                "show was not checked (its answer was)")


def _live_lacks(t: Target, row: RouteCase) -> None:
    if t.name != "mock":
        pytest.skip(f"profile {t.profile} has no {row.method} {row.path} (ElkAPI lineage only, "
                    "reference section 10): run with --suno-profile elkapi against a gateway "
                    "that serves it")


def _as_new_api(t: Target, row: RouteCase, obs: checks.Observation) -> None:
    """The fake in a new-api profile answers ``obs`` as a vanilla gateway does."""
    if row.on_newapi == "no-route":
        checks.check_no_route(obs)
    elif row.on_newapi == "no-channel":
        model = "suno_" + row.path.rstrip("/").rsplit("/", 1)[-1]
        checks.check_no_channel(obs, model)


@pytest.mark.parametrize(("row", "case"), [_param(row) for row in ROUTES])
def test_route_answers_its_schema_and_meaning(suno_target: Target, row: RouteCase,
                                              case: str) -> None:
    """Each route's answer matches its response schema and says what the reference says:
    timing aligns the clip's words within its length; a task kind's clips name their source."""
    t = suno_target
    served = t.surface in row.surfaces
    if not served:
        _live_lacks(t, row)
    task_id, clip = _source(t)
    body = None if row.body is None else fill(row.body, clip["id"], task_id)
    before = t.stored_tasks()
    obs = _request(t, row, clip["id"], task_id)
    if not served and row.on_newapi != "dropped":
        _as_new_api(t, row, obs)
        checks.check_nothing_stored(before, t.stored_tasks(), obs)
        return
    payload = checks.check_route_answer(obs, row.schema)
    if not row.follows_task:
        checks.check_route_meaning(row.meaning, payload, clip, obs=obs)
        return
    task = _follow(t, str(payload["data"]), row)
    checks.check_task_state(task)
    if served:
        checks.check_route_meaning(row.meaning, task, clip, body=body)
        return
    # new-api re-marshals the body: the task kind's keys are gone, a plain song is made.
    checks.check_keys_dropped(task, row.name)


def _bad(t: Target, row: RouteCase, case: str, clip_id: str,
         task_id: str) -> Callable[[], checks.Observation]:
    body = None if row.body is None else fill(row.body, clip_id, task_id)
    if case == "no-key":
        return lambda: _request(t, row, clip_id, task_id, key="none")
    if case == "unknown-clip":
        return lambda: _request(t, row, NO_SUCH_CLIP, task_id)
    if case == "other-keys-clip":
        if not t.has_other_key:
            pytest.skip("needs a key of another user: set SUNO_OTHER_API_KEY")
        return lambda: _request(t, row, clip_id, task_id, key="other")
    assert body is not None
    if case == "missing-fields":
        kept = {k: v for k, v in body.items() if k not in row.required}
        return lambda: _request(t, row, clip_id, task_id, body=kept)
    # Every field of another JSON type than the reference's (gin cannot bind it).
    wrong = {k: 5 if isinstance(v, str) else "5" for k, v in body.items()}
    return lambda: _request(t, row, clip_id, task_id, body=wrong)


@pytest.mark.parametrize(("row", "case"),
                         [_param(row, case) for row in ROUTES for case in _bad_cases(row)])
def test_route_refuses_bad_input_and_stores_nothing(suno_target: Target, row: RouteCase,
                                                    case: str) -> None:
    """No key: 401. Wrong types, missing fields, an unknown clip, another key's clip: 400 in
    the task envelope with the reference's code, never a 500; the fake keeps no task."""
    t = suno_target
    served = t.surface in row.surfaces
    if not served:
        _live_lacks(t, row)
    task_id, clip = _source(t) if row.needs == CLIP else ("", {"id": ""})
    send = _bad(t, row, case, str(clip["id"]), task_id)
    before = t.stored_tasks()
    obs = send()
    if not served and row.on_newapi == "no-route":
        checks.check_no_route(obs)  # gin's NoRoute answers before any auth
    elif not served and row.on_newapi == "no-channel" and case != "no-key":
        _as_new_api(t, row, obs)
    elif case == "no-key":
        checks.check_auth_rejected(obs, "missing-key-401")
    elif served:
        codes = row.foreign_codes if case == "other-keys-clip" else ("invalid_request",)
        checks.check_refused(obs, codes)
    elif obs.status >= 500:
        # new-api drops the ElkAPI keys but binds the rest: any answer but a 5xx will do.
        raise checks.ContractViolation("route-absent-on-new-api",
                                       f"HTTP {obs.status} to a body new-api binds", obs)
    if obs.status != 200 or obs.content_type.startswith("text/html"):
        checks.check_nothing_stored(before, t.stored_tasks(), obs)
