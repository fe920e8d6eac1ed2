"""The HTML drift report: self-contained, escaped, no secrets, with a history chart."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx

from contract_tests.drift import DriftOptions, DriftResult, add_arguments, run_drift
from contract_tests.drift.history import append_history, read_history
from contract_tests.drift.htmlreport import render_html, safe_url

KEY = "sk-DRIFTSECRET123456"
TASK_ID = "3f8b2a1c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
HOSTILE = "<script>alert(1)</script>"


def handler(status: str = HOSTILE):
    """A gateway answering every fetch with one task whose status (and a title) are hostile."""
    def answer(request: httpx.Request) -> httpx.Response:
        task = {"task_id": TASK_ID, "action": "MUSIC", "status": status, "fail_reason": "",
                "submit_time": 1, "start_time": 1, "finish_time": 2, "progress": "100%",
                "data": [{"id": "c1", "status": "complete", "title": f"<b>x</b> {KEY}"}]}
        data: Any = [task] if request.url.path.endswith("/fetch") else task
        return httpx.Response(200, json={"code": "success", "message": "", "data": data})
    return answer


def drift(tmp_path: Path, *, history: bool = True, status: str = HOSTILE,
          env: dict[str, str] | None = None) -> DriftResult:
    ids = tmp_path / "ids.txt"
    ids.write_text(TASK_ID + "\n")
    return run_drift(
        DriftOptions(base_url=f"https://user:{KEY}@api.example/v1?key={KEY}", task_ids=ids,
                     rate_limit=None, report_dir=tmp_path / "report",
                     history=tmp_path / "history.jsonl" if history else None),
        env={"SUNO_API_KEY": KEY} if env is None else env,
        out=io.StringIO(), err=io.StringIO(),
        transport=httpx.MockTransport(handler(status)), sleep=lambda _s: None,
    )


def test_the_html_report_is_written_next_to_the_others_self_contained(tmp_path):
    result = drift(tmp_path)
    page = result.paths["html"].read_text(encoding="utf-8")
    assert result.paths["html"].parent == result.paths["json"].parent
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    # Nothing fetched, nothing to run: no script, no external stylesheet, image or font.
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", page, re.I)
    assert not re.search(r"href=\"?(https?:)?//", page)
    # The run's metadata.
    assert "<code>elkapi</code>" in page and ">breaking</span> (exit 1)" in page
    assert result.report["finished_at"] in page


def test_values_from_the_api_are_shown_as_text(tmp_path):
    result = drift(tmp_path)
    page = result.paths["html"].read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page


def test_findings_are_grouped_by_route_with_old_and_new_values(tmp_path):
    result = drift(tmp_path)
    page = result.paths["html"].read_text(encoding="utf-8")
    routes = re.findall(r"<h3><code>([^<]+)</code>", page)
    assert routes and len(routes) == len(set(routes))  # one section per route
    assert "GET /suno/fetch/{id}" in routes and "POST /suno/fetch" in routes
    assert not any(TASK_ID in r for r in routes)  # one route, whatever the task id
    for head in ("Severity", "Kind", "JSON path", "Old (expected)", "New (observed)"):
        assert f"<th>{head}</th>" in page
    status = next(f for f in result.findings if f.path == "$.data.status")
    assert status.severity == "warning" and status.category == "new-enum-value"
    assert "<code>$.data.status</code>" in page


def test_no_secret_in_any_report_or_the_history(tmp_path):
    result = drift(tmp_path)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "ids.txt"]
    assert {p.name for p in files} == {"drift-report.json", "drift-report.md",
                                       "drift-report.xml", "drift-report.html", "history.jsonl"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "DRIFTSECRET" not in text, path.name
    page = result.paths["html"].read_text(encoding="utf-8")
    assert "<code>https://api.example/v1</code>" in page  # no user info, no query


def test_safe_url_drops_user_info_query_and_fragment():
    assert safe_url("http://u:p@[::1]:8080/v1?key=x#f") == "http://[::1]:8080/v1"
    assert safe_url("https://[redacted]@host/?key=[redacted]") == "https://host/"
    assert safe_url("https://api.elkapi.com") == "https://api.elkapi.com"


def test_the_markdown_summary_links_the_html_page(tmp_path):
    result = drift(tmp_path, history=False)
    assert "[drift-report.html](drift-report.html)" in result.paths["md"].read_text()
    assert "<svg" not in result.paths["html"].read_text()  # no history kept, no chart


def test_history_is_appended_each_run_and_charted(tmp_path):
    drift(tmp_path)
    drift(tmp_path, status="SUCCESS")
    drift(tmp_path, env={})  # no key: unchecked, kept in the history but not drawn
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["status"] for e in entries] == ["breaking", "breaking", "unchecked"]
    assert entries[0]["warning"] == entries[1]["warning"] + 1  # the new status value
    assert set(entries[0]) == {"time", "profile", "status", "breaking", "warning", "info",
                               "accepted"}
    page = (tmp_path / "report" / "drift-report.html").read_text()
    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<polyline") == 3  # one per severity
    points = re.findall(r'points="([^"]+)"', svg)
    assert all(len(p.split()) == 2 for p in points)  # the two checked runs
    assert "1 run(s) could not check the API" in page


def test_unreadable_history_lines_are_skipped(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('not json\n{"time": "t", "status": "ok", "breaking": -1}\n'
                    '{"time": "2026-01-01T00:00:00Z", "status": "ok", "breaking": 0, '
                    '"warning": 2, "info": 1}\n')
    assert len(read_history(path)) == 1
    entries = append_history(path, {"time": "2026-01-02T00:00:00Z", "status": "drift",
                                    "breaking": 0, "warning": 1, "info": 0})
    assert len(entries) == 2 and len(read_history(path)) == 2
    assert read_history(tmp_path / "absent.jsonl") == []


def test_the_chart_escapes_times_and_draws_one_run():
    report = json.loads(json.dumps(_minimal_report()))
    page = render_html(report, [{"time": HOSTILE, "status": "ok", "breaking": 0, "warning": 0,
                                 "info": 0}])
    assert "<script>" not in page and "<svg" in page


def _minimal_report() -> dict[str, Any]:
    return {
        "tool": {"name": "suno-contract-kit", "version": "0"},
        "started_at": "s", "finished_at": "f",
        "target": {"base_url": "https://h", "profile": "elkapi", "known_ids": 1},
        "baseline": {"path": None, "loaded": False, "updated": False, "updated_at": None},
        "result": {"status": "ok", "exit_code": 0, "reason": None},
        "summary": {"breaking": 0, "warning": 0, "info": 0, "accepted": 0, "probes": 0,
                    "requests": 0, "spent": 0},
        "probes": [], "findings": [], "accepted": [], "recorded": None,
    }


def test_the_cli_takes_history():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--task-ids", "i.txt", "--history", "h.jsonl"])
    assert args.history == Path("h.jsonl")
