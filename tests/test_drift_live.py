"""The drift check against "the live API": the fake in a subprocess on loopback, other profiles."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from contract_tests.drift import DriftOptions, DriftResult, run_drift
from mock_server import load_profile, validate
from mock_server.contract.validation import resolved_schema
from tests.conftest import ROOT, running_fake

KEY = "sk-DRIFTSECRET123456"
ENV = {"SUNO_API_KEY": KEY}
# One task per kind of state the fake can be in: data null, clips streaming, clips complete,
# clips in error (FAILURE, so result_url shows in newapi-2026), and a lyrics object.
SEEDS = [
    ("music_success", "not_start"),
    ("music_success", "streaming"),
    ("music_success", "complete"),
    ("music_failure", "error"),
    ("lyrics_success", "complete"),
]
PROFILES = ("elkapi", "newapi-2025", "newapi-2026")


def seed(base: str) -> list[str]:
    ids = []
    for scenario, step in SEEDS:
        r = httpx.post(f"{base}/__mock/tasks",
                       json={"api_key": KEY, "scenario": scenario, "step": step}, timeout=10)
        assert r.status_code == 201, r.text
        ids.append(r.json()["task_id"])
    return ids


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    """profile -> (base URL, ids file) of a fake that knows only KEY, with SEEDS in it."""
    with ExitStack() as stack:
        out = {}
        for profile in PROFILES:
            base = stack.enter_context(
                running_fake("--profile", profile, "--clock", "manual", "--api-key", KEY)
            )
            ids = tmp_path_factory.mktemp(profile) / "task-ids.txt"
            ids.write_text("# seeded by the test\n" + "\n".join(seed(base)) + "\n")
            out[profile] = (base, ids)
        yield out


def check(fakes, fake: str, expected: str, tmp_path: Path, **options) -> DriftResult:
    base, ids = fakes[fake]
    options.setdefault("report_dir", tmp_path / "report")
    return run_drift(
        DriftOptions(base_url=base, task_ids=ids, profile=expected, rate_limit=None, **options),
        env=ENV,
        out=io.StringIO(),
    )


def summary(result: DriftResult) -> set[tuple[str, str, str, str]]:
    return {(f.severity, f.category, f.path, f.observed) for f in result.findings}


def added_task_fields() -> set[str]:
    """Fields of the 2026 task that the 2025 task lacks, minus the omitempty one never set."""
    new = resolved_schema("task", "newapi-2026")["properties"]
    old = resolved_schema("task", "newapi-2025")["properties"]
    return set(new) - set(old) - {"username"}


EXPECTED_2025_VS_2026 = {
    *{("info", "new-field", f"$.data[*].{name}", t) for name, t in {
        "id": "integer", "created_at": "integer", "updated_at": "integer", "platform": "string",
        "user_id": "integer", "group": "string", "channel_id": "integer", "quota": "integer",
        "result_url": "string", "properties": "object"}.items()},
    ("warning", "id-format", "$.data[*].task_id", "task_alnum32"),
    ("warning", "error-text", "$.error.message", '"Invalid token"'),
}


def test_expected_set_is_the_schemas_difference():
    # The literal set above is what the profiles say changed; keep it honest.
    names = {path.rsplit(".", 1)[1] for sev, cat, path, _ in EXPECTED_2025_VS_2026
             if cat == "new-field"}
    assert names == added_task_fields()


def test_newapi_2025_against_newapi_2026_reports_exactly_what_changed(fakes, tmp_path):
    result = check(fakes, "newapi-2026", "newapi-2025", tmp_path)
    assert result.exit_code == 0 and result.status == "drift"
    assert summary(result) == EXPECTED_2025_VS_2026
    texts = {f.labels[0]: (f.expected, f.observed) for f in result.findings
             if f.category == "error-text"}
    assert texts == {"auth-missing-key": ('"未提供令牌"', '"Invalid token"'),
                     "auth-wrong-key": ('"无效的令牌"', '"Invalid token"')}
    # Each new field is one finding, however many tasks and probes showed it.
    new_id = next(f for f in result.findings if f.path == "$.data[*].id")
    assert new_id.occurrences > 1
    assert {str(r) for r in new_id.requests} >= {"POST /suno/fetch"}
    assert any(r.method == "GET" for r in new_id.requests)
    report = json.loads((tmp_path / "report" / "drift-report.json").read_text())
    assert validate(report, "drift-report") == []
    assert report["summary"] == {**report["summary"], "breaking": 0, "warning": 3, "info": 10}


def test_newapi_2025_baseline_file_against_newapi_2026(fakes, tmp_path):
    baseline = tmp_path / "baseline.json"
    first = check(fakes, "newapi-2025", "newapi-2025", tmp_path, baseline=baseline,
                  update_baseline=True, report_dir=tmp_path / "first")
    assert first.exit_code == 0 and first.findings == []
    assert validate(json.loads(baseline.read_text()), "drift-baseline") == []

    result = check(fakes, "newapi-2026", "newapi-2025", tmp_path, baseline=baseline)
    # The 2025 deployments' clips carry keys (clip_id...) the 2026 profile's do not: against a
    # baseline that saw them, their absence is breaking drift.
    dropped = {("breaking", "missing-field", f"$.data[*].data[*].{name}", "absent")
               for name in load_profile("newapi-2025").clip_extra}
    assert summary(result) == EXPECTED_2025_VS_2026 | dropped
    by_cat = {f.category: f for f in result.findings}
    assert by_cat["id-format"].baseline == "uuid"
    assert "baseline" in by_cat["new-field"].check
    assert result.report["baseline"]["loaded"] is True


def test_an_updated_baseline_accepts_non_breaking_drift(fakes, tmp_path):
    baseline = tmp_path / "baseline.json"
    accepting = check(fakes, "newapi-2026", "newapi-2025", tmp_path, baseline=baseline,
                      update_baseline=True, report_dir=tmp_path / "first")
    assert summary(accepting) == EXPECTED_2025_VS_2026  # still reported on the run that accepts
    again = check(fakes, "newapi-2026", "newapi-2025", tmp_path, baseline=baseline)
    assert again.exit_code == 0 and again.status == "ok"
    assert again.findings == []
    assert len(again.accepted) == len(accepting.findings) == 13


def test_elkapi_against_newapi_2025_reports_notify_hook_missing(fakes, tmp_path):
    result = check(fakes, "newapi-2025", "elkapi", tmp_path)
    assert result.exit_code == 1 and result.status == "breaking"
    # A new-api gateway also lacks ElkAPI's clip routes: the timing probe finds no route.
    no_timing = ("breaking", "route-missing", "$", "no route (HTTP 200 text/html; charset=utf-8)")
    assert summary(result) == {("breaking", "missing-field", "$.data[*].notify_hook", "absent"),
                               no_timing}
    finding = next(f for f in result.findings if f.category == "missing-field")
    assert finding.expected == "string"
    assert finding.requests[0].method == "POST" and finding.requests[0].path == "/suno/fetch"
    md = (tmp_path / "report" / "drift-report.md").read_text()
    assert "breaking drift" in md and "`$.data[*].notify_hook`" in md
    xml = (tmp_path / "report" / "drift-report.xml").read_text()
    # the batch and the five single fetches each miss it; the timing probe finds no route
    assert 'failures="7"' in xml


@pytest.mark.parametrize("profile", PROFILES)
def test_same_profile_on_both_sides_finds_nothing(fakes, tmp_path, profile):
    result = check(fakes, profile, profile, tmp_path)
    assert (result.exit_code, result.status, result.findings) == (0, "ok", [])
    assert result.report["summary"]["probes"] == 13  # 12 fetches, the timing of one clip


def test_no_api_key_in_any_report_log_line_or_recorded_file(fakes, tmp_path):
    base, ids = fakes["newapi-2026"]
    cmd = [sys.executable, "-m", "contract_tests.drift", "--base-url", base, "--task-ids",
           str(ids), "--profile", "newapi-2025", "--report-dir", str(tmp_path / "report"),
           "--record", str(tmp_path / "recorded"), "--baseline", str(tmp_path / "baseline.json"),
           "--update-baseline", "--rate-limit", "0", "--progress"]
    env = {**os.environ, "SUNO_API_KEY": KEY}
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "fetch-batch-known" in run.stderr  # the progress lines were printed (not a TTY)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"drift-report.md", "drift-report.json",
                                         "drift-report.xml", "drift-report.html",
                                         "baseline.json"}
    assert len(list((tmp_path / "recorded").glob("recorded-*.json"))) == len(SEEDS)
    assert (tmp_path / "recorded" / "seed.json").is_file()  # the replay's task list
    for text in [run.stdout, run.stderr, *(p.read_text() for p in written)]:
        assert "DRIFTSECRET" not in text


def submits_seen(base: str) -> int:
    journal = httpx.get(f"{base}/__mock/journal", timeout=10).json()
    return sum(1 for entry in journal if entry["path"].startswith("/suno/submit/"))


def test_nothing_is_submitted_unless_spending_is_allowed(fakes, tmp_path):
    base, _ = fakes["newapi-2026"]
    before = submits_seen(base)
    quiet = check(fakes, "newapi-2026", "newapi-2026", tmp_path, report_dir=tmp_path / "a")
    assert submits_seen(base) == before and quiet.report["summary"]["spent"] == 0

    spent = check(fakes, "newapi-2026", "newapi-2026", tmp_path, allow_spend=1,
                  report_dir=tmp_path / "b")
    assert submits_seen(base) == before + 1
    assert (spent.exit_code, spent.findings, spent.report["summary"]["spent"]) == (0, [], 1)
    labels = [p["label"] for p in spent.report["probes"]]
    assert labels[0] == "submit-music" and "submit-lyrics" not in labels
    # The new task joins the batch fetch: its id is in the request, its shape was checked.
    batch = next(p for p in spent.report["probes"] if p["label"] == "fetch-batch-known")
    assert batch["request"]["body"] == f'{{"ids": [{len(SEEDS) + 1} known ids]}}'


def test_output_is_one_structured_line_per_finding_outside_a_terminal(fakes, tmp_path):
    base, ids = fakes["newapi-2025"]
    out = io.StringIO()
    result = run_drift(DriftOptions(base_url=base, task_ids=ids, profile="elkapi",
                                    rate_limit=None, report_dir=tmp_path), env=ENV, out=out)
    lines = [line for line in out.getvalue().splitlines() if not line.startswith("::")]
    assert lines == [
        'drift finding severity=breaking category=route-missing path=$ '
        'observed="no route (HTTP 200 text/html; charset=utf-8)"',
        "drift finding severity=breaking category=missing-field "
        "path=$.data[*].notify_hook observed=absent",
        f"drift status=breaking exit=1 breaking=2 warning=0 info=0 accepted=0 "
        f"requests=13 report={result.paths['md']}",
    ]
