"""Progress on a terminal, quiet and structured in CI: the helper, the drift check, the bench."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from contract_tests._progress import Progress, in_ci
from contract_tests.drift import DriftOptions, run_drift

KEY = "sk-DRIFTSECRET123456"
TASK_ID = "3f8b2a1c-5d6e-4f70-8a9b-0c1d2e3f4a5b"


class Stream(io.StringIO):
    """A stderr that says it is (or is not) a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_a_terminal_gets_one_line_rewritten_in_place():
    stream = Stream(tty=True)
    progress = Progress(stream, env={}, total=3)
    progress.step("probing GET /suno/fetch/{id}")
    progress.update("waiting", done=False)
    progress.step("probing POST /suno/fetch")
    progress.close()
    text = stream.getvalue()
    assert "\n" not in text
    assert "\r\x1b[K[1/3] probing GET /suno/fetch/{id}" in text
    assert "\r\x1b[Kwaiting" in text and "[2/3] probing POST" in text
    assert text.endswith("\r\x1b[K")  # cleared for what follows


@pytest.mark.parametrize("env", [{"CI": "true"}, {"CI": "1"}, {"CI": "TRUE"}])
def test_ci_is_quiet_even_on_a_terminal(env):
    stream = Stream(tty=True)
    progress = Progress(stream, env=env, total=2)
    progress.step("x")
    progress.close()
    assert stream.getvalue() == "" and not progress.enabled and in_ci(env)


def test_not_a_terminal_is_quiet_unless_asked_then_plain_lines():
    quiet = Stream(tty=False)
    Progress(quiet, env={}).step("x")
    assert quiet.getvalue() == ""
    asked = Stream(tty=False)
    progress = Progress(asked, forced=True, env={}, total=2)
    progress.step("one")
    progress.update("transient", done=False)  # only a terminal shows these
    progress.step("two")
    progress.close()
    assert asked.getvalue() == "[1/2] one\n[2/2] two\n"
    off = Stream(tty=True)
    Progress(off, forced=False, env={}).step("x")
    assert off.getvalue() == ""


def test_a_dumb_terminal_gets_plain_lines():
    stream = Stream(tty=True)
    progress = Progress(stream, env={"TERM": "dumb"}, total=1)
    progress.update("transient")
    progress.step("one")
    assert stream.getvalue() == "[1/1] one\n"


def test_a_long_line_is_cut_to_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    stream = Stream(tty=True)
    Progress(stream, env={}).update("x" * 100)
    assert len(stream.getvalue()) == len("\r\x1b[K") + 29


def _drift(tmp_path: Path, err: Stream, env: dict[str, str]) -> str:
    ids = tmp_path / "ids.txt"
    ids.write_text(TASK_ID + "\n")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "nope", "type": "x"}})

    out = io.StringIO()
    run_drift(DriftOptions(base_url="https://api.example", task_ids=ids, rate_limit=None,
                           report_dir=tmp_path / "r"),
              env={"SUNO_API_KEY": KEY, **env}, out=out, err=err,
              transport=httpx.MockTransport(answer), sleep=lambda _s: None)
    return out.getvalue()


def test_drift_shows_progress_on_a_terminal(tmp_path):
    err = Stream(tty=True)
    out = _drift(tmp_path, err, {})
    text = err.getvalue()
    assert "\r\x1b[K[1/" in text and "probing POST /suno/fetch" in text
    assert "DRIFTSECRET" not in text + out
    assert out.startswith("drift: unchecked")  # the human summary


def test_drift_in_ci_prints_only_structured_lines(tmp_path):
    err = Stream(tty=True)
    out = _drift(tmp_path, err, {"CI": "true"})
    assert "probing" not in err.getvalue() and "\r" not in err.getvalue()
    assert "drift status=unchecked exit=2" in out
    err = Stream(tty=False)
    out = _drift(tmp_path, err, {})
    assert "probing" not in err.getvalue() and "drift status=unchecked" in out


def _bench_module():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parent.parent / "bench" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run_progress", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("env", [{}, {"CI": "true"}])
def test_the_bench_shows_its_steps_on_a_terminal_only(tmp_path, env):
    bench = _bench_module()
    err = Stream(tty=True)
    opts = bench.Options(smoke=True, seconds=1, rounds=1, warmup=0, tasks=20, starts=1,
                         threads=1, connections=1, setups=[], serve_args=[], wrk=None,
                         workdir=tmp_path, progress=Progress(err, env=env))
    rows, _servers, _notes, failures = bench.run(opts)
    opts.progress.close()
    assert rows and not failures
    text = err.getvalue()
    if env:
        assert text == ""
    else:
        assert "\r\x1b[K[1/2] in-process: memory store, 20 tasks" in text
        assert "[2/2] in-process: memory store, CPU per request" in text
        assert "\n" not in text and text.endswith("\r\x1b[K")


def test_the_bench_can_be_told_to_keep_quiet():
    args, _ = _bench_module()._parse(["--smoke", "--no-progress"])
    assert args.no_progress
