"""The drift report as one self-contained HTML page: inline CSS, inline SVG, no script.

Everything shown is escaped: finding values come from a remote API. The target URL is shown
without credentials, query or fragment.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from .model import SEVERITIES

__all__ = ["render_html", "safe_url"]

_COLOURS = {"breaking": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
_STATUS_TEXT = {
    "ok": "no drift",
    "drift": "non-breaking drift",
    "breaking": "breaking drift",
    "unchecked": "the API could not be checked",
}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;
word-break:break-word}
pre{margin:0;max-height:12em;overflow:auto}
.sev{font-weight:600;padding:0 .4em;border-radius:3px;color:#fff}
.breaking{background:#c62828}.warning{background:#ef6c00}.info{background:#1565c0}
.status-ok,.status-drift{color:#2e7d32}.status-breaking,.status-unchecked{color:#c62828}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}
dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.muted{color:#666}
"""


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (where a key could hide)."""
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    rest = rest.split("#", 1)[0].split("?", 1)[0]
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]  # user info (a key, even one already redacted) dropped
    return f"{scheme}://{netloc}{slash}{path}" if scheme else f"{netloc}{slash}{path}"


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _value(value: Any, limit: int = 2000) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"<pre>{_e(text)}</pre>"


_FETCH_ONE = re.compile(r"^(/suno/fetch/)[^/?#]+$")


def _route(finding: dict[str, Any]) -> str:
    """The route of the finding's first request, a task id as ``{id}``."""
    request = finding.get("request") or {}
    path = _FETCH_ONE.sub(r"\1{id}", str(request.get("path", "")))
    route = f"{request.get('method', '')} {path}".strip()
    return route or "(no request)"


def _findings(findings: list[dict[str, Any]]) -> list[str]:
    routes: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        routes.setdefault(_route(f), []).append(f)
    out: list[str] = []
    for route, found in routes.items():
        out += [f"<h3><code>{_e(route)}</code> <span class=muted>({len(found)})</span></h3>",
                "<table><thead><tr><th>Severity</th><th>Kind</th><th>JSON path</th>"
                "<th>Old (expected)</th><th>New (observed)</th><th>Finding</th></tr></thead>"
                "<tbody>"]
        for f in found:
            old = _value(f.get("expected"))
            if f.get("baseline"):
                old += f"<div class=muted>baseline:</div>{_value(f['baseline'])}"
            new = _value(f.get("observed"))
            if f.get("example") is not None:
                new += f"<div class=muted>example:</div>{_value(f['example'])}"
            sev = f.get("severity", "")
            out.append(
                f"<tr><td><span class=\"sev {_e(sev)}\">{_e(sev)}</span></td>"
                f"<td>{_e(f.get('category'))}</td><td><code>{_e(f.get('path'))}</code></td>"
                f"<td>{old}</td><td>{new}</td><td>{_e(f.get('message'))}</td></tr>"
            )
        out.append("</tbody></table>")
    return out


def _when(entry: dict[str, Any]) -> str:
    return str(entry["time"])[:16].replace("T", " ")


def _chart(history: list[dict[str, Any]]) -> list[str]:
    """Findings per severity per run, as an inline SVG line chart (checked runs only)."""
    runs = [h for h in history if h.get("status") != "unchecked"]
    if not runs:
        return ["<p class=muted>No checked run in the history yet.</p>"]
    width, height, left, right, top, bottom = 720, 200, 40, 110, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(1, *(int(h[s]) for h in runs for s in SEVERITIES))
    step = plot_w / max(1, len(runs) - 1)

    def x(i: int) -> float:
        return left + (i * step if len(runs) > 1 else plot_w / 2)

    def y(v: int) -> float:
        return top + plot_h - v / peak * plot_h

    title = (f"Findings per severity over the last {len(runs)} checked run(s), "
             f"{runs[0]['time']} to {runs[-1]['time']}")
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
           f'stroke="#ccc"/>',
           f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>',
           f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>',
           f'<text x="{left}" y="{height - 8}" font-size="11">{_e(_when(runs[0]))}</text>',
           f'<text x="{left + plot_w}" y="{height - 8}" font-size="11" text-anchor="end">'
           f'{_e(_when(runs[-1]))}</text>']
    for n, severity in enumerate(SEVERITIES):
        colour = _COLOURS[severity]
        points = " ".join(f"{x(i):.1f},{y(int(h[severity])):.1f}" for i, h in enumerate(runs))
        svg.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{points}"/>')
        for i, h in enumerate(runs):
            svg.append(f'<circle cx="{x(i):.1f}" cy="{y(int(h[severity])):.1f}" r="2.5" '
                       f'fill="{colour}"><title>{_e(h["time"])}: {int(h[severity])} '
                       f'{severity}</title></circle>')
        ly = top + 14 + n * 18
        svg.append(f'<rect x="{width - right + 12}" y="{ly - 9}" width="12" height="10" '
                   f'fill="{colour}"/><text x="{width - right + 30}" y="{ly}" '
                   f'font-size="12">{severity} ({int(runs[-1][severity])})</text>')
    svg.append("</svg>")
    skipped = len(history) - len(runs)
    note = (f"<p class=muted>{skipped} run(s) could not check the API and are not drawn.</p>"
            if skipped else "")
    return ["".join(svg), note]


def render_html(report: dict[str, Any],
                history: list[dict[str, Any]] | None = None) -> str:
    """The page; ``history`` (oldest first, this run last) adds the chart."""
    result, summary, target = report["result"], report["summary"], report["target"]
    status = result["status"]
    title = f"Suno API drift: {_STATUS_TEXT.get(status, status)}"
    meta = [
        ("Status", f"<span class=\"status-{_e(status)}\">{_e(status)}</span> "
                   f"(exit {_e(result['exit_code'])})"),
        ("Profile", f"<code>{_e(target['profile'])}</code>"),
        ("Target", f"<code>{_e(safe_url(target['base_url']))}</code>"),
        ("Started", _e(report["started_at"])),
        ("Finished", _e(report["finished_at"])),
        ("Requests", _e(summary["requests"])),
        ("Baseline", _e(report["baseline"]["path"] or "none")
         + (" (updated)" if report["baseline"]["updated"] else "")),
        ("Tool", _e(f"{report['tool']['name']} {report['tool']['version']}")),
    ]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>", "<dl class=meta>"]
    out += [f"<dt>{name}</dt><dd>{value}</dd>" for name, value in meta]
    out.append("</dl>")
    if result["reason"]:
        out.append(f"<p><strong>The target could not be checked:</strong> "
                   f"{_e(result['reason'])}</p>")
    out += ["<table><thead><tr><th>breaking</th><th>warning</th><th>info</th>"
            "<th>accepted by the baseline</th><th>spent submits</th></tr></thead><tbody><tr>"
            + "".join(f"<td class=n>{_e(summary[k])}</td>"
                      for k in (*SEVERITIES, "accepted", "spent"))
            + "</tr></tbody></table>"]
    if history:
        out += ["<h2>History</h2>", *_chart(history)]
    out.append(f"<h2>Findings ({len(report['findings'])})</h2>")
    if report["findings"]:
        out += _findings(report["findings"])
    elif status != "unchecked":
        out.append("<p>Nothing changed: every probe matched.</p>")
    if report["accepted"]:
        out += [f"<h2>Accepted by the baseline ({len(report['accepted'])})</h2>",
                *_findings(report["accepted"])]
    if report["probes"]:
        out += [f"<h2>Probes ({len(report['probes'])})</h2>",
                "<table><thead><tr><th>Probe</th><th>Request</th><th>HTTP</th><th>Time</th>"
                "<th>Result</th></tr></thead><tbody>"]
        for p in report["probes"]:
            req = f"{p['request']['method']} {p['request']['path']}"
            out.append(f"<tr><td>{_e(p['label'])}</td><td><code>{_e(req)}</code></td>"
                       f"<td class=n>{_e(p['status'])}</td>"
                       f"<td class=n>{float(p['elapsed_ms']):.0f} ms</td>"
                       f"<td>{_e(p['outcome'])} ({_e(p['findings'])})</td></tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
