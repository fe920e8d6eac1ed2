"""granian's server process with our respawn policy for workers that die.

granian (2.8) respawns a dead worker, but exits 1 ("Worker crash loop detected") when a worker
dies within 5.5 s of being respawned: two quick SIGKILLs (an OOM killer, an operator) stopped the
whole service. Here a dead worker is always replaced; one that lived less than
``QUICK_DEATH`` seconds is replaced after a pause that doubles each time, and only
``CRASH_LOOP_LIMIT`` quick deaths in a row of the same worker stop the server (exit status 1):
a worker that cannot live at all is a broken setup, better reported than hidden.
"""

from __future__ import annotations

import logging
import time
from typing import Any

__all__ = ["CRASH_LOOP_LIMIT", "QUICK_DEATH", "backoff", "supervisor_class"]

log = logging.getLogger("mock_server")

QUICK_DEATH = 5.5  # seconds: a worker dying sooner after its start died quickly
CRASH_LOOP_LIMIT = 10  # quick deaths in a row of one worker before the server gives up
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 8.0


def backoff(streak: int) -> float:
    """The pause before respawning a worker after its ``streak``-th quick death in a row."""
    return 0.0 if streak <= 0 else min(_BACKOFF_MAX, _BACKOFF_FIRST * 2 ** (streak - 1))


def supervisor_class() -> type:
    """A subclass of granian's ``Server`` (imported here: granian is a serve-time import)."""
    from granian.server import Server

    class Supervisor(Server):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.quick_deaths: dict[int, int] = {}

        def _respawn_workers(
            self, workers: list[int], spawn_target: Any, target_loader: Any, delay: float = 0
        ) -> None:
            dead = [idx for idx in workers if not self.wrks[idx].is_alive()]
            if dead and not self._may_respawn(dead):
                return
            super()._respawn_workers(workers, spawn_target, target_loader, delay)
            # granian's own rule (exit when a respawned worker dies within 5.5 s) reads this.
            for idx in workers:
                self.respawned_wrks.pop(idx, None)

        def _may_respawn(self, dead: list[int]) -> bool:
            now = time.monotonic()
            pause = 0.0
            for idx in dead:
                lived = now - self.wrks[idx].birth
                streak = self.quick_deaths.get(idx, 0) + 1 if lived < QUICK_DEATH else 0
                self.quick_deaths[idx] = streak
                if streak >= CRASH_LOOP_LIMIT:
                    log.error(
                        "worker-%d died %d times in a row within %.1f s of its start: "
                        "stopping the server", idx + 1, streak, QUICK_DEATH,
                    )
                    self.interrupt_children.append(idx)  # the exit status is then 1
                    self.interrupt_signal = True
                    self.main_loop_interrupt.set()
                    return False
                if streak:
                    log.warning(
                        "worker-%d died %.1f s after its start (%d in a row): respawning "
                        "in %.1f s", idx + 1, lived, streak, backoff(streak),
                    )
                pause = max(pause, backoff(streak))
            deadline = time.monotonic() + pause
            while not self.interrupt_signal and time.monotonic() < deadline:
                time.sleep(0.05)  # SIGTERM meanwhile: stop instead
            return not self.interrupt_signal

    return Supervisor
