"""A faithful fake of the ElkAPI / new-api Suno task API."""

from .app import create_app
from .clock import ClockState
from .config import Config
from .fixtures import FixtureError
from .profiles import Profile, load_profile, profile_names
from .scenarios import Scenario, ScenarioBook
from .service import MockService, owner_of
from .store import MemoryStore, Store, TaskRecord
from .validation import Violation, resolved_schema, validate

__all__ = [
    "ClockState",
    "Config",
    "FixtureError",
    "MemoryStore",
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
