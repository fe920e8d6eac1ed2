"""Serve the fake with granian (WSGI): N worker processes, graceful stop on SIGTERM.

Why granian and not gunicorn: measured on 2 cores (docs/explanation/why-granian.md), it
serves the fake's own fetch route about 1.5x faster than gunicorn's sync workers and 2x faster
than gthread, and fixed bytes about 3x faster. Each worker builds its own app after the fork,
so store connections never cross a process boundary; the parent only checks the
configuration and then supervises (respawning a worker that dies).
"""

from __future__ import annotations

import functools
import multiprocessing.util
import sys
from collections.abc import Callable

from flask import Flask

from mock_server.core.config import Config
from mock_server.web.app import create_app

__all__ = ["serve", "worker_app"]


def worker_app(config: Config) -> Flask:
    """Build the app inside a worker; its store is closed (flushed) when the worker exits."""
    app = create_app(config)
    store = app.extensions["suno_mock"].store
    # granian runs each worker as a multiprocessing.Process, which runs these finalizers once
    # the worker has drained its in-flight requests after SIGTERM (atexit does not run there).
    multiprocessing.util.Finalize(None, store.close, exitpriority=10)
    return app


def serve(
    config: Config,
    host: str,
    port: int,
    *,
    workers: int = 1,
    threads: int = 4,
    graceful_timeout: int = 10,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Check ``config`` (fixtures, profile, store URL), then serve until SIGTERM or SIGINT.

    ``threads`` is the number of request threads per worker; a worker that has not finished
    its in-flight requests ``graceful_timeout`` seconds after SIGTERM is killed.
    """
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    # Fail before listening, in the parent: bad fixtures, bad profile, unusable store path.
    create_app(config).extensions["suno_mock"].store.close()

    server = Server(
        "mock_server.server:worker_app",  # a label only: workers use the loader below
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        http=HTTPModes.http1,  # like the gateway's plain-HTTP listener (no h2c)
        websockets=False,
        log_level=LogLevels.info,
        log_access=False,  # the app's own JSON access log is --access-log
        respawn_failed_workers=True,
        workers_kill_timeout=graceful_timeout,
    )
    scheme_host = f"[{host}]" if ":" in host else host
    (announce or _stderr)(f"suno-mock serving on http://{scheme_host}:{port}")
    server.serve(target_loader=functools.partial(worker_app, config), wrap_loader=False)
    return 0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
