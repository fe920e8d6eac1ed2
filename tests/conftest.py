"""Shared fixtures for the project's own tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpcore  # noqa: F401 - httpx imports it lazily, which breaks later in-process pytester runs
import httpx
import pytest

from mock_server import Config, create_app

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material {path} is absent (it sits beside the project, not in it)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_fake(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20.0, port: int | None = None
) -> Iterator[str]:
    """Run `suno-mock serve ARGS` in a subprocess on a free loopback port (or ``port``, for
    flags that name it); yield its base URL."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "mock_server.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # No poll grid unless a test asks: its phase is drawn from random task ids.
        env={"SUNO_MOCK_POLL_INTERVAL": "0", **os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"suno-mock exited with {proc.returncode}:\n{out}")
            try:
                httpx.get(f"{base}/__mock/clock", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"suno-mock did not answer on {base} within {timeout}s"
                    ) from None
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def fake_server() -> Callable[..., object]:
    """Factory: `with fake_server("--profile", "newapi-2026") as base_url: ...`."""
    return running_fake


@pytest.fixture(params=["elkapi", "newapi-2025", "newapi-2026"])
def profile(request: pytest.FixtureRequest) -> str:
    """Every bundled profile in turn."""
    return str(request.param)


@pytest.fixture
def app(profile: str):  # type: ignore[no-untyped-def]
    """The fake in the given profile on a manual clock."""
    return create_app(Config(profile=profile, clock="manual", poll_interval=0))


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """Flask test client for the fake."""
    return app.test_client()
