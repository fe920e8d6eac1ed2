"""Contract suite, pytest plugin and drift check for the Suno task API."""

__all__: list[str] = []
