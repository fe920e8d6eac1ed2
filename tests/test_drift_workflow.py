""".github/workflows/nightly-drift.yml: parses, runs the check the way the CLI accepts it."""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess

import yaml

from contract_tests import drift
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "nightly-drift.yml"


def load() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps() -> list[dict]:
    return load()["jobs"]["drift"]["steps"]


def step(name: str) -> dict:
    return next(s for s in steps() if s.get("name") == name)


def test_triggers_and_permissions():
    data = load()
    env = data["jobs"]["drift"]["env"]
    assert "'elkapi'" in env["SUNO_PROFILE"] and "https://api.elkapi.com" in env["SUNO_BASE_URL"]
    assert data["on"]["schedule"] and re.fullmatch(r"[\d*/, -]+", data["on"]["schedule"][0]["cron"])
    assert "workflow_dispatch" in data["on"]
    assert data["permissions"] == {"contents": "read"}
    assert data["jobs"]["drift"]["timeout-minutes"] <= 30


def test_the_key_comes_from_the_secret_and_only_into_the_check_step():
    check = step("Check the live API for drift")
    assert check["env"]["SUNO_API_KEY"] == "${{ secrets.SUNO_API_KEY }}"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert text.count("secrets.SUNO_API_KEY") == 1
    assert "--api-key-env SUNO_API_KEY" in check["run"]


def test_the_flags_it_passes_are_flags_the_cli_knows():
    parser = argparse.ArgumentParser()
    drift.add_arguments(parser)
    known = {opt for action in parser._actions for opt in action.option_strings}
    script = step("Check the live API for drift")["run"]
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", script))
    assert used and used <= known, used - known
    assert "suno-contract drift" in script
    # The whole argument list parses, with the values the job's defaults give the variables.
    values = {"$SUNO_PROFILE": "elkapi", "$SUNO_BASE_URL": "https://api.elkapi.com",
              "$RUNNER_TEMP": "/tmp"}
    line = script.split("args=(", 1)[1].split(")", 1)[0].replace("\n", " ")
    for name, value in values.items():
        line = line.replace(name, value)
    words = shlex.split(line)
    assert "$" not in " ".join(words)
    args = parser.parse_args([*words, "--baseline", "b.json", "--update-baseline"])
    assert args.report_dir.name == "drift-out" and args.progress is False


def test_reports_are_uploaded_and_summarised_even_when_the_check_fails():
    summary = step("Write the report to the job summary")
    assert summary["if"] == "always()"
    assert "drift-out/drift-report.md" in summary["run"]
    assert "$GITHUB_STEP_SUMMARY" in summary["run"]
    upload = step("Upload the reports")
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "drift-out/"


def test_exit_codes_fail_the_job_distinctly():
    verdict = step("Verdict")
    assert verdict["if"] == "always()"
    script = verdict["run"]
    cases = dict(re.findall(r"^\s*(\d|\*)\)\s*\n(.*?);;", script, flags=re.M | re.S))
    assert "exit" not in cases["0"]
    assert "exit 1" in cases["1"] and "Breaking API drift" in cases["1"]
    assert "exit 2" in cases["2"] and "could not" in cases["2"]
    assert step("Check the live API for drift")["id"] == "drift"
    assert "steps.drift.outputs.code" in str(verdict["env"])


def test_every_script_is_valid_bash_without_inline_expressions():
    scripts = [s["run"] for s in steps() if "run" in s]
    assert len(scripts) >= 4
    for script in scripts:
        # Values reach scripts through env:, never spliced in with ${{ }} (script injection).
        assert "${{" not in script
        checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True,
                                 timeout=10)
        assert checked.returncode == 0, checked.stderr
