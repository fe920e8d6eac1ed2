"""mock_server's own exceptions: one root, a few kinds. The web layer maps them to envelopes.

Messages are meant for the person at the other end: they never carry stray quotes or a key.
"""

from __future__ import annotations

__all__ = [
    "BadNamespace",
    "BindError",
    "ConfigError",
    "FaultError",
    "FixtureError",
    "InvalidInput",
    "MockError",
    "NotFound",
    "ScenarioNotFound",
    "SettingsChanged",
    "StoreError",
    "StoreUnavailable",
    "TaskExists",
    "TaskNotFound",
    "UnknownStep",
]


class MockError(Exception):
    """Base of every error mock_server raises on purpose."""


class ConfigError(MockError, ValueError):
    """A setting cannot be used (store URL, clock, speed, token); the server does not start."""


class FixtureError(MockError, ValueError):
    """A fixture file is unreadable or breaks its schema; the message names file and JSON path."""


class FaultError(MockError, ValueError):
    """A fault rule is invalid; the message names each problem by JSON path."""


class BindError(MockError, ValueError):
    """A body does not decode into the gateway's Go struct; the message is Go's."""


class InvalidInput(MockError, ValueError):
    """A caller's value cannot be used (a scenario of the wrong action, a bad field)."""


class UnknownStep(InvalidInput):
    """A step name or index the task's scenario does not have; the message lists its steps."""


class NotFound(MockError, LookupError):
    """Something named by the caller does not exist."""


class TaskNotFound(NotFound):
    """No such task in this namespace."""


class TaskExists(MockError, ValueError):
    """A task id asked for is taken in this namespace (admin create, seeding)."""


class ScenarioNotFound(NotFound):
    """No scenario of that name is loaded; the message lists the known ones."""


class StoreError(MockError):
    """A store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (Redis down, SQLite locked past its timeout). Retryable.

    The message names the backend and the cause, never a URL (it may hold a password).
    """


class SettingsChanged(StoreError):
    """A namespace's clock or fault rules changed since the caller read them: nothing was done."""


class BadNamespace(InvalidInput):
    """The X-Mock-Namespace header is unusable (too long); answered 400 invalid_request."""
