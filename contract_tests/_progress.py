"""Progress of long work: rewritten in place on a terminal, quiet (or plain lines) in CI.

``Progress(stream)`` decides once: when ``stream`` is a TTY and ``$CI`` is not set to a true
value, each ``update`` rewrites the current line (``[3/12] probing GET /suno/fetch/{id}``);
otherwise nothing is written, unless progress was asked for (``forced=True``), in which case
each ``update(..., done=True)`` is one plain line and transient updates are dropped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import TextIO

__all__ = ["Progress", "in_ci", "is_tty"]

_CLEAR = "\r\x1b[K"


def is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in {"true", "1", "yes"}


class Progress:
    """One progress display on ``stream`` (usually stderr)."""

    def __init__(self, stream: TextIO, *, forced: bool | None = None,
                 env: Mapping[str, str] | None = None, total: int | None = None) -> None:
        self.stream = stream
        self.total = total
        self.count = 0
        env = os.environ if env is None else env
        terminal = is_tty(stream) and not in_ci(env)
        if forced is False:
            self.mode = "off"
        elif terminal and env.get("TERM") != "dumb":
            self.mode = "tty"
        else:  # a dumb terminal cannot rewrite a line: plain lines there, as when asked for
            self.mode = "lines" if forced or terminal else "off"
        self._dirty = False
        self._current = ""

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((100, 20)).columns - 1)

    def update(self, text: str, *, done: bool = False) -> None:
        """Show ``text``; ``done`` marks a finished step (plain-line mode prints only those)."""
        if self.mode == "tty":
            line = text if len(text) <= self._width() else text[: self._width() - 1] + "…"
            self.stream.write(_CLEAR + line)
            self._dirty = True
            self.stream.flush()
        elif self.mode == "lines" and done:
            self.stream.write(text + "\n")
            self.stream.flush()

    def step(self, what: str) -> None:
        """Start the next step: ``[n/total] what`` (``[n] what`` without a total)."""
        self.count += 1
        where = f"{self.count}/{self.total}" if self.total else str(self.count)
        self._current = f"[{where}] {what}"
        self.update(self._current, done=True)

    def detail(self, text: str) -> None:
        """What the current step is doing now (a terminal only): ``[2/5] setup: wrk GET ...``."""
        self.update(f"{self._current}: {text}" if self._current else text, done=False)

    def close(self) -> None:
        """Clear the rewritten line, so later output starts on a clean line."""
        if self.mode == "tty" and self._dirty:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._dirty = False
