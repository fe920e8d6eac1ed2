"""Helpers shared by the suite's test modules: hypothesis settings, budgeted runs, batching,
the owner's task ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .targets import Target

__all__ = ["BATCH", "NO_SUCH_TASK", "chunks", "given_within_budget", "own_ids", "suite_settings"]

T = TypeVar("T")
# A batch size every gateway takes (one-hub caps a fetch at 100 rows).
BATCH = 50
# An id no task has.
NO_SUCH_TASK = "suno-contract-kit-no-such-task"


def suite_settings(**changes: Any) -> settings:
    """The plugin's ``suno-contract`` hypothesis profile (examples per target), plus changes."""
    try:
        base = settings.get_profile("suno-contract")
    except InvalidArgument:  # imported without the plugin configured
        return settings(**changes)
    return settings(base, **changes)


def own_ids(target: Target, count: int = 1) -> list[str]:
    """The first ``count`` task ids of the key's owner; skips the test when there are fewer."""
    if len(target.own_ids) < count:
        pytest.skip("needs task ids of the key's owner: pass --suno-task-ids")
    return list(target.own_ids[:count])


def chunks(items: Sequence[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def given_within_budget(
    target: Target, strategy: st.SearchStrategy[T], test: Callable[[T], None]
) -> None:
    """Run ``test`` over ``strategy`` with as many examples as the spend budget allows.

    Every example may submit once. Against a budget, shrinking is off (each step would spend)
    and one submit is held back for hypothesis' replay of a failing example, so the run never
    sends more submits than granted.
    """
    base = suite_settings()
    remaining = target.spend_remaining()
    changes: dict[str, Any] = {"max_examples": base.max_examples}
    if remaining is not None:
        examples = min(base.max_examples, remaining - 1)
        if examples < 1:
            pytest.skip(f"needs a spend budget of at least 2 more submits ({remaining} left)")
        changes = {"max_examples": examples, "phases": (Phase.explicit, Phase.generate),
                   "report_multiple_bugs": False}

    @settings(base, **changes)
    @given(strategy)
    def run(value: T) -> None:
        test(value)

    run()
