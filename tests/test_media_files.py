"""The media files themselves: MP3s that decode to the clip's length, covers that are images."""

from __future__ import annotations

import io

import miniaudio
import pytest
from PIL import Image

from mock_server.media.audio import mp3_for
from mock_server.media.covers import SIZES, cover_jpeg

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
