"""Schemathesis, driven by the fake's own /openapi.json, finds no failure in a bounded run.

It runs from its own venv (.venv-schemathesis, made by .ci/run from
tests/schemathesis/requirements.txt) against a real `suno-mock serve` on loopback; the checks,
seed and bounds are in tests/schemathesis/schemathesis.toml, with why each exclusion is there.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, running_fake

CONFIG = ROOT / "tests" / "schemathesis" / "schemathesis.toml"
KEY = "sk-schemathesis"


def _st() -> Path:
    found = Path(os.environ.get("SUNO_SCHEMATHESIS", ROOT / ".venv-schemathesis" / "bin" / "st"))
    if not found.is_file():
        pytest.skip(
            f"Schemathesis is not installed at {found}: .ci/run installs it "
            "(python3 -m venv .venv-schemathesis && .venv-schemathesis/bin/pip install "
            "-r tests/schemathesis/requirements.txt), or set SUNO_SCHEMATHESIS to its st"
        )
    return found


@pytest.mark.parametrize("profile", ["elkapi", "newapi-2025", "newapi-2026"])
def test_schemathesis_finds_no_failure(profile, tmp_path):
    st = _st()
    # Only KEY is accepted, so the ignored_auth check sees other keys refused.
    with running_fake("--profile", profile, "--clock", "manual", "--api-key", KEY) as base:
        started = time.monotonic()
        result = subprocess.run(
            [str(st), "--config-file", str(CONFIG), "run", f"{base}/openapi.json",
             "--header", f"Authorization: Bearer {KEY}", "--report-dir", str(tmp_path / "r"),
             "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        )
        took = time.monotonic() - started
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert "passed" in out and "failure" not in out.split("SUMMARY")[-1], out[-3000:]
    print(f"schemathesis, profile {profile}: {took:.1f}s")
