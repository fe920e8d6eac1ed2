"""The polling client of docs/how-to/faults.md runs, as written, against `rate-limited`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server import Config, create_app

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "faults.md"


def guide_client() -> dict[str, Any]:
    text = GUIDE.read_text(encoding="utf-8")
    example = text.split("\n## A polling client that survives `rate-limited`\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.S)
    assert code is not None, "the faults guide lost its polling client example"
    namespace: dict[str, Any] = {"__name__": "guide_example"}
    exec(compile(code.group(1), str(GUIDE), "exec"), namespace)
    return namespace


@pytest.fixture
def rate_limited():
    app = create_app(Config(clock="manual", poll_interval=0, faults=("rate-limited",)))
    service = app.extensions["suno_mock"]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # waiting moves the fake's manual clock, not ours
        waits.append(seconds)
        service.advance(seconds)

    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://suno-mock.local",
                        headers={"Authorization": "Bearer sk-demo"})
    with http:
        yield http, sleep, waits, service


def test_the_guide_polling_client_gets_its_song_through_the_429s(rate_limited):
    http, sleep, waits, service = rate_limited
    example = guide_client()
    clips = example["wait_for_song"](http, "[Verse]\nRetry me", sleep=sleep)
    assert [clip["status"] for clip in clips] == ["complete", "complete"]
    assert all(clip["audio_url"].endswith(".mp3") for clip in clips)
    journal = service.store.journal("")
    statuses = [entry["status"] for entry in journal]
    assert statuses[:2] == [429, 429]  # the burst
    assert statuses.count(429) > 2 and statuses[-1] == 200  # and the seeded quarter
    assert 1.0 in waits and 2.0 in waits  # it honoured Retry-After: 1, then 2


def test_without_retries_the_same_fake_breaks_a_naive_client(rate_limited):
    http, *_ = rate_limited
    response = http.post("/suno/submit/music", json={"prompt": "x"})
    assert response.status_code == 429
    assert response.json()["data"] is None  # no task id for a client that does not retry


def test_the_guide_client_gives_up_after_its_tries(rate_limited):
    http, sleep, *_ = rate_limited
    example = guide_client()
    http.post("/__mock/faults", json={"fault": "status", "status": 503})
    with pytest.raises(RuntimeError, match="no answer after 3 tries"):
        example["call"](http, "GET", "/suno/fetch/x", tries=3, sleep=sleep)
