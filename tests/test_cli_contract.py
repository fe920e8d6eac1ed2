"""suno-contract: run (the suite through pytest), validate (payloads against the contract),
and the dispatch of drift."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import contract_tests
from contract_tests import cli
from tests.conftest import free_port

TASK = {
    "task_id": "t1", "action": "MUSIC", "status": "SUCCESS", "fail_reason": "",
    "submit_time": 1, "start_time": 2, "finish_time": 3, "progress": "100%", "data": None,
}


def _write(tmp_path: Path, name: str, payload: object) -> str:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), "utf-8")
    return str(path)


def test_validate_prints_ok_for_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    good = _write(tmp_path, "good.json", TASK)
    assert cli.main(["validate", "--as", "task", "--profile", "newapi-2025", good]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"


def test_validate_prints_each_violation_with_its_path(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "good.json", TASK)
    bad = _write(tmp_path, "bad.json", {**TASK, "progress": "100", "submit_time": "1"})
    assert cli.main(["validate", "--as", "task", good, bad]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{good}: ok",
        f"{bad}: $.progress: '100' does not match '^[0-9]{{1,3}}%$'",
        f"{bad}: $.submit_time: '1' is not of type 'integer'",
    ]


def test_validate_follows_profile_and_strict(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    extra = _write(tmp_path, "extra.json", {**TASK, "notify_hook": ""})
    assert cli.main(["validate", "--as", "task", "--profile", "newapi-2025", extra]) == 0
    assert cli.main(["validate", "--as", "task", "--profile", "elkapi", "--strict", extra]) == 0
    capsys.readouterr()
    assert cli.main(["validate", "--as", "task", "--profile", "newapi-2025", "--strict",
                     extra]) == 1
    assert "$: Additional properties are not allowed ('notify_hook' was unexpected)" \
        in capsys.readouterr().out
    assert cli.main(["validate", "--as", "task", "--profile", "elkapi", _write(
        tmp_path, "plain.json", TASK)]) == 1
    assert "$: 'notify_hook' is a required property" in capsys.readouterr().out


def test_validate_reports_files_that_are_not_json_or_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _write(tmp_path, "broken.json", "{nope")
    assert cli.main(["validate", "--as", "task", broken]) == 1
    assert f"{broken}: not JSON:" in capsys.readouterr().out
    assert cli.main(["validate", "--as", "task", str(tmp_path / "absent.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_validate_knows_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["validate", "--as", "nonsense", "x.json"])
    assert stopped.value.code == 2
    assert "fetch-batch-response" in capsys.readouterr().err


def test_run_builds_the_pytest_command_line() -> None:
    parser, _ = cli._parser()
    args = parser.parse_args(["run", "--target", "live", "--base-url", "https://gw.example",
                              "--profile", "newapi-2026", "--api-key-env", "MY_KEY",
                              "--task-ids", "ids.txt", "--allow-spend", "2", "--rate-limit",
                              "0.5", "--junitxml", "out.xml", "--", "-x", "-k", "envelope"])
    assert cli.pytest_args(args) == [
        "--pyargs", "contract_tests", "--suno-target", "live",
        "--suno-base-url", "https://gw.example", "--suno-profile", "newapi-2026",
        "--suno-api-key-env", "MY_KEY", "--suno-task-ids", "ids.txt",
        "--suno-allow-spend", "2", "--suno-rate-limit", "0.5", "--junitxml", "out.xml",
        "-x", "-k", "envelope",
    ]


def test_run_returns_the_suites_exit_status(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xml = tmp_path / "suite.xml"
    fast = ["--", "-p", "no:cacheprovider", "-q", "-k", "envelope", "--suno-max-examples", "2"]
    assert cli.main(["run", "--target", "mock", "--junitxml", str(xml), *fast]) == 0
    assert '<property name="suno_target" value="mock" />' in xml.read_text("utf-8")
    monkeypatch.setenv("SUNO_API_KEY", "sk-cli-test-key")
    nobody = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["run", "--target", "live", "--base-url", nobody, "--task-ids", "t1",
                     *fast]) == 75  # unreachable: not a contract failure


def test_drift_is_dispatched_when_present(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("contract_tests.drift", reason="the drift check is another module")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["drift", "--help"])
    assert stopped.value.code == 0
    assert "usage: suno-contract drift" in capsys.readouterr().out


def test_run_and_validate_work_without_the_drift_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "contract_tests.drift", None)  # import now fails
    monkeypatch.delattr(contract_tests, "drift", raising=False)
    parser, has_drift = cli._parser()
    assert not has_drift
    assert "{run,validate}" in parser.format_help()
    good = _write(tmp_path, "good.json", TASK)
    assert cli.main(["validate", "--as", "task", good]) == 0
