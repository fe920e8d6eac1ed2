"""The pytest plugin, black-box through pytester: options, markers, the suno_mock fixture,
budgets, rate limit, unreachable targets, the report, and keys that never show."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.mock import FakePool
from contract_tests.plugin import EXIT_TARGET_UNAVAILABLE
from contract_tests.routes import ROUTES
from mock_server import Config, create_app
from tests.broken_servers import OTHER, PRIMARY, broken_app, seed, serve, write_ids
from tests.conftest import free_port

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent

# httpx imports httpcore on first use and keeps its exception classes. An in-process pytester
# run drops the modules it imported, so a later run's fresh httpcore errors would slip past
# httpx's mapping: import it here, before any run.
importlib.import_module("httpcore")

FAST = ("-p", "no:cacheprovider", "--suno-max-examples", "3")


def _live(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, base_url: str,
          ids: list[str], *args: str) -> pytest.RunResult:
    monkeypatch.setenv("SUNO_API_KEY", PRIMARY)
    monkeypatch.setenv("SUNO_OTHER_API_KEY", OTHER)
    return pytester.runpytest_inprocess(
        "--pyargs", "contract_tests", *FAST, "--suno-target", "live", "--suno-base-url",
        base_url, "--suno-task-ids", write_ids(pytester.path / "ids.txt", ids),
        "--suno-rate-limit", "0", *args)


def _fake() -> Any:
    return create_app(Config(clock="manual", poll_interval=0, api_keys=(PRIMARY, OTHER)))


def _could_spend(journal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Submits sent with a valid key and a JSON body: the ones that could create a task."""
    def is_json(body: str | None) -> bool:
        try:
            json.loads(body or "")
        except ValueError:
            return False
        return True

    return [e for e in journal if e["path"].startswith("/suno/submit/") and e["owner"]
            and is_json(e["body"])]


# options and markers -------------------------------------------------------------------------
def test_the_options_form_one_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    out = result.stdout.str()
    group = out[out.index("Suno contract suite and fake:"):]
    for option in ("--suno-target", "--suno-base-url", "--suno-api-key-env",
                   "--suno-profile", "--suno-task-ids", "--suno-allow-spend",
                   "--suno-rate-limit"):
        assert option in group.split("\n\n")[0], option


def test_the_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.suno_spend
        @pytest.mark.suno_mock(profile="newapi-2026")
        def test_marked():
            pass
    """)
    result = pytester.runpytest_inprocess("--strict-markers", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.suno_contract:*", "@pytest.mark.suno_spend:*",
                                 "@pytest.mark.suno_mock(profile=None, scenario=None, *"])
    pytester.runpytest_inprocess("--strict-markers").assert_outcomes(passed=1)


def test_live_without_a_base_url_or_key_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUNO_API_KEY", raising=False)
    result = pytester.runpytest_inprocess("--suno-target", "live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--suno-target live needs --suno-base-url*"])
    result = pytester.runpytest_inprocess("--suno-target", "live", "--suno-base-url",
                                          "http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*reads the key from $SUNO_API_KEY, which is not set*"])


# the suno_mock fixture -----------------------------------------------------------------------
FIXTURE_TESTS = """
    import httpx
    import pytest

    def test_tasks_follow_the_manual_clock(suno_mock):
        task_id = suno_mock.create_task("music_success")
        fetch = lambda: suno_mock.client.get(f"/suno/fetch/{task_id}").json()["data"]
        assert fetch()["status"] == "NOT_START"
        suno_mock.advance(40)
        assert fetch()["status"] == "IN_PROGRESS"
        suno_mock.advance(200)
        assert fetch()["status"] == "SUCCESS"
        assert [e["status"] for e in suno_mock.journal()] == [200, 200, 200]

    def test_nothing_leaks_from_the_previous_test(suno_mock):
        assert suno_mock.tasks() == [] and suno_mock.journal() == []

    def test_force_step_pins_a_task(suno_mock):
        task_id = suno_mock.create_task("music_failure")
        suno_mock.force_step(task_id, "error")
        body = suno_mock.client.post("/suno/fetch", json={"ids": [task_id]}).json()
        assert body["data"][0]["status"] == "FAILURE"

    def test_other_keys_own_other_tasks(suno_mock):
        task_id = suno_mock.create_task(api_key="sk-someone-else")
        assert suno_mock.client.get(f"/suno/fetch/{task_id}").status_code == 400

    def test_url_serves_the_same_fake_on_a_socket(suno_mock):
        assert suno_mock.url.startswith("http://127.0.0.1:")
        answer = httpx.post(suno_mock.url + "/suno/submit/music", json={"prompt": "hi"},
                            headers={"Authorization": f"Bearer {suno_mock.api_key}"})
        assert answer.status_code == 200
        assert suno_mock.tasks()[0]["task_id"] == answer.json()["data"]

    @pytest.mark.suno_mock(profile="newapi-2026", scenario="music_failure")
    def test_the_marker_sets_profile_and_default_scenario(suno_mock):
        task_id = suno_mock.client.post("/suno/submit/music", json={}).json()["data"]
        assert task_id.startswith("task_")
        suno_mock.advance(60)
        task = suno_mock.client.get(f"/suno/fetch/{task_id}").json()["data"]
        assert task["status"] == "FAILURE" and "platform" in task

    def test_profile_comes_from_config_fixture_or_marker(suno_mock, request):
        expected = request.config.getoption("--suno-profile") or "newapi-2025"
        assert suno_mock.profile == expected

    @pytest.mark.suno_mock(profile="elkapi")
    def test_marker_beats_the_config_fixture(suno_mock, request):
        expected = request.config.getoption("--suno-profile") or "elkapi"
        assert suno_mock.profile == expected
"""

CONFTEST = """
    import pytest

    @pytest.fixture
    def suno_mock_config():
        return {"profile": "newapi-2025"}
"""


def test_the_suno_mock_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fixture=FIXTURE_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    assert "suno-contract:" not in result.stdout.str()  # a user's own run: no suite report
    assert "- suno-contract -" not in result.stdout.str()


def test_the_command_line_profile_beats_marker_and_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fixture=FIXTURE_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--suno-profile",
                                          "newapi-2026", "-k", "profile or marker_beats")
    result.assert_outcomes(passed=3)


def test_the_suno_mock_fixture_is_isolated_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fixture=FIXTURE_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=8)


# Two tests in order, on one pooled app: the first leaves every kind of state behind, the
# second must see none of it. FIRST records what it saw so that the second can also check that
# the app was the same one (else isolation would prove nothing about the reset).
ISOLATION_TESTS = """
    import httpx
    import pytest

    from contract_tests import SunoMock

    TASK_ID = "1c2d3e4f-0a1b-4c2d-8e3f-405162738495"
    FIRST = {}

    def test_first_leaves_everything_behind(suno_mock):
        FIRST.update(app=suno_mock.app, url=suno_mock.url)
        suno_mock.create_task("music_success", task_id=TASK_ID, step="complete",
                              request={"title": "First"})
        assert suno_mock.client.get(f"/suno/fetch/{TASK_ID}").json()["data"]["data"][0][
            "title"] == "First"
        suno_mock.client.post("/suno/submit/music", json={"prompt": "first"},
                              headers={"X-Mock-Namespace": "ci-1"})
        httpx.post(suno_mock.url + "/suno/submit/music", json={"prompt": "by socket"},
                   headers={"Authorization": f"Bearer {suno_mock.api_key}"})
        suno_mock.advance(1000)
        suno_mock.admin("POST", "/clock/speed", {"speed": 50})
        suno_mock.add_fault("status", status=503)
        suno_mock.admin("POST", "/faults", {"fault": "status", "status": 500})
        assert len(suno_mock.journal()) == 2 and len(suno_mock.faults()) == 2

    def test_second_sees_nothing_of_the_first(suno_mock):
        assert suno_mock.app is FIRST["app"] and suno_mock.url == FIRST["url"]  # the same app
        with SunoMock() as fresh:
            assert suno_mock.admin("GET", "/clock") == fresh.admin("GET", "/clock")
        assert suno_mock.tasks() == [] and suno_mock.journal() == []
        assert suno_mock.faults() == []
        assert suno_mock.admin("GET", "/tasks") == []
        other = {"X-Mock-Namespace": "ci-1"}
        assert suno_mock.client.get("/__mock/tasks", headers=other).json() == []
        # The same id, seeded again, shows this test's task, not what the first one rendered.
        suno_mock.create_task("music_success", task_id=TASK_ID, step="complete",
                              request={"title": "Second"})
        answer = httpx.get(f"{suno_mock.url}/suno/fetch/{TASK_ID}",
                           headers={"Authorization": f"Bearer {suno_mock.api_key}"})
        assert answer.status_code == 200 and answer.json()["data"]["data"][0]["title"] == \\
            "Second"
        assert [entry["path"] for entry in suno_mock.journal()] == [f"/suno/fetch/{TASK_ID}"]
        # A new task is as old as a fresh clock says, through the fast path too.
        task_id = suno_mock.create_task("music_success")
        assert suno_mock.client.get(f"/suno/fetch/{task_id}").json()["data"]["status"] == \\
            "NOT_START"
"""


@pytest.mark.parametrize("marker", ["", '@pytest.mark.suno_mock(profile="elkapi", '
                                        'scenario="music_instant", journal_size=50)'])
def test_a_test_sees_nothing_of_the_test_before(pytester: pytest.Pytester, marker: str) -> None:
    # With and without settings of its own: a marker's settings get an app of their own, shared
    # by every test that asks for the same ones.
    module = ISOLATION_TESTS.replace("\n    def test_", f"\n    {marker}\n    def test_")
    pytester.makepyfile(test_isolation=module)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


SEEDED = """
    import pytest

    TASK_ID = "1c2d3e4f-0a1b-4c2d-8e3f-405162738495"

    @pytest.mark.suno_mock(seed=SEED)
    def test_a_seeded_task_is_there(suno_mock):
        assert [task["task_id"] for task in suno_mock.tasks()] == [TASK_ID]
        suno_mock.create_task("music_success")

    @pytest.mark.suno_mock(seed=SEED)
    def test_and_there_again_alone(suno_mock):
        assert [task["task_id"] for task in suno_mock.tasks()] == [TASK_ID]
"""


def test_each_test_starts_with_the_seed_file(pytester: pytest.Pytester) -> None:
    seed_file = pytester.path / "seed.json"
    seed_file.write_text(json.dumps({"tasks": [
        {"task_id": "1c2d3e4f-0a1b-4c2d-8e3f-405162738495", "api_key": "sk-suno-mock-test-key",
         "scenario": "music_success"}]}))
    pytester.makepyfile(test_seeded=SEEDED.replace("SEED", repr(str(seed_file))))
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_pooled_app_is_rebuilt_when_its_scenario_files_change(tmp_path: Path) -> None:
    pool = FakePool()
    try:
        first = pool.mock(fixtures=[tmp_path])
        first.close()
        again = pool.mock(fixtures=[tmp_path])
        assert again.app is first.app  # the same settings: the same app
        again.close()
        scenario = json.loads((ROOT / "fixtures/scenarios/music_instant.json").read_text())
        (tmp_path / "mine.json").write_text(json.dumps({**scenario, "name": "mine"}))
        changed = pool.mock(fixtures=[tmp_path])
        assert changed.app is not first.app
        assert changed.tasks() == [] and changed.create_task("mine")
        changed.close()
    finally:
        pool.close()


def test_the_pool_closes_the_least_recently_used_app(tmp_path: Path) -> None:
    pool = FakePool(size=1)
    try:
        old = pool.mock()
        url = old.url
        old.close()
        assert httpx.get(f"{url}/__mock/clock").status_code == 200
        pool.mock(profile="newapi-2026").close()  # one app too many: the older one goes
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/__mock/clock")
    finally:
        pool.close()


ASYNC_TESTS = """
    import asyncio

    import pytest

    @pytest.mark.anyio
    async def test_an_async_client_reaches_the_same_fake(suno_mock):
        async with suno_mock.async_client(headers={"X-Trace": "1"}) as client:
            answer = await client.post("/suno/submit/music", json={"prompt": "x"})
            task_id = answer.json()["data"]
            suno_mock.advance(600)
            task = (await client.get(f"/suno/fetch/{task_id}")).json()["data"]
        assert task["status"] == "SUCCESS"
        assert [task["task_id"] for task in suno_mock.tasks()] == [task_id]
        assert [entry["path"] for entry in suno_mock.journal()] == [
            "/suno/submit/music", f"/suno/fetch/{task_id}"]

    @pytest.mark.anyio
    async def test_a_slow_answer_does_not_hold_the_event_loop(suno_mock):
        suno_mock.add_fault("latency", seconds=5, times=1)
        async with suno_mock.async_client() as client:
            slow = asyncio.ensure_future(client.post("/suno/submit/music", json={}))
            for _ in range(500):  # until the slow one has taken the fault (a thread starts)
                await asyncio.sleep(0.01)
                if suno_mock.faults()[0]["fired"]:
                    break
            fast = await client.post("/suno/submit/music", json={})
            assert fast.status_code == 200 and not slow.done()
            suno_mock.clear_faults()  # cuts the latency short
            assert (await slow).status_code == 200
"""


def test_the_async_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_async=ASYNC_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


# spending, rate limit, availability -----------------------------------------------------------
def test_live_submits_are_skipped_without_a_budget(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = _fake()
    with serve(app) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "-rs", "-k", "submit")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*SKIPPED*submits spend credits on the live API: pass "
                                 "--suno-allow-spend N*"])
    assert result.parseoutcomes()["skipped"] == 4
    assert _could_spend(app.extensions["suno_mock"].store.journal("")) == []


@pytest.mark.parametrize("workers", [0, 2])
def test_live_never_submits_more_than_the_budget(pytester: pytest.Pytester,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 workers: int) -> None:
    app = _fake()
    xml = pytester.path / "report.xml"
    with serve(app) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "--suno-allow-spend", "3",
                       "-k", "submit", f"--junitxml={xml}",
                       *(("-n", str(workers)) if workers else ()))
    assert "failed" not in result.parseoutcomes(), result.stdout.str()
    spent = _could_spend(app.extensions["suno_mock"].store.journal(""))
    assert 1 <= len(spent) <= 3
    # The report says what ran also when xdist workers ran it.
    assert '<property name="suno_target" value="live" />' in xml.read_text("utf-8")


def test_the_rate_limit_paces_requests_to_live(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    app = _fake()
    with serve(app) as base:
        ids = seed(base)[:6]
        started = time.monotonic()
        result = _live(pytester, monkeypatch, base, ids, "-k", "get_answers_the_asked_task",
                       "--suno-rate-limit", "10")
        elapsed = time.monotonic() - started
    result.assert_outcomes(passed=1)
    assert len(app.extensions["suno_mock"].store.journal("")) == 6
    assert elapsed >= 0.5  # six requests at ten per second: five gaps of 0.1 s at least


def test_retry_after_on_429_is_honoured(pytester: pytest.Pytester,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app = _fake()
    answered = {"count": 0}

    def every_other_is_429(environ: dict[str, Any], start_response: Any) -> Any:
        answered["count"] += 1
        if environ["PATH_INFO"].startswith("/suno/") and answered["count"] % 2:
            start_response("429 Too Many Requests", [("Retry-After", "0")])
            return [b""]
        return app(environ, start_response)

    with serve(every_other_is_429) as base:
        ids = seed(base)[:3]
        result = _live(pytester, monkeypatch, base, ids, "-k", "get_answers_the_asked_task")
    result.assert_outcomes(passed=1)


def test_an_unreachable_target_is_not_a_contract_failure(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = _live(pytester, monkeypatch, nobody, ["some-task"], "-rs")
    assert result.ret == EXIT_TARGET_UNAVAILABLE
    outcomes = result.parseoutcomes()
    assert "failed" not in outcomes and "passed" not in outcomes
    # Every test that would send a request is skipped and counted: those that need no budget
    # (the ElkAPI routes' read-only and no-key cases among them), none that spend.
    result.stdout.fnmatch_lines([
        "target unavailable: ConnectError on POST http://127.0.0.1:* (* test(s) skipped; not a "
        "contract failure; exit status 75 if nothing failed)"])
    line = next(x for x in result.stdout.lines if x.startswith("target unavailable:"))
    counted = int(line.split("(", 1)[1].split(" ", 1)[0])
    no_key = len(ROUTES)  # each route's no-key case needs no budget
    unavailable = sum(int(x.split("[", 1)[1].split("]", 1)[0]) for x in result.stdout.lines
                      if x.startswith("SKIPPED [") and "target unavailable" in x)
    assert counted == unavailable and counted >= 43 + no_key


def test_a_contract_failure_stays_a_failure(pytester: pytest.Pytester,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(broken_app("missing-field")) as base:
        result = _live(pytester, monkeypatch, base, seed(base))
    assert result.ret == pytest.ExitCode.TESTS_FAILED


# the report ----------------------------------------------------------------------------------
def test_the_report_names_target_and_profile(pytester: pytest.Pytester) -> None:
    xml = pytester.path / "report.xml"
    result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *FAST, "-k", "envelope",
                                          "--suno-profile", "newapi-2026", f"--junitxml={xml}")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "suno-contract: target: mock (in-process fake), profile: newapi-2026",
        "*- suno-contract -*",
        "target: mock (in-process fake), profile: newapi-2026",
    ])
    report = xml.read_text("utf-8")
    assert '<property name="suno_target" value="mock" />' in report
    assert '<property name="suno_profile" value="newapi-2026" />' in report


def test_the_key_never_shows(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing live run with every verbosity knob up: no key in the output or the XML."""
    xml = pytester.path / "report.xml"
    with serve(broken_app("missing-field")) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "-l", "-vv", "-rA",
                       "--tb=long", f"--junitxml={xml}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    seen = result.stdout.str() + result.stderr.str() + xml.read_text("utf-8")
    assert '<property name="suno_target" value="live" />' in seen
    for key in (PRIMARY, OTHER):
        assert key not in seen
        assert key.removeprefix("sk-") not in seen


def test_the_public_names_are_what_we_mean() -> None:
    import contract_tests

    assert contract_tests.__all__ == [
        "RULES", "Client", "ContractViolation", "LiveTarget", "MockAdminError", "MockTarget",
        "Observation", "SpendBudgetExceeded", "SuiteOptions", "SunoMock", "Target",
        "TargetUnavailable",
    ]
    assert all(getattr(contract_tests, name, None) is not None
               for name in contract_tests.__all__)
