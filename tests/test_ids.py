"""Task and request ids: their formats, and no repeats where tasks would overwrite each other."""

from __future__ import annotations

import multiprocessing
import random
import re
import uuid

import pytest

from mock_server.core.ids import new_request_id, new_task_id

FORMATS = {
    "uuid": r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    "hex32": r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$",
    "task_alnum32": r"^task_[0-9A-Za-z]{32}$",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_task_ids_have_their_profiles_format_and_never_repeat(fmt: str) -> None:
    ids = [new_task_id(fmt) for _ in range(2000)]
    assert all(re.match(FORMATS[fmt], task_id) for task_id in ids), ids[:3]
    assert len(set(ids)) == len(ids)
    if fmt != "task_alnum32":
        assert {uuid.UUID(task_id).version for task_id in ids} == {4}


def test_seeding_the_shared_random_does_not_repeat_task_ids() -> None:
    """Hypothesis seeds `random` per example; a fake in the same process must not follow it."""
    random.seed(7)
    first = new_task_id("uuid")
    random.seed(7)
    assert new_task_id("uuid") != first


def _child_ids(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put([new_task_id("uuid") for _ in range(5)] + [new_request_id()[-8:]])


def test_forked_workers_draw_ids_of_their_own() -> None:
    """Workers forked from one parent must not hand out the same task ids."""
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    children = [ctx.Process(target=_child_ids, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    drawn = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    mine = [new_task_id("uuid") for _ in range(5)] + [new_request_id()[-8:]]
    assert len({*drawn[0], *drawn[1], *mine}) == 18
