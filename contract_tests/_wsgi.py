"""httpx transports that call a WSGI app in-process, with PEP 3333 paths (sync and async)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
import httpx

__all__ = ["AsyncWSGITransport", "wsgi_transport"]

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


class AsyncWSGITransport(httpx.AsyncBaseTransport):
    """An async transport over a sync WSGI transport: httpx's ASGITransport takes only ASGI
    apps, and WSGITransport only sync clients.

    A request that ``may_block`` (by default every one) runs on a worker thread (anyio's), its
    answer read whole there, so the event loop never waits on it: a latency fault delays only
    its own request, and a request a hang fault holds can be cancelled. The others run inline:
    the app answers them in a fraction of a millisecond, less than the hop to a thread (and the
    thread's start, in each test's new event loop) would cost.
    """

    def __init__(
        self,
        transport: httpx.WSGITransport,
        may_block: Callable[[httpx.Request], bool] = lambda _request: True,
    ) -> None:
        self._transport = transport
        self._may_block = may_block

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # the sync transport reads request.content
        if not self._may_block(request):
            return self._answer(request)
        return await anyio.to_thread.run_sync(self._answer, request, abandon_on_cancel=True)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=httpx.ByteStream(body), extensions=response.extensions)
