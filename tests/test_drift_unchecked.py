"""Exit 2: the target could not be checked, and the reports and output say why."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from contract_tests.drift import DriftOptions, DriftResult, run_drift
from mock_server import Config, create_app, validate
from tests.conftest import free_port

KEY = "sk-DRIFTSECRET123456"


@contextmanager
def tiny_server(status: int, headers: dict[str, str] | None = None,
                body: bytes = b"", echo_auth: bool = False) -> Iterator[tuple[str, list[str]]]:
    """A loopback server answering every request the same way; yields (base URL, paths seen)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            payload = body
            if echo_auth:  # a misbehaving upstream that quotes the request back
                payload += self.headers.get("Authorization", "").encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def ids_file(tmp_path: Path) -> Path:
    path = tmp_path / "ids.txt"
    path.write_text("0f8d2c1e-6a57-4c0e-9d1b-3b4a5c6d7e8f\n")
    return path


def drift(base: str, ids: Path, tmp_path: Path, *, sleeps: list[float] | None = None,
          transport: httpx.BaseTransport | None = None, env: dict[str, str] | None = None,
          **options) -> tuple[DriftResult, str, str]:
    out, err = io.StringIO(), io.StringIO()
    recorded = [] if sleeps is None else sleeps
    result = run_drift(
        DriftOptions(base_url=base, task_ids=ids, report_dir=tmp_path / "report",
                     rate_limit=None, timeout=5.0, **options),
        env={"SUNO_API_KEY": KEY} if env is None else env,
        out=out, err=err, transport=transport, sleep=recorded.append,
    )
    return result, out.getvalue(), err.getvalue()


def assert_unchecked(result: DriftResult, err: str, tmp_path: Path, *reason_parts: str) -> None:
    assert result.exit_code == 2 and result.status == "unchecked"
    assert result.reason and all(part in result.reason for part in reason_parts), result.reason
    assert result.reason in err  # printed
    report = json.loads((tmp_path / "report" / "drift-report.json").read_text())
    assert validate(report, "drift-report") == []
    assert report["result"] == {"status": "unchecked", "exit_code": 2, "reason": result.reason}
    assert result.reason in (tmp_path / "report" / "drift-report.md").read_text()
    xml = (tmp_path / "report" / "drift-report.xml").read_text()
    assert 'errors="1"' in xml and "unchecked" in xml
    for text in [err, *(p.read_text() for p in (tmp_path / "report").iterdir())]:
        assert "DRIFTSECRET" not in text


def test_unreachable_port(ids_file, tmp_path):
    port = free_port()  # bound and released: nothing listens there
    result, _, err = drift(f"http://127.0.0.1:{port}", ids_file, tmp_path)
    assert_unchecked(result, err, tmp_path, "target unavailable", "ConnectError")


def test_a_server_answering_500(ids_file, tmp_path):
    with tiny_server(500, {"Content-Type": "text/plain"}, b"upstream exploded; you sent: ",
                     echo_auth=True) as (base, seen):
        result, _, err = drift(base, ids_file, tmp_path)
    assert_unchecked(result, err, tmp_path, "HTTP 500", "fetch-batch-known", "upstream exploded")
    assert seen == ["POST /suno/fetch"]  # stops at the first 5xx
    assert "[redacted]" in result.reason  # the echoed key was scrubbed


def test_a_server_answering_429_with_retry_after(ids_file, tmp_path):
    sleeps: list[float] = []
    with tiny_server(429, {"Retry-After": "2"}) as (base, seen):
        result, _, err = drift(base, ids_file, tmp_path, sleeps=sleeps, retries=2)
    assert_unchecked(result, err, tmp_path, "rate-limited past the retry budget", "429")
    assert len(seen) == 3  # the first try and two retries
    assert sleeps == [2.0, 2.0]  # each retry waited what Retry-After asked


def test_a_retry_after_beyond_the_allowed_wait_gives_up_at_once(ids_file, tmp_path):
    sleeps: list[float] = []
    with tiny_server(429, {"Retry-After": "3600"}) as (base, seen):
        result, _, err = drift(base, ids_file, tmp_path, sleeps=sleeps, max_retry_wait=5)
    assert_unchecked(result, err, tmp_path, "rate-limited past the retry budget")
    assert (len(seen), sleeps) == (1, [])


def test_a_refused_key(ids_file, tmp_path):
    app = create_app(Config(
            profile="newapi-2025", clock="manual", poll_interval=0, api_keys=("sk-someone-else",)))
    result, _, err = drift("http://suno-mock.local", ids_file, tmp_path,
                           transport=httpx.WSGITransport(app=app), profile="newapi-2025")
    assert_unchecked(result, err, tmp_path, "refused the API key from $SUNO_API_KEY",
                     "HTTP 401", "无效的令牌")


def test_a_target_that_is_not_the_api(ids_file, tmp_path):
    with tiny_server(200, {"Content-Type": "text/html"}, b"<html>welcome</html>") as (base, _):
        result, _, err = drift(base, ids_file, tmp_path)
    assert_unchecked(result, err, tmp_path, "does not look like the Suno task API", "text/html")


def test_no_key_in_the_environment(ids_file, tmp_path):
    result, _, err = drift("http://127.0.0.1:9", ids_file, tmp_path, env={})
    assert_unchecked(result, err, tmp_path, "$SUNO_API_KEY", "not set")
    assert result.report["summary"]["requests"] == 0


def test_an_empty_ids_file(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# nothing yet\n")
    result, _, err = drift("http://127.0.0.1:9", ids, tmp_path)
    assert_unchecked(result, err, tmp_path, "no task ids")
