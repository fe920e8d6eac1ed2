"""Contract suite, pytest plugin and drift check for the Suno task API.

Run the suite with ``pytest --pyargs contract_tests`` (or ``suno-contract run``); use the fake
from your own tests through the ``suno_mock`` fixture, or directly as ``SunoMock``.
"""

from ._http import Client, TargetUnavailable
from ._observation import Observation
from .checks import RULES, ContractViolation
from .mock import MockAdminError, SunoMock
from .targets import LiveTarget, MockTarget, SpendBudgetExceeded, SuiteOptions, Target

__all__ = [
    "RULES",
    "Client",
    "ContractViolation",
    "LiveTarget",
    "MockAdminError",
    "MockTarget",
    "Observation",
    "SpendBudgetExceeded",
    "SuiteOptions",
    "SunoMock",
    "Target",
    "TargetUnavailable",
]
