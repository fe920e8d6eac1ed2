"""The MP4 of a clip: its cover as a still picture over its audio, by FFmpeg (through PyAV).

H.264 and AAC in an MP4 container, the pair every browser and phone plays. Kept cheap: one
frame a second of a small picture (a still compresses to almost nothing after the first frame),
the audio module's PCM at its own rate, and FFmpeg's fast AAC coder. A 3-minute clip takes
about 0.4 s and 0.8 MB (docs/reference/media.md); the caller caches it.
"""

from __future__ import annotations

import io
import os
import tempfile

import av
from PIL import Image

from mock_server.media.audio import RATE, pcm_for

__all__ = ["FPS", "FRAME", "mp4_for"]

FPS = 1  # a still picture needs no more
FRAME = 256  # pixels a side
_AUDIO_BITS = 32_000
_AUDIO_BLOCK = 32_768  # samples handed to the encoder at a time


def mp4_for(clip_id: str, seconds: float, cover: bytes) -> bytes:
    """An MP4 of ``seconds``: the JPEG ``cover`` as its picture, ``clip_id``'s melody as its
    sound (the same PCM as the clip's MP3 and WAV)."""
    picture = Image.open(io.BytesIO(cover)).convert("RGB").resize((FRAME, FRAME))
    # faststart moves the index (moov) before the media, so a player starts before the whole
    # file is in; FFmpeg does it by reading the file again by name, hence a file, not memory.
    try:
        with tempfile.TemporaryDirectory(prefix="suno-mock-mp4-") as folder:
            path = os.path.join(folder, "clip.mp4")
            _write(path, clip_id, seconds, picture, {"movflags": "+faststart"})
            with open(path, "rb") as done:
                return done.read()
    except OSError:  # no writable temporary directory: the index last, still a whole file
        out = io.BytesIO()
        _write(out, clip_id, seconds, picture, {})
        return out.getvalue()


def _write(
    target: str | io.BytesIO,
    clip_id: str,
    seconds: float,
    picture: Image.Image,
    options: dict[str, str],
) -> None:
    with av.open(target, "w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = video.height = FRAME
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "stillimage", "crf": "30"}
        audio = container.add_stream("aac", rate=RATE)
        audio.layout = "mono"
        audio.bit_rate = _AUDIO_BITS
        audio.options = {"aac_coder": "fast"}  # 0.4 s instead of 0.7 s for 3 minutes
        frame = av.VideoFrame.from_image(picture)
        # Whole frames that end by the audio's end (at least one): the picture never outlasts
        # the sound by more than a frame.
        for index in range(max(1, int(seconds * FPS))):
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        pcm = pcm_for(clip_id, seconds)
        step = _AUDIO_BLOCK * 2  # bytes of 16-bit samples
        for start in range(0, len(pcm), step):
            block = pcm[start : start + step]
            sound = av.AudioFrame(format="s16", layout="mono", samples=len(block) // 2)
            sound.planes[0].update(block)
            sound.sample_rate = RATE
            sound.pts = start // 2
            container.mux(audio.encode(sound))
        container.mux(audio.encode(None))
