"""Targets the contract suite runs against: the in-process fake, or a live gateway.

A target sends requests and turns each into an ``Observation``; the checks never see a key.
A transport failure skips the test with "target unavailable: ..." (the plugin reports it and
exits 75), so an unreachable API never reads as a broken contract.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from mock_server.contract.profiles import load_profile

from ._http import Client, TargetUnavailable
from ._observation import NOT_JSON, Observation, parse_json
from ._wsgi import wsgi_transport
from .mock import SunoMock

__all__ = [
    "LiveTarget",
    "MockTarget",
    "SpendBudgetExceeded",
    "SuiteOptions",
    "Target",
    "TargetUnavailable",
    "build_target",
    "parse_task_ids",
    "public_url",
]

INVALID_KEY = "sk-suno-contract-kit-invalid-key-0000"
_UNSET: Any = object()


class SpendBudgetExceeded(RuntimeError):
    """The suite tried to submit beyond ``--suno-allow-spend``; nothing was sent."""


@dataclass(frozen=True)
class SuiteOptions:
    """What the command line chose; holds env var *names*, never keys."""

    target: str = "mock"
    profile: str = "elkapi"
    base_url: str | None = None
    api_key_env: str = "SUNO_API_KEY"
    other_api_key_env: str = "SUNO_OTHER_API_KEY"
    task_ids: tuple[str, ...] = ()
    allow_spend: int = 0
    rate_limit: float | None = None
    timeout: float = 30.0


def parse_task_ids(value: str | None) -> tuple[str, ...]:
    """A file with one id per line (``#`` comments allowed), or a comma-separated list."""
    if not value:
        return ()
    path = Path(value)
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        ids = [line.split("#", 1)[0].strip() for line in lines]
    else:
        ids = [part.strip() for part in value.split(",")]
    return tuple(dict.fromkeys(i for i in ids if i))


def public_url(url: str) -> str:
    """``url`` without user info or query, safe to print in a report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Target:
    """Base: sends requests with a key chosen by label, counts submits against a budget."""

    name = "target"
    #: how many times the lifecycle check polls each task
    polls = 3

    def __init__(
        self,
        client: Client,
        profile: str,
        *,
        other_key: str | None,
        spend_budget: int | None,
        own_ids: Sequence[str] = (),
        other_ids: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.profile = profile
        self.own_ids: tuple[str, ...] = tuple(own_ids)
        self.other_ids: tuple[str, ...] = tuple(other_ids)
        self.spend_budget = spend_budget
        self.submits_sent = 0
        self.unavailable: str | None = None
        self._keys: dict[str, str | None] = {"primary": None, "other": other_key,
                                             "invalid": INVALID_KEY}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        url = public_url(self.client.base_url)
        return f"{type(self).__name__}({url!r}, profile={self.profile!r})"

    @property
    def has_other_key(self) -> bool:
        return self._keys["other"] is not None

    @property
    def surface(self) -> str:
        """The API surface of the selected profile: "newapi" or "elkapi" (its routes)."""
        return load_profile(self.profile).surface

    def stored_tasks(self) -> int | None:
        """How many tasks the target holds, where it can tell (the fake); None on live."""
        return None

    # sending -----------------------------------------------------------------------------
    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _UNSET,
        content: bytes | None = None,
        key: str = "primary",
    ) -> Observation:
        """One request; ``key`` is "primary", "other", "invalid" or "none"."""
        if self.unavailable is not None:
            pytest.skip(f"{self.unavailable} (earlier in this run)")
        if key not in (*self._keys, "none"):
            raise ValueError(f"unknown key label {key!r}")
        if key == "other" and not self.has_other_key:
            raise ValueError("this target has no second key")
        kwargs: dict[str, Any] = {"authenticated": key != "none"}
        if key in ("other", "invalid"):
            kwargs["api_key"] = self._keys[key]
        if json_body is not _UNSET:
            content = json.dumps(json_body, ensure_ascii=False, allow_nan=False).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        try:
            response = self.client.request(method, path, content=content, headers=headers,
                                           **kwargs)
        except TargetUnavailable as exc:
            reason = exc.reason if exc.reason.startswith("target unavailable") else (
                f"target unavailable: {exc.reason}")
            self.unavailable = reason
            pytest.skip(reason)
        request = json_body if json_body is not _UNSET else content
        return Observation(
            method=method,
            path=path,
            status=response.status_code,
            body=response.content,
            headers={k.lower(): v for k, v in response.headers.items()},
            request=request,
            key=key,
        )

    def fetch(self, body: Any, *, key: str = "primary") -> Observation:
        """POST /suno/fetch with a JSON body."""
        return self.send("POST", "/suno/fetch", json_body=body, key=key)

    def fetch_raw(self, content: bytes, *, key: str = "primary") -> Observation:
        """POST /suno/fetch with raw bytes (for bodies that are not JSON)."""
        return self.send("POST", "/suno/fetch", content=content, key=key)

    def get(self, task_id: str, *, key: str = "primary") -> Observation:
        """GET /suno/fetch/{task_id} (the id percent-encoded)."""
        return self.send("GET", f"/suno/fetch/{quote(task_id, safe='')}", key=key)

    # spending ----------------------------------------------------------------------------
    def spend_remaining(self) -> int | None:
        """Submits left in the budget; ``None`` means unlimited (the fake spends nothing)."""
        if self.spend_budget is None:
            return None
        return max(0, self.spend_budget - self.submits_sent)

    def submit(
        self,
        action: str,
        body: Any = _UNSET,
        *,
        content: bytes | None = None,
        key: str = "primary",
    ) -> Observation:
        """POST /suno/submit/{action}. Any authenticated submit whose body is JSON could create
        a task, so it counts against the budget, and none is sent once the budget is spent."""
        return self.send_spending("POST", f"/suno/submit/{action.lower()}", body,
                                  content=content, key=key)

    def send_spending(
        self,
        method: str,
        path: str,
        body: Any = _UNSET,
        *,
        content: bytes | None = None,
        key: str = "primary",
    ) -> Observation:
        """A request that may cost credits (a submit, an upload, a concat...): counted against
        the budget like ``submit``, and not sent once the budget is spent."""
        could_spend = key in ("primary", "other") and (
            body is not _UNSET or _is_json(content) or method == "GET"
        )
        if could_spend:
            with self._lock:
                remaining = self.spend_remaining()
                if remaining is not None and remaining < 1:
                    raise SpendBudgetExceeded(
                        f"spend budget of {self.spend_budget} submit(s) used up; "
                        "not sending another")
                self.submits_sent += 1
        return self.send(method, path, json_body=body, content=content, key=key)

    # lifecycle ---------------------------------------------------------------------------
    def lifecycle_subjects(self) -> list[str]:
        """Task ids whose polls the lifecycle check follows."""
        return list(self.own_ids)

    def between_polls(self) -> None:
        """Let time pass between two polls of the lifecycle check."""

    def close(self) -> None:
        self.client.close()


def _is_json(content: bytes | None) -> bool:
    return content is not None and parse_json(content) is not NOT_JSON


# The fake's keys are test constants, not secrets: two owners, everything else invalid.
PRIMARY_KEY = "sk-suno-contract-primary"
OTHER_KEY = "sk-suno-contract-other"


class MockTarget(Target):
    """The fake, in-process on a manual clock; every state seeded through its admin API."""

    name = "mock"
    polls = 25  # at 10 s of fake time between polls: every bundled scenario ends within it
    step_seconds = 10.0

    def __init__(self, profile: str) -> None:
        self.mock = SunoMock(profile, api_key=PRIMARY_KEY, api_keys=(PRIMARY_KEY, OTHER_KEY))
        client = Client("http://suno-mock.local", PRIMARY_KEY,
                        transport=wsgi_transport(self.mock.app))
        scenarios = self.mock.admin("GET", "/scenarios")
        # Every step of every scenario, pinned, for the caller; the last steps for another owner.
        own = [self.mock.create_task(s["name"], step=step["name"])
               for s in scenarios for step in s["steps"]]
        other = [self.mock.create_task(s["name"], api_key=OTHER_KEY, step=len(s["steps"]) - 1)
                 for s in scenarios]
        self._scenarios = [s["name"] for s in scenarios]
        super().__init__(client, profile, other_key=OTHER_KEY, spend_budget=None,
                         own_ids=own, other_ids=other)

    def lifecycle_subjects(self) -> list[str]:
        """A fresh, unpinned task per scenario, submitted now."""
        return [self.mock.create_task(name) for name in self._scenarios]

    def between_polls(self) -> None:
        self.mock.advance(self.step_seconds)

    def stored_tasks(self) -> int | None:
        return len(self.mock.tasks())

    def close(self) -> None:
        super().close()
        self.mock.close()


class LiveTarget(Target):
    """A gateway at ``base_url``; the key comes from an environment variable."""

    name = "live"

    def __init__(self, options: SuiteOptions, *, spend_budget: int, rate_limit: float | None):
        if not options.base_url:
            raise ValueError("the live target needs --suno-base-url")
        key = os.environ.get(options.api_key_env, "")
        if not key:
            raise ValueError(f"the live target reads its key from ${options.api_key_env}, "
                             "which is not set (choose the variable with --suno-api-key-env)")
        client = Client(options.base_url, key, rate_limit=rate_limit, timeout=options.timeout)
        super().__init__(client, options.profile,
                         other_key=os.environ.get(options.other_api_key_env) or None,
                         spend_budget=spend_budget, own_ids=options.task_ids)


def build_target(
    options: SuiteOptions, *, spend_budget: int | None = None, rate_limit: float | None = None
) -> Target:
    """The target ``options`` names (``spend_budget``/``rate_limit``: this process's share)."""
    if options.target == "mock":
        return MockTarget(options.profile)
    if options.target == "live":
        return LiveTarget(
            options,
            spend_budget=options.allow_spend if spend_budget is None else spend_budget,
            rate_limit=options.rate_limit if rate_limit is None else rate_limit,
        )
    raise ValueError(f"unknown target {options.target!r}; expected mock or live")
