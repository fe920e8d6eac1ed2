"""A faithful fake of the ElkAPI / new-api Suno task API.

The names below load on first use, so ``import mock_server.core.lifecycle`` costs no Flask.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_server.contract.profiles import Profile, load_profile, profile_names
    from mock_server.contract.validation import Violation, resolved_schema, validate
    from mock_server.core.clock import ClockState
    from mock_server.core.config import Config
    from mock_server.core.identity import owner_of
    from mock_server.core.record import TaskRecord
    from mock_server.core.scenarios import Scenario, ScenarioBook
    from mock_server.errors import FixtureError, MockError
    from mock_server.service import MockService
    from mock_server.stores.base import Store
    from mock_server.stores.memory import MemoryStore
    from mock_server.web.app import create_app

_WHERE = {
    "ClockState": "mock_server.core.clock",
    "Config": "mock_server.core.config",
    "FixtureError": "mock_server.errors",
    "MemoryStore": "mock_server.stores.memory",
    "MockError": "mock_server.errors",
    "MockService": "mock_server.service",
    "Profile": "mock_server.contract.profiles",
    "Scenario": "mock_server.core.scenarios",
    "ScenarioBook": "mock_server.core.scenarios",
    "Store": "mock_server.stores.base",
    "TaskRecord": "mock_server.core.record",
    "Violation": "mock_server.contract.validation",
    "create_app": "mock_server.web.app",
    "load_profile": "mock_server.contract.profiles",
    "owner_of": "mock_server.core.identity",
    "profile_names": "mock_server.contract.profiles",
    "resolved_schema": "mock_server.contract.validation",
    "validate": "mock_server.contract.validation",
}

__all__ = [
    "ClockState",
    "Config",
    "FixtureError",
    "MemoryStore",
    "MockError",
    "MockService",
    "Profile",
    "Scenario",
    "ScenarioBook",
    "Store",
    "TaskRecord",
    "Violation",
    "create_app",
    "load_profile",
    "owner_of",
    "profile_names",
    "resolved_schema",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
