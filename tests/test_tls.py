"""--tls: the API and the media over HTTPS, with a certificate from a local CA the fake keeps."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mock_server.server.tls import local_tls
from tests.conftest import free_port

KEY = {"Authorization": "Bearer sk-tls"}


def test_the_ca_is_kept_and_the_certificate_names_what_was_asked(tmp_path: Path) -> None:
    first = local_tls(tmp_path, ("fake.test",))
    ca = first.ca.read_bytes()
    again = local_tls(tmp_path, ("other.test",))
    assert again.ca.read_bytes() == ca  # trusted once, trusted after a restart
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_serve_tls_answers_https_for_the_api_and_the_media(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "mock_server.cli", "serve", "--host", "127.0.0.1", "--port",
           str(port), "--clock", "manual", "--poll-interval", "0", "--tls", "--tls-dir",
           str(tmp_path), "--tls-hostname", "fake.test"]
    log = tmp_path / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "server-key.pem").exists():  # the CA is made at start
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with httpx.Client(verify=trusting, timeout=5) as client:
            while True:
                try:
                    client.get(f"{base}/healthz")
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, log.read_text()
                    if time.monotonic() > deadline:
                        pytest.fail(f"no HTTPS answer:\n{log.read_text()}")
                    time.sleep(0.05)
            task_id = client.post(f"{base}/suno/submit/music", json={}, headers=KEY).json()["data"]
            client.post(f"{base}/__mock/clock/advance", json={"seconds": 180})
            clip = client.get(f"{base}/suno/fetch/{task_id}", headers=KEY).json()["data"]["data"][0]
            assert clip["audio_url"].startswith(f"{base}/__media/")  # no mixed content
            audio = client.get(clip["audio_url"])
            assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/mpeg"
        with pytest.raises(httpx.ConnectError):  # an untrusting client is refused
            httpx.get(f"{base}/healthz", timeout=5)
        assert str(tmp_path / "ca.pem") in log.read_text()  # the CA's path is printed
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_fixture_serves_https_with_a_ca_to_trust() -> None:
    from contract_tests.mock import SunoMock

    with SunoMock(tls=True) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(fake.ca_file))
        answer = httpx.post(f"{fake.url}/suno/submit/lyrics", json={"prompt": "p"},
                            headers={"Authorization": f"Bearer {fake.api_key}"}, verify=trusting)
        assert answer.json()["code"] == "success"
        ca = fake.ca_file
    assert not ca.exists()  # removed with the fake

