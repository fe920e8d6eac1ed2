"""pytest plugin: the contract suite's options and target, the ``suno_mock`` fixture, the report.

Precedence, as in pytest-recording: ``suno_mock_config`` fixture < ``suno_mock`` marker <
command line (``--suno-profile`` re-runs every fake under another API version).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mock_server.contract.profiles import profile_names

from .mock import FakePool, SunoMock
from .targets import SuiteOptions, Target, build_target, parse_task_ids, public_url

__all__ = ["EXIT_TARGET_UNAVAILABLE", "HYPOTHESIS_PROFILE"]

#: exit status when nothing failed but the target could not be reached (sysexits EX_TEMPFAIL)
EXIT_TARGET_UNAVAILABLE = 75
#: hypothesis settings profile the suite's tests use (registered at configure time)
HYPOTHESIS_PROFILE = "suno-contract"
_EXAMPLES = {"mock": 25, "live": 8}
_LIVE_RATE_LIMIT = 2.0
_MARKERS = (
    "suno_contract: a test of the Suno contract suite (runs against --suno-target)",
    "suno_spend: the test submits tasks; against live it runs only within --suno-allow-spend",
    "suno_mock(profile=None, scenario=None, api_key=None, **config): options of this test's "
    "suno_mock fake (profile, default scenario, key, mock_server.Config fields)",
)


@dataclass
class _State:
    options: SuiteOptions
    explicit: bool
    spend_share: int
    rate_share: float | None
    suite_ran: bool = False
    unavailable: list[str] = field(default_factory=list)


_STATE = pytest.StashKey[_State]()
_REPORT_NAME = "suno-contract-report"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("suno-contract", "Suno contract suite and fake")
    group.addoption("--suno-target", choices=("mock", "live"), default=None,
                    help="run the contract suite against the in-process fake (default) or a "
                         "live gateway")
    group.addoption("--suno-base-url", default=None, help="base URL of the live gateway")
    group.addoption("--suno-api-key-env", default="SUNO_API_KEY", metavar="NAME",
                    help="environment variable holding the live key (default SUNO_API_KEY); "
                         "the key itself is never printed or written")
    group.addoption("--suno-other-api-key-env", default="SUNO_OTHER_API_KEY", metavar="NAME",
                    help="variable holding a key of ANOTHER user, for the visibility checks "
                         "against live (default SUNO_OTHER_API_KEY; skipped when unset)")
    group.addoption("--suno-profile", default=None, choices=profile_names(),
                    help="API version whose schemas the suite checks (default elkapi); also "
                         "overrides the profile of every suno_mock fake")
    group.addoption("--suno-task-ids", default=None, metavar="FILE|ID,ID",
                    help="live task ids of the key's owner for the read checks: a file with "
                         "one id per line, or a comma-separated list")
    group.addoption("--suno-allow-spend", type=int, default=0, metavar="N",
                    help="let the suite submit at most N tasks on live (default 0: tests "
                         "marked suno_spend are skipped)")
    group.addoption("--suno-rate-limit", type=float, default=None, metavar="REQ_PER_S",
                    help=f"requests per second to live (default {_LIVE_RATE_LIMIT}; 0: no limit)")
    group.addoption("--suno-timeout", type=float, default=30.0, metavar="SECONDS",
                    help="timeout of each request to live (default 30)")
    group.addoption("--suno-max-examples", type=int, default=None, metavar="N",
                    help=f"hypothesis examples per suite test (default {_EXAMPLES['mock']} on "
                         f"mock, {_EXAMPLES['live']} on live)")


def _options(config: pytest.Config) -> SuiteOptions:
    target = config.getoption("--suno-target") or "mock"
    rate = config.getoption("--suno-rate-limit")
    if rate is None:
        rate = _LIVE_RATE_LIMIT if target == "live" else 0.0
    return SuiteOptions(
        target=target,
        profile=config.getoption("--suno-profile") or "elkapi",
        base_url=config.getoption("--suno-base-url"),
        api_key_env=config.getoption("--suno-api-key-env"),
        other_api_key_env=config.getoption("--suno-other-api-key-env"),
        task_ids=parse_task_ids(config.getoption("--suno-task-ids")),
        allow_spend=max(0, config.getoption("--suno-allow-spend")),
        rate_limit=rate or None,
        timeout=config.getoption("--suno-timeout"),
    )


def _shares(config: pytest.Config, options: SuiteOptions) -> tuple[int, float | None]:
    """This process's part of the spend budget and rate limit (xdist workers split them)."""
    worker: dict[str, Any] | None = getattr(config, "workerinput", None)
    if not worker:
        return options.allow_spend, options.rate_limit
    count, index = int(worker["workercount"]), int(str(worker["workerid"]).lstrip("gw"))
    spend = options.allow_spend // count + (1 if index < options.allow_spend % count else 0)
    rate = options.rate_limit / count if options.rate_limit else None
    return spend, rate


def _register_hypothesis_profile(config: pytest.Config, target: str) -> None:
    from hypothesis import HealthCheck, Phase, settings

    explicit = config.getoption("--suno-max-examples")
    chosen = config.getoption("--hypothesis-profile", default=None)
    base = settings.default
    assert base is not None  # hypothesis always has a current profile
    examples = explicit or (base.max_examples if chosen else _EXAMPLES[target])
    # Hypothesis' own "ci" profile (picked when CI is set) derandomizes, which would make
    # --hypothesis-seed a no-op; a seed given on the command line must choose the requests.
    seeded = config.getoption("--hypothesis-seed", default=None) is not None
    settings.register_profile(
        HYPOTHESIS_PROFILE,
        parent=base,
        derandomize=False if seeded else base.derandomize,
        max_examples=max(1, examples),
        deadline=None,  # a live gateway's latency is not the code under test
        # The explain phase re-runs a failure hundreds of times: minutes of requests to live.
        phases=[phase for phase in base.phases if phase is not Phase.explain],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large],
    )


@pytest.hookimpl(trylast=True)  # after hypothesis has loaded any --hypothesis-profile
def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    options = _options(config)
    if options.target == "live":
        if not options.base_url:
            raise pytest.UsageError("--suno-target live needs --suno-base-url")
        if not os.environ.get(options.api_key_env):
            raise pytest.UsageError(
                f"--suno-target live reads the key from ${options.api_key_env}, which is not "
                "set (name another variable with --suno-api-key-env)")
    spend, rate = _shares(config, options)
    explicit = config.getoption("--suno-target") is not None or any(
        "contract_tests" in str(arg) for arg in config.args)
    state = config.stash[_STATE] = _State(options, explicit, spend, rate)
    config.pluginmanager.register(_Report(state), _REPORT_NAME)
    _register_hypothesis_profile(config, options.target)


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


# fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def suno_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The target the contract suite checks (one per session, or per xdist worker)."""
    state = _state(request.config)
    target = build_target(state.options, spend_budget=state.spend_share,
                          rate_limit=state.rate_share)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="session")
def suno_profile(request: pytest.FixtureRequest) -> str:
    """The profile (API version) the suite checks against."""
    return _state(request.config).options.profile


@pytest.fixture
def suno_mock_config() -> dict[str, Any]:
    """Override in a conftest to set defaults for every ``suno_mock`` (profile, scenario, ...)."""
    return {}


@pytest.fixture(scope="session")
def _suno_mock_pool() -> Iterator[FakePool]:
    """The session's fakes (one per xdist worker): an app per settings, reused test after test."""
    pool = FakePool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def suno_mock(
    request: pytest.FixtureRequest,
    suno_mock_config: dict[str, Any],
    _suno_mock_pool: FakePool,
) -> Iterator[SunoMock]:
    """A fake of the Suno task API on a manual clock, fresh for this test: no task, journal
    entry, fault rule or clock change of another test shows."""
    options = dict(suno_mock_config)
    marker = request.node.get_closest_marker("suno_mock")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.suno_mock takes keyword arguments only")
        options.update(marker.kwargs)
    profile = request.config.getoption("--suno-profile")
    if profile:
        options["profile"] = profile
    mock = _suno_mock_pool.mock(**options)
    try:
        yield mock
    finally:
        mock.close()


# spending ------------------------------------------------------------------------------------
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("suno_spend") is None:
        return
    state = _state(item.config)
    if state.options.target == "live" and state.spend_share < 1:
        pytest.skip("submits spend credits on the live API: pass --suno-allow-spend N to "
                    "allow N submits")


# report --------------------------------------------------------------------------------------
def _describe(state: _State) -> list[str]:
    options = state.options
    if options.target == "mock":
        return [f"target: mock (in-process fake), profile: {options.profile}"]
    return [
        f"target: live {public_url(options.base_url or '')}, profile: {options.profile}",
        f"key from ${options.api_key_env}; {len(options.task_ids)} task id(s); spend budget "
        f"{options.allow_spend} submit(s); rate limit "
        + (f"{options.rate_limit:g} req/s" if options.rate_limit else "none"),
    ]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.explicit:
        return None
    return ["suno-contract: " + "; ".join(_describe(state))]


class _Report:
    """Per-session hooks that need the state: what ran, what was unreachable, the JUnit XML."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On an xdist controller this sees the workers' reports too.
        if "suno_contract" not in report.keywords:
            return
        self.state.suite_ran = True
        if report.skipped and "target unavailable" in str(report.longrepr):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
                report.longrepr)
            self.state.unavailable.append(str(reason).removeprefix("Skipped: "))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.state.suite_ran:
            return
        terminalreporter.write_sep("-", "suno-contract")
        for line in _describe(self.state):
            terminalreporter.write_line(line)
        if self.state.unavailable:
            terminalreporter.write_line(
                f"{self.state.unavailable[0]} ({len(self.state.unavailable)} test(s) skipped; "
                f"not a contract failure; exit status {EXIT_TARGET_UNAVAILABLE} if nothing "
                "failed)", yellow=True)

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if not state.suite_ran:
            return
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - pytest moved it: the XML lacks the properties
            xml = None
        else:
            xml = session.config.stash.get(xml_key, None)
        if xml is not None:
            xml.add_global_property("suno_target", state.options.target)
            xml.add_global_property("suno_profile", state.options.profile)
            if state.options.target == "live":
                xml.add_global_property("suno_base_url", public_url(state.options.base_url or ""))
        if state.unavailable and session.exitstatus == 0:
            session.exitstatus = EXIT_TARGET_UNAVAILABLE


def pytest_unconfigure(config: pytest.Config) -> None:
    report = config.pluginmanager.get_plugin(_REPORT_NAME)
    if report is not None:
        config.pluginmanager.unregister(report)
