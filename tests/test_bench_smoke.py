"""bench/ still works: a short smoke run (seconds), never a verdict on speed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
ROWS = (
    "start -> first successful submit",
    "POST /suno/fetch, 1 id",
    "GET /suno/fetch/<id>",
    "POST /suno/fetch, 50 ids",
    "POST /suno/submit/music",
    "server RSS added by",
    "POST /suno/fetch, 1 id: 1,000+ tasks vs a twin with 10",
    "GET /suno/fetch/<id>: CPU per request, 1,000 tasks vs 10",
    "memory store, 1,000 tasks (tracemalloc)",
)


def _report_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_smoke_run_measures_every_row_against_the_baseline(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nNotes kept by hand.\n", encoding="utf-8")
    cmd = [sys.executable, str(BENCH / "run.py"), "--smoke", "--no-install", "--out", str(results)]
    # wrk when it is installed, else the Python stand-in: either way no apt-get, no internet.
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    output = proc.stdout + proc.stderr
    # Exit 0: every response a success and the 50-id answer equal to 50 single fetches.
    assert proc.returncode == 0, output[-4000:]
    for row in ROWS:
        assert row in proc.stdout, f"row {row!r} missing:\n{proc.stdout[-4000:]}"
    assert "| baseline |" in proc.stdout
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# Results\n\nNotes kept by hand.\n")
    assert f"bench/run.py --smoke --no-install --out {results}" in text
    for fact in ("| cores |", "| CPU |", "| memory |", "| Python |", "| load generator |"):
        assert fact in text
    assert "1 worker, store memory://" in text  # the server and worker count of the row


def test_rewriting_results_replaces_only_the_generated_part(tmp_path: Path) -> None:
    report = _report_module()
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nbefore\n", encoding="utf-8")
    report.write_results(path, "run one")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\nafter\n")
    report.write_results(path, "run two")
    text = path.read_text(encoding="utf-8")
    assert "run one" not in text
    assert text.count("run two") == 1
    assert text.startswith("# Results\n\nbefore\n") and text.endswith("\nafter\n")


def test_the_fixture_cost_bench_runs() -> None:
    # The kit's own tools only: respx and pytest-httpserver come with the bench extra.
    tools = "suno_mock,suno_mock.url,suno_mock.async_client"
    cmd = [sys.executable, str(BENCH / "fixture_cost.py"), "--tests", "3", "--rounds", "1",
           "--tools", tools]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]  # every generated test passed
    for tool in tools.split(","):
        assert f"| {tool} | " in proc.stdout, proc.stdout
    assert "suno_mock.url adds, per test:" in proc.stdout
