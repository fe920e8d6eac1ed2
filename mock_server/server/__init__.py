"""Serve the fake with granian (WSGI): N worker processes, graceful stop on SIGTERM.

Why granian and not gunicorn: measured on 2 cores (docs/explanation/why-granian.md), it
serves the fake's own fetch route about 1.5x faster than gunicorn's sync workers and 2x faster
than gthread, and fixed bytes about 3x faster. Each worker builds its own app after the fork,
so store connections never cross a process boundary; the parent only checks the
configuration and then supervises (``supervisor``: respawning a worker that dies). In each
worker, ``dispatch`` hands requests to the app so that slow clients and faults cost
connections, never request threads.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing.util
import sys
from collections.abc import Callable

from flask import Flask

from mock_server.core.config import Config
from mock_server.server import dispatch
from mock_server.server.dispatch import BODY_TIMEOUT
from mock_server.server.supervisor import supervisor_class
from mock_server.server.tls import TlsFiles
from mock_server.web.app import create_app

__all__ = ["BACKPRESSURE", "BODY_TIMEOUT", "serve", "worker_app"]

BACKPRESSURE = 1024  # connections a worker serves at once (granian's default with 1 worker)


def worker_app(config: Config) -> Flask:
    """Build the app inside a worker; its store is closed (flushed) when the worker exits."""
    app = create_app(config)
    service = app.extensions["suno_mock"]
    store = service.store
    # granian runs each worker as a multiprocessing.Process, which runs these finalizers once
    # the worker has drained its in-flight requests after SIGTERM (atexit does not run there).
    multiprocessing.util.Finalize(None, store.close, exitpriority=10)
    if service.callbacks is not None:  # callbacks due while the fake was down go now
        service.callbacks.resume()
    return app


def _load_worker(config: Config, threads: int, body_timeout: float) -> Flask:
    """granian's loader, in each worker: ``worker_app`` (looked up now: bench/ swaps it), with
    the worker's requests going through ``dispatch.Dispatch``."""
    app = worker_app(config)
    dispatch.install(app, threads, body_timeout=body_timeout, limit=config.max_body_bytes)
    return app


def serve(
    config: Config,
    host: str,
    port: int,
    *,
    workers: int = 1,
    threads: int = 4,
    graceful_timeout: int = 10,
    body_timeout: float = BODY_TIMEOUT,
    announce: Callable[[str], None] | None = None,
    tls: TlsFiles | None = None,
) -> int:
    """Check ``config`` (fixtures, profile, store URL), then serve until SIGTERM or SIGINT.

    ``threads``: requests per worker that run app code at once. A request whose body is still
    arriving, or whose answer a fault delays or stalls, waits outside that budget; a body
    without progress for ``body_timeout`` seconds is answered 408 and its connection closed.
    A worker that has not finished its in-flight requests ``graceful_timeout`` seconds after
    SIGTERM is killed. A worker that dies is replaced (``supervisor``: at once, or after a
    growing pause if it keeps dying within seconds of its start).
    """
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    # Fail before listening, in the parent: bad fixtures, bad profile, unusable store path.
    create_app(config).extensions["suno_mock"].store.close()

    server = supervisor_class()(
        "mock_server.server:worker_app",  # a label only: workers use the loader below
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        # The request slots, a few bodies being read, and two to take new requests (stalled
        # bodies are cut short when they crowd; faults that wait use threads of dispatch's own).
        blocking_threads=dispatch.threads_for_granian(threads),
        backpressure=BACKPRESSURE,
        http=HTTPModes.http1,  # like the gateway's plain-HTTP listener (no h2c)
        websockets=False,
        log_level=LogLevels.info,
        log_access=False,  # the app's own JSON access log is --access-log
        respawn_failed_workers=True,
        workers_kill_timeout=graceful_timeout,
        ssl_cert=tls.cert if tls else None,
        ssl_key=tls.key if tls else None,
    )
    scheme_host = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    (announce or _stderr)(f"suno-mock serving on {scheme}://{scheme_host}:{port}")
    if tls:
        _stderr(f"suno-mock TLS: certificates from the local CA {tls.ca} (trust it: "
                f"SSL_CERT_FILE={tls.ca}, NODE_EXTRA_CA_CERTS={tls.ca}, curl --cacert {tls.ca})")
    loader = functools.partial(_load_worker, config, threads, body_timeout)
    logging.getLogger("_granian").addFilter(_ThreadsAsMeant())
    server.serve(target_loader=loader, wrap_loader=False)
    return 0


class _ThreadsAsMeant(logging.Filter):
    """granian warns about more blocking threads than 2 per core: ours are meant (dispatch)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "seems quite high" not in record.getMessage()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
