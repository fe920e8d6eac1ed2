"""Redaction for the drift check: the fake's own redactor (``mock_server.core.redact``), which
the drift check and ``suno-mock serve --record`` share so both write the same redacted files."""

from __future__ import annotations

from mock_server.core.redact import PERSONAL_KEYS, REDACTED, Redactor

__all__ = ["PERSONAL_KEYS", "REDACTED", "Redactor"]
