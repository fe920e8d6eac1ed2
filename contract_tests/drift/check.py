"""``suno-contract drift``: what changed in the live API, precisely, without spending credits.

Probes the target read-only (known task ids, batch and single; unknown ids; no ids; a body that
is not JSON; no key; a wrong key), compares what came back with the profile's schemas (strict
and lenient), its wire contract and the baseline of earlier runs, and writes
``drift-report.{md,json,xml,html}`` (``--history FILE`` keeps one line per run and charts it
in the HTML page). Exit code: 0 no breaking drift, 1 breaking drift, 2 the target
could not be checked (the reason is printed and in the reports).

Python API: ``run_drift(DriftOptions(...))`` runs a check; ``diff_body(payload, kind, profile)``
reads one response body (e.g. a capture) the way the check does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from mock_server.contract.profiles import Profile, load_profile, profile_names
from mock_server.core.identity import owner_of
from mock_server.errors import FixtureError

from .._progress import Progress
from .._redact import Redactor
from .baseline import (
    Baseline,
    BaselineError,
    build_baseline,
    load_baseline,
    save_baseline,
)
from .diff import diff_body as _diff_body
from .diff import diff_survey, id_formats_seen
from .history import append_history, history_entry
from .model import BREAKING, WARNING, Finding, Survey
from .observe import ObserveOptions, observe, parse_ids, utc_now, wrong_key
from .record import record
from .report import EXIT_CODES, Outcome, build_report, write_reports

__all__ = [
    "DriftOptions",
    "DriftResult",
    "Finding",
    "add_arguments",
    "diff_body",
    "main",
    "run",
    "run_drift",
]

DEFAULT_REPORT_DIR = "drift-out"


@dataclass(frozen=True)
class DriftOptions:
    """Everything one drift run needs (the CLI flags, as data)."""

    base_url: str
    task_ids: Path
    api_key_env: str = "SUNO_API_KEY"
    profile: str = "elkapi"
    baseline: Path | None = None
    update_baseline: bool = False
    report_dir: Path = Path(DEFAULT_REPORT_DIR)
    record: Path | None = None
    allow_spend: int = 0
    max_single: int = 5
    rate_limit: float | None = 2.0
    timeout: float = 30.0
    retries: int = 3
    max_retry_wait: float = 60.0
    # None: progress rewritten in place when stderr is a terminal and $CI is not true; False:
    # none; True: also a plain line per probe where stderr is not a terminal.
    progress: bool | None = None
    history: Path | None = None  # one JSON line per run appended; charted in the HTML report


@dataclass
class DriftResult:
    """The outcome of ``run_drift``."""

    exit_code: int
    status: str  # "ok", "drift", "breaking" or "unchecked"
    reason: str | None
    findings: list[Finding]
    accepted: list[Finding]
    report: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


def diff_body(payload: Any, kind: str, profile: str | Profile) -> list[Finding]:
    """Findings for one response body (``kind`` as in mock_server.contract.validation.KINDS)."""
    chosen = load_profile(profile) if isinstance(profile, str) else profile
    return _diff_body(payload, kind, chosen)


class _Setup(Exception):
    """The run cannot start (no key, unreadable ids or baseline); exit 2 with the reason."""


def _prepare(
    options: DriftOptions, env: Mapping[str, str]
) -> tuple[str, Profile, tuple[str, ...], Baseline | None]:
    if not options.base_url.startswith(("http://", "https://")):
        raise _Setup(f"--base-url must be an http(s) URL, not {options.base_url!r}")
    key = env.get(options.api_key_env, "").strip()
    if not key:
        raise _Setup(f"the environment variable ${options.api_key_env} (the API key) is not set")
    try:
        profile = load_profile(options.profile)
    except FixtureError as exc:
        raise _Setup(str(exc)) from None
    try:
        ids = parse_ids(options.task_ids.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _Setup(f"cannot read the task ids file {options.task_ids}: {exc}") from None
    if not ids and options.allow_spend <= 0:
        raise _Setup(f"no task ids in {options.task_ids}: list ids of tasks this key created")
    baseline = None
    if options.baseline is not None:
        if options.baseline.exists():
            try:
                baseline = load_baseline(options.baseline)
            except BaselineError as exc:
                raise _Setup(str(exc)) from None
        elif not options.update_baseline:
            raise _Setup(f"baseline file {options.baseline} not found "
                         "(create it with --update-baseline)")
    return key, profile, ids, baseline


def run_drift(
    options: DriftOptions,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DriftResult:
    """Run one drift check; write the reports (and the baseline / recording when asked)."""
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    wrong = wrong_key()
    key = env.get(options.api_key_env, "").strip()
    redactor = Redactor([key, wrong])
    # On a terminal: progress on stderr and a human summary; in CI: structured lines only.
    ticker = Progress(err, forced=options.progress, env=env)
    human = ticker.enabled

    def progress(line: str, done: bool) -> None:
        ticker.update(redactor.text(line), done=done)

    def say(line: str, stream: TextIO = out) -> None:
        print(redactor.text(line), file=stream, flush=True)

    def shout(line: str) -> None:
        say(line, err)

    outcome = Outcome(findings=[], baseline_path=_str(options.baseline))
    try:
        key, profile, ids, baseline = _prepare(options, env)
    except _Setup as exc:
        survey = Survey(options.base_url, options.profile, (),
                        unchecked_reason=redactor.string(str(exc)),
                        started_at=utc_now(), finished_at=utc_now())
        return _finish(options, survey, outcome, redactor, say, shout, human)
    outcome.baseline_loaded = baseline is not None
    survey = observe(
        ObserveOptions(
            base_url=options.base_url, api_key=key, known_ids=ids,
            max_single=options.max_single, allow_spend=options.allow_spend,
            rate_limit=options.rate_limit, timeout=options.timeout, retries=options.retries,
            max_retry_wait=options.max_retry_wait, api_key_env=options.api_key_env,
        ),
        profile,
        redactor,
        wrong=wrong,
        progress=progress if ticker.enabled else None,
        transport=transport,
        sleep=sleep,
    )
    ticker.close()
    diff = diff_survey(survey, profile, baseline, redactor)
    outcome.findings, outcome.accepted = diff.findings, diff.accepted
    if survey.unchecked_reason is None:
        if options.record is not None:
            outcome.recorded_dir = str(options.record)
            outcome.recorded, outcome.record_skipped = record(
                survey, options.record, redactor, when=survey.finished_at[:10],
                owner=owner_of(key),
            )
        if options.update_baseline and options.baseline is not None:
            accepted = build_baseline(
                survey, [*diff.findings, *diff.accepted], id_formats_seen(
                    survey.responses), redactor, survey.finished_at
            )
            save_baseline(options.baseline, accepted, redactor)
            outcome.baseline_updated = True
            outcome.baseline_updated_at = accepted.updated_at
    return _finish(options, survey, outcome, redactor, say, shout, human)


def _finish(
    options: DriftOptions,
    survey: Survey,
    outcome: Outcome,
    redactor: Redactor,
    say: Callable[[str], None],
    shout: Callable[[str], None],
    human: bool,
) -> DriftResult:
    report = build_report(survey, outcome, redactor)
    history = None
    if options.history is not None:
        try:
            history = append_history(options.history, history_entry(report))
        except OSError as exc:  # a history is a convenience: the run and its reports go on
            shout(f"suno-contract drift: cannot append to the history {options.history}: {exc}")
    paths = write_reports(report, options.report_dir, redactor, history)
    status = report["result"]["status"]
    summary = report["summary"]
    if human:
        say(f"drift: {status}: {summary['breaking']} breaking, {summary['warning']} warning(s), "
            f"{summary['info']} info, {summary['accepted']} accepted by the baseline; "
            f"report in {options.report_dir}/drift-report.md and drift-report.html")
        for f in outcome.findings:
            say(f"  [{f.severity}] {f.path}: {f.message}")
    else:
        for f in outcome.findings:
            say(f"drift finding severity={f.severity} category={f.category} path={f.path} "
                f"observed={_quote(f.observed)}")
        say(f"drift status={status} exit={EXIT_CODES[status]} breaking={summary['breaking']} "
            f"warning={summary['warning']} info={summary['info']} "
            f"accepted={summary['accepted']} requests={summary['requests']} "
            f"report={paths['md']}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # Annotations on the workflow run page (capped: the summary has the full list).
        for f in [f for f in outcome.findings if f.severity in (BREAKING, WARNING)][:20]:
            level = "error" if f.severity == BREAKING else "warning"
            say(f"::{level} title=API drift ({f.severity})::{f.path}: {_oneline(f.message)}")
    if survey.unchecked_reason is not None:
        shout(f"suno-contract drift: the target could not be checked: "
              f"{survey.unchecked_reason}")
    return DriftResult(
        exit_code=EXIT_CODES[status],
        status=status,
        reason=survey.unchecked_reason,
        findings=outcome.findings,
        accepted=outcome.accepted,
        report=report,
        paths=paths,
    )


def _oneline(text: str) -> str:
    return " ".join(text.split()).replace("%", "%25")


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if text and " " not in text and '"' not in text else '"' + text.replace(
        '"', '\\"') + '"'


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


# -- command line --------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``drift`` options (``suno-contract drift`` and ``python -m contract_tests.drift``)."""
    env = os.environ.get
    parser.add_argument("--base-url", default=env("SUNO_BASE_URL"),
                        help="the gateway, e.g. https://api.elkapi.com (default: $SUNO_BASE_URL)")
    parser.add_argument("--api-key-env", default="SUNO_API_KEY", metavar="VAR",
                        help="environment variable holding the API key (default: SUNO_API_KEY)")
    parser.add_argument("--task-ids", type=Path, required=True, metavar="FILE",
                        help="ids of tasks this key created: one per line (# comments) or a JSON "
                             "array")
    parser.add_argument("--profile", default="elkapi", choices=profile_names(),
                        help="the API version you code against (default: elkapi)")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="shapes accepted on earlier runs (JSON, see --update-baseline)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="write this run's shapes to --baseline, accepting its non-breaking "
                             "findings")
    parser.add_argument("--report-dir", type=Path, default=Path(DEFAULT_REPORT_DIR), metavar="DIR",
                        help="where drift-report.{md,json,xml,html} go (default: drift-out)")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="save the observed tasks, redacted, as scenario fixtures "
                             "(suno-mock serve --fixtures DIR)")
    parser.add_argument("--allow-spend", type=_positive_int, default=0, metavar="N",
                        help="allow at most N submits, which spend credits (default: 0)")
    parser.add_argument("--max-single", type=_positive_int, default=5, metavar="N",
                        help="single-fetch at most N known ids (default: 5)")
    parser.add_argument("--rate-limit", type=float, default=2.0, metavar="PER_SECOND",
                        help="requests per second (default: 2; 0 = unlimited)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="per request (default: 30)")
    parser.add_argument("--retries", type=_positive_int, default=3, metavar="N",
                        help="retries of a 429 answer, honouring Retry-After (default: 3)")
    parser.add_argument("--max-retry-wait", type=float, default=60.0, metavar="SECONDS",
                        help="give up when Retry-After asks for longer (default: 60)")
    parser.add_argument("--history", type=Path, metavar="FILE",
                        help="append this run (time, status, counts per severity) to FILE, one "
                             "JSON line per run, and chart it in drift-report.html")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="progress on stderr: rewritten in place on a terminal (the default "
                               "there unless $CI is true), else a line per probe")
    progress.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                          help="no progress; quiet, structured output (default in CI or when "
                               "stderr is not a terminal)")


def options_from_args(args: argparse.Namespace) -> DriftOptions:
    return DriftOptions(
        base_url=args.base_url or "",
        task_ids=args.task_ids,
        api_key_env=args.api_key_env,
        profile=args.profile,
        baseline=args.baseline,
        update_baseline=args.update_baseline,
        report_dir=args.report_dir,
        record=args.record,
        allow_spend=args.allow_spend,
        max_single=args.max_single,
        rate_limit=args.rate_limit or None,
        timeout=args.timeout,
        retries=args.retries,
        max_retry_wait=args.max_retry_wait,
        progress=args.progress,
        history=args.history,
    )


def run(args: argparse.Namespace) -> int:
    """Run the check the parsed arguments describe; returns the exit code."""
    if not args.base_url:
        print("suno-contract drift: --base-url (or $SUNO_BASE_URL) is required", file=sys.stderr)
        return 2
    if args.update_baseline and args.baseline is None:
        print("suno-contract drift: --update-baseline needs --baseline FILE", file=sys.stderr)
        return 2
    return run_drift(options_from_args(args)).exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="suno-contract drift",
        description=(__doc__ or "").split("\n\n")[0],
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))

