"""``--proxy-to URL``: the live gateway behind the fake, reached with the app's own key.

Only the base URL given is ever asked: no redirect is followed, no proxy from the environment
used, no path that climbs out of the base (``..``) sent. Requests and answers pass unchanged,
except for the headers that belong to one connection (hop-by-hop) and those the server sets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from mock_server.core.config import check_base_url

__all__ = ["Relayed", "Unreachable", "Upstream", "request_headers"]

# RFC 9110 §7.6.1 hop-by-hop headers, plus what httpx and our server set for themselves.
_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
})
_NOT_SENT = _HOP | {"accept-encoding"}  # identity: the body is relayed as the gateway sent it
_NOT_RETURNED = _HOP | {"content-encoding", "date", "server"}
_OURS = "x-mock-"  # the fake's own control headers mean nothing to the gateway
_PATH_SAFE = "/:@!$&'()*+,;=~"


@dataclass(frozen=True)
class Relayed:
    """The gateway's answer, ready to send back."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Unreachable(Exception):
    """The gateway did not answer; ``timed_out`` tells a timeout from a failed connection."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class Upstream:
    """One live gateway, by base URL, with a connection pool shared by the request threads."""

    def __init__(self, base_url: str, timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = check_base_url(base_url)
        self.host = urlsplit(self.base_url).netloc
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def url_for(self, path: str, query: str) -> str | None:
        """The gateway URL for a request path, or None for one with dot segments."""
        if any(part in (".", "..") for part in path.split("/")):
            return None
        url = self.base_url + quote(path, safe=_PATH_SAFE)
        return f"{url}?{query}" if query else url

    def forward(self, method: str, url: str, headers: Iterable[tuple[str, str]],
                body: bytes) -> Relayed:
        """Send one request on; Unreachable when no answer came (the message names no key)."""
        sent = [(k, v) for k, v in headers
                if k.lower() not in _NOT_SENT and not k.lower().startswith(_OURS)]
        sent.append(("Accept-Encoding", "identity"))
        try:
            response = self._client.request(method, url, headers=sent, content=body)
        except httpx.TimeoutException:
            raise Unreachable(f"the gateway at {self.host} did not answer in time",
                              timed_out=True) from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise Unreachable(f"the gateway at {self.host} could not be reached ({reason})",
                              timed_out=False) from None
        returned = [(k, v) for k, v in response.headers.multi_items()
                    if k.lower() not in _NOT_RETURNED]
        return Relayed(response.status_code, returned, response.content)


def request_headers(environ: Mapping[str, object]) -> list[tuple[str, str]]:
    """A WSGI request's headers as (name, value) pairs."""
    out = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out.append((key[5:].replace("_", "-").title(), str(value)))
        elif key in ("CONTENT_TYPE",) and value:
            out.append(("Content-Type", str(value)))
    return out
