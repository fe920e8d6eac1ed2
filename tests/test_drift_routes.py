"""The drift check on ElkAPI's read-only clip routes (contract_tests.routes): it probes them
for the clips of the known tasks, says when one is missing or newly appears, and diffs their
answers' shapes against the baseline. Against loopback stand-ins; nothing is spent."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from contract_tests.drift import DriftOptions, DriftResult, run_drift
from contract_tests.drift.probes import READ_ONLY_ROUTES
from contract_tests.routes import ROUTES
from mock_server import Config, create_app, validate
from tests.broken_servers import serve, timing_rewritten, without_route
from tests.test_drift_live import ENV, KEY

WSGIApp = Callable[..., Any]
TIMING = "GET /suno/act/timing/{clip_id}"


@contextmanager
def stand_in(profile: str = "elkapi", change: Callable[[WSGIApp], WSGIApp] = lambda a: a,
             steps: tuple[tuple[str, str], ...] = (("music_success", "complete"),
                                                   ("lyrics_success", "complete")),
             ) -> Iterator[tuple[str, list[str]]]:
    """The fake in ``profile``, changed by ``change``, served on loopback; its seeded ids."""
    app = create_app(Config(profile=profile, clock="manual", poll_interval=0, api_keys=(KEY,)))
    with serve(change(app)) as base:
        ids = []
        for scenario, step in steps:
            r = httpx.post(f"{base}/__mock/tasks", timeout=10,
                           json={"api_key": KEY, "scenario": scenario, "step": step})
            ids.append(r.json()["task_id"])
        yield base, ids


def drift(base: str, ids: list[str], tmp_path: Path, name: str, **options: Any) -> DriftResult:
    ids_file = tmp_path / f"{name}-ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    return run_drift(DriftOptions(base_url=base, task_ids=ids_file, rate_limit=None,
                                  report_dir=tmp_path / name, **options),
                     env=ENV, out=io.StringIO())


def found(result: DriftResult) -> set[tuple[str, str, str]]:
    return {(f.severity, f.category, f.path) for f in result.findings}


def test_the_timing_route_is_probed_for_a_known_clip_and_passes(tmp_path):
    with stand_in() as (base, ids):
        result = drift(base, ids, tmp_path, "ok")
        clip = httpx.get(f"{base}/suno/fetch/{ids[0]}", timeout=10,
                         headers={"Authorization": f"Bearer {KEY}"}).json()["data"]["data"][0]
    assert (result.exit_code, result.findings) == (0, [])
    [probe] = [p for p in result.report["probes"] if p["name"] == "route-timing"]
    assert probe["request"]["method"] == "GET" and probe["status"] == 200
    assert probe["request"]["path"] == f"/suno/act/timing/{clip['id']}"
    assert validate(result.report, "drift-report") == []


def test_a_missing_route_is_breaking_and_named_in_every_report(tmp_path):
    with stand_in(change=lambda app: without_route(app, "/suno/act/")) as (base, ids):
        result = drift(base, ids, tmp_path, "missing")
    assert result.exit_code == 1 and result.status == "breaking"
    assert found(result) == {("breaking", "route-missing", "$")}
    [finding] = result.findings
    assert finding.message.startswith(f"{TIMING} is missing: HTTP 404")
    md = (tmp_path / "missing" / "drift-report.md").read_text()
    html = (tmp_path / "missing" / "drift-report.html").read_text()
    for text in (md, html):
        assert "is missing: HTTP 404" in text and "/suno/act/timing/" in text
    assert "## Breaking (1)" in md and "route-missing" in html


def test_no_route_page_of_a_new_api_gateway_is_a_missing_route(tmp_path):
    # gin's NoRoute on new-api serves the web index page: HTTP 200, HTML.
    with stand_in(profile="newapi-2026") as (base, ids):
        result = drift(base, ids, tmp_path, "noroute", profile="elkapi")
    by_category = {f.category: f for f in result.findings}
    assert by_category["route-missing"].severity == "breaking"
    assert by_category["route-missing"].observed == "no route (HTTP 200 text/html; charset=utf-8)"


def test_a_route_the_profile_lacks_is_news_when_it_appears(tmp_path):
    with stand_in() as (base, ids):
        result = drift(base, ids, tmp_path, "appears", profile="newapi-2025")
    appeared = [f for f in result.findings if f.category == "route-appeared"]
    assert [(f.severity, f.path) for f in appeared] == [("info", "$")]
    assert f"{TIMING} newly appears: HTTP 200 application/json" in appeared[0].message
    assert "profile newapi-2025 has no such route" in appeared[0].message
    # A new-api gateway's index page where the profile has no route: nothing to report.
    with stand_in(profile="newapi-2025") as (base, ids):
        quiet = drift(base, ids, tmp_path, "absent", profile="newapi-2025")
    assert not [f for f in quiet.findings if f.category.startswith("route")]


def test_a_changed_timing_shape_is_found_against_the_baseline(tmp_path):
    baseline = tmp_path / "baseline.json"
    with stand_in() as (base, ids):
        first = drift(base, ids, tmp_path, "first", baseline=baseline, update_baseline=True)
    assert first.exit_code == 0
    shapes = json.loads(baseline.read_text())["probes"]["route-timing"]["shapes"]
    assert shapes["$.aligned_words[*].start_s"] == ["number"]

    def changed(body: dict[str, Any]) -> None:
        # hoot_cer is optional in the schema: only the baseline knows it used to be there.
        del body["hoot_cer"]
        for word in body["aligned_words"]:
            word["start_s"] = str(word["start_s"])

    with stand_in(change=lambda app: timing_rewritten(app, changed)) as (base, ids):
        result = drift(base, ids, tmp_path, "changed", baseline=baseline)
    assert result.exit_code == 1
    assert {("breaking", "missing-field", "$.hoot_cer"),
            ("breaking", "type-changed", "$.aligned_words[*].start_s")} <= found(result)
    gone = next(f for f in result.findings if f.path == "$.hoot_cer")
    assert gone.check == "baseline" and gone.labels == ["route-timing #1"]
    assert "/suno/act/timing/" in gone.requests[0].path


def test_no_finished_music_task_means_the_routes_are_not_probed_and_says_so(tmp_path):
    with stand_in(steps=(("lyrics_success", "complete"),)) as (base, ids):
        result = drift(base, ids, tmp_path, "unprobed")
        journal = httpx.get(f"{base}/__mock/journal", timeout=10).json()
    assert found(result) == {("info", "routes-unprobed", "$")}
    assert TIMING in result.findings[0].message
    assert not [e for e in journal if e["path"].startswith("/suno/act/")]


def test_drift_never_calls_a_route_that_spends(tmp_path):
    # What the gateway saw, not the table: no request of a row that spends (submits, uploads,
    # concat, stems, exports, personas), while the read-only timing route was probed.
    with stand_in() as (base, ids):
        result = drift(base, ids, tmp_path, "thrifty")
        journal = httpx.get(f"{base}/__mock/journal", timeout=10).json()
    assert result.exit_code == 0
    sent = [(e["method"], e["path"]) for e in journal]
    assert any(path.startswith("/suno/act/timing/") for _, path in sent)
    spending = [(r.method, r.path.split("{", 1)[0]) for r in ROUTES if r.spends]
    assert not [(method, path) for method, path in sent
                if any(method == m and path.startswith(p) for m, p in spending)]
    assert READ_ONLY_ROUTES and all(not r.spends for r in READ_ONLY_ROUTES)
