"""What a test pays for the ``suno_mock`` fixture, against the tools people mock HTTP with.

    python bench/fixture_cost.py               # 200 tests per tool, 5 alternating rounds
    python bench/fixture_cost.py --tests 20 --rounds 1   # seconds: proves it runs, no verdict

For each tool it writes a pytest file of ``--tests`` tests, each a submit and one fetch:

- ``plain``: no fixture, no HTTP (pytest's own cost of a test, subtracted as "overhead");
- ``suno_mock``: the fake in process, through ``suno_mock.client``;
- ``suno_mock.url``: the same fake on its loopback port, through one ``httpx.Client``;
- ``pytest-httpserver``: the ``httpserver`` fixture answering both with canned JSON;
- ``respx``: the ``respx_mock`` fixture answering both with canned JSON.

Every file runs in its own ``pytest`` subprocess (the same interpreter and plugins), rounds
alternating between the tools so each sees the same machine. A test's time is pytest's own
duration of its setup, call and teardown; a tool's figure is the mean over its tests (the first
test, which pays for a session-wide set-up, included), the median of the rounds, with the
rounds' spread. Other load on a shared machine only ever slows a round down, so the minimum is
printed too. Nothing here is a verdict: the figures go in bench/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Each test: a submit, then one fetch of the task it made. The other tools' clients are made
# once per module: a new httpx.Client per test (an SSL context each) would be most of their
# cost, and they should be measured at their cheapest.
TOOLS: dict[str, str] = {
    "plain": """
        def test_{n}():
            assert {n} >= 0
    """,
    "suno_mock": """
        def test_{n}(suno_mock):
            client = suno_mock.client
            task_id = client.post("/suno/submit/music", json={{"prompt": "x"}}).json()["data"]
            assert client.get(f"/suno/fetch/{{task_id}}").json()["data"]["task_id"] == task_id
    """,
    "suno_mock.url": """
        def test_{n}(suno_mock):
            auth = {{"Authorization": f"Bearer {{suno_mock.api_key}}"}}
            task_id = CLIENT.post(f"{{suno_mock.url}}/suno/submit/music", json={{"prompt": "x"}},
                                  headers=auth).json()["data"]
            got = CLIENT.get(f"{{suno_mock.url}}/suno/fetch/{{task_id}}", headers=auth)
            assert got.json()["data"]["task_id"] == task_id
    """,
    "pytest-httpserver": """
        def test_{n}(httpserver):
            httpserver.expect_request("/suno/submit/music", method="POST").respond_with_json(
                {{"code": "success", "data": "t-{n}"}})
            httpserver.expect_request("/suno/fetch/t-{n}").respond_with_json(
                {{"code": "success", "data": {{"task_id": "t-{n}", "status": "SUCCESS"}}}})
            task_id = CLIENT.post(httpserver.url_for("/suno/submit/music"),
                                  json={{"prompt": "x"}}).json()["data"]
            got = CLIENT.get(httpserver.url_for(f"/suno/fetch/{{task_id}}"))
            assert got.json()["data"]["task_id"] == task_id
    """,
    "respx": """
        def test_{n}(respx_mock):
            respx_mock.post("http://suno.test/suno/submit/music").respond(
                json={{"code": "success", "data": "t-{n}"}})
            respx_mock.get("http://suno.test/suno/fetch/t-{n}").respond(
                json={{"code": "success", "data": {{"task_id": "t-{n}", "status": "SUCCESS"}}}})
            task_id = CLIENT.post("http://suno.test/suno/submit/music",
                                  json={{"prompt": "x"}}).json()["data"]
            got = CLIENT.get(f"http://suno.test/suno/fetch/{{task_id}}")
            assert got.json()["data"]["task_id"] == task_id
    """,
}
HEADER = "import httpx\n\nCLIENT = httpx.Client()\n\n"

# Records each test's setup + call + teardown, as pytest timed them, into $FIXTURE_COST_OUT.
CONFTEST = """
import json
import os

_TIMES = {}


def pytest_runtest_logreport(report):
    phases = _TIMES.setdefault(report.nodeid, {})
    phases[report.when] = report.duration
    if report.failed:
        phases["failed"] = 1


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_COST_OUT"], "w") as out:
        json.dump(list(_TIMES.values()), out)
"""


@dataclass
class Round:
    """One run of one tool's file: mean ms per test, by phase."""

    setup: float
    call: float
    teardown: float
    failed: int

    @property
    def total(self) -> float:
        return self.setup + self.call + self.teardown


def write_files(workdir: Path, tests: int) -> dict[str, Path]:
    (workdir / "conftest.py").write_text(CONFTEST)
    # An ini of its own: not this repository's (its warnings-as-errors, its testpaths).
    (workdir / "pytest.ini").write_text("[pytest]\n")
    files = {}
    for tool, template in TOOLS.items():
        body = "".join(textwrap.dedent(template).format(n=n) + "\n" for n in range(tests))
        path = workdir / f"test_{tool.replace('.', '_').replace('-', '_')}.py"
        path.write_text((HEADER if "CLIENT" in template else "") + body)
        files[tool] = path
    return files


def run_once(workdir: Path, path: Path) -> Round:
    out = workdir / "times.json"
    env = {**os.environ, "FIXTURE_COST_OUT": str(out)}
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           str(path.name)]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{path.name}: pytest exited {proc.returncode}\n{proc.stdout[-3000:]}"
                           f"{proc.stderr[-3000:]}")
    times = json.loads(out.read_text())
    count = max(len(times), 1)
    return Round(
        setup=sum(t.get("setup", 0.0) for t in times) / count * 1e3,
        call=sum(t.get("call", 0.0) for t in times) / count * 1e3,
        teardown=sum(t.get("teardown", 0.0) for t in times) / count * 1e3,
        failed=sum(int(t.get("failed", 0)) for t in times) + (len(times) == 0),
    )


def measure(tests: int, rounds: int, tools: list[str]) -> dict[str, list[Round]]:
    results: dict[str, list[Round]] = {tool: [] for tool in tools}
    with tempfile.TemporaryDirectory(prefix="fixture-cost-") as tmp:
        workdir = Path(tmp)
        files = write_files(workdir, tests)
        for i in range(rounds):
            # Alternate the order: a machine that slows down or speeds up favours no tool.
            for tool in tools if i % 2 == 0 else tools[::-1]:
                results[tool].append(run_once(workdir, files[tool]))
                print(f"round {i + 1}/{rounds} {tool}: {results[tool][-1].total:.2f} ms/test",
                      file=sys.stderr)
    return results


def report(results: dict[str, list[Round]], tests: int) -> tuple[str, int]:
    """The table (markdown) and how many tests failed (a broken tool is no measurement)."""
    plain = statistics.median(r.total for r in results["plain"]) if "plain" in results else 0.0
    med = {tool: statistics.median(r.total for r in runs) for tool, runs in results.items()}
    lines = [
        f"{tests} tests per tool (submit + one fetch each), {len(next(iter(results.values())))} "
        "alternating round(s); ms per test = pytest's setup + call + teardown, the mean over "
        "the tests, median of the rounds [min-max]; overhead = that minus the plain test's.",
        "",
        "| tool | ms per test | setup / call / teardown | overhead | overhead vs respx |",
        "|---|---|---|---|---|",
    ]
    failed = 0
    for tool, runs in results.items():
        totals = [r.total for r in runs]
        phases = " / ".join(f"{statistics.median(getattr(r, p) for r in runs):.2f}"
                            for p in ("setup", "call", "teardown"))
        over = med[tool] - plain
        ratio = ""
        if "respx" in med and tool not in ("plain", "respx"):
            base = med["respx"] - plain
            ratio = f"{over / base:.2f}x" if base > 0 else "n/a"
        lines.append(f"| {tool} | {med[tool]:.2f} [{min(totals):.2f}-{max(totals):.2f}] | "
                     f"{phases} | {'' if tool == 'plain' else f'{over:.2f}'} | {ratio} |")
        failed += sum(r.failed for r in runs)
    if "suno_mock" in med and "suno_mock.url" in med:
        lines += ["", f"suno_mock.url adds {med['suno_mock.url'] - med['suno_mock']:.2f} ms per "
                      "test over suno_mock in process."]
    if "suno_mock" in med and "respx" in med:
        lines += [f"suno_mock / respx, whole test: {med['suno_mock'] / med['respx']:.2f}x; "
                  "per-round ratios: " + ", ".join(
                      f"{m.total / r.total:.2f}" for m, r in
                      zip(results["suno_mock"], results["respx"], strict=False))]
    return "\n".join(lines), failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/fixture_cost.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=200, help="tests per tool (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, of {','.join(TOOLS)} (default: all)")
    args = parser.parse_args(argv)
    tools = args.tools.split(",")
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(unknown)}")
    results = measure(args.tests, args.rounds, tools)
    table, failed = report(results, args.tests)
    print(table)
    if failed:
        print(f"{failed} test(s) failed: the figures measure a broken run", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
