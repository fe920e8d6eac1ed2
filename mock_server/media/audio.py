"""Audio for a clip: a short melody drawn from the clip id, looped to the clip's length, as MP3
or WAV.

Every clip sounds different (scale, tempo and notes come from a digest of its id) and the same
clip always sounds the same. LAME (through lameenc) encodes the MP3, the stdlib ``wave`` module
writes the WAV; nothing is hand-framed.
"""

from __future__ import annotations

import hashlib
import io
import math
import sys
import wave
from array import array

import lameenc

__all__ = ["BITRATE_KBPS", "RATE", "melody_pcm", "mp3_for", "pcm_for", "wav_for"]

RATE = 16_000  # Hz, mono: MPEG-2 layer III, small files that every player takes
BITRATE_KBPS = 32
_PHRASE_NOTES = 8
# Pentatonic scales (semitones over a root): pleasant whatever the draw.
_SCALES = ((0, 2, 4, 7, 9, 12), (0, 3, 5, 7, 10, 12), (0, 2, 5, 7, 9, 12))


def _draws(clip_id: str) -> bytes:
    return hashlib.sha256(clip_id.encode("utf-8", "surrogatepass")).digest()


def melody_pcm(clip_id: str) -> bytes:
    """One phrase (about two to four seconds) of 16-bit mono PCM for ``clip_id``."""
    draws = _draws(clip_id)
    scale = _SCALES[draws[0] % len(_SCALES)]
    root = 196.0 * 2 ** ((draws[1] % 12) / 12)  # G3 and up: audible on laptop speakers
    note_seconds = 0.25 + (draws[2] % 4) * 0.05
    note_len = int(RATE * note_seconds)
    fade = max(1, int(RATE * 0.02))  # short attack and release: no clicks between notes
    samples = array("h")
    for n in range(_PHRASE_NOTES):
        semitone = scale[draws[3 + n] % len(scale)]
        step = 2 * math.pi * root * 2 ** (semitone / 12) / RATE
        for i in range(note_len):
            envelope = min(1.0, i / fade, (note_len - i) / fade)
            tone = math.sin(step * i) + 0.3 * math.sin(2 * step * i)
            samples.append(int(9000 * envelope * tone))
    return samples.tobytes()


def pcm_for(clip_id: str, seconds: float) -> bytes:
    """16-bit mono PCM at ``RATE``: ``clip_id``'s melody looped to ``seconds`` (at least one
    sample). The MP3, the WAV and the MP4 of a clip are all made from it, so they sound alike."""
    phrase = melody_pcm(clip_id)
    total = max(1, round(seconds * RATE)) * 2  # bytes of 16-bit PCM
    repeats, rest = divmod(total, len(phrase))
    return phrase * repeats + phrase[:rest]


def mp3_for(clip_id: str, seconds: float) -> bytes:
    """An MP3 of ``clip_id``'s melody, looped to ``seconds``."""
    encoder = lameenc.Encoder()
    encoder.set_channels(1)
    encoder.set_in_sample_rate(RATE)
    encoder.set_out_sample_rate(RATE)
    encoder.set_bit_rate(BITRATE_KBPS)
    encoder.set_quality(7)  # fast; a test tone needs no more
    return bytes(encoder.encode(pcm_for(clip_id, seconds)) + encoder.flush())


def wav_for(clip_id: str, seconds: float) -> bytes:
    """A WAV (RIFF, 16-bit PCM, mono, ``RATE`` Hz) of the same audio as ``mp3_for``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        pcm = pcm_for(clip_id, seconds)
        if sys.byteorder == "big":  # WAV is little-endian; array("h") is native
            swapped = array("h", pcm)
            swapped.byteswap()
            pcm = swapped.tobytes()
        wav.writeframes(pcm)
    return out.getvalue()
