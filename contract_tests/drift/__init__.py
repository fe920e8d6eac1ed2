"""``suno-contract drift``: what changed in the live API, precisely, without spending credits.

The check lives in ``check``; this package re-exports its public names. Python API:
``run_drift(DriftOptions(...))`` runs a check; ``diff_body(payload, kind, profile)`` reads one
response body (e.g. a capture) the way the check does. ``python -m contract_tests.drift`` is
``suno-contract drift``.

Modules, each importing only those below it::

    check                            run_drift, the reports and baseline it writes, the CLI
    diff | observe | record | report findings; probing the target; --record; the report files
    baseline | probes                response shapes and the baseline file; the probes to send
    model                            plain data: probes, responses, findings
"""

from .check import (
    DriftOptions,
    DriftResult,
    Finding,
    add_arguments,
    diff_body,
    main,
    run,
    run_drift,
)
from .check import options_from_args as options_from_args  # not public; tests use it

__all__ = [
    "DriftOptions",
    "DriftResult",
    "Finding",
    "add_arguments",
    "diff_body",
    "main",
    "run",
    "run_drift",
]
