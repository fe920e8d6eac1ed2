"""Load generation: wrk (from Debian, installed when missing), or a Python stand-in (smoke)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["LoadResult", "Request", "ensure_wrk", "run_load", "wrk_version"]

_MARK = "BENCH_JSON "

# wrk's done() hook reports exact numbers as one JSON line, so nothing depends on its text layout.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',
    "__MARK__", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""

# Stop each wrk thread after `limit` responses: used to seed an exact-ish number of tasks.
_LIMIT = """
local count = 0
local limit = __LIMIT__
response = function(status, headers, body)
  count = count + 1
  if count >= limit then wrk.thread:stop() end
end
"""


@dataclass(frozen=True)
class Request:
    """One request, repeated by the load generator."""

    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx responses plus socket errors
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk(install: bool) -> str | None:
    """Path of wrk; install the Debian package first when allowed, root and apt-get is there."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(cmd, check=False, env=env, timeout=600, stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def wrk_version(wrk: str | None) -> str:
    if not wrk:
        return "absent (Python stand-in load generator)"
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def _lua(request: Request, limit: int | None) -> str:
    lines = [f"wrk.method = {json.dumps(request.method)}"]
    if request.body:
        lines.append(f"wrk.body = {json.dumps(request.body.decode())}")
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in request.headers]
    script = "\n".join(lines) + _DONE.replace("__MARK__", _MARK)
    if limit is not None:
        script += _LIMIT.replace("__LIMIT__", str(limit))
    return script


def _run_wrk(
    wrk: str,
    base_url: str,
    request: Request,
    seconds: int,
    threads: int,
    connections: int,
    limit: int | None,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(_lua(request, limit))
    try:
        cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
               "-s", handle.name, base_url + request.path]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        Path(handle.name).unlink()
    line = next((x for x in out.stdout.splitlines() if x.startswith(_MARK)), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    raw = json.loads(line[len(_MARK):])
    errors = sum(raw[k] for k in ("status", "connect", "read", "write", "timeout"))
    return LoadResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        errors=errors,
        tool="wrk",
    )


def _run_python(
    base_url: str, request: Request, seconds: int, connections: int, limit: int | None
) -> LoadResult:
    """Keep-alive clients on threads: proves the harness works; its numbers mean little."""
    parts = urlsplit(base_url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    workers = min(connections, 8)
    per_worker = None if limit is None else max(1, -(-limit // workers))

    def work() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < deadline and (per_worker is None or len(mine) < per_worker):
            start = time.perf_counter()
            for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
                try:
                    conn.request(request.method, request.path, body=request.body or None,
                                 headers=dict(request.headers))
                    response = conn.getresponse()
                    response.read()
                    bad += response.status >= 400
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    bad += attempt == 2
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    begin = time.perf_counter()
    pool = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 30)
    elapsed = time.perf_counter() - begin
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return LoadResult(len(latencies), elapsed, pct(0.5), pct(0.99), errors[0], "python")


def run_load(
    wrk: str | None,
    base_url: str,
    request: Request,
    *,
    seconds: int,
    threads: int = 2,
    connections: int = 32,
    limit: int | None = None,
) -> LoadResult:
    """Drive ``request`` at ``base_url`` for ``seconds`` (or until about ``limit`` responses)."""
    if wrk:
        per_thread = None if limit is None else max(1, -(-limit // threads))
        return _run_wrk(wrk, base_url, request, seconds, threads, connections, per_thread)
    return _run_python(base_url, request, seconds, connections, limit)
