"""notify_hook callbacks as data: which URLs a submit may name, where the fake may call, retries.

Pure: the deliverer (service/callbacks.py) does the sending.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = [
    "CALLBACK_MODES",
    "HOOK_FIELD",
    "MAX_HOOK_LENGTH",
    "backoff",
    "hook_problem",
    "refusal",
]

HOOK_FIELD = "notify_hook"
# off: never call out; loopback: only this machine (localhost, 127.0.0.0/8, ::1); any: http(s)
# anywhere. Default loopback (Config): a fake reachable by others must not be an open relay.
CALLBACK_MODES = ("off", "loopback", "any")
MAX_HOOK_LENGTH = 2048


def hook_problem(url: str) -> str | None:
    """Why ``url`` is not a notify_hook the fake can call, or None ("" is no hook: fine)."""
    if url == "":
        return None
    if len(url) > MAX_HOOK_LENGTH:
        return f"notify_hook is longer than {MAX_HOOK_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "notify_hook must be an http:// or https:// URL (it contains whitespace)"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        return "notify_hook must be an http:// or https:// URL"
    if parts.scheme.lower() not in ("http", "https") or not host:
        return "notify_hook must be an http:// or https:// URL"
    return None


def _loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: not resolved here, so no DNS lookup decides where we call


def refusal(url: str, mode: str) -> str | None:
    """Why ``mode`` (CALLBACK_MODES) forbids calling ``url``, or None if it may be called."""
    problem = hook_problem(url)
    if problem is not None:
        return problem
    if mode == "off":
        return "not sent: callbacks are off (--callbacks off)"
    if mode == "loopback" and not _loopback(urlsplit(url).hostname or ""):
        return ("not sent: --callbacks loopback (the default) calls only localhost, "
                "127.0.0.0/8 and ::1; start the fake with --callbacks any to call other hosts")
    return None




def backoff(attempt: int, first: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...): doubling."""
    return first * 2 ** (attempt - 1)
