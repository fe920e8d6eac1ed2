"""Server configuration: one dataclass, filled from flags or SUNO_MOCK_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "manual"):
            raise ValueError(f"clock must be 'wall' or 'manual', not {self.clock!r}")
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, not {self.speed!r}")
        if self.admin_token is not None and not self.admin_token.strip():
            # The guard compares the header with the token: "" would let every client in.
            raise ValueError(
                "the admin token is empty, which would open the admin API to every client: "
                "set a secret, or leave it unset for loopback-only access"
            )
