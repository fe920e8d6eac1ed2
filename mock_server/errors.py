"""The one root of mock_server's own exceptions; the web layer maps them to envelopes."""

from __future__ import annotations

__all__ = ["BadNamespace", "FixtureError", "MockError"]


class MockError(Exception):
    """Base of every error mock_server raises on purpose."""


class FixtureError(MockError, ValueError):
    """A fixture file is unreadable or breaks its schema; the message names file and JSON path."""


class BadNamespace(MockError, ValueError):
    """The X-Mock-Namespace header is unusable (too long); answered 400 invalid_request."""
