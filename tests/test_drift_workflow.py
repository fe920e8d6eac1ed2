""".github/workflows/nightly-drift.yml: parses, runs the check the way the CLI accepts it."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess

import yaml

from contract_tests import drift

try:  # where the drift check reads a task ids file (moving into contract_tests/drift/)
    from contract_tests.drift.observe import parse_ids
except ImportError:
    from contract_tests._drift_observe import parse_ids
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


def jobs() -> dict:
    return load()["jobs"]


# The first major of each action that runs on Node.js 24 (node20 leaves the runners in 2026).
NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,  # v5 still ran on node20 by default
    "actions/download-artifact": 7,
    "actions/cache/restore": 5,  # actions/cache v5.0.0: "runs on the Node.js 24 runtime"
    "actions/cache/save": 5,
}


def test_actions_are_majors_that_run_on_node24():
    used = [s["uses"] for job in jobs().values() for s in job["steps"] if "uses" in s]
    assert used
    for ref in used:
        action, _, version = ref.partition("@")
        assert action in NODE24_MAJOR, f"{ref}: which major runs on node24?"
        assert int(version.removeprefix("v").split(".")[0]) >= NODE24_MAJOR[action], ref


def test_accepting_a_baseline_is_one_manual_run_and_only_that_job_may_write():
    data = load()
    assert data["permissions"] == {"contents": "read"}
    assert "permissions" not in jobs()["drift"]  # the job holding the key reads only
    accept = jobs()["accept-baseline"]
    assert accept["permissions"] == {"contents": "write"}
    assert accept["needs"] == "drift"
    assert "needs.drift.outputs.baseline == 'written'" in accept["if"]
    assert "secrets." not in json.dumps(accept)
    assert jobs()["drift"]["outputs"]["baseline"] == "${{ steps.drift.outputs.baseline }}"
    check = step("Check the live API for drift")["run"]
    # Written only on a run asked to accept, and only when the API could be checked.
    assert '[ "$UPDATE_BASELINE" = "true" ] && [ "$code" != 2 ]' in check
    assert 'echo "baseline=written" >> "$GITHUB_OUTPUT"' in check
    upload = step("Upload the new baseline")
    assert upload["with"]["name"] == "drift-baseline"
    download = next(s for s in accept["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == "drift-baseline"
    commit = next(s for s in accept["steps"] if s.get("name") == "Commit the accepted baseline")
    assert commit["env"]["BASELINE"] == ".github/drift/baseline.json"
    assert "git push" in commit["run"] and "${{" not in commit["run"]
    checked = subprocess.run(["bash", "-n"], input=commit["run"], capture_output=True, text=True,
                             timeout=10)
    assert checked.returncode == 0, checked.stderr


def test_the_header_states_the_task_ids_format_the_check_reads():
    header = WORKFLOW.read_text(encoding="utf-8").split("\nname:")[0]
    assert "SUNO_TASK_IDS" in header and "separated by commas, spaces or" in header
    example = header.split("Example:")[1].splitlines()[1].lstrip("# ").strip()
    assert len(parse_ids(example)) == 2
    assert parse_ids("# mine\nid-1\nid-2, id-3") == ("id-1", "id-2", "id-3")
    assert parse_ids('["id-1", "id-2"]') == ("id-1", "id-2")


def test_the_history_is_restored_appended_saved_and_uploaded():
    names = [s.get("name") for s in jobs()["drift"]["steps"]]
    restore, save = step("Restore the drift history"), step("Save the drift history")
    assert names.index("Restore the drift history") < names.index("Check the live API for drift")
    assert names.index("Save the drift history") > names.index("Check the live API for drift")
    assert restore["uses"].startswith("actions/cache/restore@")
    assert save["uses"].startswith("actions/cache/save@")
    assert restore["with"]["path"] == save["with"]["path"] == "drift-history"
    # Each run saves under a new key; the next restores the newest by the shared prefix.
    assert restore["with"]["restore-keys"] == "drift-history-"
    assert save["with"]["key"].startswith("drift-history-${{ github.run_id }}")
    assert save["if"].startswith("always()")  # breaking drift is history too
    check = step("Check the live API for drift")["run"]
    assert "--history drift-history/history.jsonl" in check
    assert "cp drift-history/history.jsonl drift-out/" in check  # in the drift-report artifact
    assert "secrets." not in json.dumps([restore, save])
