"""Run the WSGI app with gunicorn (one process: the memory store lives in it)."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask

__all__ = ["run"]


def run(app: Flask, host: str, port: int, *, threads: int = 8) -> int:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": 1,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "graceful_timeout": 10,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    print(f"suno-mock serving on http://{host}:{port}", file=sys.stderr, flush=True)
    _Server().run()
    return 0
