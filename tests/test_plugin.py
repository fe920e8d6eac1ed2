"""The pytest plugin, black-box through pytester: options, markers, the suno_mock fixture,
budgets, rate limit, unreachable targets, the report, and keys that never show."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import pytest

from contract_tests.plugin import EXIT_TARGET_UNAVAILABLE
from mock_server import Config, create_app
from tests.broken_servers import OTHER, PRIMARY, broken_app, seed, serve, write_ids
from tests.conftest import free_port

pytest_plugins = ["pytester"]

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
    # Every test that would send a request: the 53 that need no budget (the ElkAPI routes'
    # read-only and no-key cases among them), none that spend.
    result.stdout.fnmatch_lines([
        "target unavailable: ConnectError on POST http://127.0.0.1:* (53 test(s) skipped; not a "
        "contract failure; exit status 75 if nothing failed)"])


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
