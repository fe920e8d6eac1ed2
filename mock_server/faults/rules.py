"""Faults: declarative, seeded misbehaviour of the fake. The pure core (no HTTP here).

A rule names its kind (``fault``), the kind's parameters, a scope (route, task id, owner; none =
every request under /suno/) and a lifetime (``times``, ``rate`` + ``seed``, or until cleared).
``FaultBook`` keeps a namespace's rules in the store (so every worker sees them) and turns one
request into a ``Plan``: the latency to add, at most one outcome (an HTTP error or a transport
fault) and the rules that bend the tasks a fetch returns. Every random choice is drawn from the
rule's seed and the number of requests the rule has matched, so a run repeats exactly.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from mock_server.contract.fixtures import read_json
from mock_server.contract.resources import fixtures_dir
from mock_server.contract.validation import validate
from mock_server.core.identity import owner_of
from mock_server.errors import BindError, FaultError, FixtureError
from mock_server.wire.gobind import OWN_MAX_DEPTH, decode

__all__ = [
    "KINDS",
    "NO_FAULTS",
    "ROUTES",
    "FaultBook",
    "FaultError",
    "FaultRequest",
    "FaultState",
    "Plan",
    "Rule",
    "bundled_fault_profiles",
    "draw",
    "load_fault_file",
    "load_fault_profile",
    "parse_header",
    "parse_rules",
    "unit",
]

# kind -> its parameters. schemas/fault.schema.json says the same; a test keeps them in step.
KINDS: dict[str, tuple[str, ...]] = {
    "latency": ("seconds",),
    "disconnect": (),
    "truncate": ("bytes", "close"),
    "not_json": ("status", "body", "content_type"),
    "hang": ("seconds", "bytes"),
    "status": ("status", "envelope", "code", "message", "retry_after"),
    "invisible": ("polls", "seconds"),
    "shuffle": (),
    "missing": ("count",),
    "stuck": ("step",),
    "fail_after": ("polls", "fail_reason"),
    "null_data": ("polls",),
}
COMMON = ("id", "fault", "description", "route", "task_id", "api_key", "owner", "times", "rate",
          "seed")
ROUTES = ("submit", "fetch_batch", "fetch_one")
_ROUTE_NAMES = {"submit": ("submit",), "fetch": ("fetch_batch", "fetch_one"),
                "fetch_batch": ("fetch_batch",), "fetch_one": ("fetch_one",)}
OUTCOMES = frozenset({"disconnect", "truncate", "not_json", "hang", "status"})  # one per request
BATCH_KINDS = frozenset({"shuffle", "missing"})  # rearrange one batch answer
TASK_KINDS = frozenset({"invisible", "stuck", "fail_after", "null_data"})  # bend single tasks
# Kinds that only make sense on some routes: the rule's scope is narrowed to these.
_KIND_ROUTES = {
    **{k: ("fetch_batch",) for k in BATCH_KINDS},
    **{k: ("fetch_batch", "fetch_one") for k in TASK_KINDS},
}
_RANDOM_KINDS = frozenset({"shuffle", "missing"})
# X-Mock-Fault shorthand: "status=429" is {"fault": "status", "status": 429}.
_PRIMARY = {
    "latency": "seconds",
    "truncate": "bytes",
    "not_json": "status",
    "hang": "seconds",
    "status": "status",
    "invisible": "polls",
    "missing": "count",
    "stuck": "step",
    "fail_after": "polls",
    "null_data": "polls",
}
_LIFETIME = ("id", "times", "rate", "seed")  # meaningless for a one-request header rule
MAX_LATENCY = 60.0


def draw(seed: int, purpose: str, n: int) -> int:
    """A 64-bit number fixed by (seed, purpose, n): the same run makes the same choices."""
    digest = hashlib.sha256(f"{seed}/{purpose}/{n}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def unit(seed: int, purpose: str, n: int) -> float:
    """``draw`` scaled to [0, 1)."""
    return draw(seed, purpose, n) / 2.0**64


@dataclass(frozen=True)
class Rule:
    """One fault rule, normalised: the API key (if one was given) is already an owner digest."""

    id: str
    fault: str
    params: Mapping[str, Any] = field(default_factory=dict)
    route: Any = None  # as given: None, a route name or a list of them
    owner: str | None = None
    task_id: str | None = None
    times: int | None = None
    rate: float | None = None
    seed: int = 0
    description: str = ""
    uid: str = ""  # key of the rule's counters; never reused within a namespace
    added_at: float | None = None  # the namespace's clock when added (None: from the start)
    one_off: bool = False  # from the X-Mock-Fault header: this request only, no lifetime

    @cached_property
    def routes(self) -> frozenset[str]:
        """Routes the rule applies to; empty = every request under /suno/."""
        given: set[str] = set()
        for name in [self.route] if isinstance(self.route, str) else (self.route or ()):
            given.update(_ROUTE_NAMES[name])
        implied = set(_KIND_ROUTES.get(self.fault, ()))
        if implied and given:
            return frozenset(given & implied)
        return frozenset(given or implied)

    def to_dict(self, *, stored: bool = True) -> dict[str, Any]:
        """The stored form (with ``uid``) or the listed form (without)."""
        out: dict[str, Any] = {"id": self.id, "fault": self.fault, **self.params}
        for key in ("route", "owner", "task_id", "times", "rate"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        seeded = self.rate is not None or self.fault in _RANDOM_KINDS
        if seeded or self.seed or isinstance(self.params.get("seconds"), dict):
            out["seed"] = self.seed
        if self.description:
            out["description"] = self.description
        if stored:
            out["uid"] = self.uid
            out["added_at"] = self.added_at
        return out

    @classmethod
    def from_stored(cls, raw: Mapping[str, Any]) -> Rule:
        """Rebuild a rule the book stored itself (trusted: no validation)."""
        params = {k: v for k, v in raw.items() if k in KINDS[raw["fault"]]}
        return cls(
            id=raw["id"],
            fault=raw["fault"],
            params=params,
            route=raw.get("route"),
            owner=raw.get("owner"),
            task_id=raw.get("task_id"),
            times=raw.get("times"),
            rate=raw.get("rate"),
            seed=raw.get("seed", 0),
            description=raw.get("description", ""),
            uid=raw.get("uid", raw["id"]),
            added_at=raw.get("added_at"),
        )

    def latency(self, n: int) -> float:
        """The delay a latency rule adds to its n-th matching request."""
        spec = self.params["seconds"]
        if not isinstance(spec, dict):
            return float(spec)
        u = unit(self.seed, "latency", n)
        if "mean" in spec:
            return min(float(spec.get("max", MAX_LATENCY)), -float(spec["mean"]) * math.log1p(-u))
        return float(spec["min"]) + u * (float(spec["max"]) - float(spec["min"]))


# --- parsing and validation --------------------------------------------------------------------


def _semantic_problems(raw: Mapping[str, Any], where: str) -> list[str]:
    """What the schema cannot say (or says less clearly)."""
    kind = raw.get("fault")
    if not isinstance(kind, str) or kind not in KINDS:
        return []
    problems = []
    allowed = (*COMMON, *KINDS[kind])
    for key in raw:
        if key not in allowed and key in {p for ps in KINDS.values() for p in ps}:
            takes = ", ".join(KINDS[kind]) or "no parameters"
            problems.append(
                f"{where}.{key}: not a parameter of a {kind!r} fault (it takes {takes})"
            )
    if "api_key" in raw and "owner" in raw:
        problems.append(f"{where}: give api_key or owner, not both")
    seconds = raw.get("seconds")
    if kind == "latency" and isinstance(seconds, dict):
        low, high = seconds.get("min"), seconds.get("max")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            problems.append(f"{where}.seconds: min must not exceed max")
    route = raw.get("route")
    if kind in _KIND_ROUTES and isinstance(route, (str, list)):
        names = [route] if isinstance(route, str) else route
        if all(isinstance(n, str) and n in _ROUTE_NAMES for n in names):
            given = {r for n in names for r in _ROUTE_NAMES[n]}
            if not given & set(_KIND_ROUTES[kind]):
                problems.append(
                    f"{where}.route: a {kind!r} fault applies to "
                    f"{' and '.join(_KIND_ROUTES[kind])} only"
                )
    return problems


def _problems(rules: Any, prefix: str) -> list[str]:
    problems = []
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            if isinstance(rule, dict):
                problems += _semantic_problems(rule, f"{prefix}[{i}]")
    if problems:
        return problems
    violations = validate({"rules": rules}, "fault")
    return [str(v).replace("$.rules", prefix, 1) for v in violations]


def _build(raw: Mapping[str, Any]) -> Rule:
    key = raw.get("api_key")
    return Rule(
        id=raw.get("id", ""),
        fault=raw["fault"],
        params={k: raw[k] for k in KINDS[raw["fault"]] if k in raw},
        route=raw.get("route"),
        owner=owner_of(key) if isinstance(key, str) else raw.get("owner"),
        task_id=raw.get("task_id"),
        times=raw.get("times"),
        rate=raw.get("rate"),
        seed=raw.get("seed", 0),
        description=raw.get("description", ""),
    )


def parse_rules(payload: Any) -> list[Rule]:
    """One rule (an object with ``fault``) or a fault file (``{"rules": [...]}``), validated.

    Raises FaultError naming every problem by JSON path ($ is the payload as given).
    """
    if isinstance(payload, dict) and "rules" in payload and "fault" not in payload:
        problems = _problems(payload["rules"], "$.rules")
        if not problems:
            problems = [str(v) for v in validate(payload, "fault")]
        rules = payload["rules"] if not problems else []
    else:
        problems = _problems([payload], "$")
        problems = [p.replace("$[0]", "$", 1) for p in problems]
        rules = [payload]
    if problems:
        raise FaultError("; ".join(problems))
    ids = [r["id"] for r in rules if "id" in r]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FaultError(f"$.rules: duplicate fault id(s) {duplicates}")
    return [_build(r) for r in rules]


def _json(text: str) -> Any:
    """A header's JSON, decoded as the gateway's decoder would (lone surrogates become U+FFFD)
    and no deeper than our own JSON may nest."""
    try:
        raw = text.encode("latin-1")  # a header's bytes, as WSGI hands them over
    except UnicodeEncodeError:  # text that never was bytes (in-process callers)
        raw = text.encode("utf-8", errors="surrogatepass")
    return decode(raw, OWN_MAX_DEPTH, whole=True)


def _header_value(text: str) -> Any:
    try:
        return _json(text)
    except BindError:
        return text


def parse_header(value: str) -> Rule:
    """The X-Mock-Fault header: a JSON rule, or ``kind[=value][; key=value]...``.

    ``status=429; retry_after=3`` is ``{"fault": "status", "status": 429, "retry_after": 3}``;
    ``disconnect`` is ``{"fault": "disconnect"}``. The rule applies to this request only.
    """
    text = value.strip()
    raw: Any
    if text.startswith("{"):
        try:
            raw = _json(text)
        except BindError as exc:
            raise FaultError(f"$: not JSON: {exc}") from None
    else:
        raw = {}
        for i, part in enumerate(p.strip() for p in text.split(";")):
            if not part:
                continue
            key, has_value, rest = part.partition("=")
            key = key.strip()
            if i == 0 and key not in KINDS and key != "fault":
                raise FaultError(
                    f"$: start with a fault kind ({', '.join(KINDS)}), e.g. 'status=429'"
                )
            if i == 0 and key in KINDS:
                raw["fault"] = key
                if has_value:
                    if key not in _PRIMARY:
                        raise FaultError(f"$: a {key!r} fault takes no value")
                    raw[_PRIMARY[key]] = _header_value(rest.strip())
            elif not has_value:
                raise FaultError(f"$: expected key=value, got {part!r}")
            else:
                raw[key] = _header_value(rest.strip())
    if not isinstance(raw, dict):
        raise FaultError("$: a fault rule must be a JSON object")
    if "rules" in raw:
        raise FaultError("$.rules: a header carries one rule")
    present = [k for k in _LIFETIME if k in raw]
    if present:
        raise FaultError(
            f"$.{present[0]}: not allowed in a per-request header (it applies to this request only)"
        )
    return replace(parse_rules(raw)[0], id="header", uid="header", one_off=True)


def bundled_fault_profiles() -> list[str]:
    return sorted(p.stem for p in (fixtures_dir() / "faults").glob("*.json"))


def load_fault_file(path: Path) -> list[Rule]:
    """A fault file's rules; FixtureError naming the file and JSON path."""
    data = read_json(Path(path))
    if not isinstance(data, dict) or "rules" not in data:
        raise FixtureError(f'{path}: invalid fault: $: a fault file is {{"rules": [...]}}')
    try:
        return parse_rules(data)
    except FaultError as exc:
        raise FixtureError(f"{path}: invalid fault: {exc}") from None


def load_fault_profile(name_or_path: str) -> list[Rule]:
    """A fault file by path, or a bundled profile by name (``rate-limited``)."""
    path = Path(name_or_path)
    if path.is_file():
        return load_fault_file(path)
    bundled = fixtures_dir() / "faults" / f"{name_or_path}.json"
    if "/" not in name_or_path and bundled.is_file():
        return load_fault_file(bundled)
    raise FixtureError(
        f"{name_or_path}: no such fault file or bundled fault profile "
        f"(bundled: {', '.join(bundled_fault_profiles())})"
    )


# --- state ------------------------------------------------------------------------------------


class FaultState(Protocol):
    """What the book needs from a store; a namespace's faults live beside its tasks."""

    def get_faults(self, ns: str) -> list[dict[str, Any]] | None: ...
    def put_faults(self, ns: str, rules: list[dict[str, Any]]) -> None: ...
    def fault_counter(self, ns: str, key: str, delta: int = 1) -> int: ...


# --- decisions --------------------------------------------------------------------------------


class FaultRequest:
    """What a rule can match on. Owner and ids are computed only if some rule asks."""

    def __init__(
        self,
        route: str | None,
        owner: Callable[[], str | None] = lambda: None,
        task_ids: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self.route = route
        self._owner = owner
        self._task_ids = task_ids

    @cached_property
    def owner(self) -> str | None:
        return self._owner()

    @cached_property
    def task_ids(self) -> frozenset[str]:
        return frozenset(self._task_ids())

    def matches(self, rule: Rule) -> bool:
        if rule.routes and self.route not in rule.routes:
            return False
        if rule.owner is not None and rule.owner != self.owner:
            return False
        return rule.task_id is None or rule.task_id in self.task_ids


@dataclass(frozen=True)
class Plan:
    """What happens to one request."""

    latency: float = 0.0
    outcome: Rule | None = None
    batch: tuple[tuple[Rule, int], ...] = ()  # shuffle/missing, with their request number
    task_rules: tuple[Rule, ...] = ()
    fired: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.latency or self.outcome or self.batch or self.task_rules)


NO_FAULTS = Plan()


class FaultBook:
    """A namespace's rules (the server's start rules until first changed), counters and release."""

    def __init__(self, store: FaultState, base: Sequence[Rule] = ()) -> None:
        self.state: FaultState = store
        self.base = tuple(
            replace(r, id=r.id or f"p{i + 1}", uid=f"p{i + 1}") for i, r in enumerate(base)
        )
        self._release = threading.Condition()
        self._generation = 0

    def _count(self, ns: str, key: str, delta: int = 1) -> int:
        return self.state.fault_counter(ns, key, delta)

    def rules(self, ns: str = "") -> list[Rule]:
        stored = self.state.get_faults(ns)
        if stored is None:
            return list(self.base)
        return [Rule.from_stored(r) for r in stored]

    def _put(self, ns: str, rules: Sequence[Rule]) -> None:
        self.state.put_faults(ns, [r.to_dict() for r in rules])

    def add(self, payload: Any, ns: str = "", *, now: float | None = None) -> list[Rule]:
        """Validate and append one rule or a fault file's rules; returns them with their ids.

        ``now`` (the namespace's clock) lets per-task rules leave alone tasks already done.
        """
        new = parse_rules(payload)
        current = self.rules(ns)
        taken = {r.id for r in current}
        clash = sorted(taken & {r.id for r in new})
        if clash:
            raise FaultError(f"$.id: a fault with id {clash[0]!r} exists already")
        added = []
        for rule in new:
            uid = f"f{self._count(ns, '#uid')}"
            added.append(replace(rule, id=rule.id or uid, uid=uid, added_at=now))
        self._put(ns, [*current, *added])
        return added

    def remove(self, rule_id: str, ns: str = "") -> bool:
        current = self.rules(ns)
        kept = [r for r in current if r.id != rule_id]
        if len(kept) == len(current):
            return False
        self._put(ns, kept)
        self.release()
        return True

    def clear(self, ns: str = "") -> int:
        count = len(self.rules(ns))
        self._put(ns, [])
        self.release()
        return count

    def listing(self, ns: str = "") -> list[dict[str, Any]]:
        """Rules as given, with how often each fired and what is left of ``times``."""
        out = []
        for rule in self.rules(ns):
            view = rule.to_dict(stored=False)
            fired = self._count(ns, f"{rule.uid}:fired", 0)
            if rule.times is not None:
                fired = min(fired, rule.times)
                view["remaining"] = rule.times - fired
            view["fired"] = fired
            out.append(view)
        return out

    def decide(self, request: FaultRequest, ns: str = "", extra: Rule | None = None) -> Plan:
        """Which rules fire for this request. Counters move only for rules that match."""
        rules = self.rules(ns)
        if extra is not None:
            rules.insert(0, extra)
        if not rules:
            return NO_FAULTS
        latency = 0.0
        outcome: Rule | None = None
        batch: list[tuple[Rule, int]] = []
        task_rules: list[Rule] = []
        fired: list[str] = []
        for rule in rules:
            if not request.matches(rule):
                continue
            if rule.fault in TASK_KINDS:
                # Their lifetime counts tasks, not requests: decided per task (TaskFaults).
                task_rules.append(rule)
                continue
            n = 0
            if not rule.one_off:
                random_ = rule.fault in _RANDOM_KINDS or rule.fault == "latency"
                if rule.rate is not None or random_:
                    # Every matching request moves the sequence, fired or not: decisions
                    # depend only on the seed and the order of requests.
                    n = self._count(ns, f"{rule.uid}:seen")
                if rule.rate is not None and unit(rule.seed, "rate", n) >= rule.rate:
                    continue
                if rule.fault in OUTCOMES and outcome is not None:
                    continue
                if not self._take(ns, rule):
                    continue
            elif rule.fault in OUTCOMES and outcome is not None:
                continue
            fired.append(rule.id)
            if rule.fault == "latency":
                latency += rule.latency(n)
            elif rule.fault in OUTCOMES:
                outcome = rule
            else:
                batch.append((rule, n))
        if not (fired or task_rules):
            return NO_FAULTS
        return Plan(
            latency=min(latency, MAX_LATENCY),
            outcome=outcome,
            batch=tuple(batch),
            task_rules=tuple(task_rules),
            fired=tuple(fired),
        )

    def _take(self, ns: str, rule: Rule) -> bool:
        """Count one firing; False when ``times`` is used up (safe across workers)."""
        key = f"{rule.uid}:fired"
        if rule.times is None:
            self._count(ns, key)
            return True
        if self._count(ns, key, 0) >= rule.times:
            return False
        return self._count(ns, key) <= rule.times

    def claim(self, ns: str, rule: Rule, task_id: str, seq: int) -> bool:
        """Whether a per-task rule applies to this task; sticky, so a task never flickers.

        ``times`` and ``fired`` count tasks here; ``rate`` picks tasks by their submit order.
        """
        if rule.one_off:
            return True
        if rule.rate is not None and unit(rule.seed, "task", seq) >= rule.rate:
            return False
        key = f"{rule.uid}:claim:{task_id}"
        mark = self._count(ns, key, 0)
        if mark:
            return mark == 1
        taken = self._take(ns, rule)
        self._count(ns, key, 1 if taken else 2)
        return taken

    def counter(self, ns: str) -> Callable[[str, int], int]:
        return lambda key, delta: self._count(ns, key, delta)

    # Hanging responses and long latencies end early when faults are cleared.
    def release(self) -> None:
        with self._release:
            self._generation += 1
            self._release.notify_all()

    def cut_short(self) -> Callable[[], bool]:
        """A test of whether a clear or remove has happened since this call."""
        start = self._generation
        return lambda: self._generation != start

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if cut short by a clear or remove."""
        with self._release:
            start = self._generation
            return self._release.wait_for(lambda: self._generation != start, timeout=seconds)
