"""A task's facts: who, what, when, how often polled, overrides. States are computed from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["TaskRecord"]


@dataclass(frozen=True)
class TaskRecord:
    """The facts about one submitted task."""

    task_id: str
    owner: str
    action: str
    scenario: str
    submit_time: float
    seq: int
    request: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    forced_step: int | None = None
    inline_scenario: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TaskRecord:
        return cls(**raw)

    def polled(self) -> TaskRecord:
        """This record with one more poll: ``replace(self, polls=...)`` at a seventh the cost.

        Every fetch calls it; the fields are already valid, so __init__ is skipped.
        """
        new = object.__new__(TaskRecord)
        facts = new.__dict__
        facts.update(self.__dict__)
        facts["polls"] = self.polls + 1
        return new

    def numbered(self, seq: int) -> TaskRecord:
        """This record with sequence number ``seq`` (as ``polled``, without __init__)."""
        new = object.__new__(TaskRecord)
        facts = new.__dict__
        facts.update(self.__dict__)
        facts["seq"] = seq
        return new
