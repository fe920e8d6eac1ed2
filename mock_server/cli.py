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
from mock_server.errors import FixtureError
from mock_server.service.fixture_files import validate_file

__all__ = ["main"]


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(f"SUNO_MOCK_{name}", default)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="suno-mock", description=__doc__)
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

    validate = sub.add_parser(
        "validate", help="check fixture files against schemas/ without serving"
    )
    validate.add_argument("paths", nargs="+", type=Path)
    return parser


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


def _serve(args: argparse.Namespace) -> int:
    from mock_server.errors import StoreUnavailable
    from mock_server.server import serve
    from mock_server.stores.urls import redacted

    if args.workers < 1 or args.threads < 1 or args.graceful_timeout < 1:
        print(
            "suno-mock: --workers, --threads and --graceful-timeout must be >= 1", file=sys.stderr
        )
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
            retention=args.retention,
            max_namespaces=args.max_namespaces,
            max_tasks=args.max_tasks,
        )
        workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
        return serve(
            config,
            args.host,
            args.port,
            workers=args.workers,
            threads=args.threads,
            graceful_timeout=args.graceful_timeout,
            announce=lambda line: print(
                f"{line} ({workers}, store {redacted(store)})", file=sys.stderr, flush=True
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
    return _validate(args.paths)


if __name__ == "__main__":
    raise SystemExit(main())
