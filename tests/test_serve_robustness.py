"""`suno-mock serve` under hostile clients (issue 13): stalled uploads, hanging faults, workers
that die in a row. Real subprocesses on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server.server.dispatch import FULL_GRACE, Watchdog
from tests._servers import SunoMock

KEY = {"Authorization": "Bearer sk-robust"}
LIVELY = 5.0  # "answered promptly": a generous bound for a loaded CI machine


def _connect(server: SunoMock) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=LIVELY)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _request(path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             method: str = "POST", length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Authorization: Bearer sk-robust",
             "Content-Type: application/json",
             f"Content-Length: {len(body) if length is None else length}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_until_closed(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (bounded)."""
    sock.settimeout(seconds)
    data = b""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    raise AssertionError(f"connection still open after {seconds} s; got {data[:200]!r}")


@contextlib.contextmanager
def _open(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _answered(base: str, ns: str = "") -> None:
    """/healthz, a submit and a fetch of it, each within LIVELY seconds."""
    headers = {**KEY, "X-Mock-Namespace": ns} if ns else KEY
    with httpx.Client(base_url=base, timeout=LIVELY) as http:
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        task = http.post("/suno/submit/music", json={"prompt": "x"}, headers=headers)
        assert task.status_code == 200, task.text
        fetched = http.post("/suno/fetch", json={"ids": [task.json()["data"]]}, headers=headers)
        assert fetched.status_code == 200 and fetched.json()["data"]
        assert time.monotonic() - started < LIVELY


# --- item 1: a slow client costs a connection, not a request thread -----------------------------


def test_stalled_uploads_do_not_stop_the_server_and_are_answered_408(tmp_path: Path) -> None:
    threads = 2
    args = ["--threads", str(threads), "--body-timeout", "1.5", "--clock", "manual"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        stalled = [_connect(server) for _ in range(threads * 6)]  # more than granian has threads
        with _open(stalled):
            for i, sock in enumerate(stalled):  # headers and one byte of a 10-byte body
                path = "/suno/fetch" if i % 2 else "/suno/submit/music"
                sock.sendall(_request(path, b"{", length=10))
            time.sleep(0.3)  # they are in the server now, each holding its read
            _answered(server.base)
            for sock in stalled:
                answer = _read_until_closed(sock, 10.0)
                assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
                assert b'"code":"read_request_body_failed"' in answer
            _answered(server.base)  # and the threads that read them are free again
        tasks = httpx.get(f"{server.base}/__mock/tasks").json()
        assert len(tasks) == 2  # the stalled submits created nothing
    assert "Traceback" not in server.output()


def test_a_body_that_arrives_in_time_is_served(tmp_path: Path) -> None:
    args = ["--threads", "1", "--body-timeout", "3"]
    with SunoMock(args, log=tmp_path / "out.log") as server, _open([_connect(server)]) as socks:
        sock = socks[0]
        body = b'{"prompt":"slow but steady"}'
        sock.sendall(_request("/suno/submit/music", body[:5], length=len(body)))
        time.sleep(0.5)
        _answered(server.base)  # meanwhile, others are served
        sock.sendall(body[5:])
        sock.settimeout(LIVELY)
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200 "), head[:200]


# --- item 4: one client's hanging faults starve nobody ------------------------------------------


def test_hanging_and_slow_faults_of_one_namespace_starve_no_one(tmp_path: Path) -> None:
    threads = 2
    args = ["--threads", str(threads), "--clock", "manual"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        hogs = [_connect(server) for _ in range(threads * 4)]
        with _open(hogs):
            for i, sock in enumerate(hogs):
                fault = "hang=60" if i % 2 else "latency=60"
                sock.sendall(_request("/suno/fetch", b'{"ids":[]}',
                                      {"X-Mock-Namespace": "hog", "X-Mock-Fault": fault}))
            time.sleep(0.3)
            _answered(server.base, ns="victim")
            _answered(server.base)
            _answered(server.base, ns="hog")  # its own requests without faults, too
            # A clear of the faults ends the waits early, as before.
            cleared = httpx.delete(f"{server.base}/__mock/faults",
                                   headers={"X-Mock-Namespace": "hog"}, timeout=LIVELY)
            assert cleared.status_code == 200
            for i, sock in enumerate(hogs):
                if i % 2:  # hang: the head, then a closed connection
                    answer = _read_until_closed(sock, LIVELY)
                    assert answer.startswith(b"HTTP/1.1 200 "), answer[:100]
                else:  # latency: the whole answer, late
                    sock.settimeout(LIVELY)
                    answer = b""
                    while not answer.endswith(b'"data":[]}'):
                        answer += sock.recv(4096)
    assert "Traceback" not in server.output()


def test_a_latency_fault_still_delays_the_answer(tmp_path: Path) -> None:
    with SunoMock(["--threads", "1"], log=tmp_path / "out.log") as server, httpx.Client(
        base_url=server.base, headers=KEY, timeout=LIVELY
    ) as http:
        started = time.monotonic()
        slow = http.post("/suno/fetch", json={"ids": []}, headers={"X-Mock-Fault": "latency=0.5"})
        assert slow.status_code == 200 and time.monotonic() - started >= 0.5


def test_past_the_per_namespace_budget_a_hang_closes_at_once(tmp_path: Path) -> None:
    from mock_server.server.dispatch import STREAMS_PER_NAMESPACE

    with SunoMock(["--threads", "1"], log=tmp_path / "out.log") as server:
        hangs = [_connect(server) for _ in range(STREAMS_PER_NAMESPACE + 1)]
        with _open(hangs):
            for sock in hangs:
                sock.sendall(_request("/suno/fetch", b'{"ids":[]}',
                                      {"X-Mock-Namespace": "greedy", "X-Mock-Fault": "hang=60"}))
            # One of them found the budget spent: its connection closes without an answer.
            closed = []
            deadline = time.monotonic() + LIVELY
            while not closed and time.monotonic() < deadline:
                for sock in hangs:
                    sock.settimeout(0.05)
                    with contextlib.suppress(TimeoutError):
                        if sock.recv(4096, socket.MSG_PEEK) == b"":
                            closed.append(sock)
            assert len(closed) == 1
            _answered(server.base, ns="greedy")  # it still gets normal answers
            assert httpx.delete(f"{server.base}/__mock/faults").status_code == 200
        assert "too many stalled answers" in server.output()


# --- item 2: workers that die soon after their start are replaced -------------------------------


def _kill_and_wait_for_replacement(server: SunoMock, seconds: float = 20.0) -> int:
    """SIGKILL the newest worker; the pid of the one that replaces it."""
    before = set(server.workers())
    victim = max(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.proc is not None and server.proc.poll() is None, server.output()
        new = set(server.workers()) - before
        if new and victim not in server.workers():
            return new.pop()
        time.sleep(0.05)
    raise AssertionError(f"no replacement for worker {victim}:\n{server.output()}")


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_worker_killed_again_soon_after_its_respawn_is_replaced_again(tmp_path: Path) -> None:
    args = ["--workers", "2", "--store", f"sqlite://{tmp_path / 'x.db'}"]
    with SunoMock(args, log=tmp_path / "out.log") as server:
        born = time.monotonic()
        _kill_and_wait_for_replacement(server)
        for _ in range(2):  # each time within granian's 5.5 s "crash loop" window
            _kill_and_wait_for_replacement(server)
        assert time.monotonic() - born < 20
        _answered(server.base)
        assert len(server.workers()) == 2
        assert server.stop() == 0
    assert "crash loop" not in server.output()


def test_the_respawn_policy() -> None:
    from mock_server.server.supervisor import CRASH_LOOP_LIMIT, backoff, supervisor_class

    assert [backoff(n) for n in range(7)] == [0, 0.5, 1, 2, 4, 8, 8]

    class DeadWorker:
        birth = time.monotonic()

        def is_alive(self) -> bool:
            return False

    supervisor = supervisor_class()("x:y", port=1)
    supervisor.wrks = [DeadWorker()]
    supervisor.quick_deaths[0] = CRASH_LOOP_LIMIT - 1
    assert supervisor._may_respawn([0]) is False  # the limit-th quick death in a row: stop
    assert supervisor.interrupt_signal and supervisor.interrupt_children == [0]


def test_granian_still_has_the_wrapper_the_dispatch_replaces() -> None:
    import granian.server.mp as granian_mp

    assert callable(granian_mp._wsgi_call_wrap)


def test_a_busy_process_lengthens_the_grace_a_crowd_of_readers_gets() -> None:
    # Under CPU load a reader whose body is all in can wait for the GIL past the crowded
    # 50 ms grace: that is no slow client (bench/: 408s cut real 50-id fetches under wrk).
    # The watchdog's own late wakes measure that wait and lengthen every grace while it lasts.
    watchdog = Watchdog(10.0)
    crowd = watchdog.full
    assert watchdog.allowed(crowd) == FULL_GRACE
    watchdog.woke(asked=100.0, wait=0.025, now=100.125)  # woke 100 ms late
    assert watchdog.allowed(crowd) == pytest.approx(FULL_GRACE + 0.2)
    assert watchdog.allowed(1) == 10.0  # never past the body timeout
    for look in range(60):  # on time again: the extra grace fades
        watchdog.woke(asked=float(look), wait=0.025, now=look + 0.025)
    assert watchdog.allowed(crowd) == pytest.approx(FULL_GRACE, abs=0.001)
