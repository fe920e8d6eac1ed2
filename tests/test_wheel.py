"""The wheel in a fresh venv gives working commands with schemas and fixtures inside."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project built once as a wheel, as `pip install .` builds it."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
        check=True,
        timeout=300,
    )
    (built,) = work.glob("suno_contract_kit-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A new venv holding only the built wheel and its dependencies."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run(
        [env_dir / "bin" / "python", "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        timeout=600,
    )
    return env_dir


def test_wheel_ships_schemas_and_fixtures_not_top_level_data_packages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mock_server/_data/schemas/task-elkapi.schema.json" in names
    assert "mock_server/_data/fixtures/scenarios/music_success.json" in names
    assert "mock_server/_data/fixtures/profiles/newapi-2026.json" in names
    tops = {n.split("/")[0] for n in names if not n.startswith("suno_contract_kit-")}
    assert tops == {"mock_server", "contract_tests"}


def test_wheel_ships_the_dashboard_with_htmx_and_its_notice(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    ui = "mock_server/web/ui/"
    assert {
        ui + "static/htmx-2.0.11.min.js",
        ui + "static/ui.css",
        ui + "templates/suno_mock_ui/dashboard.html",
        ui + "NOTICE",
    } <= names


def test_wheel_marks_both_packages_typed(wheel):
    # PEP 561: without py.typed, mypy in a user's project treats our names as Any.
    names = zipfile.ZipFile(wheel).namelist()
    assert {"mock_server/py.typed", "contract_tests/py.typed"} <= set(names)


def test_installed_commands_print_the_wheel_version(wheel, installed, tmp_path):
    built = wheel.name.split("-")[1]  # suno_contract_kit-<version>-py3-none-any.whl
    for command in ("suno-mock", "suno-contract"):
        result = subprocess.run(
            [installed / "bin" / command, "--version"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{command} {built}"


def test_installed_server_submits_and_fetches(installed, tmp_path):
    port = free_port()
    cmd = [str(installed / "bin" / "suno-mock"), "serve", "--port", str(port), "--clock", "manual"]
    # Run from an empty directory so nothing can come from the source tree.
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/__mock/clock", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "installed suno-mock did not start"
                time.sleep(0.1)
        key = {"Authorization": "Bearer sk-wheel"}
        task_id = httpx.post(
            f"{base}/suno/submit/music", json={"title": "Wheel"}, headers=key
        ).json()["data"]
        httpx.post(f"{base}/__mock/clock/advance", json={"seconds": 600})
        task = httpx.get(f"{base}/suno/fetch/{task_id}", headers=key).json()["data"]
        assert task["status"] == "SUCCESS"
        assert task["data"][0]["title"] == "Wheel"
        # The dashboard's templates and static files come from the installed package.
        page = httpx.get(f"{base}/__mock/ui/")
        assert page.status_code == 200 and task_id in page.text
        assert httpx.get(f"{base}/__mock/ui/static/htmx-2.0.11.min.js").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout:
            proc.stdout.close()


def test_installed_validate_command_uses_bundled_schemas(installed, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "action": "MUSIC", "steps": [{"name": "a", "status": "NOPE"}]}')
    result = subprocess.run(
        [installed / "bin" / "suno-mock", "validate", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "$.steps[0].status" in result.stdout


def test_installed_contract_suite_runs_against_the_fake(installed, tmp_path):
    result = subprocess.run(
        [installed / "bin" / "suno-contract", "run", "--target", "mock", "--", "-q", "-W", "error"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
