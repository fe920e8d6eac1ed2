"""An httpx transport that calls a WSGI app in-process, with PEP 3333 paths."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

__all__ = ["wsgi_transport"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_transport(app: WSGIApp) -> httpx.WSGITransport:
    """``httpx.WSGITransport`` for ``app``, fixing non-ASCII paths.

    httpx puts the *decoded* path in PATH_INFO; PEP 3333 wants the raw bytes as latin-1, so a
    server would mangle (or crash on) ``/suno/fetch/é``. Re-encoding restores what a socket
    server passes.
    """

    def app_with_pep3333_path(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["PATH_INFO"] = environ["PATH_INFO"].encode("utf-8").decode("latin-1")
        return app(environ, start_response)

    return httpx.WSGITransport(app=app_with_pep3333_path)
