"""The baseline: a bare Flask app on the fake's routes, answering fixed bytes, served like the fake.

    python bench/baseline_app.py --bytes N [suno-mock serve flags...]

Every route answers the same N bytes without reading the request. The serve flags go through
``suno-mock serve`` itself, with only the app each worker builds swapped for this one: same WSGI
server, same settings, same worker count and threads as the fake it is compared with.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from flask import Flask, Response

__all__ = ["main", "make_app"]

_SIZE_ENV = "SUNO_BENCH_BASELINE_BYTES"


def make_app(size: int) -> Flask:
    head, tail = b'{"code":"success","message":"","data":"', b'"}'
    pad = size - len(head) - len(tail)
    body = head + b"x" * pad + tail if pad >= 0 else b"x" * size
    app = Flask("bench_baseline")

    @app.post("/suno/fetch")
    def fetch() -> Response:
        return Response(body, content_type="application/json")

    @app.get("/suno/fetch/<task_id>")
    def fetch_one(task_id: str) -> Response:
        return Response(body, content_type="application/json")

    @app.post("/suno/submit/<action>")
    def submit(action: str) -> Response:
        return Response(body, content_type="application/json")

    return app


def _worker_app(_config: Any) -> Flask:
    """Stands in for ``mock_server.server.worker_app`` in each worker process."""
    return make_app(int(os.environ[_SIZE_ENV]))


def main(argv: list[str] | None = None) -> int:
    from mock_server import cli, server

    parser = argparse.ArgumentParser(prog="baseline_app")
    parser.add_argument("--bytes", type=int, required=True)
    ours, rest = parser.parse_known_args(argv)
    os.environ[_SIZE_ENV] = str(ours.bytes)  # workers inherit it, whether forked or spawned
    server.worker_app = _worker_app  # type: ignore[assignment]
    return cli.main(["serve", *rest])


if __name__ == "__main__":
    sys.exit(main())
