"""Redaction of secrets and personal data in anything the drift check or a recording writes.

Two layers: ``Redactor.value`` rewrites observed JSON (keys that name a person, plus the text
patterns below) before it becomes an example, a baseline entry or a recorded fixture;
``Redactor.text`` is the last pass over every file and log line, and removes the exact secrets
(the API key, with and without its ``sk-`` prefix) wherever they ended up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["PERSONAL_KEYS", "REDACTED", "Redactor", "redacted_url"]

REDACTED = "[redacted]"

# Keys whose value identifies a person or an account (Suno clip owner, gateway user).
PERSONAL_KEYS = frozenset(
    {"user_id", "display_name", "handle", "username", "email", "avatar_image_url", "owner"}
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_URL_SECRET = re.compile(
    r"(?i)([?&](?:token|access_token|api_key|apikey|key|sig|signature|x-amz-signature"
    r"|x-amz-credential|x-amz-security-token|auth)=)[^&\s\"']+"
)
_USERINFO = re.compile(r"(?i)\b(https?://)[^/\s@\"']+@")
# A long run of token characters mixing upper case, lower case and digits looks like a
# credential; task ids in a known format (uuid, hex32, task_ + 32 alnum) are not secrets.
_TOKENISH = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{32,}(?![A-Za-z0-9_\-])")
_ID_LIKE = re.compile(
    r"task_[A-Za-z0-9]{32}|[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _tokenish(match: re.Match[str]) -> str:
    word = match.group(0)
    if _ID_LIKE.fullmatch(word):
        return word
    mixed = (
        any(c.isupper() for c in word)
        and any(c.islower() for c in word)
        and any(c.isdigit() for c in word)
    )
    return REDACTED if mixed else word


class Redactor:
    """Knows the run's secrets; never exposes them (not even in repr)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            # Very short "keys" cannot be told apart from ordinary text; don't mangle reports.
            if secret and len(secret) >= 6:
                found.add(secret)
                if secret.startswith("sk-") and len(secret) >= 9:
                    found.add(secret[3:])
        # Longest first, so a key is replaced before its own suffix is.
        self._secrets = sorted(found, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def text(self, text: str) -> str:
        """Remove the exact secrets; safe on any finished file (JSON, XML, Markdown)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def string(self, text: str) -> str:
        """Secrets, then e-mail addresses and anything that looks like a credential."""
        text = self.text(text)
        text = _USERINFO.sub(r"\1" + REDACTED + "@", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _SK_KEY.sub(REDACTED, text)
        text = _JWT.sub(REDACTED, text)
        text = _URL_SECRET.sub(r"\1" + REDACTED, text)
        text = _EMAIL.sub("redacted@example.invalid", text)
        return _TOKENISH.sub(_tokenish, text)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A copy of JSON ``value``: personal fields blanked (same JSON type), strings cleaned."""
        if key is not None and key.lower() in PERSONAL_KEYS and value is not None:
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)):
                return 0
            if isinstance(value, str):
                return REDACTED if value else value
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.string(value)
        return value


def redacted_url(url: str) -> str:
    """``url`` without the password of its userinfo, for logs, messages and the journal."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}:***@" if parts.username else ":***@"
        return parts._replace(netloc=user + netloc).geturl()
    except ValueError:
        return "<unparsable URL>"
