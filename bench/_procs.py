"""Start, probe and stop servers on loopback; read their memory. Every process gets a deadline."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["ServerProc", "free_port", "probe", "started"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class ServerProc:
    """A server in its own process group (master + workers), so stopping it stops them all."""

    def __init__(self, cmd: Sequence[str], port: int, log: Path, env: dict[str, str] | None = None):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log = log.open("ab")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            list(cmd),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ) if env is None else env,
            start_new_session=True,
        )

    def wait_ok(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> float:
        """Poll until the request answers 200; seconds since the process was started."""
        deadline = self.started_at + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                status, _ = probe(self.port, method, path, body, headers)
                if status == 200:
                    return time.perf_counter() - self.started_at
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no 200 from {self.base_url}{path} within {timeout}s")
            time.sleep(0.002)

    def pids(self) -> list[int]:
        """Every live process of this server's group (master and workers)."""
        group = self.proc.pid
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Field 5 (pgrp) follows the parenthesised command name, which may contain spaces.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == group:
                out.append(int(entry.name))
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the live processes of the group."""
        ticks = 0
        for pid in self.pids():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Workers may outlive a master killed hard: sweep what is left of our own group.
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


@contextlib.contextmanager
def started(
    cmd: Sequence[str], log: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[ServerProc]:
    """``cmd`` may contain ``{port}``; the server is stopped however the block ends."""
    port = port or free_port()
    server = ServerProc([c.replace("{port}", str(port)) for c in cmd], port, log, env)
    try:
        yield server
    finally:
        server.stop()


PYTHON = sys.executable
