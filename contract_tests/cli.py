"""suno-contract: run the contract suite, validate payloads, or check a gateway for drift."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mock_server.contract.profiles import profile_names
from mock_server.contract.validation import KINDS, validate
from mock_server.version import version

__all__ = ["main", "pytest_args"]


def _add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run the contract suite (pytest --pyargs contract_tests)",
        description="Run the contract suite. Arguments after -- go to pytest as they are.")
    run.add_argument("--target", choices=("mock", "live"), default="mock")
    run.add_argument("--base-url", help="the live gateway's base URL")
    run.add_argument("--profile", choices=profile_names(), help="API version (default elkapi)")
    run.add_argument("--api-key-env", metavar="NAME",
                     help="environment variable holding the live key (default SUNO_API_KEY)")
    run.add_argument("--other-api-key-env", metavar="NAME",
                     help="variable holding another user's key (visibility checks)")
    run.add_argument("--task-ids", metavar="FILE|ID,ID",
                     help="the key owner's task ids: a file, one per line, or a comma list")
    run.add_argument("--allow-spend", type=int, metavar="N",
                     help="allow at most N submits against live (default 0)")
    run.add_argument("--rate-limit", type=float, metavar="REQ_PER_S",
                     help="requests per second to live (default 2)")
    run.add_argument("--junitxml", metavar="PATH", help="also write a JUnit XML report")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER,
                     help="-- then any pytest arguments")


def _add_validate(sub: Any) -> None:
    check = sub.add_parser(
        "validate", help="validate JSON files against a schema of the contract",
        description="Print every violation with its JSON path; exit 1 if any file is invalid.")
    check.add_argument("--as", dest="kind", required=True, choices=sorted(KINDS),
                       help="what the files hold")
    check.add_argument("--profile", choices=profile_names(),
                       help="API version for kinds holding a task (default: any version)")
    check.add_argument("--strict", action="store_true",
                       help="closed objects and enums: report fields and values not in the schema")
    check.add_argument("files", nargs="+", type=Path)


def _parser() -> tuple[argparse.ArgumentParser, bool]:
    parser = argparse.ArgumentParser(prog="suno-contract", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    _add_validate(sub)
    try:
        from . import drift
    except ImportError:  # the drift check is optional: the other commands work without it
        has_drift = False
    else:
        drift.add_arguments(sub.add_parser(
            "drift", help="check a gateway against the contract and a baseline"))
        has_drift = True
    return parser, has_drift


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line ``run`` stands for."""
    out = ["--pyargs", "contract_tests", "--suno-target", args.target]
    flags = {
        "--suno-base-url": args.base_url,
        "--suno-profile": args.profile,
        "--suno-api-key-env": args.api_key_env,
        "--suno-other-api-key-env": args.other_api_key_env,
        "--suno-task-ids": args.task_ids,
        "--suno-allow-spend": args.allow_spend,
        "--suno-rate-limit": args.rate_limit,
        "--junitxml": args.junitxml,
    }
    for flag, value in flags.items():
        if value is not None:
            out += [flag, str(value)]
    extra = list(args.pytest_args)
    return out + (extra[1:] if extra[:1] == ["--"] else extra)


def _run(args: argparse.Namespace) -> int:
    command = [sys.executable, "-m", "pytest", *pytest_args(args)]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        command[3:3] = ["-p", "contract_tests.plugin"]
    # A child process: the suite gets a clean interpreter, and the key stays in the environment.
    return subprocess.call(command)


def _validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.files:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"{path}: not JSON: {exc}")
            bad += 1
            continue
        problems = validate(payload, args.kind, args.profile, strict=args.strict)
        for problem in problems:
            print(f"{path}: {problem}")
        if problems:
            bad += 1
        else:
            print(f"{path}: ok")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser, has_drift = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    if has_drift:
        from . import drift

        return int(drift.run(args))
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse stops first
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
