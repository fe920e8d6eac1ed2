"""Faults that bend what a fetch returns: invisible, stuck, failed, data-less tasks; batch order.

Pure apart from the counters it is handed. Nothing here writes a task record: the task's facts
stay intact, and once the rules are cleared every fetch shows its normal state again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from mock_server.core.lifecycle import TaskState, state_of
from mock_server.core.record import TaskRecord
from mock_server.core.scenarios import Scenario
from mock_server.faults.rules import FaultBook, Rule, draw

__all__ = ["TaskFaults"]

DEFAULT_FAIL_REASON = "time out"  # what Suno-API writes when a task outlives CHAT_TIME_OUT


def _escape(text: str) -> str:
    # fail_reason is a template for render (str.format): keep the rule's braces literal.
    return text.replace("{", "{{").replace("}", "}}")


def _last_open_step(scenario: Scenario, upto: int | None = None) -> int | None:
    steps = scenario.steps[: None if upto is None else upto + 1]
    return next((i for i in range(len(steps) - 1, -1, -1) if not steps[i].terminal), None)


class TaskFaults:
    """The per-task and batch rules that fired for one fetch request."""

    def __init__(
        self,
        book: FaultBook,
        ns: str,
        rules: Sequence[Rule],
        batch: Sequence[tuple[Rule, int]] = (),
    ) -> None:
        self._book = book
        self._ns = ns
        self._count: Callable[[str, int], int] = book.counter(ns)
        self._by_kind: dict[str, list[Rule]] = {}
        for rule in rules:
            self._by_kind.setdefault(rule.fault, []).append(rule)
        self._batch = tuple(batch)
        self.touched: set[str] = set()  # ids of rules that changed this answer

    def _rules(self, kind: str, record: TaskRecord) -> list[Rule]:
        return [
            r
            for r in self._by_kind.get(kind, ())
            if (r.task_id is None or r.task_id == record.task_id)
            and self._book.claim(self._ns, r, record.task_id, record.seq)
        ]

    # 1. before the poll: tasks that are not there yet --------------------------------------
    def visible(
        self, ids: Sequence[str], lookup: Callable[[str], TaskRecord | None], now: float
    ) -> list[str]:
        """``ids`` minus the tasks an ``invisible`` rule hides (hidden fetches are not polls)."""
        if "invisible" not in self._by_kind:
            return list(ids)
        out = []
        for task_id in ids:
            record = lookup(task_id)
            hidden = record is not None and any(self._hides(r, record, now) for r in
                                                self._rules("invisible", record))
            if not hidden:
                out.append(task_id)
        return out

    def _hides(self, rule: Rule, record: TaskRecord, now: float) -> bool:
        if not rule.one_off:
            polls = rule.params.get("polls")
            seconds = rule.params.get("seconds", 0)
            if polls is None:
                polls = 0 if "seconds" in rule.params else 1
            key = f"{rule.uid}:hidden:{record.task_id}"
            if self._count(key, 0) >= polls and now - record.submit_time >= seconds:
                return False
            self._count(key, 1)
        self.touched.add(rule.id)
        return True

    # 2. the state a fetch shows ----------------------------------------------------------
    def override(
        self, record: TaskRecord, scenario: Scenario, state: TaskState, elapsed: float
    ) -> tuple[Scenario, TaskState]:
        """The scenario and state to render instead of the computed ones (or the same)."""
        index, changed = state.step, False
        for rule in self._rules("stuck", record):
            capped = self._stuck(rule, record, scenario, index)
            changed, index = changed or capped != index, capped
        for rule in self._rules("fail_after", record):
            failed = self._fail(rule, record, scenario, index, elapsed)
            if failed is not None:
                scenario, index, changed = failed, len(failed.steps) - 1, True
                break
        blank = [
            r for r in self._rules("null_data", record)
            if r.one_off or record.polls <= r.params.get("polls", 1)
        ]
        step = scenario.steps[index]
        if blank and step.data is not None:
            self.touched.update(r.id for r in blank)
            before, after = scenario.steps[:index], scenario.steps[index + 1 :]
            steps = (*before, replace(step, data=None), *after)
            scenario, changed = replace(scenario, steps=steps), True
        if not changed:
            return scenario, state
        return scenario, state_of(scenario, elapsed, record.polls, index)

    @staticmethod
    def _finished_before(rule: Rule, record: TaskRecord, scenario: Scenario, index: int) -> bool:
        """Whether the task reached its terminal ``index`` before the rule was added."""
        step = scenario.steps[index]
        return (
            step.terminal
            and rule.added_at is not None
            and record.submit_time + step.after_seconds <= rule.added_at
        )

    def _stuck(self, rule: Rule, record: TaskRecord, scenario: Scenario, index: int) -> int:
        step = rule.params.get("step")
        try:
            cap = _last_open_step(scenario) if step is None else scenario.step_index(step)
        except KeyError:
            return index  # this scenario has no such step: the rule is not about this task
        if cap is None or index <= cap:
            return index
        if not rule.one_off and self._finished_before(rule, record, scenario, index):
            return index  # terminal states stick: it was done before the rule existed
        self.touched.add(rule.id)
        return cap

    def _fail(
        self, rule: Rule, record: TaskRecord, scenario: Scenario, index: int, elapsed: float
    ) -> Scenario | None:
        key = f"{rule.uid}:failed:{record.task_id}"
        seen_done = f"{rule.uid}:done:{record.task_id}"
        terminal = scenario.steps[index].terminal
        mark = 0 if rule.one_off else self._count(key, 0)
        if mark:
            # Packed as ms * 1000 + step + 1 in one counter, so every worker agrees on when
            # and where the task failed (its finish_time and data never change again).
            at, base = divmod(mark - 1, 1000)
            at_seconds = at / 1000
        else:
            if record.polls < rule.params.get("polls", 1):
                if terminal and not rule.one_off and not self._count(seen_done, 0):
                    self._count(seen_done, 1)  # the client saw it finish: that sticks
                return None
            if terminal and not rule.one_off and (
                self._finished_before(rule, record, scenario, index)
                or self._count(seen_done, 0)
            ):
                return None
            at_seconds = max(0.0, elapsed)
            base = index
            if not rule.one_off:
                self._count(key, int(at_seconds * 1000) * 1000 + base + 1)
        base = min(base, len(scenario.steps) - 1)
        if scenario.steps[base].terminal:
            base = _last_open_step(scenario, base) or 0
        origin = scenario.steps[base]
        failure = replace(
            origin,
            name=f"fault-{rule.id}",
            status="FAILURE",
            progress=None,
            fail_reason=_escape(rule.params.get("fail_reason", DEFAULT_FAIL_REASON)),
            after_seconds=max(at_seconds, origin.after_seconds),
        )
        self.touched.add(rule.id)
        return replace(scenario, steps=(*scenario.steps[: base + 1], failure))

    # 3. the batch answer -----------------------------------------------------------------
    def arrange(
        self, requested: Sequence[Any], tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Drop ids (``missing``) and reorder (``shuffle``) a batch answer, seeded."""
        for rule, n in self._batch:
            rng = random.Random(draw(rule.seed, rule.fault, n))
            if rule.fault == "missing":
                candidates = [
                    i for i, t in enumerate(tasks)
                    if rule.task_id is None or t.get("task_id") == rule.task_id
                ]
                if candidates:
                    dropped = set(rng.sample(candidates, min(rule.params.get("count", 1),
                                                             len(candidates))))
                    tasks = [t for i, t in enumerate(tasks) if i not in dropped]
                    self.touched.add(rule.id)
            elif rule.fault == "shuffle" and len(tasks) > 1:
                tasks = self._shuffled(rng, requested, tasks)
                self.touched.add(rule.id)
        return tasks

    @staticmethod
    def _shuffled(
        rng: random.Random, requested: Sequence[Any], tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        position: dict[Any, int] = {}
        for i, task_id in enumerate(requested):
            position.setdefault(task_id, i)
        # Shuffle the request order (not the id order): the same requests, the same answer.
        out = sorted(tasks, key=lambda t: position.get(t.get("task_id"), 0))
        asked = list(out)
        rng.shuffle(out)
        if out == asked:
            out = out[1:] + out[:1]  # the point is an order the client did not ask for
        return out
