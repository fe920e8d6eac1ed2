"""Server configuration: one dataclass, filled from flags or SUNO_MOCK_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

from mock_server.errors import ConfigError

__all__ = ["Config"]


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
    default_scenarios: dict[str, str] = field(
        default_factory=lambda: {"MUSIC": "music_success", "LYRICS": "lyrics_success"}
    )
    store: str = "memory://"
    journal_size: int = 1000
    max_body_bytes: int = 8 * 1024 * 1024
    access_log: bool = False
    # What the store keeps (docs/reference/stores.md#limits-and-retention); 0: no limit.
    retention: float = 7 * 24 * 3600.0  # seconds a namespace or task is kept unused
    max_namespaces: int = 1000
    max_tasks: int = 200_000

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "manual"):
            raise ConfigError(f"clock must be 'wall' or 'manual', not {self.clock!r}")
        if self.speed <= 0:
            raise ConfigError(f"speed must be positive, not {self.speed!r}")
        for name in ("retention", "max_namespaces", "max_tasks"):
            value = getattr(self, name)
            if value < 0:
                raise ConfigError(f"{name} must be 0 (no limit) or more, not {value!r}")
