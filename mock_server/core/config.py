"""Server configuration: one dataclass, filled from flags or SUNO_MOCK_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mock_server.core.actions import ACTIONS, MUSIC_TASK_KINDS
from mock_server.core.hooks import CALLBACK_MODES
from mock_server.errors import ConfigError

__all__ = ["Config", "check_base_url"]

# The default_scenarios keys of the MUSIC task kinds: MUSIC:extend, ...
_KIND_KEYS = frozenset(("MUSIC", task) for task in MUSIC_TASK_KINDS)


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, or ConfigError: http(s), a host, no credentials,
    query or fragment (the key comes from each request, never from the command line)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # never echo them
        raise ConfigError("--proxy-to must not hold credentials: the app's own key is forwarded")
    try:
        parts.port  # noqa: B018 (it raises for a port that is not a number in range)
    except ValueError:
        raise ConfigError(f"--proxy-to has a bad port: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--proxy-to must be an http:// or https:// URL with a host, not {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"--proxy-to must not have a query or fragment: {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class Config:
    """Everything create_app needs. Defaults give a laptop fake on a wall clock."""

    profile: str = "elkapi"
    clock: str = "wall"  # "wall" or "manual"
    speed: float = 1.0
    clock_start: float | None = None
    api_keys: tuple[str, ...] = ()
    admin_token: str | None = None
    fixtures: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()  # fault files or bundled fault profile names, applied at start
    # Per action; an action left out keeps its ACTIONS default (a Config that names only
    # MUSIC's must not leave a newer action without one). "MUSIC:<task>" (MUSIC:extend) names
    # the scenario of one of ElkAPI's MUSIC task kinds: see ``default_scenario``.
    default_scenarios: dict[str, str] = field(
        default_factory=lambda: {name: a.default_scenario for name, a in ACTIONS.items()}
    )
    store: str = "memory://"
    journal_size: int = 1000
    max_body_bytes: int = 8 * 1024 * 1024
    access_log: bool = False
    seed: str | None = None  # a seed file (JSON or YAML): tasks the default namespace starts with
    # The gateway's poller (new-api: every 15 s): fetches show a task as it was at its last
    # run. 0: as the upstream has it at that moment.
    poll_interval: float = 15.0
    # Clip media URLs: "local" points them at the fake's own media routes, "suno" keeps the
    # CDN's (for tests that assert their shape). media_base_url: where clients reach the fake
    # (behind a proxy, in Compose); default: the address each request came to.
    media_urls: str = "local"
    media_base_url: str | None = None
    # What the store keeps (docs/reference/stores.md#limits-and-retention); 0: no limit.
    retention: float = 7 * 24 * 3600.0  # seconds a namespace or task is kept unused
    max_namespaces: int = 1000
    max_tasks: int = 200_000
    # --proxy-to: /suno/ requests go to this live gateway with the app's own key; --record:
    # what it answers is written here as scenarios plus seed.json (record-and-replay.md).
    proxy_to: str | None = None
    record: str | None = None
    proxy_timeout: float = 60.0
    # notify_hook callbacks (elkapi profile; docs/how-to/callbacks.md): where the fake may call
    # (core.hooks.CALLBACK_MODES), attempts per task, seconds each may wait, first pause between
    # two (doubling).
    callbacks: str = "loopback"
    callback_attempts: int = 4
    callback_timeout: float = 5.0
    callback_backoff: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_scenarios", {
            **{name: a.default_scenario for name, a in ACTIONS.items()},
            **self.default_scenarios})
        for key in self.default_scenarios:
            action, colon, task = key.partition(":")
            if action not in ACTIONS or (colon and (action, task) not in _KIND_KEYS):
                raise ConfigError(
                    f"default_scenarios: {key!r} is neither an action ({', '.join(ACTIONS)}) "
                    f"nor a MUSIC task kind ({', '.join('MUSIC:' + k for k in MUSIC_TASK_KINDS)})"
                )
        if self.clock not in ("wall", "manual"):
            raise ConfigError(f"clock must be 'wall' or 'manual', not {self.clock!r}")
        if self.speed <= 0:
            raise ConfigError(f"speed must be positive, not {self.speed!r}")
        if not 0 <= self.poll_interval <= 3600:
            raise ConfigError(f"poll interval must be 0 to 3600 s, not {self.poll_interval!r}")
        if self.media_urls not in ("local", "suno"):
            raise ConfigError(f"media URLs must be 'local' or 'suno', not {self.media_urls!r}")
        if self.media_base_url is not None and not self.media_base_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError(f"media base URL must start with http:// or https://, not "
                              f"{self.media_base_url!r}")
        if self.admin_token is not None and not self.admin_token.strip():
            # The guard compares the header with the token: "" would let every client in.
            raise ConfigError(
                "the admin token is empty, which would open the admin API to every client: "
                "set a secret, or leave it unset for loopback-only access"
            )
        if self.proxy_to is not None:
            check_base_url(self.proxy_to)
        if self.record is not None and self.proxy_to is None:
            raise ConfigError("recording needs a gateway to record: set proxy_to (--proxy-to)")
        if not 0 < self.proxy_timeout <= 3600:
            raise ConfigError(
                f"proxy timeout must be > 0 and <= 3600 s, not {self.proxy_timeout!r}")
        if self.callbacks not in CALLBACK_MODES:
            raise ConfigError(
                f"callbacks must be one of {', '.join(CALLBACK_MODES)}, not {self.callbacks!r}"
            )
        if not 1 <= self.callback_attempts <= 20:
            raise ConfigError(f"callback attempts must be 1 to 20, not {self.callback_attempts!r}")
        if not 0 < self.callback_timeout <= 300:
            raise ConfigError(
                f"callback timeout must be > 0 and <= 300 s, not {self.callback_timeout!r}"
            )
        if not 0 <= self.callback_backoff <= 3600:
            raise ConfigError(
                f"callback backoff must be 0 to 3600 s, not {self.callback_backoff!r}"
            )
        for name in ("retention", "max_namespaces", "max_tasks"):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"{name} must be 0 (no limit) or more, not {value!r}")

    def default_scenario(self, action: str, task: str | None = None) -> str:
        """The scenario a submit of ``action`` (of MUSIC ``task`` kind ``task``) that names
        none follows.

        A task kind's: the one named for it ("MUSIC:extend"); else, when the Config changed
        MUSIC's from the bundled default (e.g. music_instant for fast tests), that one, as
        before kinds had scenarios of their own; else the kind's bundled scenario.
        """
        named = self.default_scenarios
        if task is None or task not in MUSIC_TASK_KINDS:
            return named[action]
        own = named.get(f"{action}:{task}")
        if own:
            return own
        if named[action] != ACTIONS[action].default_scenario:
            return named[action]
        return MUSIC_TASK_KINDS[task].default_scenario
