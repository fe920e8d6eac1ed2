"""Injectable clocks: wall time (optionally sped up) or manual, as shareable plain data."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

__all__ = ["ClockState", "real_time"]

real_time: Callable[[], float] = time.time


@dataclass(frozen=True)
class ClockState:
    """Virtual time = anchor_virtual + (real - anchor_real) * speed. speed 0 is a manual clock."""

    anchor_real: float
    anchor_virtual: float
    speed: float

    @classmethod
    def wall(cls, speed: float = 1.0, start: float | None = None) -> ClockState:
        real = real_time()
        return cls(real, real if start is None else start, speed)

    @classmethod
    def manual(cls, start: float | None = None) -> ClockState:
        real = real_time()
        return cls(real, float(int(real)) if start is None else start, 0.0)

    @property
    def mode(self) -> str:
        return "manual" if self.speed == 0 else "wall"

    def now(self, real: float | None = None) -> float:
        real = real_time() if real is None else real
        return self.anchor_virtual + (real - self.anchor_real) * self.speed

    def advanced(self, seconds: float) -> ClockState:
        real = real_time()
        return replace(self, anchor_real=real, anchor_virtual=self.now(real) + seconds)

    def set_to(self, when: float) -> ClockState:
        return replace(self, anchor_real=real_time(), anchor_virtual=when)

    def at_speed(self, speed: float) -> ClockState:
        """From now on, ``speed`` virtual seconds per real second; 0 pauses (a manual clock).

        The virtual time does not jump: the clock goes on from where it is.
        """
        real = real_time()
        return replace(self, anchor_real=real, anchor_virtual=self.now(real), speed=speed)

    def to_dict(self) -> dict[str, float]:
        return {
            "anchor_real": self.anchor_real,
            "anchor_virtual": self.anchor_virtual,
            "speed": self.speed,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, float]) -> ClockState:
        return cls(float(raw["anchor_real"]), float(raw["anchor_virtual"]), float(raw["speed"]))
