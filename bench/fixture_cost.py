"""What a test pays for the ``suno_mock`` fixture, against the tools people mock HTTP with.

    python bench/fixture_cost.py               # 200 tests per tool, 5 alternating rounds
    python bench/fixture_cost.py --tests 20 --rounds 1   # seconds: proves it runs, no verdict

For each tool it writes a pytest file of ``--tests`` tests, each a submit and one fetch:

- ``plain``: no fixture, no HTTP (pytest's own cost of a test, subtracted as "overhead");
- ``suno_mock``: the fake in process, through ``suno_mock.client``;
- ``suno_mock.url``: the same fake on its loopback port, through one ``httpx.Client``;
- ``suno_mock.async_client``: the fake in process through ``httpx.AsyncClient`` (anyio's
  pytest plugin runs the test);
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

# Each test: a submit, then one fetch of the task it made. respx runs next to suno_mock, so
# the alternating rounds always measure the pair side by side. The other tools' clients are made
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
    "suno_mock.url": """
        def test_{n}(suno_mock):
            auth = {{"Authorization": f"Bearer {{suno_mock.api_key}}"}}
            task_id = CLIENT.post(f"{{suno_mock.url}}/suno/submit/music", json={{"prompt": "x"}},
                                  headers=auth).json()["data"]
            got = CLIENT.get(f"{{suno_mock.url}}/suno/fetch/{{task_id}}", headers=auth)
            assert got.json()["data"]["task_id"] == task_id
    """,
    "suno_mock.async_client": """
        @pytest.mark.anyio
        async def test_{n}(suno_mock):
            async with suno_mock.async_client() as client:
                answer = await client.post("/suno/submit/music", json={{"prompt": "x"}})
                got = await client.get(f"/suno/fetch/{{answer.json()['data']}}")
            assert got.json()["data"]["task_id"] == answer.json()["data"]
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
}
HEADER = "import httpx\nimport pytest\n\nCLIENT = httpx.Client()\n\n"

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
    """One run of one tool's file: each test's setup + call + teardown, in ms, in run order."""

    tests: list[float]
    phases: dict[str, float]  # mean ms per test of each phase
    failed: int

    @property
    def mean(self) -> float:
        """Per test, the session's one-off set-up (the first test's) included."""
        return statistics.fmean(self.tests) if self.tests else 0.0

    @property
    def steady(self) -> float:
        """Per test once the session is set up: the median test."""
        return statistics.median(self.tests) if self.tests else 0.0

    @property
    def first(self) -> float:
        return self.tests[0] if self.tests else 0.0


def write_files(workdir: Path, tests: int) -> dict[str, Path]:
    (workdir / "conftest.py").write_text(CONFTEST)
    # An ini of its own: not this repository's (its warnings-as-errors, its testpaths).
    (workdir / "pytest.ini").write_text("[pytest]\n")
    files = {}
    for tool, template in TOOLS.items():
        body = "".join(textwrap.dedent(template).format(n=n) + "\n" for n in range(tests))
        path = workdir / f"test_{tool.replace('.', '_').replace('-', '_')}.py"
        path.write_text(HEADER + body)
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
    phases = ("setup", "call", "teardown")
    return Round(
        tests=[sum(t.get(p, 0.0) for p in phases) * 1e3 for t in times],
        phases={p: statistics.fmean(t.get(p, 0.0) for t in times) * 1e3 if times else 0.0
                for p in phases},
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
                last = results[tool][-1]
                print(f"round {i + 1}/{rounds} {tool}: {last.mean:.2f} ms/test (median "
                      f"{last.steady:.2f})", file=sys.stderr)
    return results


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def report(results: dict[str, list[Round]], tests: int) -> tuple[str, int]:
    """The table (markdown) and how many tests failed (a broken tool is no measurement)."""
    rounds = len(next(iter(results.values())))
    steady = {tool: statistics.median(r.steady for r in runs) for tool, runs in results.items()}
    mean = {tool: statistics.median(r.mean for r in runs) for tool, runs in results.items()}
    plain_steady, plain_mean = steady.get("plain", 0.0), mean.get("plain", 0.0)
    lines = [
        f"{tests} tests per tool (a submit and one fetch each), {rounds} alternating round(s). "
        "A test's time: pytest's setup + call + teardown. *per test*: the median test (the "
        "session set up); *mean*: over all tests, the first one's one-off set-up included; "
        "*first test*: that set-up. Each: median of the rounds [min-max]. *overhead*: minus "
        "the plain test's; *vs respx*: overhead over respx's overhead.",
        "",
        "| tool | per test, ms | overhead | vs respx | mean, ms | mean overhead vs respx "
        "| first test, ms | setup / call / teardown (means) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    failed = 0
    for tool, runs in results.items():
        over, over_mean = steady[tool] - plain_steady, mean[tool] - plain_mean
        ratio = ratio_mean = ""
        if "respx" in results and tool not in ("plain", "respx"):
            ratio = f"{over / (steady['respx'] - plain_steady):.2f}x"
            ratio_mean = f"{over_mean / (mean['respx'] - plain_mean):.2f}x"
        phases = " / ".join(f"{statistics.median(r.phases[p] for r in runs):.2f}"
                            for p in ("setup", "call", "teardown"))
        lines.append(
            f"| {tool} | {_spread([r.steady for r in runs])} | "
            f"{'' if tool == 'plain' else f'{over:.2f}'} | {ratio} | "
            f"{_spread([r.mean for r in runs])} | {ratio_mean} | "
            f"{_spread([r.first for r in runs])} | {phases} |")
        failed += sum(r.failed for r in runs)
    if "suno_mock" in results and "suno_mock.url" in results:
        lines += ["", "suno_mock.url adds, per test: "
                  f"{steady['suno_mock.url'] - steady['suno_mock']:.2f} ms (median test), "
                  f"{mean['suno_mock.url'] - mean['suno_mock']:.2f} ms (mean)."]
    if "suno_mock" in results and "respx" in results:
        per_round = [(m.steady - p.steady) / (r.steady - p.steady)
                     for m, r, p in zip(results["suno_mock"], results["respx"],
                                        results.get("plain", results["respx"]), strict=False)
                     ] if "plain" in results else []
        lines += ["", "suno_mock / respx, overhead per test, each round: "
                  + ", ".join(f"{x:.2f}" for x in per_round)]
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
