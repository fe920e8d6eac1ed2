"""``SunoMock``: one fresh, isolated fake on a manual clock, driven through its admin API.

This is what the ``suno_mock`` fixture returns. ``SunoMock(...)`` has its own app and store;
the fixture's come from a ``FakePool``: one app per settings per session (or xdist worker),
every namespace's state forgotten after each test, so nothing leaks between tests and building
the app (most of a fresh fake's cost) is paid once. Requests go in-process through
``httpx.WSGITransport``; ``url`` serves the same app on a loopback port for code that needs a
real socket.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
import trustme
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mock_server import Config, MockService, ScenarioBook, create_app
from mock_server.stores.urls import is_shared
from mock_server.wire.request import FAULT_HEADER, NAMESPACE_HEADER

from ._wsgi import AsyncWSGITransport, wsgi_transport

__all__ = ["DEFAULT_API_KEY", "MockAdminError", "SunoMock"]

DEFAULT_API_KEY = "sk-suno-mock-test-key"
_BASE_URL = "http://suno-mock.local"
_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Config)) - {"clock"}


class MockAdminError(RuntimeError):
    """An admin call was refused (unknown scenario or step, bad argument)."""


class _QuietHandler(WSGIRequestHandler):
    # The fake keeps its own journal; one stderr line per request is noise in test output.
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _config_of(profile: str, scenario: str | None, config: dict[str, Any]) -> Config:
    """The Config a SunoMock with these keywords runs (TypeError for an unknown keyword)."""
    config = dict(config)
    unknown = sorted(set(config) - _CONFIG_FIELDS)
    if unknown:
        raise TypeError(f"SunoMock: unknown option(s) {', '.join(unknown)}; expected "
                        f"profile, api_key, scenario or a Config field")
    if "api_keys" in config:
        config["api_keys"] = tuple(config["api_keys"])
    if "fixtures" in config:
        config["fixtures"] = tuple(str(f) for f in config["fixtures"])
    if scenario is not None:
        action = ScenarioBook(config.get("fixtures", ())).get(scenario).action
        defaults = dict(config.get("default_scenarios") or Config().default_scenarios)
        config["default_scenarios"] = {**defaults, action: scenario}
    # A test steps the clock itself and must see the same states every run: no poll grid
    # (whose phase is drawn from each random task id) unless it asks for one.
    config.setdefault("poll_interval", 0.0)
    return Config(profile=profile, clock="manual", **config)


class _Fake:
    """An app and what hangs off it (its loopback server, its TLS CA): one SunoMock's own, or
    shared by the tests of a session that ask for the same settings (FakePool)."""

    def __init__(self, config: Config, tls: bool) -> None:
        self.config = config
        self.tls = tls
        self.app: Flask = create_app(config)
        self.transport = wsgi_transport(self.app)
        self._ca: trustme.CA | None = None
        self._ca_file: Path | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def service(self) -> MockService:
        service: MockService = self.app.extensions["suno_mock"]
        return service

    def url(self) -> str:
        with self._lock:
            if self._server is None:
                context = None
                if self.tls:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    self._local_ca().issue_cert("127.0.0.1", "localhost").configure_cert(context)
                server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                     request_handler=_QuietHandler, ssl_context=context)
                # A short poll: shutdown waits for the loop to look (0.5 s by default).
                thread = threading.Thread(target=server.serve_forever, args=(0.005,),
                                          name="suno-mock", daemon=True)
                thread.start()
                self._server, self._thread = server, thread
            scheme = "https" if self.tls else "http"
            return f"{scheme}://127.0.0.1:{self._server.server_port}"

    def ca_file(self) -> Path:
        if not self.tls:
            raise RuntimeError("SunoMock(tls=True) serves https; this one serves http")
        with self._lock:
            self._local_ca()
            assert self._ca_file is not None
            return self._ca_file

    def _local_ca(self) -> trustme.CA:
        if self._ca is None:
            self._ca = trustme.CA(organization_name="suno-mock test CA")
            fd, name = tempfile.mkstemp(prefix="suno-mock-ca-", suffix=".pem")
            os.close(fd)
            self._ca.cert_pem.write_to_path(name)
            self._ca_file = Path(name)
        return self._ca

    def close(self) -> None:
        self.service.faults.release()  # end any response a hang fault is holding open
        if self.service.callbacks is not None:
            self.service.callbacks.close()
        with self._lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                if self._thread is not None:
                    self._thread.join(timeout=5)
                self._server = self._thread = None
        if self._ca_file is not None:
            self._ca_file.unlink(missing_ok=True)


class SunoMock:
    """A fresh fake of the Suno task API for one test.

    ``scenario`` makes that scenario the default for submits of its action; other keyword
    arguments are ``mock_server.Config`` fields (``api_keys``, ``fixtures``, ...).
    """

    def __init__(
        self,
        profile: str = "elkapi",
        *,
        api_key: str = DEFAULT_API_KEY,
        scenario: str | None = None,
        tls: bool = False,
        **config: Any,
    ) -> None:
        self._bind(_Fake(_config_of(profile, scenario, config), tls), api_key, owned=True)

    @classmethod
    def _lease(cls, fake: _Fake, api_key: str) -> SunoMock:
        """A SunoMock on a pooled fake: ``close`` forgets its state, the app lives on."""
        mock = cls.__new__(cls)
        mock._bind(fake, api_key, owned=False)
        return mock

    def _bind(self, fake: _Fake, api_key: str, *, owned: bool) -> None:
        self._fake = fake
        self._owned = owned
        self.config = fake.config
        self.profile = fake.config.profile
        self.api_key = api_key
        self.tls = fake.tls
        self.app = fake.app
        self._admin = httpx.Client(transport=fake.transport, base_url=_BASE_URL)
        self.client = httpx.Client(transport=fake.transport, base_url=_BASE_URL,
                                   headers={"Authorization": f"Bearer {api_key}"})

    def __repr__(self) -> str:
        return f"SunoMock(profile={self.profile!r})"

    @property
    def service(self) -> MockService:
        """The fake's core (no HTTP): store, clock, scenarios."""
        service: MockService = self.app.extensions["suno_mock"]
        return service

    # admin -------------------------------------------------------------------------------
    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call ``/__mock{path}``; returns the decoded answer, raises MockAdminError if refused."""
        response = self._admin.request(method, f"/__mock{path}", json=json)
        if response.status_code >= 400:
            raise MockAdminError(f"{method} /__mock{path} answered {response.status_code}: "
                                 f"{response.text}")
        return response.json()

    def now(self) -> float:
        """The fake's current (manual) time, unix seconds."""
        return float(self.admin("GET", "/clock")["now"])

    def advance(self, seconds: float) -> float:
        """Move the fake's clock forward; returns the new time."""
        return float(self.admin("POST", "/clock/advance", {"seconds": seconds})["now"])

    def create_task(
        self,
        scenario: str | dict[str, Any] | None = None,
        *,
        api_key: str | None = None,
        step: str | int | None = None,
        elapsed: float | None = None,
        request: dict[str, Any] | None = None,
        action: str | None = None,
        task_id: str | None = None,
    ) -> str:
        """Add a task as if ``api_key`` (default: this mock's key) had submitted it.

        ``scenario`` is a scenario name or an inline scenario (default: the action's default);
        ``step`` pins it to a step; ``elapsed`` backdates the submit by that many seconds;
        ``task_id`` gives its id (in the profile's id format; taken ids are refused).
        """
        body: dict[str, Any] = {"api_key": api_key or self.api_key,
                                "request": dict(request or {})}
        if task_id is not None:
            body["task_id"] = task_id
        if scenario is not None:
            body["scenario"] = scenario
        if action is not None:
            body["action"] = action.upper()
        if step is not None:
            body["step"] = step
        if elapsed is not None:
            body["elapsed"] = elapsed
        return str(self.admin("POST", "/tasks", body)["task_id"])

    def force_step(self, task_id: str, step: str | int | None) -> dict[str, Any]:
        """Pin a task to a step (name or index); ``None`` lets its timeline run again."""
        result: dict[str, Any] = self.admin("POST", f"/tasks/{task_id}/step", {"step": step})
        return result

    def tasks(self) -> list[dict[str, Any]]:
        """Every task of this fake, with its step, status and poll count."""
        result: list[dict[str, Any]] = self.admin("GET", "/tasks")
        return result

    def journal(self) -> list[dict[str, Any]]:
        """The requests the fake's API has seen, oldest first."""
        result: list[dict[str, Any]] = self.admin("GET", "/journal")
        return result

    def callbacks(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """The notify_hook callback attempts (elkapi profile), oldest first: url, attempt,
        status or error, outcome (delivered, retrying, failed, refused); ``task_id``: one
        task's."""
        entries: list[dict[str, Any]] = self.admin("GET", "/callbacks")
        return [e for e in entries if task_id is None or e["task_id"] == task_id]

    def wait_for_callback(self, task_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait, at most ``timeout`` real seconds, until the task's callback has settled; its
        last attempt: ``outcome`` delivered, failed (every attempt spent) or refused
        (``--callbacks`` forbids the URL). TimeoutError if it has not by then.

        Callbacks go once the task ends on the fake's clock: ``advance`` past its end (or pin
        it to its last step) first.
        """
        deliverer = self.service.callbacks
        if deliverer is None:
            raise RuntimeError(f"profile {self.profile} has no notify_hook callbacks "
                               "(new-api drops the hook): use profile elkapi")
        deadline = time.monotonic() + timeout
        while True:
            logged = deliverer.attempts_logged  # read first: an attempt logged meanwhile counts
            attempts = self.callbacks(task_id)
            if attempts and attempts[-1]["outcome"] != "retrying":
                return attempts[-1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no settled callback for task {task_id} within {timeout:g} "
                                   f"s; attempts so far: {attempts}")
            deliverer.wait_logged(logged, left)

    def reset(self) -> None:
        """Forget every task and the journal; the clock starts again."""
        self.admin("POST", "/reset")

    # faults ------------------------------------------------------------------------------
    def add_fault(self, fault: str | dict[str, Any], /, **rule: Any) -> dict[str, Any]:
        """Add a fault rule, checked like ``POST /__mock/faults``; returns it with its ``id``.

        ``add_fault("status", status=429, times=1)`` or ``add_fault({"fault": "status", ...})``;
        ``{"rules": [...]}`` adds several. A bad rule raises MockAdminError naming its JSON path.
        """
        body = {**fault, **rule} if isinstance(fault, dict) else {"fault": fault, **rule}
        result: dict[str, Any] = self.admin("POST", "/faults", body)
        return result

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in force, with how often each fired and what is left of ``times``."""
        result: list[dict[str, Any]] = self.admin("GET", "/faults")
        return result

    def remove_fault(self, rule_id: str) -> None:
        """Remove one fault rule by id."""
        self.admin("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> int:
        """Remove every fault rule (and end responses they hold open); returns how many."""
        return int(self.admin("DELETE", "/faults")["cleared"])

    # socket ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of this fake on a real loopback port (started on first use); https with
        ``tls=True``, its certificate from ``ca_file``."""
        return self._fake.url()

    @property
    def ca_file(self) -> Path:
        """PEM file of the CA that signs ``url``'s certificate (``tls=True``): trust it in the
        client under test (``verify=ssl.create_default_context(cafile=...)``, SSL_CERT_FILE,
        NODE_EXTRA_CA_CERTS)."""
        return self._fake.ca_file()

    def close(self) -> None:
        """Stop the loopback server, if started, and close the clients (on a pooled fake:
        forget every task, journal entry, fault rule and clock change instead)."""
        if self._owned:
            self._fake.close()
        else:
            self._fake.service.clear()
        self.client.close()
        self._admin.close()

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        """A new ``httpx.AsyncClient`` on this fake, in process, with this mock's key.

        ``options`` go to ``httpx.AsyncClient`` (``headers`` are added to the key's). While a
        fault rule is in force (or ``X-Mock-Fault`` is sent) requests run on a worker thread,
        so a latency or hang fault never blocks the event loop. Close it (``async with``).
        """
        headers = {"Authorization": f"Bearer {self.api_key}", **options.pop("headers", {})}
        options.setdefault("base_url", _BASE_URL)
        faults = self.service.faults

        def may_block(request: httpx.Request) -> bool:  # only a fault sleeps or holds an answer
            return FAULT_HEADER in request.headers or bool(
                faults.rules(request.headers.get(NAMESPACE_HEADER, "")))

        transport = AsyncWSGITransport(self._fake.transport, may_block)
        return httpx.AsyncClient(transport=transport, headers=headers, **options)

    def __enter__(self) -> SunoMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stamp(path: str | os.PathLike[str] | None) -> tuple[Any, ...]:
    """What a file or directory of scenarios holds, as cheaply as the OS says (names, sizes,
    modification times): a pooled app is not used once its files changed."""
    if path is None:
        return ()
    try:
        with os.scandir(path) as entries:
            return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                                for e in entries))
    except NotADirectoryError:
        stat = os.stat(path)
        return (stat.st_size, stat.st_mtime_ns)
    except OSError:
        return ()  # Config refuses it, with a better message


class FakePool:
    """The fakes of one pytest session (or xdist worker): one per settings, the least
    recently used closed past ``size``. Each ``mock`` is a SunoMock whose ``close`` forgets
    what its test did; settings that need a store of their own (``store=...``) get a fresh
    SunoMock each time."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._fakes: OrderedDict[str, _Fake] = OrderedDict()

    def mock(
        self,
        profile: str = "elkapi",
        *,
        api_key: str = DEFAULT_API_KEY,
        scenario: str | None = None,
        tls: bool = False,
        **config: Any,
    ) -> SunoMock:
        store = config.get("store")
        if store is not None and is_shared(str(store)):
            return SunoMock(profile, api_key=api_key, scenario=scenario, tls=tls, **config)
        # The key is what was asked, not the Config it makes: building that reads every
        # scenario file when ``scenario`` is given, which would cost as much as the app.
        files = [*config.get("fixtures", ()), config.get("seed")]
        key = repr((profile, scenario, tls, sorted(config.items()), [_stamp(f) for f in files]))
        fake = self._fakes.pop(key, None)
        if fake is None:
            fake = _Fake(_config_of(profile, scenario, config), tls)
        self._fakes[key] = fake
        while len(self._fakes) > self.size:
            self._fakes.popitem(last=False)[1].close()
        return SunoMock._lease(fake, api_key)

    def close(self) -> None:
        """Stop every loopback server and delete every CA file."""
        while self._fakes:
            self._fakes.popitem()[1].close()
