"""The drift report: one structure (the JSON report), written as JSON, Markdown, JUnit XML, HTML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._redact import Redactor
from .htmlreport import render_html
from .model import BREAKING, INFO, SEVERITIES, WARNING, Finding, Survey

__all__ = [
    "REPORT_FORMAT",
    "Outcome",
    "build_report",
    "render_junit",
    "render_markdown",
    "write_reports",
]

REPORT_FORMAT = "suno-contract-kit/drift-report"
_STATUS_TEXT = {
    "ok": "✅ no drift",
    "drift": "⚠️ drift, nothing breaking",
    "breaking": "❌ breaking drift",
    "unchecked": "⛔ the target could not be checked",
}


@dataclass
class Outcome:
    """The run's verdict and what it did besides probing."""

    findings: list[Finding]
    accepted: list[Finding] = field(default_factory=list)
    baseline_path: str | None = None
    baseline_loaded: bool = False
    baseline_updated: bool = False
    baseline_updated_at: str | None = None
    recorded_dir: str | None = None
    recorded: list[str] = field(default_factory=list)
    record_skipped: list[dict[str, str]] = field(default_factory=list)

    def status(self, survey: Survey) -> str:
        if survey.unchecked_reason is not None:
            return "unchecked"
        if any(f.severity == BREAKING for f in self.findings):
            return "breaking"
        return "drift" if self.findings else "ok"


EXIT_CODES = {"ok": 0, "drift": 0, "breaking": 1, "unchecked": 2}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("suno-contract-kit")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def build_report(survey: Survey, outcome: Outcome, redactor: Redactor) -> dict[str, Any]:
    """The JSON report (schemas/drift-report.schema.json)."""
    status = outcome.status(survey)
    by_label: dict[str, list[Finding]] = {}
    for finding in outcome.findings:
        for label in finding.labels:
            by_label.setdefault(label, []).append(finding)
    probes = []
    for response in survey.responses:
        probe = response.probe
        found = by_label.get(probe.label, [])
        worst = next((s for s in SEVERITIES if any(f.severity == s for f in found)), "ok")
        probes.append({
            "label": probe.label,
            "name": probe.name,
            "description": probe.description,
            "request": probe.request().to_json(),
            "status": response.status,
            "content_type": response.content_type,
            "elapsed_ms": round(response.elapsed_ms, 1),
            "outcome": worst,
            "findings": len(found),
        })
    counts = {s: sum(f.severity == s for f in outcome.findings) for s in SEVERITIES}
    report: dict[str, Any] = {
        "$schema": "https://suno-contract-kit.invalid/schemas/drift-report.schema.json",
        "format": REPORT_FORMAT,
        "version": 1,
        "tool": {"name": "suno-contract-kit", "version": _version()},
        "started_at": survey.started_at,
        "finished_at": survey.finished_at,
        "target": {"base_url": redactor.string(survey.base_url),
                   "profile": survey.profile,
                   "known_ids": len(survey.known_ids)},
        "baseline": {
            "path": outcome.baseline_path,
            "loaded": outcome.baseline_loaded,
            "updated": outcome.baseline_updated,
            "updated_at": outcome.baseline_updated_at,
        },
        "result": {
            "status": status,
            "exit_code": EXIT_CODES[status],
            "reason": survey.unchecked_reason,
        },
        "summary": {
            **counts,
            "accepted": len(outcome.accepted),
            "probes": len(probes),
            "requests": survey.requests_sent,
            "spent": len([r for r in survey.responses if r.probe.spends]),
        },
        "probes": probes,
        "findings": [f.to_json() for f in outcome.findings],
        "accepted": [f.to_json() for f in outcome.accepted],
        "recorded": None if outcome.recorded_dir is None else {
            "dir": outcome.recorded_dir,
            "scenarios": list(outcome.recorded),
            "skipped": list(outcome.record_skipped),
        },
    }
    return report


# -- Markdown ------------------------------------------------------------------------------------


def _cell(text: Any, limit: int = 120) -> str:
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def _code(text: Any, limit: int = 120) -> str:
    body = _cell(text, limit).replace("`", "'")
    return f"`{body}`" if body else ""


def _findings_table(findings: Iterable[dict[str, Any]]) -> list[str]:
    lines = [
        "| Path | Expected | Observed | Example | Request | Finding |",
        "|---|---|---|---|---|---|",
    ]
    for f in findings:
        request = f["request"] or {}
        req = f"{request.get('method', '')} {request.get('path', '')}".strip()
        more = len(f["requests"]) - 1
        if more > 0:
            req += f" (+{more} more)"
        baseline = f" (baseline: {_cell(f['baseline'], 60)})" if f.get("baseline") else ""
        example = "" if f["example"] is None else _code(f["example"], 80)
        lines.append(
            f"| {_code(f['path'])} | {_cell(f['expected'], 60)} | "
            f"{_cell(f['observed'], 60)}{baseline} | {example} | {_code(req, 70)} | "
            f"{_cell(f['message'])} |"
        )
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    result, summary, target = report["result"], report["summary"], report["target"]
    baseline = report["baseline"]
    lines = [f"# Suno API drift: {_STATUS_TEXT[result['status']]}", ""]
    where = [
        f"target `{target['base_url']}`",
        f"profile `{target['profile']}`",
        f"{target['known_ids']} known task id(s)",
        f"{summary['requests']} request(s)",
    ]
    if baseline["path"]:
        updated = " (updated)" if baseline["updated"] else ""
        where.append(f"baseline `{baseline['path']}`{updated}")
    lines += [" · ".join(where) + f" · {report['finished_at']}", ""]
    if result["reason"]:
        lines += [f"> **The target could not be checked:** {_cell(result['reason'], 600)}", ""]
    lines += [
        "| breaking | warning | info | accepted by the baseline | spent submits |",
        "|---:|---:|---:|---:|---:|",
        f"| {summary['breaking']} | {summary['warning']} | {summary['info']} | "
        f"{summary['accepted']} | {summary['spent']} |",
        "",
    ]
    titles = {BREAKING: "Breaking", WARNING: "Warnings", INFO: "Info"}
    for severity in SEVERITIES:
        found = [f for f in report["findings"] if f["severity"] == severity]
        if found:
            lines += [f"## {titles[severity]} ({len(found)})", "", *_findings_table(found), ""]
    if not report["findings"] and result["status"] != "unchecked":
        lines += ["Nothing changed: every probe matched the profile"
                  + (" and the baseline." if baseline["loaded"] else "."), ""]
    if report["probes"]:
        lines += [
            f"<details><summary>Probes ({len(report['probes'])})</summary>",
            "",
            "| Probe | Request | HTTP | Time | Result |",
            "|---|---|---:|---:|---|",
        ]
        for p in report["probes"]:
            req = f"{p['request']['method']} {p['request']['path']}"
            lines.append(
                f"| {_cell(p['label'])} | {_code(req, 70)} | {p['status']} | "
                f"{p['elapsed_ms']:.0f} ms | {p['outcome']}"
                + (f" ({p['findings']})" if p["findings"] else "") + " |"
            )
        lines += ["", "</details>", ""]
    if report["accepted"]:
        lines += [f"<details><summary>Accepted by the baseline ({len(report['accepted'])})"
                  "</summary>", "", *_findings_table(report["accepted"]), "", "</details>", ""]
    lines += ["The full report, with old and new values and a history chart when one is kept: "
              "[drift-report.html](drift-report.html) (in the `drift-report` artifact in CI).", ""]
    recorded = report["recorded"]
    if recorded:
        lines += [f"Recorded {len(recorded['scenarios'])} scenario(s) to `{recorded['dir']}`"
                  + (f"; skipped {len(recorded['skipped'])}" if recorded["skipped"] else "")
                  + ".", ""]
    return "\n".join(lines)


# -- JUnit XML -----------------------------------------------------------------------------------


def _line(f: dict[str, Any]) -> str:
    return (f"[{f['severity']}] {f['path']}: {f['message']} "
            f"(expected {f['expected']}; observed {f['observed']})")


def render_junit(report: dict[str, Any]) -> str:
    """One testcase per probe; breaking findings are failures, an unchecked target an error."""
    result = report["result"]
    suites = ET.Element("testsuites", name="suno-contract drift")
    suite = ET.SubElement(suites, "testsuite", name=f"drift ({report['target']['profile']})",
                          timestamp=report["started_at"] or "")
    props = ET.SubElement(suite, "properties")
    for name, value in (("base_url", report["target"]["base_url"]),
                        ("profile", report["target"]["profile"]),
                        ("status", result["status"])):
        ET.SubElement(props, "property", name=name, value=str(value))
    tests = failures = errors = 0
    total_time = 0.0
    for probe in report["probes"]:
        tests += 1
        seconds = probe["elapsed_ms"] / 1000
        total_time += seconds
        case = ET.SubElement(suite, "testcase", classname=f"drift.{probe['name']}",
                             name=probe["label"], time=f"{seconds:.3f}")
        mine = [f for f in report["findings"] if probe["label"] in f["probes"]]
        broken = [f for f in mine if f["severity"] == BREAKING]
        if broken:
            failures += 1
            failure = ET.SubElement(case, "failure", type="breaking",
                                    message=f"{len(broken)} breaking finding(s)")
            failure.text = "\n".join(_line(f) for f in broken)
        rest = [f for f in mine if f["severity"] != BREAKING]
        if rest:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in rest)
    if result["status"] == "unchecked":
        tests += 1
        errors += 1
        case = ET.SubElement(suite, "testcase", classname="drift.target", name="target checked")
        error = ET.SubElement(case, "error", type="unchecked", message=result["reason"] or "")
        error.text = result["reason"] or ""
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("time", f"{total_time:.3f}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def write_reports(report: dict[str, Any], directory: Path, redactor: Redactor,
                  history: list[dict[str, Any]] | None = None) -> dict[str, Path]:
    """Write the four files; the exact secrets are scrubbed from each as a last line of defence.

    ``history`` (earlier runs and this one, oldest first) adds a chart to the HTML page.
    """
    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        "json": json.dumps(report, ensure_ascii=False, indent=2) + "\n",
        "md": render_markdown(report),
        "xml": render_junit(report) + "\n",
        "html": render_html(report, history),
    }
    paths = {}
    for ext, text in texts.items():
        path = directory / f"drift-report.{ext}"
        path.write_text(redactor.text(text), encoding="utf-8")
        paths[ext] = path
    return paths
