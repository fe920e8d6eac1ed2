"""Proof that the contract suite catches drift: green on the fake, red (naming the rule) on
servers broken one rule at a time, and red (naming the fields) on the wrong profile."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.routes import ROUTES
from mock_server import Config, create_app, profile_names
from mock_server.contract.validation import resolved_schema
from tests.broken_servers import (
    BROKEN,
    BROKEN_ROUTES,
    OTHER,
    PRIMARY,
    broken_app,
    broken_route_app,
    seed,
    serve,
    write_ids,
)

pytest_plugins = ["pytester"]

# httpx imports httpcore on first use and keeps its exception classes. An in-process pytester
# run drops the modules it imported, so a later run's fresh httpcore errors would slip past
# httpx's mapping: import it here, before any run.
importlib.import_module("httpcore")

# Few examples: these runs prove the suite can fail, not that the fake is right (the suite
# itself does that with its default example counts).
SUITE = ("--pyargs", "contract_tests", "-p", "no:cacheprovider", "--suno-max-examples", "4")


def _live(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, base_url: str,
          ids: list[str], *args: str, subprocess: bool = False) -> pytest.RunResult:
    monkeypatch.setenv("SUNO_API_KEY", PRIMARY)
    monkeypatch.setenv("SUNO_OTHER_API_KEY", OTHER)
    ids_file = write_ids(pytester.path / "task-ids.txt", ids)
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    return run(*SUITE, "--suno-target", "live", "--suno-base-url", base_url,
               "--suno-task-ids", ids_file, "--suno-rate-limit", "0", *args)


@pytest.mark.parametrize("profile", profile_names())
def test_suite_is_green_against_the_fake_in_each_profile(pytester: pytest.Pytester,
                                                         profile: str) -> None:
    result = pytester.runpytest_inprocess(*SUITE, "--suno-target", "mock",
                                          "--suno-profile", profile)
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert "skipped" not in outcomes  # on the fake every check runs, submits included
    assert outcomes["passed"] >= 30
    result.stdout.fnmatch_lines([f"target: mock (in-process fake), profile: {profile}"])


def test_suite_is_green_through_the_live_target_against_a_served_fake(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fake_server: Any
) -> None:
    """The live path (sockets, keys from the environment, task ids from a file, budgets)
    against the fake running as a real server in another process."""
    with fake_server("--clock", "manual", "--api-key", PRIMARY, "--api-key", OTHER) as base:
        ids = seed(base)
        result = _live(pytester, monkeypatch, base, ids, "--suno-allow-spend", "60", "-rs")
        journal = httpx.get(f"{base}/__mock/journal", timeout=10).json()
    assert result.ret == 0, result.stdout.str()
    assert "failed" not in result.parseoutcomes()
    # Only what a new task's clips show is left unchecked: on a manual clock no task submitted
    # over the wire ends (tests/test_suite.py's task-kind stand-ins run on poll-driven tasks).
    skipped = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert all("did not finish within 3 polls" in line for line in skipped), skipped
    assert len(skipped) == sum(row.follows_task for row in ROUTES)
    spent = [e for e in journal if e["path"].startswith(("/suno/submit/", "/suno/uploads/"))
             and e["status"] == 200]
    assert 2 + len(skipped) <= len(spent) <= 60


@pytest.mark.parametrize("name", list(BROKEN))
def test_suite_fails_on_a_broken_server_and_names_the_rule(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with serve(broken_app(name)) as base:
        result = _live(pytester, monkeypatch, base, seed(base))
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    assert "contract rule" in out
    for needle in BROKEN[name][1]:
        assert needle in out, f"{name}: the output does not name {needle!r}"


@pytest.mark.parametrize("name", list(BROKEN_ROUTES))
def test_suite_fails_on_a_broken_elkapi_route_and_names_the_rule(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The route cases catch a gateway whose timing, task kinds or clip ownership break the
    reference: read-only ones with no budget, the rest within --suno-allow-spend."""
    _wrap, needles, spends = BROKEN_ROUTES[name]
    budget = ("--suno-allow-spend", "60") if spends else ()
    with serve(broken_route_app(name)) as base:
        result = _live(pytester, monkeypatch, base, seed(base), *budget, "-k", "test_route")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    for needle in needles:
        assert needle in out, f"{name}: the output does not name {needle!r}"


def test_route_cases_pass_on_the_unbroken_stand_in(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same runs on the stand-in unbroken pass: the failures above are the breakage, not
    the setup. Only concat and upload skip what their clips show (their tasks end by time, and
    the stand-in's clock is manual); the in-process fake checks those on every run."""
    import tests.broken_servers as stand_ins

    monkeypatch.setitem(stand_ins.BROKEN_ROUTES, "unbroken", (lambda app: app, (), True))
    with serve(broken_route_app("unbroken")) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "--suno-allow-spend", "60",
                       "-k", "test_route", "-rs")
    assert result.ret == 0, result.stdout.str()
    skipped = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert len(skipped) == 2 and all("did not finish" in line for line in skipped), skipped
    assert any(": concat task" in line for line in skipped), skipped
    assert any(": upload-audio-url task" in line for line in skipped), skipped


# The fixed batches a gateway that answers a duplicated id twice must fail, in every run.
DUPLICATE_CASES = ("own-twice", "own-each-twice-in-a-row",
                   "own-twice-unknown-others-mixed-reversed")


@pytest.mark.parametrize("seed_value", ["1", "2", "3"])
def test_suite_fails_on_duplicated_answers_whatever_hypothesis_draws(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed_value: str
) -> None:
    """A gateway that answers an id asked twice with its task twice fails the suite in every
    run, at live's default example count: fixed cases ask for duplicates, so catching it does
    not wait for hypothesis to draw a duplicate of an own id (it passed 3 runs in 4 when it did)."""
    with serve(broken_app("duplicates-answered-twice")) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "--hypothesis-seed", seed_value,
                       "--suno-max-examples", "8", subprocess=True)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    assert "contract rule 'ids-no-duplicates' broken" in out
    failed = {line.split("[", 1)[1].split("]", 1)[0] for line in result.stdout.lines
              if line.startswith("FAILED") and "::test_fixed_batches_answer" in line}
    assert failed == set(DUPLICATE_CASES), out


def test_a_failing_example_is_printed_minimal(pytester: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(broken_app("unknown-ids-error")) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "-k", "nothing_matched")
    out = result.stdout.str()
    assert "unknown-ids-omitted" in out
    assert "Failing test case" in out or "Falsifying example" in out
    # Shrunk to a single id: one unknown value is all it takes to show the bug.
    example = next(line for line in result.stdout.lines if "body={'ids':" in line)
    assert example.strip().count(",") <= 1, example  # the trailing comma of the call only


def _fields(profile: str) -> tuple[list[str], set[str]]:
    schema = resolved_schema("task", profile)
    return list(schema["required"]), set(schema["properties"])


@pytest.mark.parametrize(("served", "selected"), [
    (a, b) for a in profile_names() for b in profile_names() if a != b])
def test_suite_names_the_differing_fields_when_the_profile_is_wrong(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, served: str, selected: str
) -> None:
    app = create_app(Config(
            profile=served, clock="manual", poll_interval=0, api_keys=(PRIMARY, OTHER)))
    with serve(app) as base:
        result = _live(pytester, monkeypatch, base, seed(base), "--suno-profile", selected,
                       "-k", "profile_schema")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = next(line for line in result.stdout.lines if "'task-field-set' broken" in line)
    required_selected, known_selected = _fields(selected)
    required_served, known_served = _fields(served)
    missing = [f for f in required_selected if f not in known_served]
    extra = sorted(f for f in required_served if f not in known_selected)
    assert missing or extra
    if missing:
        assert f"missing {', '.join(missing)}" in line
    for field in extra:
        assert field in line.split("not in the profile:")[1]


def test_hypothesis_seed_makes_the_generated_requests_reproducible(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bodies(seed_value: str) -> list[str]:
        # A fresh server and example database each time: only the seed is shared.
        app = create_app(Config(clock="manual", poll_interval=0, api_keys=(PRIMARY, OTHER)))
        with serve(app) as base:
            _live(pytester, monkeypatch, base, [], "--hypothesis-seed", seed_value,
                  "--suno-max-examples", "15", "-k", "bad_json_is_invalid_request",
                  subprocess=True).assert_outcomes(passed=1)
            journal = httpx.get(f"{base}/__mock/journal", timeout=10).json()
        for database in Path(pytester.path).glob(".hypothesis"):
            _rmtree(database)
        return [json.dumps(e["body"]) for e in journal]

    first, again, other = bodies("1234"), bodies("1234"), bodies("99")
    assert len(first) >= 4
    assert first == again
    assert first != other


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
