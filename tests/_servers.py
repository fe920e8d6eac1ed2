"""Servers for the store, server and reliability tests: a private redis-server, suno-mock serve.

Each test module starts its own (no persistence, 127.0.0.1 only) so that tests never touch a
developer's Redis. Tests skip with the reason when no redis-server binary can be started
(Debian package ``redis-server``), except on CI (CI=true), which must have it: there they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

__all__ = ["SUNO_MOCK", "RedisServer", "SunoMock", "redis_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process that a test may stop and start again on the same port."""

    def __init__(self, binary: str, data_dir: Path | None = None) -> None:
        self.binary = binary
        self.port = _free_port()
        self.data_dir = data_dir  # None: no persistence; else an fsync-always append-only file
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, prefix: str | None = None) -> str:
        query = f"?prefix={prefix}" if prefix else ""
        return f"redis://127.0.0.1:{self.port}/{db}{query}"

    def start(self, timeout: float = 10.0) -> None:
        persistence = (
            ["--appendonly", "no"]
            if self.data_dir is None
            else ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data_dir)]
        )
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--protected-mode", "yes",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None


def _unavailable(reason: str) -> None:
    # CI installs redis-server (.ci/run): there a missing Redis is a failure, not a skip.
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(f"{reason} (CI must install the Debian package redis-server)")
    pytest.skip(reason)


@contextmanager
def redis_server(data_dir: Path | None = None) -> Iterator[RedisServer]:
    """A started RedisServer; skips with the reason when none can be started (fails on CI)."""
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("no redis-server on PATH (apt-get install redis-server): Redis tests skipped")
    assert binary is not None
    server = RedisServer(binary, data_dir)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        _unavailable(f"redis-server could not be started: {exc}")
    try:
        yield server
    finally:
        server.stop()


# --- suno-mock serve ---------------------------------------------------------------------------

SUNO_MOCK = [sys.executable, "-m", "mock_server.cli", "serve"]


class SunoMock:
    """`suno-mock serve` in a subprocess on a free loopback port, its output in a file.

    Unlike conftest's running_fake, it leaves every flag to the caller (environment included),
    keeps the process for signals, and finds its worker processes.
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = SUNO_MOCK,
        log: Path,
        port: int | None = None,
        with_host: bool = True,
    ) -> None:
        self.port = port or _free_port()
        host = ["--host", "127.0.0.1", "--port", str(self.port)] if with_host else []
        self.cmd = [*command, *host, *args]
        # No poll grid unless a test asks: its phase is drawn from random task ids.
        self.env = {"SUNO_MOCK_POLL_INTERVAL": "0", **os.environ, **(env or {})}
        self.log = log
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> SunoMock:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise RuntimeError(f"suno-mock exited with {code}:\n{self.output()}")
                try:
                    if client.get(f"{self.base}/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"suno-mock did not answer within {timeout}s:\n{self.output()}"
                    )
                time.sleep(0.03)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def workers(self) -> list[int]:
        """The pids of the live worker processes (children of the server process)."""
        assert self.proc is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] not in ("Z", "X"):
                children.append(int(stat.parent.name))
        return sorted(children)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the server and wait for it; kill it past the timeout. Its exit code."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise

    def __enter__(self) -> SunoMock:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop()
