"""Where media URLs point: Suno's CDN hosts, rewritten to the fake's own media routes.

Rendered tasks (cached, shared by every request) carry a placeholder origin; each answer puts
the origin the client reached the fake at (or ``--media-base-url``) in its place, so one cached
render serves every host name and port the fake is reached by.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

__all__ = [
    "MEDIA_PREFIX",
    "PLACEHOLDER",
    "local_urls",
    "media_origin",
    "namespace_from_segment",
    "namespace_segment",
]

MEDIA_PREFIX = "/__media"
# Never a real host (RFC 2606 .invalid); replaced in every answer that carries it.
PLACEHOLDER = "https://media.suno-mock.invalid"
# Suno's hosts and the route segment that serves each; paths after them are kept as they are.
_HOSTS = (
    ("https://cdn1.suno.ai/", "cdn1"),
    ("https://cdn2.suno.ai/", "cdn2"),
    ("https://audiopipe.suno.ai/", "audiopipe"),
)


def namespace_segment(ns: str) -> str:
    """``ns`` as one URL path segment ("-" for the default namespace)."""
    return quote(ns, safe="") if ns else "-"


def namespace_from_segment(segment: str) -> str:
    return "" if segment == "-" else unquote(segment)


def local_urls(value: str, task_id: str) -> str:
    """``value`` with each Suno media URL pointed at the fake's media routes for ``task_id``."""
    for host, name in _HOSTS:
        if host in value:
            value = value.replace(host, f"{PLACEHOLDER}/{quote(task_id, safe='')}/{name}/")
    return value


def media_origin(base: str, ns: str) -> str:
    """What replaces PLACEHOLDER: ``base`` (scheme://host[:port][/prefix]) plus our routes."""
    return f"{base.rstrip('/')}{MEDIA_PREFIX}/{namespace_segment(ns)}"
