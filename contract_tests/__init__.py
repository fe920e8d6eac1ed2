"""Contract suite, pytest plugin and drift check for the Suno task API.

Run the suite with ``pytest --pyargs contract_tests`` (or ``suno-contract run``); use the fake
from your own tests through the ``suno_mock`` fixture, or directly as ``SunoMock``.

Layers: a module imports only from layers below its own, never from its own layer's other
modules (``a | b``), counting imports inside functions; no import circles. Checked by
lint-imports ("contract_tests layers" and "contract_tests.drift layers" in pyproject.toml)::

    cli | plugin                            entry points: the command, the pytest plugin
    test_envelopes | test_errors | ...      the suite's test modules (collected by pytest)
    _suite                                  their hypothesis settings and budgeted runs
    targets                                 mock and live targets: send, observe, budget
    mock | checks | strategies | drift      SunoMock; the rules; the generators; drift check
    _http | _observation | _redact | _wsgi  client, Observation + NOT_JSON, redaction, WSGI

and inside ``drift/``: __main__; check; diff | observe | record | report; baseline | probes; model.
Below them all, outside this package: ``mock_server`` (never imports ``contract_tests``).
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
