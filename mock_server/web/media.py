"""Media routes: the MP3s, WAVs, MP4s, the audio stream and the covers that clip URLs name.

Open to every client, as Suno's CDN is (no key, no admin token), with CORS so a browser app on
another origin can play and draw them. Paths keep the CDN's shapes after our prefix:
``/__media/<namespace>/<task id>/cdn1/<clip id>.mp3`` (and ``.wav``, ``.mp4``: the exports
ElkAPI's /suno/act/ routes name), ``.../cdn2/image_<clip id>.jpeg``,
``.../cdn2/image_large_<clip id>.jpeg`` and ``.../audiopipe/?item_id=<clip id>``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, request

from mock_server.core.media_urls import MEDIA_PREFIX, namespace_from_segment
from mock_server.service.media import ClipView, MediaShelf
from mock_server.service.mock_service import MockService

__all__ = ["media_blueprint"]

_STREAM_TICK = 0.25  # wall seconds between looks at the fake's clock while streaming
_STREAM_IDLE_LIMIT = 20.0  # wall seconds without new audio before a stream is closed
# A live stream holds a request thread; past this many, a stream sends what exists and ends.
_LIVE_STREAMS = threading.BoundedSemaphore(2)
_FIRST_BYTES = 4096  # about a second of audio: a player starts at once
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Range",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges, ETag",
}


def _not_found(what: str) -> Response:
    return Response(f"no such {what}\n", status=404, mimetype="text/plain", headers=_CORS)


def _file(data: bytes, mimetype: str) -> Response:
    """A whole file, with ETag, HEAD and Range (206) as a CDN answers them."""
    response = Response(data, mimetype=mimetype, headers=_CORS)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    return response


def media_blueprint(service: MockService) -> Blueprint:
    bp = Blueprint("suno_mock_media", __name__, url_prefix=MEDIA_PREFIX)
    shelf = MediaShelf(service)

    def clip(ns_segment: str, task_id: str, clip_id: str) -> ClipView | None:
        return shelf.clip(namespace_from_segment(ns_segment), task_id, clip_id)

    files: dict[str, tuple[Callable[[ClipView], bytes], str]] = {
        "mp3": (shelf.mp3, "audio/mpeg"),
        "wav": (shelf.wav, "audio/wav"),
        "mp4": (shelf.mp4, "video/mp4"),
    }

    @bp.route("/<ns_segment>/<task_id>/cdn1/<name>", methods=["GET", "HEAD"])
    def audio(ns_segment: str, task_id: str, name: str) -> Response:
        clip_id, _, extension = name.rpartition(".")
        kind = files.get(extension)
        view = clip(ns_segment, task_id, clip_id) if kind else None
        # The CDN has the file only once the clip is complete.
        if kind is None or view is None or view.status != "complete":
            return _not_found("audio")
        make, mimetype = kind
        return _file(make(view), mimetype)

    @bp.route("/<ns_segment>/<task_id>/cdn2/<name>", methods=["GET", "HEAD"])
    def cover(ns_segment: str, task_id: str, name: str) -> Response:
        stem = name.removesuffix(".jpeg")
        kind, _, clip_id = stem.rpartition("_")
        if not name.endswith(".jpeg") or kind not in ("image", "image_large"):
            return _not_found("image")
        view = clip(ns_segment, task_id, clip_id)
        if view is None or not view.clip.get(f"{kind}_url"):
            return _not_found("image")
        return _file(shelf.cover(view, kind), "image/jpeg")

    @bp.route("/<ns_segment>/<task_id>/audiopipe/", methods=["GET", "HEAD"])
    def stream(ns_segment: str, task_id: str) -> Response:
        clip_id = request.args.get("item_id", "")
        view = clip(ns_segment, task_id, clip_id)
        if view is None or view.status not in ("streaming", "complete"):
            return _not_found("stream")
        if view.status == "complete":
            return _file(shelf.mp3(view), "audio/mpeg")
        body = _grow(shelf, view, lambda: clip(ns_segment, task_id, clip_id))
        return Response(body, mimetype="audio/mpeg", headers=_CORS, direct_passthrough=True)

    return bp


def _grow(
    shelf: MediaShelf, first: ClipView, again: Callable[[], ClipView | None]
) -> Iterator[bytes]:
    """The clip's MP3 as the fake's clock makes it: bytes as the stream advances, closed when
    the clip completes (or fails, or no new audio comes for a while)."""
    audio = shelf.mp3(first)
    sent = min(len(audio), max(_FIRST_BYTES, shelf.streamed_bytes(first, first.now, len(audio))))
    yield audio[:sent]
    if not _LIVE_STREAMS.acquire(blocking=False):
        return
    try:
        idle = 0.0
        while sent < len(audio) and idle < _STREAM_IDLE_LIMIT:
            time.sleep(_STREAM_TICK)
            view = again()
            if view is None or view.status not in ("streaming", "complete"):
                return  # reset, failed or gone: the stream ends where it is
            upto = shelf.streamed_bytes(view, view.now, len(audio))
            if upto > sent:
                yield audio[sent:upto]
                sent, idle = upto, 0.0
            else:
                idle += _STREAM_TICK
    finally:
        _LIVE_STREAMS.release()
