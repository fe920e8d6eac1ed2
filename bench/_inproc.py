"""Measurements without a server: the memory store's size per task, the contract suite's time."""

from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["contract_suite", "memory_store_bytes", "request_cost", "seed_store"]


def memory_store_bytes(count: int) -> tuple[int, float]:
    """Bytes the memory store holds for ``count`` submitted tasks (tracemalloc), and submits/s."""
    from mock_server import Config
    from mock_server.core.identity import owner_of
    from mock_server.service.mock_service import MockService

    service = MockService(Config(clock="manual"))
    scenario = service.resolve_scenario("MUSIC", None)
    owners = [owner_of(f"bench-owner-{i}") for i in range(100)]
    request = {"prompt": "[Verse]\nbench", "mv": "chirp-v3-5", "title": "Bench"}
    service.submit(owners[0], "MUSIC", request, scenario)  # namespace and clock exist first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        for i in range(count):
            # A fresh dict per task, as a decoded request body would be.
            service.submit(owners[i % 100], "MUSIC", dict(request), scenario)
        elapsed = time.perf_counter() - start
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before, count / elapsed


def _start_response(*_args: Any) -> Callable[[bytes], object]:
    return lambda _data: None


def request_cost(count: int, store: str = "memory://") -> dict[str, tuple[float, float]]:
    """Per-request CPU (µs) of a plain fetch and GET in-process, with 10 and with ``count`` more
    tasks in ``store``: the scaling check without a machine's noise. The process's CPU time, so
    a SQLite store's writes behind (another thread) are counted too."""
    import io
    import json
    import timeit

    from mock_server import Config, create_app
    from mock_server.core.identity import owner_of

    app = create_app(Config(clock="manual", store=store))
    service = app.extensions["suno_mock"]
    scenario = service.resolve_scenario("MUSIC", None)
    owner = owner_of("bench-key")
    task_ids = [service.submit(owner, "MUSIC", {"prompt": "x"}, scenario) for _ in range(10)]
    task_id = task_ids[0]
    service.advance(3600)
    body = json.dumps({"ids": [task_id]}).encode()
    requests = {
        "POST /suno/fetch, 1 id": ("POST", "/suno/fetch", body),
        "GET /suno/fetch/<id>": ("GET", f"/suno/fetch/{task_id}", b""),
    }

    def cost(method: str, path: str, data: bytes) -> float:
        def call() -> None:
            environ = {
                "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(data), "wsgi.errors": sys.stderr,
                "wsgi.input_terminated": True, "CONTENT_LENGTH": str(len(data)),
                "CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": "Bearer bench-key",
            }
            b"".join(app(environ, _start_response))

        # timeit turns the garbage collector off; a store of 100,000 tasks must pay for its
        # collections here like a server does.
        runs = timeit.repeat(call, "gc.enable()", number=2000, repeat=7, timer=time.process_time)
        return min(runs) / 2000 * 1e6

    few = {what: cost(*req) for what, req in requests.items()}
    other = owner_of("bench-seed-key")
    for _ in range(count):
        service.submit(other, "MUSIC", {"prompt": "x"}, scenario)
    service.store.journal("")  # once every write behind is in
    try:
        return {what: (few[what], cost(*req)) for what, req in requests.items()}
    finally:
        service.store.close()


def seed_store(url: str, count: int, key: str) -> float:
    """Submit ``count`` tasks straight into a shared store (as ``key``); submits per second.

    For SQLite and Redis, which the server reads as it goes: far quicker than over HTTP.
    """
    from mock_server import Config
    from mock_server.core.identity import owner_of
    from mock_server.service.mock_service import MockService

    service = MockService(Config(store=url))
    try:
        scenario = service.resolve_scenario("MUSIC", None)
        owner = owner_of(key)
        request = {"prompt": "[Verse]\nbench", "mv": "chirp-v3-5", "title": "Bench"}
        start = time.perf_counter()
        for _ in range(count):
            service.submit(owner, "MUSIC", dict(request), scenario)
        return count / (time.perf_counter() - start)
    finally:
        service.store.close()


def contract_suite(root: Path, timeout: float = 600) -> tuple[float, str] | None:
    """Seconds and summary of ``pytest --pyargs contract_tests -q``; None if there is no suite."""
    spec = importlib.util.find_spec("contract_tests")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    if not any(package.rglob("test_*.py")):
        return None
    cmd = [sys.executable, "-m", "pytest", "--pyargs", "contract_tests", "-q", "-p",
           "no:cacheprovider"]
    start = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, f"timed out after {timeout:.0f}s"
    elapsed = time.perf_counter() - start
    lines = [x for x in out.stdout.strip().splitlines() if x.strip()]
    summary = lines[-1].strip("= ") if lines else f"exit {out.returncode}"
    return elapsed, summary + ("" if out.returncode == 0 else f" (exit {out.returncode})")
