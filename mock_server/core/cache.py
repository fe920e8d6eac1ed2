"""A bounded cache with no lock on the read path, for per-process caches on hot paths."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``size`` entries, in two generations: a hit in the old one moves to the new one.

    Approximates LRU without a lock on the read path (dict reads are atomic); when the new
    generation is full it becomes the old one and the previous old one is dropped whole.
    """

    def __init__(self, size: int) -> None:
        self._half = max(1, size // 2)
        self._new: dict[K, V] = {}
        self._old: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        value = self._new.get(key)
        if value is None:
            value = self._old.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> V:
        with self._lock:
            if len(self._new) >= self._half:
                self._old, self._new = self._new, {}
            self._new[key] = value
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        value = self.get(key)
        return self.put(key, make()) if value is None else value

    def clear(self) -> None:
        with self._lock:
            self._new, self._old = {}, {}

    def __len__(self) -> int:
        return len(self._new) + len(self._old)
