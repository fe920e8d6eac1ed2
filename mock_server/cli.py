"""suno-mock: serve the fake, or validate fixture files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .config import Config
from .fixtures import FixtureError, validate_file
from .profiles import profile_names

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
        default=[],
        help="extra directory of scenario files (repeatable)",
    )
    serve.add_argument("--threads", type=int, default=int(_env("THREADS", "8")))

    validate = sub.add_parser(
        "validate", help="check fixture files against schemas/ without serving"
    )
    validate.add_argument("paths", nargs="+", type=Path)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from .app import create_app
    from .server import run

    config = Config(
        profile=args.profile,
        clock=args.clock,
        speed=args.speed,
        api_keys=tuple(args.api_keys),
        admin_token=args.admin_token,
        fixtures=tuple(args.fixtures),
    )
    try:
        app = create_app(config)
    except FixtureError as exc:
        print(f"suno-mock: {exc}", file=sys.stderr)
        return 2
    return run(app, args.host, args.port, threads=args.threads)


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
