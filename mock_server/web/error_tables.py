"""Which envelope each of our exceptions becomes, one table per surface.

The API surface answers as the gateway would; the admin surface is ours, so its codes say
what went wrong in our own words. A class not in a table falls to its nearest listed base.
"""

from __future__ import annotations

from mock_server.errors import (
    BindError,
    FaultError,
    FixtureError,
    InvalidInput,
    MockError,
    NotFound,
    ScenarioNotFound,
    StoreUnavailable,
    TaskExists,
    TaskNotFound,
)
from mock_server.wire.envelopes import WireError, task_error

__all__ = ["ADMIN", "API", "envelope"]

# exception class -> (HTTP status, task-envelope code)
Table = dict[type, tuple[int, str]]

API: Table = {
    # A bad X-Mock-Scenario header: the gateway has no such header, so a plain 400.
    ScenarioNotFound: (400, "invalid_request"),
    InvalidInput: (400, "invalid_request"),
    BindError: (400, "invalid_request"),
    FaultError: (400, "invalid_request"),
    TaskNotFound: (400, "task_not_exist"),
}

ADMIN: Table = {
    TaskNotFound: (404, "task_not_exist"),
    TaskExists: (409, "task_exists"),
    # A scenario named in a body is a bad body, not a missing resource.
    ScenarioNotFound: (400, "invalid_request"),
    NotFound: (404, "not_found"),
    InvalidInput: (400, "invalid_request"),
    BindError: (400, "invalid_request"),
    FaultError: (400, "invalid_request"),
    FixtureError: (400, "invalid_request"),
    # Our own API: a plain retryable answer for test harnesses.
    StoreUnavailable: (503, "store_unavailable"),
}


def envelope(error: MockError, table: Table) -> WireError | None:
    """The task envelope ``table`` gives ``error`` (by its class or nearest base), or None."""
    for cls in type(error).__mro__:
        if cls in table:
            status, code = table[cls]
            return task_error(status, code, str(error))
    return None
