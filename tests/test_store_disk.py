"""A SQLite store on a full or read-only disk: the gateway's database error, /readyz 503, and
never a dead server.

Real file systems: a small tmpfs mounted for the test (root only; skipped with the reason where
mounting is not permitted), filled with a file then freed, or bound read-only over itself.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server.core.clock import ClockState
from mock_server.core.record import TaskRecord
from mock_server.errors import StoreUnavailable
from mock_server.stores.sqlite_store import SQLiteStore
from tests._servers import SunoMock

KEY = {"Authorization": "Bearer sk-full-disk"}
DB_ERROR = "Database error, please contact the administrator (request id: "


def _mount(*args: str) -> None:
    """``mount ARGS``, or skip the test with the reason."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root: full and read-only disk tests skipped")
    try:
        subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
        pytest.skip(f"cannot mount here: mount {' '.join(args)}: {exc} {detail}")


def _umount(where: Path) -> None:
    # Lazily, so that a process still holding a file there cannot leave it mounted.
    subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of our own, unmounted afterwards."""
    where = tmp_path / "fs"
    where.mkdir()
    _mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where))
    try:
        yield where
    finally:
        _umount(where)


@contextlib.contextmanager
def read_only(where: Path) -> Iterator[None]:
    """``where`` read-only for new opens (bound read-only over itself) within the block."""
    _mount("--bind", str(where), str(where))
    try:
        _mount("-o", "remount,bind,ro", str(where))
        yield
    finally:
        _umount(where)


def fill(where: Path) -> Path:
    """Write a file until the file system has no block left; the file."""
    filler = where / "filler"
    chunk = bytes(1 << 16)
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    # The last partial chunk's room too.
    with filler.open("ab", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0")
    return filler


def wait_until_empty(folder: Path, timeout: float = 20.0) -> None:
    """Until no batch of writes behind is pending (a lowered mark would free its blocks)."""
    deadline = time.monotonic() + timeout
    while any(folder.iterdir()):
        assert time.monotonic() < deadline, f"writes behind still pending in {folder}"
        time.sleep(0.02)


def _submit(client: httpx.Client) -> httpx.Response:
    return client.post("/suno/submit/music", json={"prompt": "full"}, headers=KEY)


def _assert_database_error(response: httpx.Response) -> None:
    assert response.status_code == 500, response.text
    error = response.json()["error"]
    assert error["type"] == "new_api_error"
    assert error["message"].startswith(DB_ERROR)
    assert response.headers["X-Oneapi-Request-Id"] in error["message"]


def _worker_pid(client: httpx.Client) -> int:
    return int(client.get("/healthz").json()["pid"])


def test_a_full_disk_answers_the_database_error_and_the_server_stays_up(
    small_fs: Path, tmp_path: Path
) -> None:
    db = small_fs / "store.db"
    log = tmp_path / "serve.log"
    with SunoMock(["--store", f"sqlite://{db}"], log=log) as fake, httpx.Client(
        base_url=fake.base, timeout=10.0
    ) as client:
        before = _submit(client)
        assert before.status_code == 200, before.text
        kept = before.json()["data"]
        worker = _worker_pid(client)
        wait_until_empty(small_fs / "store.db-behind")
        filler = fill(small_fs)

        for _ in range(3):
            _assert_database_error(_submit(client))
        assert _worker_pid(client) == worker  # the worker took no SIGBUS
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
        assert client.get(f"/suno/fetch/{kept}", headers=KEY).status_code in (200, 500)

        # A worker (re)started while the disk is full opens the store and answers.
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            assert fake.proc is not None and fake.proc.poll() is None, fake.output()
            with contextlib.suppress(httpx.TransportError):
                if _worker_pid(client) != worker:
                    break
            assert time.monotonic() < deadline, f"no worker came back:\n{fake.output()}"
            time.sleep(0.05)
        _assert_database_error(_submit(client))

        filler.unlink()  # space again: the server recovers by itself
        after = _submit(client)
        deadline = time.monotonic() + 20  # a worker keeps its readiness answer for a second
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready again once the disk had room"
            time.sleep(0.05)
        assert after.status_code == 200, after.text
        for task_id in (kept, after.json()["data"]):
            fetched = client.get(f"/suno/fetch/{task_id}", headers=KEY)
            assert fetched.status_code == 200, fetched.text
            assert fetched.json()["data"]["task_id"] == task_id
        assert fake.proc is not None and fake.proc.poll() is None
    assert "Traceback" not in log.read_text(errors="replace")
    assert "crash loop" not in log.read_text(errors="replace")


def _record(task_id: str) -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        owner="o_alice",
        action="MUSIC",
        scenario="music_success",
        submit_time=1_000.0,
        seq=0,
        request={"prompt": "x" * 200},
    )


def _on_a_full_disk(where: str) -> None:
    """In a child: a SIGBUS here kills the child, not the test run."""
    clock = lambda: ClockState.manual(0.0)  # noqa: E731
    store = SQLiteStore(Path(where, "store.db"), clock)
    store.add("", _record("before"))
    store.set_clock("", clock().set_to(5.0))
    store.journal("")  # every write behind is in
    filler = fill(Path(where))
    for i in range(200):  # more than a first mark holds
        with pytest.raises(StoreUnavailable, match="No space left"):
            store.add("", _record(f"refused-{i}"))
    with contextlib.suppress(StoreUnavailable):
        store.set_clock("", clock().set_to(6.0))  # bumps the mapped settings counter
    again = SQLiteStore(Path(where, "store.db"), clock)  # a restarted worker opens it
    assert again.find("", "before") is not None
    filler.unlink()
    again.add("", _record("after"))
    assert {r.task_id for r in again.tasks("")} == {"before", "after"}
    again.close()
    store.close()


def test_a_sqlite_store_on_a_full_disk_refuses_submits_instead_of_crashing(
    small_fs: Path,
) -> None:
    child = multiprocessing.get_context("fork").Process(target=_on_a_full_disk, args=(small_fs,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, f"the store's process ended with {child.exitcode} (-7: SIGBUS)"


def test_a_read_only_directory_is_not_ready_and_submits_answer_the_database_error(
    small_fs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mock_server import Config, create_app
    from mock_server.web import ops

    monkeypatch.setattr(ops, "READY_FOR", 0.0)  # every /readyz probes
    app = create_app(Config(
            clock="manual", poll_interval=0, store=f"sqlite://{small_fs / 'store.db'}"))
    client = app.test_client()
    kept = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY).get_json()["data"]
    app.extensions["suno_mock"].store.journal("")  # written
    with read_only(small_fs):
        ready = client.get("/readyz")
        assert (ready.status_code, ready.get_json()["status"]) == (503, "unavailable")
        refused = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
        assert refused.status_code == 500
        assert refused.get_json()["error"]["message"].startswith(DB_ERROR)
    assert client.get("/readyz").status_code == 200
    after = client.post("/suno/submit/music", json={"prompt": "x"}, headers=KEY)
    assert after.status_code == 200
    for task_id in (kept, after.get_json()["data"]):
        assert client.get(f"/suno/fetch/{task_id}", headers=KEY).status_code == 200
    app.extensions["suno_mock"].store.close()
