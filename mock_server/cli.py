"""suno-mock: serve the fake, or validate fixture files."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mock_server.contract.profiles import profile_names
from mock_server.core.config import Config
from mock_server.core.hooks import CALLBACK_MODES
from mock_server.errors import FixtureError
from mock_server.service.fixture_files import validate_file
from mock_server.version import version

__all__ = ["main"]


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(f"SUNO_MOCK_{name}", default)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="suno-mock", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the fake over HTTP")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("PORT", "8080")))
    serve.add_argument("--profile", default=_env("PROFILE", "elkapi"), choices=profile_names())
    serve.add_argument("--clock", default=_env("CLOCK", "wall"), choices=["wall", "manual"])
    serve.add_argument(
        "--speed",
        type=float,
        default=float(_env("SPEED", "1")),
        help="wall clock speed factor (10 = ten times faster)",
    )
    serve.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        default=[k for k in _env("API_KEYS", "").split(",") if k],
        help="accept only this key (repeatable); default: any non-empty key",
    )
    serve.add_argument(
        "--admin-token",
        default=_env("ADMIN_TOKEN"),
        help="open /__mock/ to clients sending X-Mock-Admin-Token (default: loopback only)",
    )
    serve.add_argument(
        "--fixtures",
        action="append",
        default=[d for d in _env("FIXTURES", "").split(os.pathsep) if d],
        help="extra directory of scenario files (repeatable)",
    )
    serve.add_argument(
        "--faults",
        action="append",
        default=[f for f in _env("FAULTS", "").split(",") if f],
        metavar="FILE_OR_NAME",
        help="fault rules applied from the start: a fault file, or a bundled profile "
        "(flaky-network, rate-limited, slow-queue); repeatable",
    )
    serve.add_argument(
        "--seed",
        default=_env("SEED"),
        metavar="FILE",
        help="tasks the fake holds from the start: a JSON or YAML seed file "
        "(schemas/seed.schema.json); a bad file stops the server before it listens",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=int(_env("THREADS", "4")),
        help="request threads per worker process",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(_env("WORKERS", "1")),
        help="worker processes (more than 1 needs a shared store: sqlite:// or redis://)",
    )
    serve.add_argument(
        "--store",
        default=_env("STORE"),
        metavar="URL",
        help="memory:// (one worker), sqlite:///path/file.db, or redis://host:port/db[?prefix=name]"
        "; default: memory:// with one worker, SQLite in a temporary directory with more",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=_env("ACCESS_LOG", "").lower() in ("1", "true", "yes", "on"),
        help="one JSON line per request on stderr (off by default: it costs throughput)",
    )
    serve.add_argument(
        "--poll-interval",
        type=float,
        default=float(_env("POLL_INTERVAL", "15")),
        metavar="SECONDS",
        help="the gateway's poller: fetches show a task as it was at its last run, every "
        "SECONDS from a phase drawn per task (default 15, as new-api; 0: no grid)",
    )
    serve.add_argument(
        "--media-urls",
        default=_env("MEDIA_URLS", "local"),
        choices=["local", "suno"],
        help="clip media URLs: served by the fake (local, default) or Suno's CDN URLs (suno)",
    )
    serve.add_argument(
        "--media-base-url",
        default=_env("MEDIA_BASE_URL", "") or None,
        metavar="URL",
        help="where clients reach the fake, for media URLs (default: the address each request "
        "came to); set it behind a proxy or in Compose",
    )
    serve.add_argument(
        "--callbacks",
        default=_env("CALLBACKS", "loopback"),
        choices=list(CALLBACK_MODES),
        help="notify_hook callbacks (elkapi profile): call only this machine (loopback, "
        "default), any http(s) URL (any), or none (off)",
    )
    serve.add_argument(
        "--callback-attempts",
        type=int,
        default=int(_env("CALLBACK_ATTEMPTS", "4")),
        metavar="N",
        help="attempts per callback before giving up (default 4)",
    )
    serve.add_argument(
        "--callback-timeout",
        type=float,
        default=float(_env("CALLBACK_TIMEOUT", "5")),
        metavar="SECONDS",
        help="how long one attempt waits to connect, send or hear back (default 5)",
    )
    serve.add_argument(
        "--callback-backoff",
        type=float,
        default=float(_env("CALLBACK_BACKOFF", "1")),
        metavar="SECONDS",
        help="pause after the first failed attempt, doubling after each (default 1)",
    )
    serve.add_argument(
        "--retention",
        type=float,
        default=float(_env("RETENTION", str(7 * 24 * 3600))),
        metavar="SECONDS",
        help="forget namespaces not used, and tasks not polled, for this long "
        "(default: 604800, a week; 0: keep them)",
    )
    serve.add_argument(
        "--max-namespaces",
        type=int,
        default=int(_env("MAX_NAMESPACES", "1000")),
        metavar="N",
        help="keep at most N namespaces, forgetting the least recently used (0: no cap)",
    )
    serve.add_argument(
        "--max-tasks",
        type=int,
        default=int(_env("MAX_TASKS", "200000")),
        metavar="N",
        help="keep at most N tasks in the store, forgetting the least recently polled "
        "(0: no cap)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=int(_env("GRACEFUL_TIMEOUT", "10")),
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight requests may take before workers are killed",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        default=_env("TLS", "").lower() in ("1", "true", "yes", "on"),
        help="serve HTTPS with a certificate from a local CA the fake makes and keeps "
        "(its path is printed at start: trust it in your client)",
    )
    serve.add_argument(
        "--tls-hostname",
        action="append",
        default=[n for n in _env("TLS_HOSTNAMES", "").split(",") if n],
        metavar="NAME",
        help="a name or address the certificate is for, besides localhost, 127.0.0.1 and ::1 "
        "(repeatable; SUNO_MOCK_TLS_HOSTNAMES: comma-separated)",
    )
    serve.add_argument(
        "--tls-dir",
        type=Path,
        default=Path(_env("TLS_DIR", "")) if _env("TLS_DIR", "") else None,
        metavar="DIR",
        help="where the local CA is kept (default ~/.cache/suno-mock/tls)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=float(_env("BODY_TIMEOUT", "10")),
        metavar="SECONDS",
        help="a request body that makes no progress this long (per 64 KiB) is answered 408 "
        "and its connection closed",
    )

    serve.add_argument(
        "--proxy-to",
        default=_env("PROXY_TO") or None,
        metavar="URL",
        help="forward every /suno/ request to this live gateway (its base URL) with the app's "
        "own Authorization header, and answer with what it answers",
    )
    serve.add_argument(
        "--record",
        type=Path,
        default=Path(_env("RECORD")) if _env("RECORD") else None,
        metavar="DIR",
        help="with --proxy-to: write the tasks seen as scenario files plus DIR/seed.json, "
        "redacted; replay with --fixtures DIR --seed DIR/seed.json (one worker)",
    )
    serve.add_argument(
        "--proxy-timeout",
        type=float,
        default=float(_env("PROXY_TIMEOUT", "60")),
        metavar="SECONDS",
        help="how long to wait for the gateway before answering 504 (default 60)",
    )

    validate = sub.add_parser(
        "validate", help="check fixture files against schemas/ without serving"
    )
    validate.add_argument("paths", nargs="+", type=Path)

    openapi = sub.add_parser(
        "openapi", help="print the OpenAPI 3.1 document of a profile (GET /openapi.json)"
    )
    openapi.add_argument("--profile", default=_env("PROFILE", "elkapi"), choices=profile_names())
    openapi.add_argument(
        "--server",
        action="append",
        dest="servers",
        metavar="URL",
        help="a base URL for the document's servers (repeatable; default http://127.0.0.1:8080)",
    )
    openapi.add_argument("--output", "-o", type=Path, metavar="FILE", help="write it to FILE")
    return parser


def _openapi(args: argparse.Namespace) -> int:
    import json

    from mock_server.web.app import create_app
    from mock_server.web.openapi import document

    servers = args.servers or ["http://127.0.0.1:8080"]
    text = json.dumps(document(args.profile, create_app, servers), ensure_ascii=False, indent=2)
    if args.output is not None:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    return 0


def _store_url(args: argparse.Namespace) -> tuple[str, str | None]:
    """The store URL to use, and a temporary directory to remove afterwards (or None)."""
    from mock_server.stores.urls import is_shared

    if args.store is None:
        if args.workers == 1:
            return "memory://", None
        # Several workers must share their state: SQLite is the embedded default.
        tmp = tempfile.mkdtemp(prefix="suno-mock-")
        return f"sqlite://{Path(tmp, 'store.db')}", tmp
    if args.workers > 1 and not is_shared(args.store):
        raise ValueError(
            f"--store {args.store} lives in one process and cannot serve --workers "
            f"{args.workers}: use sqlite:///path/file.db or redis://host:port/db "
            "(or leave --store out for a temporary SQLite store)"
        )
    return args.store, None


def _proxying(config: Config) -> str:
    if config.proxy_to is None:
        return ""
    record = f", recording into {config.record}" if config.record else ""
    return f"; /suno/ proxied to {config.proxy_to}{record}"


def _serve(args: argparse.Namespace) -> int:
    from mock_server.errors import StoreUnavailable
    from mock_server.server import serve
    from mock_server.stores.urls import redacted

    if args.workers < 1 or args.threads < 1 or args.graceful_timeout < 1:
        print(
            "suno-mock: --workers, --threads and --graceful-timeout must be >= 1", file=sys.stderr
        )
        return 2
    if not 0 < args.body_timeout <= 3600:
        print("suno-mock: --body-timeout must be > 0 and <= 3600 seconds", file=sys.stderr)
        return 2
    if args.admin_token is not None and not args.admin_token.strip():
        print(
            "suno-mock: --admin-token (or SUNO_MOCK_ADMIN_TOKEN) is empty, which would open the "
            "admin API to every client: set a secret, or unset it for loopback-only access",
            file=sys.stderr,
        )
        return 2
    if args.record is not None and args.workers > 1:
        print("suno-mock: --record writes from one process: use --workers 1", file=sys.stderr)
        return 2
    tmp: str | None = None
    try:
        store, tmp = _store_url(args)
        config = Config(
            profile=args.profile,
            clock=args.clock,
            speed=args.speed,
            api_keys=tuple(args.api_keys),
            admin_token=args.admin_token,
            fixtures=tuple(args.fixtures),
            faults=tuple(args.faults),
            store=store,
            access_log=args.access_log,
            seed=args.seed,
            poll_interval=args.poll_interval,
            media_urls=args.media_urls,
            media_base_url=args.media_base_url,
            retention=args.retention,
            max_namespaces=args.max_namespaces,
            max_tasks=args.max_tasks,
            proxy_to=args.proxy_to,
            record=None if args.record is None else str(args.record),
            proxy_timeout=args.proxy_timeout,
            callbacks=args.callbacks,
            callback_attempts=args.callback_attempts,
            callback_timeout=args.callback_timeout,
            callback_backoff=args.callback_backoff,
        )
        workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
        tls = None
        if args.tls:
            from mock_server.server.tls import default_dir, local_tls

            tls = local_tls(args.tls_dir or default_dir(), tuple(args.tls_hostname))
        return serve(
            config,
            args.host,
            args.port,
            workers=args.workers,
            threads=args.threads,
            graceful_timeout=args.graceful_timeout,
            body_timeout=args.body_timeout,
            tls=tls,
            announce=lambda line: print(
                f"{line} ({workers}, store {redacted(store)}){_proxying(config)}",
                file=sys.stderr, flush=True,
            ),
        )
    except (FixtureError, ValueError, StoreUnavailable) as exc:
        print(f"suno-mock: {exc}", file=sys.stderr)
        return 2
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _validate(paths: list[Path]) -> int:
    files = [f for p in paths for f in (sorted(p.rglob("*.json")) if p.is_dir() else [p])]
    if not files:
        print("suno-mock: no JSON files found", file=sys.stderr)
        return 2
    bad = 0
    for path in files:
        problems = validate_file(path)
        bad += bool(problems)
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{path}: ok")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "openapi":
        return _openapi(args)
    return _validate(args.paths)


if __name__ == "__main__":
    raise SystemExit(main())
