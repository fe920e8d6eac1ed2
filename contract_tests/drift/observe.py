"""The I/O edge of the drift check: send the probes, keep what came back."""

from __future__ import annotations

import datetime as _dt
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mock_server.contract.profiles import Profile

from .._http import Client, TargetUnavailable
from .._observation import NOT_JSON, parse_json
from .._redact import Redactor
from .model import Probe, Response, Survey
from .probes import READ_ONLY_ROUTES, build_probes, route_probes, spend_probes

__all__ = [
    "ObserveOptions",
    "Unchecked",
    "finished_clip_ids",
    "observe",
    "parse_ids",
    "utc_now",
    "wrong_key",
]


class Unchecked(Exception):
    """The target could not be checked; ``reason`` says why (already redacted)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wrong_key() -> str:
    """A key no gateway has issued (random, so it cannot collide with a real one)."""
    return "sk-driftprobe" + secrets.token_hex(12)


@dataclass(frozen=True)
class ObserveOptions:
    base_url: str
    api_key: str
    known_ids: tuple[str, ...]
    max_single: int = 5
    allow_spend: int = 0
    rate_limit: float | None = 2.0
    timeout: float = 30.0
    retries: int = 3
    max_retry_wait: float = 60.0
    api_key_env: str = "SUNO_API_KEY"


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return ""


class _Runner:
    def __init__(
        self,
        client: Client,
        options: ObserveOptions,
        redactor: Redactor,
        wrong: str,
        progress: Callable[[str, bool], None] | None,
    ) -> None:
        self.client = client
        self.options = options
        self.redactor = redactor
        self.wrong = wrong
        self.progress = progress
        self.done = 0

    def send(self, probe: Probe, total: int) -> Response:
        kwargs: dict[str, Any] = {}
        if probe.raw_body is not None:
            kwargs["content"] = probe.raw_body
            kwargs["headers"] = {"Content-Type": "application/json"}
        elif probe.json_body is not None:
            kwargs["json"] = probe.json_body
        if probe.auth == "none":
            kwargs["authenticated"] = False
        elif probe.auth == "wrong":
            kwargs["api_key"] = self.wrong
        if self.progress:  # shown while the request (and any 429 wait) lasts, on a terminal
            self.progress(f"[{self.done + 1}/{total}] probing {probe.method} "
                          f"{_short(probe.path)}", False)
        start = time.monotonic()
        try:
            raw = self.client.request(probe.method, probe.path, **kwargs)
        except TargetUnavailable as exc:
            raise Unchecked(self.redactor.string(f"{probe.label}: {exc.reason}")) from None
        elapsed = (time.monotonic() - start) * 1000
        text = raw.text
        response = Response(
            probe=probe,
            status=raw.status_code,
            content_type=raw.headers.get("content-type", ""),
            body=parse_json(text),
            text=text,
            elapsed_ms=elapsed,
        )
        self.done += 1
        if self.progress:
            self.progress(
                f"[{self.done:>2}/{total}] {probe.label:<22} {probe.method:<4} "
                f"{_short(probe.path)} -> {response.status} ({elapsed:.0f} ms)", True
            )
        self._refuse_unusable(response)
        return response

    def _refuse_unusable(self, response: Response) -> None:
        probe, status = response.probe, response.status
        where = f"{probe.label} ({probe.method} {probe.path})"
        snippet = _snippet(response.text)
        if status >= 500:
            raise Unchecked(self.redactor.string(
                f"the target answered HTTP {status} to {where}, a request that never gets a 5xx "
                f"from a healthy gateway: {snippet}"
            ))
        if probe.auth == "key" and status in (401, 403):
            message = _message_of(response.body) or snippet
            raise Unchecked(self.redactor.string(
                f"the target refused the API key from ${self.options.api_key_env}: "
                f"HTTP {status} to {where}: {message}"
            ))
        if probe.auth == "key" and self.done == 1 and response.body is NOT_JSON:
            raise Unchecked(self.redactor.string(
                f"the target does not look like the Suno task API (is --base-url right?): "
                f"{where} answered HTTP {status} {response.content_type or 'without a type'}, "
                f"not JSON: {snippet}"
            ))


def _short(path: str, width: int = 48) -> str:
    return path if len(path) <= width else path[: width - 1] + "…"


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")


def observe(
    options: ObserveOptions,
    profile: Profile,
    redactor: Redactor,
    *,
    wrong: str,
    progress: Callable[[str, bool], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Survey:
    """Run every probe once; on a target that cannot be checked, stop and say why."""
    survey = Survey(
        base_url=options.base_url,
        profile=profile.name,
        known_ids=options.known_ids,
        started_at=utc_now(),
    )
    client = Client(
        options.base_url,
        options.api_key,
        rate_limit=options.rate_limit,
        timeout=options.timeout,
        max_retries=options.retries,
        max_retry_wait=options.max_retry_wait,
        transport=transport,
        sleep=sleep,
    )
    seed = secrets.token_hex(8)
    try:
        with client:
            runner = _Runner(client, options, redactor, wrong, progress)
            spends = spend_probes(profile, options.allow_spend)
            # Only to count the probes for the progress line: submitted ids join the batch.
            planned = build_probes(profile, options.known_ids, max_single=options.max_single,
                                   seed=seed, extra_ids=["(submitted)"] if spends else [])
            total = len(spends) + len(planned)
            for probe in spends:
                response = runner.send(probe, total)
                survey.responses.append(response)
                data = response.body.get("data") if isinstance(response.body, dict) else None
                if response.status == 200 and isinstance(data, str) and data:
                    survey.spent_ids.append(data)
            reads = build_probes(profile, options.known_ids, max_single=options.max_single,
                                 seed=seed, extra_ids=survey.spent_ids)
            total = len(spends) + len(reads) + len(READ_ONLY_ROUTES)
            for probe in reads:
                survey.responses.append(runner.send(probe, total))
            # The clip routes need clip ids, which only the fetched tasks name.
            survey.clip_ids = finished_clip_ids(survey.responses, options.max_single)
            routes = route_probes(profile, survey.clip_ids)
            total = len(spends) + len(reads) + len(routes)
            for probe in routes:
                survey.responses.append(runner.send(probe, total))
    except Unchecked as exc:
        survey.unchecked_reason = exc.reason
    finally:
        survey.requests_sent = client.requests_sent
        survey.finished_at = utc_now()
    return survey


def finished_clip_ids(responses: Sequence[Response], limit: int) -> list[str]:
    """The first clip of each finished MUSIC task the known-id fetches answered (at most
    ``limit``): clips the clip routes must know."""
    found: list[str] = []
    for response in responses:
        if response.probe.name not in ("fetch-batch-known", "fetch-one-known"):
            continue
        body = response.body
        data = body.get("data") if isinstance(body, dict) else None
        for task in data if isinstance(data, list) else [data]:
            if not (isinstance(task, dict) and task.get("status") == "SUCCESS"
                    and task.get("action") == "MUSIC"):
                continue
            clips = task.get("data")
            clip = clips[0] if isinstance(clips, list) and clips else None
            clip_id = clip.get("id") if isinstance(clip, dict) else None
            if isinstance(clip_id, str) and clip_id and clip_id not in found:
                found.append(clip_id)
    return found[: max(1, limit)]


def parse_ids(text: str) -> tuple[str, ...]:
    """Task ids from a file: a JSON array, or one per line / separated by commas or spaces.

    Lines starting with ``#`` are comments. Order is kept; duplicates are dropped.
    """
    stripped = text.strip()
    ids: Sequence[Any]
    if stripped.startswith("["):
        loaded = json.loads(stripped)
        if not isinstance(loaded, list) or not all(isinstance(i, str) for i in loaded):
            raise ValueError("a JSON ids file must be an array of strings")
        ids = loaded
    else:
        ids = [
            word
            for line in text.splitlines()
            if not line.lstrip().startswith("#")
            for word in line.replace(",", " ").split()
        ]
    return tuple(dict.fromkeys(i.strip() for i in ids if i.strip()))
