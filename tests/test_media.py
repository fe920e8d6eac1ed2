"""A real app's journey, offline: the media URLs of a task point at the fake, and play."""

from __future__ import annotations

import io
import threading
import time

import httpx
import miniaudio
import pytest
from PIL import Image

from contract_tests.mock import SunoMock
from mock_server import Config, create_app

KEY = {"Authorization": "Bearer sk-media"}


@pytest.fixture
def fake():
    with SunoMock(api_key="sk-media") as mock:
        yield mock


def _done(fake: SunoMock) -> tuple[str, list[dict]]:
    task_id = fake.client.post("/suno/submit/music", json={"title": "Offline"}).json()["data"]
    fake.advance(180)
    task = fake.client.get(f"/suno/fetch/{task_id}").json()["data"]
    assert task["status"] == "SUCCESS"
    return task_id, task["data"]


def test_a_finished_clip_is_an_mp3_of_its_duration_served_by_the_fake(fake):
    task_id, clips = _done(fake)
    for clip in clips:
        url = clip["audio_url"]
        assert url == f"http://suno-mock.local/__media/-/{task_id}/cdn1/{clip['id']}.mp3"
        r = fake.client.get(url)
        assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        decoded = miniaudio.decode(r.content)
        assert abs(decoded.duration - clip["metadata"]["duration"]) < 2.0


def test_range_head_and_etag_as_a_browser_player_asks(fake):
    _, clips = _done(fake)
    url = clips[0]["audio_url"]
    whole = fake.client.get(url)
    part = fake.client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole.content)}"
    head = fake.client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(whole.content)
    etag = whole.headers["ETag"]
    assert fake.client.get(url, headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(("extension", "mimetype"), [("wav", "audio/wav"), ("mp4", "video/mp4")])
def test_the_wav_and_mp4_sit_beside_the_mp3_once_the_clip_is_complete(fake, extension, mimetype,
                                                                      monkeypatch):
    import mock_server.service.media as shelf

    made = []  # each encode: later requests must be answered from the cache
    encode = getattr(shelf, f"{extension}_for")
    monkeypatch.setattr(shelf, f"{extension}_for",
                        lambda *args, **kwargs: made.append(args) or encode(*args, **kwargs))
    task_id = fake.client.post("/suno/submit/music", json={}).json()["data"]
    fake.advance(40)  # streaming: no export yet
    clip_id = fake.client.get(f"/suno/fetch/{task_id}").json()["data"]["data"][0]["id"]
    url = f"http://suno-mock.local/__media/-/{task_id}/cdn1/{clip_id}.{extension}"
    early = fake.client.get(url)
    assert early.status_code == 404 and early.headers["Access-Control-Allow-Origin"] == "*"
    fake.advance(180)
    clip = fake.client.get(f"/suno/fetch/{task_id}").json()["data"]["data"][0]
    assert url == clip["audio_url"].removesuffix("mp3") + extension
    whole = fake.client.get(url)
    assert whole.status_code == 200 and whole.headers["Content-Type"] == mimetype
    assert whole.headers["Access-Control-Allow-Origin"] == "*"
    part = fake.client.get(url, headers={"Range": "bytes=0-11"})
    assert part.status_code == 206 and part.content == whole.content[:12]
    assert part.content[:4] == b"RIFF" if extension == "wav" else part.content[4:8] == b"ftyp"
    head = fake.client.head(url)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole.content)
    assert fake.client.get(url, headers={"If-None-Match": whole.headers["ETag"]}).status_code == 304
    assert fake.client.get(url).content == whole.content
    assert len(made) == 1  # encoded once, then served from the cache
    for other in (f"{clip_id}.ogg", f"{clip_id}.wav.mp3", f"nope.{extension}", extension):
        assert fake.client.get(f"/__media/-/{task_id}/cdn1/{other}").status_code == 404


@pytest.mark.parametrize(("key", "size"), [("image_url", 400), ("image_large_url", 1024)])
def test_covers_are_jpegs(fake, key, size):
    _, clips = _done(fake)
    r = fake.client.get(clips[0][key])
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (size, size)


def test_no_audio_before_the_clip_is_complete_and_none_for_other_ids(fake):
    task_id = fake.client.post("/suno/submit/music", json={}).json()["data"]
    fake.advance(40)  # streaming
    clip = fake.client.get(f"/suno/fetch/{task_id}").json()["data"]["data"][0]
    mp3 = clip["audio_url"].replace("/audiopipe/?item_id=", "/cdn1/") + ".mp3"
    assert fake.client.get(mp3).status_code == 404
    base = f"/__media/-/{task_id}"
    assert fake.client.get(f"{base}/cdn1/not-a-clip.mp3").status_code == 404
    assert fake.client.get(f"/__media/-/no-such-task/cdn1/{clip['id']}.mp3").status_code == 404


def test_the_stream_answers_at_once_grows_with_the_clock_and_ends_with_the_clip(fake):
    task_id = fake.client.post("/suno/submit/music", json={}).json()["data"]
    fake.advance(40)  # IN_PROGRESS since 35 s
    clip = fake.client.get(f"/suno/fetch/{task_id}").json()["data"]["data"][0]
    assert clip["audio_url"].endswith(f"/audiopipe/?item_id={clip['id']}")
    chunks: list[bytes] = []
    with httpx.Client(timeout=10) as client, client.stream("GET", fake.url + clip["audio_url"]
                                                             .split("suno-mock.local", 1)[1]) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"
        stream = r.iter_raw()
        chunks.append(next(stream))  # audio at once
        assert chunks[0][:1] in (b"\xff", b"I")  # an MPEG frame (or an ID3 tag)
        mover = threading.Thread(target=lambda: (time.sleep(0.5), fake.advance(200)))
        mover.start()
        started = time.monotonic()
        chunks.extend(stream)  # ends once the clip completes
        mover.join()
        assert time.monotonic() - started < 10
    whole = fake.client.get(
        fake.client.get(f"/suno/fetch/{task_id}").json()["data"]["data"][0]["audio_url"]
    ).content
    assert b"".join(chunks) == whole


def test_media_urls_follow_the_address_the_client_used_or_the_base_url():
    app = create_app(Config(clock="manual", poll_interval=0))
    client = app.test_client()
    task_id = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    app.extensions["suno_mock"].advance(180)
    via = client.get(f"/suno/fetch/{task_id}", headers={**KEY, "Host": "fake.test:9000",
                                                        "X-Mock-Namespace": "ci job/7"})
    assert via.status_code == 400  # another namespace: no such task there
    got = client.get(f"/suno/fetch/{task_id}", headers={**KEY, "Host": "fake.test:9000"})
    assert got.get_json()["data"]["data"][0]["audio_url"].startswith(
        f"http://fake.test:9000/__media/-/{task_id}/cdn1/")
    behind = create_app(Config(clock="manual", poll_interval=0,
                               media_base_url="https://music.example.test/mock"))
    c2 = behind.test_client()
    tid = c2.post("/suno/submit/music", json={}, headers=KEY,
                  environ_base={"HTTP_X_MOCK_NAMESPACE": "a b"}).get_json()["data"]
    behind.extensions["suno_mock"].advance(180, "a b")
    data = c2.get(f"/suno/fetch/{tid}", headers={**KEY, "X-Mock-Namespace": "a b"}).get_json()
    assert data["data"]["data"][0]["image_url"].startswith(
        f"https://music.example.test/mock/__media/a%20b/{tid}/cdn2/image_")


def test_suno_media_urls_keep_the_cdn_shapes():
    app = create_app(Config(clock="manual", poll_interval=0, media_urls="suno"))
    client = app.test_client()
    task_id = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    app.extensions["suno_mock"].advance(180)
    clip = client.get(f"/suno/fetch/{task_id}", headers=KEY).get_json()["data"]["data"][0]
    assert clip["audio_url"] == f"https://cdn1.suno.ai/{clip['id']}.mp3"
    assert clip["image_url"] == f"https://cdn2.suno.ai/image_{clip['id']}.jpeg"


def test_a_hostile_host_header_cannot_break_the_json():
    app = create_app(Config(clock="manual", poll_interval=0))
    client = app.test_client()
    task_id = client.post("/suno/submit/music", json={}, headers=KEY).get_json()["data"]
    app.extensions["suno_mock"].advance(180)
    r = client.get(f"/suno/fetch/{task_id}", headers={**KEY, "Host": 'a"b<c>'})
    assert r.status_code == 200
    assert b'http://a\\"b\\u003cc\\u003e/__media/' in r.data  # escaped as Go escapes
    task = r.get_json()["data"]  # still valid JSON
    assert task["status"] == "SUCCESS"
    assert task["data"][0]["audio_url"].startswith('http://a"b<c>/__media/-/')
