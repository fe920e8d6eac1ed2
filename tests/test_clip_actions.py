"""ElkAPI's clip actions (reference section 10; issue 16): the WAV and MP4 exports, stems,
personas. What an app sees: the answers, the files they name, the stems' lifecycle on the fake's
clock, a persona its next music submit may name; bad input refused with the task envelope and
nothing stored. (The new-api profiles' NoRoute answers: tests/test_surface.py.)"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from typing import Any

import av
import miniaudio
import pytest

from mock_server import Config, create_app, validate
from mock_server.core.render import clip_ids
from mock_server.media.audio import RATE
from tests._servers import redis_server

KEY = {"Authorization": "Bearer sk-alice"}
OTHER = {"Authorization": "Bearer sk-bob"}


def elkapi(**config: Any) -> Any:
    return create_app(Config(profile="elkapi", clock="manual", poll_interval=0, **config))


@pytest.fixture
def elk() -> Any:
    return elkapi().test_client()


def advance(client: Any, seconds: float) -> None:
    assert client.post("/__mock/clock/advance", json={"seconds": seconds}).status_code == 200


def song(client: Any, headers: Any = KEY, done: bool = True) -> tuple[str, dict[str, Any]]:
    """A MUSIC task of the caller's (complete unless ``done`` is False) and its first clip."""
    r = client.post("/suno/submit/music", json={"title": "Rain", "prompt": "[Verse]\nla la"},
                    headers=headers)
    task_id = r.get_json()["data"]
    if done:
        advance(client, 400)
    task = client.get(f"/suno/fetch/{task_id}", headers=headers).get_json()["data"]
    return task_id, (task["data"] or [{"id": clip_ids(task_id, 2)[0]}])[0]


def stored(client: Any) -> list[Any]:
    """Every record of the default namespace, personas included (the admin list shows all)."""
    return client.get("/__mock/tasks").get_json()


def refused(response: Any, needle: str = "not a clip of one of your tasks") -> None:
    assert response.status_code == 400, response.data
    body = response.get_json()
    assert validate(body, "task-error") == []
    assert body["code"] == "invalid_request" and body["data"] is None
    assert needle in body["message"], body["message"]


# -- WAV and MP4 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["wav", "mp4"])
def test_an_export_answers_the_clip_id_and_its_file_is_beside_the_mp3(elk: Any, kind: str) -> None:
    _task, clip = song(elk)
    r = elk.get(f"/suno/act/{kind}/{clip['id']}", headers=KEY)
    assert r.status_code == 200 and r.content_type == "application/json"
    assert r.get_json() == {"code": "success", "message": "", "data": clip["id"]}
    assert validate(r.get_json(), "export-response") == []
    assert clip["video_url"] == ""  # as the 2025 captures show, even complete
    url = clip["audio_url"].removesuffix(".mp3") + f".{kind}"
    media = elk.get(url)
    assert media.status_code == 200
    duration = clip["metadata"]["duration"]
    if kind == "wav":
        assert media.content_type == "audio/wav"
        with wave.open(io.BytesIO(media.data)) as wav:
            assert wav.getframerate() == RATE
            assert abs(wav.getnframes() / RATE - duration) < 0.01
        mp3 = miniaudio.decode(elk.get(clip["audio_url"]).data, nchannels=1, sample_rate=RATE)
        assert abs(mp3.duration - duration) < 1.0  # the same length as the clip's MP3
    else:
        assert media.content_type == "video/mp4"
        with av.open(io.BytesIO(media.data)) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            assert container.duration is not None
            assert abs(container.duration / av.time_base - duration) < 1.0


def test_suno_media_urls_name_the_cdn_file() -> None:
    client = create_app(Config(profile="elkapi", clock="manual", poll_interval=0,
                               media_urls="suno")).test_client()
    _task, clip = song(client)
    assert clip["audio_url"] == f"https://cdn1.suno.ai/{clip['id']}.mp3"
    # An app builds https://cdn1.suno.ai/<clip id>.wav from the id the route answers.
    assert client.get(f"/suno/act/wav/{clip['id']}", headers=KEY).get_json()["data"] == clip["id"]


@pytest.mark.parametrize("route", ["wav", "mp4", "stems"])
def test_a_clip_action_on_a_clip_not_the_callers_is_a_400_and_stores_nothing(
    elk: Any, route: str
) -> None:
    _task, clip = song(elk)
    before = stored(elk)
    assert elk.get(f"/suno/act/{route}/{clip['id']}").status_code == 401
    for headers, clip_id in [(OTHER, clip["id"]), (KEY, "nope"), (KEY, _task),
                             ({**KEY, "X-Mock-Namespace": "elsewhere"}, clip["id"])]:
        refused(elk.get(f"/suno/act/{route}/{clip_id}", headers=headers))
    for path in (f"/suno/act/{route}/", f"/suno/act/{route}/{clip['id']}/x"):
        r = elk.get(path, headers=KEY)  # another path: NoRoute, as the gateway
        assert r.status_code == 200 and r.content_type.startswith("text/html")
    assert stored(elk) == before


def test_an_export_of_an_unfinished_clip_is_answered_its_file_waits(elk: Any) -> None:
    task_id, clip = song(elk, done=False)
    r = elk.get(f"/suno/act/wav/{clip['id']}", headers=KEY)
    assert r.status_code == 200 and r.get_json()["data"] == clip["id"]
    url = f"/__media/-/{task_id}/cdn1/{clip['id']}.wav"
    assert elk.get(url).status_code == 404
    advance(elk, 400)
    assert elk.get(url).status_code == 200


# -- stems ----------------------------------------------------------------------------------------


def stems(client: Any, clip_id: str, headers: Any = KEY) -> list[dict[str, Any]]:
    r = client.get(f"/suno/act/stems/{clip_id}", headers=headers)
    assert r.status_code == 200, r.data
    assert r.content_type == "application/json"
    body = r.get_json()
    assert list(body) == ["clips"]  # Suno's raw answer, no envelope
    assert validate(body, "stems-response") == []
    return body["clips"]


def test_stems_move_from_queued_to_complete_on_the_fakes_clock(elk: Any) -> None:
    _task, clip = song(elk)
    first = stems(elk, clip["id"])
    assert [s["status"] for s in first] == ["queued", "queued"]
    assert [s["title"] for s in first] == ["Rain (Vocals)", "Rain (Instrumental)"]
    ids = [s["id"] for s in first]
    assert len(set(ids)) == 2 and clip["id"] not in ids
    for s in first:
        meta = s["metadata"]
        assert meta["type"] == "stem" and meta["stem_from_id"] == clip["id"]
        assert s["audio_url"] == ""
    assert first[0]["metadata"]["prompt"] == clip["metadata"]["prompt"]
    assert first[1]["metadata"]["prompt"] == ""  # the instrumental has no words
    advance(elk, 14)
    assert [s["status"] for s in stems(elk, clip["id"])] == ["queued", "queued"]
    advance(elk, 1)
    streaming = stems(elk, clip["id"])
    assert [s["status"] for s in streaming] == ["streaming", "streaming"]
    assert [s["id"] for s in streaming] == ids  # asking again is polling: the same clips
    assert elk.get(streaming[0]["audio_url"].replace("/audiopipe/?item_id=", "/cdn1/")
                   + ".mp3").status_code == 404
    advance(elk, 45)
    done = stems(elk, clip["id"])
    assert [s["status"] for s in done] == ["complete", "complete"]
    assert [s["id"] for s in done] == ids
    for s in done:
        assert s["metadata"]["duration"] == clip["metadata"]["duration"]
        audio = elk.get(s["audio_url"])
        assert audio.status_code == 200 and audio.content_type == "audio/mpeg"
        assert abs(miniaudio.decode(audio.data).duration - clip["metadata"]["duration"]) < 2.0
    vocals, instrumental = (elk.get(s["audio_url"]).data for s in done)
    assert vocals != instrumental


def test_stems_are_one_set_per_clip_and_clips_of_the_callers(elk: Any) -> None:
    _task, clip = song(elk)
    _other_task, other_clip = song(elk)
    first, second = stems(elk, clip["id"]), stems(elk, other_clip["id"])
    assert {s["id"] for s in first}.isdisjoint(s["id"] for s in second)
    count = len(stored(elk))
    assert stems(elk, clip["id"]) == first  # no new task for a repeated call
    assert len(stored(elk)) == count
    # A stem is a clip of the caller's like any other: it can be stemmed, timed, extended.
    assert len(stems(elk, first[0]["id"])) == 2
    assert elk.get(f"/suno/act/timing/{first[0]['id']}", headers=KEY).status_code == 200
    refused(elk.get(f"/suno/act/stems/{first[0]['id']}", headers=OTHER))


def test_stems_follow_x_mock_scenario_at_the_first_call_only(elk: Any) -> None:
    _task, clip = song(elk)
    before = stored(elk)
    r = elk.get(f"/suno/act/stems/{clip['id']}",
                headers={**KEY, "X-Mock-Scenario": "music_success"})
    refused(r, "not STEMS")  # a MUSIC scenario is not a STEMS one
    r = elk.get(f"/suno/act/stems/{clip['id']}", headers={**KEY, "X-Mock-Scenario": "nope"})
    assert r.status_code == 400
    assert stored(elk) == before


# -- personas -------------------------------------------------------------------------------------


def create(client: Any, body: Any, headers: Any = KEY) -> Any:
    return client.post("/suno/persona/create/", json=body, headers=headers)


def test_a_persona_is_its_root_clip_and_its_id_is_a_persona_id(elk: Any) -> None:
    _task, clip = song(elk)
    body = {"root_clip_id": clip["id"], "name": "Rainy voice", "description": "soft",
            "clips": [clip["id"]], "is_public": True}
    r = create(elk, body)
    assert r.status_code == 200 and r.content_type == "application/json"
    persona = r.get_json()
    assert validate(persona, "persona") == []
    assert list(persona)[:5] == ["id", "name", "description", "root_clip_id", "clip"]
    assert (persona["name"], persona["description"], persona["root_clip_id"]) == (
        "Rainy voice", "soft", clip["id"])
    assert persona["clip"] == clip and persona["is_public"] is True
    assert persona["persona_clips"] == [{"clip_id": clip["id"]}]
    again = create(elk, body).get_json()
    assert again["id"] != persona["id"]  # each create is a persona of its own
    accepted = elk.post("/suno/submit/music", json={"prompt": "x", "persona_id": persona["id"]},
                        headers=KEY)
    assert accepted.status_code == 200, accepted.data
    # A persona is not a task: no fetch finds it.
    r = elk.get(f"/suno/fetch/{persona['id']}", headers=KEY)
    assert r.status_code == 400 and r.get_json()["code"] == "task_not_exist"
    batch = elk.post("/suno/fetch", json={"ids": [persona["id"]]}, headers=KEY)
    assert batch.get_json()["data"] is None


def test_a_persona_of_another_key_or_none_is_refused_and_nothing_stored(elk: Any) -> None:
    _task, clip = song(elk, OTHER)
    bobs = create(elk, {"root_clip_id": clip["id"], "name": "Bob"}, OTHER).get_json()["id"]
    _mine, _clip = song(elk)
    before = stored(elk)
    for persona_id in (bobs, "00000000-0000-4000-8000-000000000000", _mine, _clip["id"]):
        r = elk.post("/suno/submit/music", json={"prompt": "x", "persona_id": persona_id},
                     headers=KEY)
        refused(r, f"persona_id {persona_id!r} is not one of your personas")
    assert stored(elk) == before
    # Another namespace is another world: Bob's persona is unknown there even to Bob.
    r = elk.post("/suno/submit/music", json={"persona_id": bobs},
                 headers={**OTHER, "X-Mock-Namespace": "elsewhere"})
    refused(r, "is not one of your personas")
    # An empty persona_id names none (Go's zero value).
    assert elk.post("/suno/submit/music", json={"persona_id": ""}, headers=KEY).status_code == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "root_clip_id is empty"),
        ({"root_clip_id": "", "name": "n"}, "root_clip_id is empty"),
        ({"root_clip_id": "{clip}"}, "name is empty"),
        ({"root_clip_id": "{clip}", "name": ""}, "name is empty"),
        ({"root_clip_id": 5, "name": "n"}, "cannot unmarshal number"),
        ({"root_clip_id": "{clip}", "name": ["n"]}, "cannot unmarshal array"),
        ({"root_clip_id": "{clip}", "name": "n", "clips": "{clip}"}, "cannot unmarshal string"),
        ({"root_clip_id": "{clip}", "name": "n", "clips": [1]}, "clips[0] is not a clip id"),
        ({"root_clip_id": "{clip}", "name": "n", "clips": ["{clip}", None]}, "clips[1]"),
        ({"root_clip_id": "{clip}", "name": "n", "is_public": "yes"}, "cannot unmarshal string"),
        ({"root_clip_id": "nope", "name": "n"}, "root_clip_id 'nope' is not a clip of"),
        ({"root_clip_id": "{clip}", "name": "n", "clips": ["{bobs}"]}, "clips[] '"),
        ({"root_clip_id": "{bobs}", "name": "n"}, "is not a clip of one of your tasks"),
        ([], "cannot unmarshal array"),
        ("x", "cannot unmarshal string"),
        (None, "JSON null"),
    ],
)
def test_persona_bad_bodies_are_400s_and_store_nothing(elk: Any, body: Any, needle: str) -> None:
    _task, clip = song(elk)
    _bobs_task, bobs = song(elk, OTHER)
    text = json.dumps(body).replace("{clip}", clip["id"]).replace("{bobs}", bobs["id"])
    before = stored(elk)
    r = elk.post("/suno/persona/create/", data=text, headers=KEY,
                 content_type="application/json")
    refused(r, needle)
    assert stored(elk) == before


def test_persona_raw_bodies_and_methods(elk: Any) -> None:
    _task, clip = song(elk)
    before = stored(elk)
    for data in (b"", b"{", b'{"root_clip_id":"x"', b"\xff"):
        r = elk.post("/suno/persona/create/", data=data, headers=KEY,
                     content_type="application/json")
        assert r.status_code == 400, data
    body = json.dumps({"root_clip_id": clip["id"], "name": "n"})
    r = elk.post("/suno/persona/create/", data=body, headers=KEY, content_type="text/plain")
    refused(r, "Content-Type must be application/json")
    assert create(elk, {"root_clip_id": clip["id"], "name": "n"}, {}).status_code == 401
    r = elk.get("/suno/persona/create/", headers=KEY)  # another method: NoRoute
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    assert stored(elk) == before


@pytest.fixture(params=["memory", "sqlite", "redis"])
def any_store(request: Any, tmp_path: Any) -> Iterator[Any]:
    """An elkapi fake on each store backend."""
    if request.param == "memory":
        yield elkapi().test_client()
    elif request.param == "sqlite":
        yield elkapi(store=f"sqlite://{tmp_path / 'fake.db'}").test_client()
    else:
        with redis_server() as server:
            yield elkapi(store=server.url()).test_client()


def test_personas_and_stems_work_on_every_store(any_store: Any) -> None:
    client = any_store
    _task, clip = song(client)
    persona = create(client, {"root_clip_id": clip["id"], "name": "n"}).get_json()["id"]
    r = client.post("/suno/submit/music", json={"persona_id": persona}, headers=KEY)
    assert r.status_code == 200, r.data
    refused(client.post("/suno/submit/music", json={"persona_id": persona}, headers=OTHER),
            "is not one of your personas")
    first = stems(client, clip["id"])
    advance(client, 60)
    assert [s["id"] for s in stems(client, clip["id"])] == [s["id"] for s in first]
    assert {s["status"] for s in stems(client, clip["id"])} == {"complete"}
    # A reset forgets personas with the tasks.
    assert client.post("/__mock/reset").status_code == 200
    refused(client.post("/suno/submit/music", json={"persona_id": persona}, headers=KEY),
            "is not one of your personas")
