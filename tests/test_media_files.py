"""The media files themselves: MP3s and WAVs that decode to the clip's length, MP4s that
players open (a picture and the same sound), covers that are images."""

from __future__ import annotations

import io
import itertools
import wave
from array import array
from collections.abc import Sequence

import av
import miniaudio
import pytest
from PIL import Image

from mock_server.media.audio import RATE, mp3_for, wav_for
from mock_server.media.covers import SIZES, cover_jpeg
from mock_server.media.video import FRAME, mp4_for

CLIP = "5b0a1a6e-3c55-4d8e-9b3f-2f1c0d6a7e11"


@pytest.mark.parametrize("seconds", [3.0, 61.7, 182.36])
def test_an_mp3_decodes_to_the_clips_length(seconds: float) -> None:
    decoded = miniaudio.decode(mp3_for(CLIP, seconds))
    assert abs(decoded.duration - seconds) < 2.0
    assert max(decoded.samples) > 1000  # audible, not silence


def test_each_clip_sounds_different_and_the_same_clip_the_same() -> None:
    one = mp3_for(CLIP, 10.0)
    assert one == mp3_for(CLIP, 10.0)
    other = mp3_for("0f3c9c3e-1111-4d8e-9b3f-2f1c0d6a7e11", 10.0)
    assert one != other
    a, b = (miniaudio.decode(x).samples[:44_100] for x in (one, other))
    assert list(a) != list(b)


@pytest.mark.parametrize("kind", sorted(SIZES))
def test_a_cover_is_a_jpeg_of_its_size(kind: str) -> None:
    data = cover_jpeg(CLIP, "Electric Dance Party", "edm", SIZES[kind])
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.size == (SIZES[kind], SIZES[kind])


def test_covers_differ_by_clip() -> None:
    first = Image.open(io.BytesIO(cover_jpeg(CLIP, "t", "", 400))).getpixel((5, 5))
    second = Image.open(io.BytesIO(cover_jpeg("another-clip", "t", "", 400))).getpixel((5, 5))
    assert first != second


@pytest.mark.parametrize("seconds", [0.5, 61.7, 182.36])
def test_a_wav_is_pcm_of_the_clips_length_with_the_mp3s_melody(seconds: float) -> None:
    with wave.open(io.BytesIO(wav_for(CLIP, seconds))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        assert wav.getnframes() == round(seconds * RATE)
        samples = array("h", wav.readframes(wav.getnframes()))
    assert max(samples) > 1000
    # The MP3 decodes to the same tune: the strongest frequencies of its first second agree.
    decoded = miniaudio.decode(mp3_for(CLIP, seconds), nchannels=1, sample_rate=RATE)
    assert abs(len(decoded.samples) - len(samples)) < RATE  # the encoder's padding, no more
    assert _crossings(samples[RATE // 4 : RATE // 2]) == pytest.approx(
        _crossings(decoded.samples[RATE // 4 : RATE // 2]), rel=0.1)


def _crossings(samples: Sequence[int]) -> int:
    """How often the signal changes sign: its pitch, roughly."""
    return sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))


@pytest.mark.parametrize("seconds", [3.0, 182.36])
def test_an_mp4_is_the_cover_over_the_clips_sound(seconds: float) -> None:
    cover = cover_jpeg(CLIP, "Title", "tags", SIZES["image"])
    data = mp4_for(CLIP, seconds, cover)
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: a player need not wait
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.startswith("mov,mp4")
        assert container.duration is not None
        assert abs(container.duration / av.time_base - seconds) < 1.0
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.width, video.height) == (FRAME, FRAME)
        assert audio.sample_rate == RATE
        frame = next(container.decode(video=0))
        picture = frame.to_image()
    # The picture is the cover: its corner has the cover's background colour.
    expected = Image.open(io.BytesIO(cover)).convert("RGB").getpixel((5, 5))
    got = picture.getpixel((3, 3))
    assert all(abs(a - b) < 24 for a, b in zip(expected, got, strict=True)), (expected, got)
    with av.open(io.BytesIO(mp4_for(CLIP, seconds, cover))) as container:
        first = next(container.decode(audio=0))
        loudest = max(
            max(array("f", bytes(plane))[: first.samples], default=0.0) for plane in first.planes
        )
    assert first.format.name == "fltp" and loudest > 0.05  # sound, not silence


def test_without_a_temp_directory_the_mp4_is_still_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_args: object, **_kw: object) -> None:
        raise PermissionError("read-only /tmp")

    monkeypatch.setattr("tempfile.TemporaryDirectory", refused)
    data = mp4_for(CLIP, 3.0, cover_jpeg(CLIP, "t", "", SIZES["image"]))
    assert data.index(b"mdat") < data.index(b"moov")  # made in memory, index last
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 3.0) < 1.0
        assert len(list(container.decode(video=0))) >= 1
