"""Benchmark the fake against a bare Flask baseline on the same WSGI server, in the same run.

    python bench/run.py            # full run (about 11 minutes); updates bench/RESULTS.md
    python bench/run.py --smoke    # seconds: proves the harness works, never a verdict on speed

For each setup (the default ``suno-mock serve``; the SQLite store as ``--store`` alone gives
it, with ``--threads 1`` and with 2 workers; the Redis store when a ``redis-server`` binary is
there), every load measurement runs twice: against the fake, then
against ``bench/baseline_app.py`` (fixed bytes of the fake's response size) started with the same
serve flags. Load comes from wrk (installed from Debian when missing and running as root),
-t2 -c32, on 127.0.0.1 only. Exit status: 0 when the harness ran and every response was a
success; 1 when a request failed or the 50-id response differed from 50 single fetches.
Speed targets never change the exit status.

Progress (``[2/6] setup sqlite (--store only): wrk POST /suno/fetch, 1 id``) is rewritten in
place on stderr when it is a terminal; nothing is added in CI ($CI true) or when stderr is a
file or pipe (``--no-progress`` turns it off everywhere).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _inproc import contract_suite, memory_store_bytes, request_cost, seed_store  # noqa: E402
from _load import LoadResult, Request, ensure_wrk, run_load, wrk_version  # noqa: E402
from _procs import PYTHON, ServerProc, free_port, probe, started  # noqa: E402
from _report import Row, command_line, machine, render, write_results  # noqa: E402
from baseline_app import make_app  # noqa: E402

from contract_tests._progress import Progress  # noqa: E402

ALL_SETUPS = "default,sqlite,sqlite-1t,sqlite-2w,redis"
KEY = "bench-key"
SEED_KEY = "bench-seed-key"
SUBMIT_BODY = b'{"prompt":"[Verse]\\nbench","mv":"chirp-v3-5","title":"Bench"}'


def _headers(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def _request(method: str, path: str, body: bytes = b"", key: str = KEY) -> Request:
    return Request(method, path, body, tuple(_headers(key).items()))


@dataclass
class Options:
    smoke: bool
    seconds: int
    rounds: int
    warmup: int
    tasks: int  # the "100,000 tasks" of the issue (smaller in a smoke run)
    starts: int
    threads: int
    connections: int
    setups: list[str]
    serve_args: list[str]
    wrk: str | None
    workdir: Path
    progress: Progress | None = None  # stderr: in place on a terminal, silent in CI


def _detail(opts: Options, text: str) -> None:
    if opts.progress is not None:
        opts.progress.detail(text)


@dataclass
class Setup:
    name: str
    serve_args: Callable[[Path], list[str]]  # fresh state directory -> extra serve flags

    @staticmethod
    def store_of(args: list[str]) -> str | None:
        """The shared store URL in ``args`` (seeded in-process), or None (seeded over HTTP)."""
        return args[args.index("--store") + 1] if "--store" in args else None


@dataclass
class Measured:
    """A load run and what it cost the server."""

    load: LoadResult
    cpu_us: float  # server CPU (all its processes) per request, in microseconds

    def __str__(self) -> str:
        return (f"{self.load.rps:,.0f} req/s, p99 {self.load.p99_ms:.1f} ms, "
                f"{self.cpu_us:,.0f} µs CPU/req")


class Failures(list[str]):
    """Correctness problems seen during the run (these, unlike speed, fail the run)."""


# ---------------------------------------------------------------------------------------------
# the fake and its baseline


_KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")


def _server_env() -> dict[str, str]:
    """A container-sized environment: no SUNO_MOCK_* settings, so "default serve" means that,
    and few variables, since granian copies os.environ into every request's WSGI environ."""
    env = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _fake_cmd(args: list[str]) -> list[str]:
    return [PYTHON, "-m", "mock_server.cli", "serve", "--host", "127.0.0.1", "--port", "{port}",
            *args]


def _baseline_cmd(size: int, args: list[str]) -> list[str]:
    return [PYTHON, str(HERE / "baseline_app.py"), "--bytes", str(size), "--host", "127.0.0.1",
            "--port", "{port}", *args]


@contextlib.contextmanager
def _server(cmd: list[str], opts: Options, name: str) -> Iterator[ServerProc]:
    with started(cmd, opts.workdir / f"{name}.log", _server_env()) as server:
        yield server


def _baseline_body(size: int) -> bytes:
    return bytes(make_app(size).test_client().post("/suno/fetch").data)


def _post_json(server: ServerProc, path: str, payload: object, key: str = KEY) -> object:
    status, body = probe(server.port, "POST", path, json.dumps(payload).encode(), _headers(key))
    if status not in (200, 201):
        raise RuntimeError(f"{path} answered {status}: {body[:200]!r}")
    return json.loads(body)


def _submit(server: ServerProc) -> str:
    status, body = probe(server.port, "POST", "/suno/submit/music", SUBMIT_BODY, _headers())
    if status != 200:
        raise RuntimeError(f"submit answered {status}: {body[:200]!r}")
    return str(json.loads(body)["data"])


def _finish_all(server: ServerProc) -> None:
    """Move the clock past every step, so each task renders its full, complete state."""
    _post_json(server, "/__mock/clock/advance", {"seconds": 3600})


def _describe_server(server: ServerProc) -> str:
    text = server.log.read_text(errors="replace") if server.log.exists() else ""
    line = next((x.strip() for x in reversed(text.splitlines()) if "serving" in x), "")
    return f"{line or 'suno-mock serve'}; {len(server.pids())} process(es) in its group"


# ---------------------------------------------------------------------------------------------
# measurements


def _load(opts: Options, server: ServerProc, request: Request, failures: Failures, what: str,
          limit: int | None = None, seconds: int | None = None, warm: bool = True) -> Measured:
    _detail(opts, f"wrk {what}")
    if warm and opts.warmup and limit is None:
        run_load(opts.wrk, server.base_url, request, seconds=opts.warmup, threads=opts.threads,
                 connections=opts.connections)
    cpu = server.cpu_seconds()
    result = run_load(opts.wrk, server.base_url, request, seconds=seconds or opts.seconds,
                      threads=opts.threads, connections=opts.connections, limit=limit)
    cpu = server.cpu_seconds() - cpu
    if result.errors:
        failures.append(f"{what}: {result.errors} failed requests out of {result.requests}")
    return Measured(result, cpu / max(result.requests, 1) * 1e6)


class Baselines:
    """One baseline server per response size, kept for the whole setup."""

    def __init__(self, opts: Options, args: list[str], stack: contextlib.ExitStack) -> None:
        self.opts, self.args, self.stack = opts, args, stack
        self.servers: dict[int, ServerProc] = {}

    def server(self, size: int, request: Request) -> ServerProc:
        if size not in self.servers:
            server = self.stack.enter_context(
                _server(_baseline_cmd(size, self.args), self.opts, f"baseline-{size}")
            )
            server.wait_ok(request.method, request.path, request.body, dict(request.headers))
            _, body = probe(server.port, request.method, request.path, request.body,
                            dict(request.headers))
            if body != _baseline_body(size):
                raise RuntimeError(f"the baseline on {server.base_url} is not the bare app")
            self.servers[size] = server
        return self.servers[size]


def _pair(
    opts: Options,
    setup: str,
    fake: ServerProc,
    baselines: Baselines,
    what: str,
    request: Request,
    target: float,
    failures: Failures,
) -> tuple[Row, Measured]:
    status, body = probe(fake.port, request.method, request.path, request.body,
                         dict(request.headers))
    if status != 200:
        failures.append(f"{setup} {what}: probe answered {status}")
    baseline = baselines.server(len(body), request)
    # Alternate rounds and keep each side's best: other load on the machine only ever slows
    # a run down, so the best run is the least disturbed one.
    bases, mines = [], []
    for i in range(opts.rounds):
        bases.append(_load(opts, baseline, request, failures, f"{setup} {what} (baseline)",
                           warm=i == 0))
        mines.append(_load(opts, fake, request, failures, f"{setup} {what}", warm=i == 0))
    base = max(bases, key=lambda m: m.load.rps)
    mine = max(mines, key=lambda m: m.load.rps)
    ratio = mine.load.rps / base.load.rps if base.load.rps else 0.0
    cpu = base.cpu_us / mine.cpu_us if mine.cpu_us else 0.0
    row = Row(setup, f"{what} ({len(body):,} B)", str(mine), str(base),
              f"{ratio:.2f}x (CPU/req {cpu:.2f}x)", f">= {target}x", ratio >= target)
    return row, mine


def _same_state(pairs: list[tuple[Measured, Measured]]) -> tuple[str, bool]:
    """Noise band for "the same speed", over rounds run back to back (few, many): the median
    req/s ratio within 10%, the median p99 within +25% or +1 ms."""
    ratio = statistics.median(
        many.load.rps / few.load.rps if few.load.rps else 0.0 for few, many in pairs
    )
    before = statistics.median(few.load.p99_ms for few, _ in pairs)
    after = statistics.median(many.load.p99_ms for _, many in pairs)
    ok = ratio >= 0.9 and after <= max(before * 1.25, before + 1.0)
    return f"{ratio:.2f}x req/s, p99 {before:.1f} -> {after:.1f} ms (medians)", ok


def _median(measured: Iterable[Measured]) -> str:
    runs = list(measured)
    rps = statistics.median(m.load.rps for m in runs)
    p99 = statistics.median(m.load.p99_ms for m in runs)
    cpu = statistics.median(m.cpu_us for m in runs)
    return f"{rps:,.0f} req/s, p99 {p99:.1f} ms, {cpu:,.0f} µs CPU/req (medians of {len(runs)})"


def _check_batch(server: ServerProc, ids: list[str], failures: Failures, setup: str) -> None:
    """The 50-id response must be exactly the 50 single fetches' tasks, in id order."""
    prefix, suffix = b'{"code":"success","message":"","data":', b"}"
    _, batch = probe(server.port, "POST", "/suno/fetch", json.dumps({"ids": ids}).encode(),
                     _headers())
    singles, gets = [], []
    for task_id in sorted(ids):
        _, one = probe(server.port, "POST", "/suno/fetch",
                       json.dumps({"ids": [task_id]}).encode(), _headers())
        singles.append(one[len(prefix) + 1 : -len(suffix) - 1])
        _, got = probe(server.port, "GET", f"/suno/fetch/{task_id}", b"", _headers())
        gets.append(got[len(prefix) : -len(suffix)])
    expected = prefix + b"[" + b",".join(singles) + b"]" + suffix
    if batch != expected or singles != gets:
        failures.append(f"{setup}: the 50-id response differs from 50 single fetches")


def _seed(opts: Options, fake: ServerProc, failures: Failures, setup: str,
          store: str | None) -> int:
    """Submit about ``opts.tasks`` tasks under another key; the number of tasks added.

    A shared store is filled in-process, beside the running server. The memory store can only
    be filled over HTTP; wrk only stops at its deadline, so the load runs in chunks sized from
    the rate seen so far, each asking its threads to stop after the remainder.
    """
    if store is not None:
        seed_store(store, opts.tasks, SEED_KEY)
        return opts.tasks
    seed = _request("POST", "/suno/submit/music", SUBMIT_BODY, SEED_KEY)
    done, rate, chunks = 0, 0.0, 0
    while done < opts.tasks and chunks < 50:
        remaining = opts.tasks - done
        seconds = 2 if not rate else max(1, min(60, int(remaining / rate + 0.999)))
        result = _load(opts, fake, seed, failures, f"{setup} seeding", limit=remaining,
                       seconds=seconds).load
        done += result.requests
        rate = max(rate, result.rps)
        chunks += 1
    return done


def _bench_setup(setup: Setup, opts: Options, rows: list[Row], servers: list[tuple[str, str]],
                 failures: Failures) -> None:
    state = Path(tempfile.mkdtemp(prefix="state-", dir=opts.workdir))
    probe_req = ("POST", "/suno/submit/music", SUBMIT_BODY, _headers())
    times = []
    _detail(opts, f"{opts.starts} cold start(s)")
    for i in range(opts.starts):
        args_i = [*setup.serve_args(state / f"start{i}"), *opts.serve_args]
        with _server(_fake_cmd(args_i), opts, f"{setup.name}-start{i}") as fake:
            times.append(fake.wait_ok(*probe_req))
    start_s = statistics.median(times)
    rows.append(Row(setup.name, "start -> first successful submit", f"{start_s:.3f} s "
                    f"(median of {len(times)})", target="< 0.5 s", met=start_s < 0.5))

    args = [*setup.serve_args(state / "main"), *opts.serve_args]
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(_server(_fake_cmd(args), opts, f"{setup.name}-fake"))
        fake.wait_ok(*probe_req)
        servers.append((setup.name, _describe_server(fake)))
        baselines = Baselines(opts, args, stack)
        ids = [_submit(fake) for _ in range(10)]
        _finish_all(fake)
        one = _request("POST", "/suno/fetch", json.dumps({"ids": [ids[0]]}).encode())
        get = _request("GET", f"/suno/fetch/{ids[0]}")
        rows.append(_pair(opts, setup.name, fake, baselines, "POST /suno/fetch, 1 id", one, 0.8,
                          failures)[0])
        rows.append(_pair(opts, setup.name, fake, baselines, "GET /suno/fetch/<id>", get, 0.8,
                          failures)[0])
        ids += [_submit(fake) for _ in range(40)]
        _finish_all(fake)
        _check_batch(fake, ids, failures, setup.name)
        many = _request("POST", "/suno/fetch", json.dumps({"ids": ids}).encode())
        rows.append(_pair(opts, setup.name, fake, baselines, "POST /suno/fetch, 50 ids", many,
                          0.3, failures)[0])
        submit = _request("POST", "/suno/submit/music", SUBMIT_BODY)
        rows.append(_pair(opts, setup.name, fake, baselines, "POST /suno/submit/music", submit,
                          0.5, failures)[0])

        # Fill the store, then race it against a twin that holds 10 tasks, round by round
        # (alternating, so both see the same machine): the cost must not grow with the store.
        small_args = [*setup.serve_args(state / "small"), *opts.serve_args]
        small = stack.enter_context(_server(_fake_cmd(small_args), opts, f"{setup.name}-10"))
        small.wait_ok(*probe_req)
        small_id = _submit(small)
        for _ in range(9):
            _submit(small)
        _finish_all(small)
        rss_before = fake.rss_bytes()
        store = Setup.store_of(args)
        _detail(opts, f"seeding {opts.tasks:,} tasks")
        seeded = _seed(opts, fake, failures, setup.name, store)
        rss_added = fake.rss_bytes() - rss_before
        _finish_all(fake)
        label = f"{opts.tasks:,}"
        if store is None:
            mb = rss_added / 1e6 * 100_000 / max(seeded, 1)
            rows.append(Row(setup.name, f"server RSS added by {seeded:,} seeded tasks",
                            f"{rss_added / 1e6:.1f} MB ({mb:.1f} MB per 100k)",
                            target="< 150 MB per 100k", met=mb < 150))
        twin = {
            "POST /suno/fetch, 1 id": (
                one, _request("POST", "/suno/fetch", json.dumps({"ids": [small_id]}).encode())),
            "GET /suno/fetch/<id>": (get, _request("GET", f"/suno/fetch/{small_id}")),
        }
        for what, (big_req, small_req) in twin.items():
            pairs = []
            for i in range(opts.rounds + (0 if opts.smoke else 2)):
                # ABBA order: a machine that gets slower or faster over the rounds favours
                # neither server.
                order = [(small, small_req, f"{setup.name} {what} (10)"),
                         (fake, big_req, f"{setup.name} {what}")]
                loads = [_load(opts, server, req, failures, label, warm=i == 0)
                         for server, req, label in (order[::-1] if i % 2 else order)]
                pairs.append((loads[0], loads[1]) if i % 2 == 0 else (loads[1], loads[0]))
            text, ok = _same_state(pairs)
            rows.append(Row(setup.name, f"{what}: {label}+ tasks vs a twin with 10",
                            _median(p[1] for p in pairs), _median(p[0] for p in pairs), text,
                            "same req/s, p99 within noise", ok))


def _redis_setup(opts: Options, stack: contextlib.ExitStack) -> Setup | None:
    binary = shutil.which("redis-server")
    if not binary:
        return None
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    stack.enter_context(started(cmd, opts.workdir / "redis.log", port=port))
    db = iter(range(16))
    return Setup("redis, 2 workers", lambda _state: [
        "--workers", "2", "--store", f"redis://127.0.0.1:{port}/{next(db)}"])


def _serve_flags() -> str:
    import subprocess

    out = subprocess.run([*_fake_cmd([])[:4], "--help"], capture_output=True, text=True,
                         timeout=60, check=False)
    return out.stdout


def run(opts: Options) -> tuple[list[Row], list[tuple[str, str]], list[str], Failures]:
    rows: list[Row] = []
    servers: list[tuple[str, str]] = []
    notes: list[str] = []
    failures = Failures()
    has_store_flag = "--store" in _serve_flags()
    with contextlib.ExitStack() as stack:
        setups = {"default": Setup("default serve (no flags)", lambda _state: [])}
        if has_store_flag:
            # The SQLite store as `--store` alone gives it (1 worker, 4 threads), with one
            # request thread (its fastest), and with two workers sharing the file.
            setups["sqlite"] = Setup("sqlite (--store only)", lambda state: [
                "--store", f"sqlite:///{state}.db"])
            setups["sqlite-1t"] = Setup("sqlite, --threads 1", lambda state: [
                "--threads", "1", "--store", f"sqlite:///{state}.db"])
            setups["sqlite-2w"] = Setup("sqlite, 2 workers", lambda state: [
                "--workers", "2", "--store", f"sqlite:///{state}.db"])
            redis = _redis_setup(opts, stack) if "redis" in opts.setups else None
            if redis:
                setups["redis"] = redis
            elif "redis" in opts.setups:
                notes.append("redis: no redis-server binary on PATH, Redis store not measured")
        else:
            notes.append("sqlite, redis: `suno-mock serve` has no --store flag yet: not measured")
        stores_measured = 2 if any(name.startswith("sqlite") for name in opts.setups) else 1
        if opts.progress is not None:
            opts.progress.total = (len([n for n in opts.setups if n in setups]) + 1
                                   + stores_measured + (0 if opts.smoke else 1))
        for name in opts.setups:
            if name not in setups:
                continue
            if opts.progress is not None:
                opts.progress.step(f"setup {setups[name].name}")
            try:
                _bench_setup(setups[name], opts, rows, servers, failures)
            except RuntimeError as exc:
                failures.append(f"{name}: {exc}")
    if opts.progress is not None:
        opts.progress.step(f"in-process: memory store, {opts.tasks:,} tasks")
    bytes_used, rate = memory_store_bytes(opts.tasks)
    mb = bytes_used / 1e6 * 100_000 / opts.tasks
    rows.append(Row("in-process", f"memory store, {opts.tasks:,} tasks (tracemalloc)",
                    f"{bytes_used / 1e6:.1f} MB ({mb:.1f} MB per 100k; {rate:,.0f} submits/s)",
                    target="< 150 MB per 100k", met=mb < 150))
    stores = {"memory": "memory://"}
    if any(name.startswith("sqlite") for name in opts.setups):
        stores["sqlite"] = f"sqlite:///{opts.workdir / 'inprocess.db'}"
    for kind, url in stores.items():
        if opts.progress is not None:
            opts.progress.step(f"in-process: {kind} store, CPU per request")
        for what, (few, many) in request_cost(opts.tasks, url).items():
            ratio = many / few if few else 0.0
            rows.append(Row("in-process", f"{kind} store, {what}: CPU per request, "
                            f"{opts.tasks:,} tasks vs 10", f"{many:.1f} µs", f"{few:.1f} µs",
                            f"{ratio:.2f}x the cost", "the same (within 10%)", ratio <= 1.1))
    if not opts.smoke:
        if opts.progress is not None:
            opts.progress.step("in-process: the contract suite")
        suite = contract_suite(ROOT)
        if suite is None:
            notes.append("contract suite: contract_tests/ has no tests yet, not measured")
        else:
            seconds, summary = suite
            rows.append(Row("in-process", "pytest --pyargs contract_tests -q",
                            f"{seconds:.1f} s ({summary})", target="< 30 s",
                            met=seconds < 30 and "failed" not in summary))
    return rows, servers, notes, failures


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds per step, small store, default setup only")
    parser.add_argument("--seconds", type=int, help="wrk duration per run (default 2)")
    parser.add_argument("--rounds", type=int,
                        help="alternating baseline/fake runs per measurement, best kept (3)")
    parser.add_argument("--tasks", type=int, help="tasks to seed (default 100000)")
    parser.add_argument("--setups", default=None,
                        help=f"comma-separated, of {ALL_SETUPS} (default: all)")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default bench/RESULTS.md; a smoke run writes none)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress on stderr, even on a terminal")
    parser.add_argument("serve_args", nargs="*",
                        help="extra `suno-mock serve` flags for every setup, after --")
    return parser.parse_known_args(argv)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers: every server is stopped


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    raw_argv = sys.argv[1:] if argv is None else argv
    args, unknown = _parse(raw_argv)
    wrk = ensure_wrk(install=not args.no_install)
    if wrk is None and not args.smoke:
        print("bench: wrk is not installed (apt-get install wrk) and could not be installed",
              file=sys.stderr)
        return 2
    progress = Progress(sys.stderr, forced=False if args.no_progress else None)
    with tempfile.TemporaryDirectory(prefix="suno-bench-") as tmp:
        opts = Options(
            smoke=args.smoke,
            seconds=args.seconds or (1 if args.smoke else 2),
            rounds=args.rounds or (1 if args.smoke else 3),
            warmup=0 if args.smoke else 1,
            tasks=args.tasks or (1_000 if args.smoke else 100_000),
            starts=1 if args.smoke else 3,
            threads=2,
            connections=32,
            setups=(args.setups or ("default" if args.smoke else ALL_SETUPS)).split(","),
            serve_args=[*args.serve_args, *unknown],
            wrk=wrk,
            workdir=Path(tmp),
            progress=progress,
        )
        try:
            rows, servers, notes, failures = run(opts)
        finally:
            progress.close()
    command = command_line(["bench/run.py", *raw_argv], ROOT)
    loadgen = (f"{wrk_version(wrk)} -t{opts.threads} -c{opts.connections} -d{opts.seconds}s, "
               f"best of {opts.rounds} alternating round(s)")
    body = render(command, machine(loadgen), servers, rows, notes + failures, opts.smoke)
    print(body)
    out = args.out if args.out is not None else (None if args.smoke else HERE / "RESULTS.md")
    if out is not None:
        write_results(out, body)
        print(f"results written to {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
