"""HTTP client for a target (in-process fake or live gateway): rate limit, Retry-After, timeouts."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

__all__ = ["Client", "TargetUnavailable"]


class TargetUnavailable(Exception):
    """The target could not be checked: transport failure, or 429s past the retry budget."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


class Client:
    """Sends requests to one target. The API key is held here only; never logged or repr'd."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        rate_limit: float | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._last = 0.0
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, follow_redirects=False
        )
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"Client({self.base_url!r}, api_key={'***' if self._api_key else None})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self) -> None:
        if not self._interval:
            return
        with self._lock:
            wait = self._last + self._interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last = time.monotonic()

    def auth_headers(self, api_key: str | None = None) -> dict[str, str]:
        key = self._api_key if api_key is None else api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """Send one request; ``api_key`` overrides the key, ``authenticated=False`` sends none."""
        sent_headers = dict(self.auth_headers(api_key) if authenticated else {})
        sent_headers.update(headers or {})
        for attempt in range(self._max_retries + 1):
            self._pace()
            try:
                self.requests_sent += 1
                response = self._http.request(
                    method, path, json=json, content=content, headers=sent_headers
                )
            except httpx.TransportError as exc:
                # str(exc) can quote the request; build the reason from the type and URL only.
                raise TargetUnavailable(
                    f"target unavailable: {type(exc).__name__} on {method} {self.base_url}{path}"
                ) from None
            if response.status_code != 429:
                return response
            wait = _retry_after(response.headers.get("Retry-After"), 2.0**attempt)
            if attempt == self._max_retries or wait > self._max_retry_wait:
                break
            self._sleep(wait)
        raise TargetUnavailable(
            f"rate-limited past the retry budget: {method} {path} answered 429 "
            f"{self._max_retries + 1} times"
        )

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)
