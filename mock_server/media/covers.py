"""Cover art for a clip: its title and tags on a colour drawn from the clip id, as JPEG."""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

__all__ = ["SIZES", "cover_jpeg"]

# image_url and image_large_url, as Suno's CDN sizes them (roughly).
SIZES = {"image": 400, "image_large": 1024}


RGB = tuple[int, int, int]


def _rgb(hue: float, saturation: float, value: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return int(r * 255), int(g * 255), int(b * 255)


def _colours(clip_id: str) -> tuple[RGB, RGB]:
    hue = hashlib.sha256(clip_id.encode("utf-8", "surrogatepass")).digest()[0] / 255
    return _rgb(hue, 0.55, 0.55), _rgb((hue + 0.5) % 1.0, 0.35, 0.95)


def cover_jpeg(clip_id: str, title: str, tags: str, size: int) -> bytes:
    """A ``size`` x ``size`` JPEG naming the clip's title and tags."""
    back, accent = _colours(clip_id)
    image = Image.new("RGB", (size, size), back)
    draw = ImageDraw.Draw(image)
    unit = size / 20
    draw.ellipse((size * 0.55, size * 0.05, size * 0.95, size * 0.45), outline=accent, width=3)
    title_font = ImageFont.load_default(size=round(unit * 1.6))
    small_font = ImageFont.load_default(size=round(unit * 0.8))
    y = size * 0.55
    for line in textwrap.wrap(title or "Untitled", width=18)[:3]:
        draw.text((unit, y), line, fill=(255, 255, 255), font=title_font)
        y += unit * 2
    for line in textwrap.wrap(tags, width=40)[:2]:
        draw.text((unit, y), line, fill=accent, font=small_font)
        y += unit
    draw.text((unit, size - unit * 1.5), "suno-mock", fill=accent, font=small_font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
