"""Hostile input that an attack found (issue 13): deep JSON, lone surrogates, huge numbers,
over-long namespaces, format specs in scenarios, fixture paths that are not files, an empty
admin token, IPv4-mapped loopback. Each answer is the gateway's (Go's) where it has one, and
never a 500 or a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server import Config, create_app
from mock_server.contract.fixtures import MAX_FIXTURE_BYTES
from mock_server.contract.resources import fixtures_dir
from mock_server.errors import FixtureError
from mock_server.wire.gobind import GO_MAX_DEPTH, OWN_MAX_DEPTH
from mock_server.wire.request import NAMESPACE_LIMIT
from tests._servers import SUNO_MOCK, SunoMock, redis_server

KEY = {"Authorization": "Bearer sk-hostile"}
SUNO_MOCK_CLI = [sys.executable, "-m", "mock_server.cli"]


def nested(depth: int, inner: bytes = b"") -> bytes:
    """``depth`` arrays, one inside the other."""
    return b"[" * depth + inner + b"]" * depth


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return create_app(Config(clock="manual", poll_interval=0)).test_client()


# --- item 7: nesting depth -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [989, 2000, GO_MAX_DEPTH - 1])
def test_deep_but_valid_json_is_answered_as_go_answers_it(client, depth):
    fetch = client.post("/suno/fetch", data=b'{"ids":' + nested(depth) + b"}", headers=KEY)
    assert fetch.status_code == 200, fetch.data[:200]
    assert fetch.get_json() == {"code": "success", "message": "", "data": None}  # no id matched
    submit = client.post(
        "/suno/submit/music",
        data=b'{"prompt":"x","extra":' + nested(depth) + b"}",
        headers=KEY,
        content_type="application/json",
    )
    assert submit.status_code == 200, submit.data[:200]


@pytest.mark.parametrize("route", ["/suno/fetch", "/suno/submit/music"])
def test_past_go_s_depth_limit_is_a_400_with_go_s_message(client, route):
    body = b'{"prompt":"x","ids":' + nested(GO_MAX_DEPTH) + b"}"  # 10,001 levels with the object
    r = client.post(route, data=body, headers=KEY, content_type="application/json")
    assert r.status_code == 400
    assert r.get_json(force=True) == {
        "code": "invalid_request",
        "message": "invalid character '[' exceeded max depth",
        "data": None,
    }


ADMIN_POSTS = ["/__mock/tasks", "/__mock/clock/advance", "/__mock/clock/set",
               "/__mock/tasks/x/step", "/__mock/faults"]


@pytest.mark.parametrize("path", ADMIN_POSTS)
@pytest.mark.parametrize("depth", [OWN_MAX_DEPTH + 1, 984, 20_000])
def test_deep_admin_bodies_are_a_400(client, path, depth):
    r = client.post(path, data=b'{"x":' + nested(depth - 1) + b"}")
    assert r.status_code == 400, r.data[:300]
    assert "deeper than 64 levels" in r.get_json()["message"]


@pytest.mark.parametrize("header", [
    '{"fault":"status","status":500,"message":' + "[" * 3000 + "}",
    "status=" + "[" * 3000,
    '{"fault":"status","status":503,"x":' + "[" * 70 + "]" * 70 + "}",
])
def test_a_deep_fault_header_is_a_400(client, header):
    r = client.post("/suno/fetch", json={"ids": []}, headers={**KEY, "X-Mock-Fault": header})
    assert r.status_code == 400
    assert r.get_json()["message"].startswith("X-Mock-Fault: ")


# --- item 8: lone surrogates ---------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store_url(request, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'x.db'}"
    else:
        with redis_server() as redis:
            yield redis.url()


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"\\ud83d\\u0041", b"x\\ud800\\ud800y"])
def test_a_lone_surrogate_becomes_u_fffd_as_go_decodes_it(store_url, escape):
    app = create_app(Config(clock="manual", store=store_url, poll_interval=0))
    client = app.test_client()
    r = client.post("/suno/submit/lyrics", data=b'{"prompt":"' + escape + b'"}', headers=KEY,
                    content_type="application/json")
    assert r.status_code == 200, r.data
    task = client.get(f"/suno/fetch/{r.get_json()['data']}", headers=KEY)
    assert task.status_code == 200, task.data
    lyrics = task.get_json()["data"]["data"]["text"]  # "[Verse]\n<prompt>\n..."
    expected = escape.decode().replace("\\ud83d", "\ufffd").replace("\\u0041", "A")
    expected = expected.replace("\\ud800", "\ufffd").replace("\\udfff", "\ufffd")
    assert f"\n{expected}\n" in lyrics
    app.extensions["suno_mock"].store.close()


def test_a_valid_surrogate_pair_is_kept(client):
    r = client.post("/suno/submit/lyrics", data=b'{"prompt":"\\ud83d\\ude00"}', headers=KEY,
                    content_type="application/json")
    task = client.get(f"/suno/fetch/{r.get_json()['data']}", headers=KEY).get_json()["data"]
    assert "\n\U0001f600\n" in task["data"]["text"]


def test_lone_surrogates_in_admin_and_fault_bodies(client):
    created = client.post("/__mock/tasks", data=b'{"api_key":"sk-hostile","request":'
                          b'{"prompt":"\\udc00"}}')
    assert created.status_code == 201, created.data
    rule = client.post("/__mock/faults", data=b'{"fault":"status","status":500,'
                       b'"message":"\\ud800","description":"\\udbff"}')
    assert rule.status_code == 201, rule.data
    assert client.get("/__mock/faults").status_code == 200
    failed = client.post("/suno/fetch", json={"ids": []}, headers=KEY)
    assert failed.status_code == 500, failed.data
    assert json.loads(failed.data)["message"] == "\ufffd"
    client.delete("/__mock/faults")
    header = client.post("/suno/fetch", json={"ids": []}, headers={
        **KEY, "X-Mock-Fault": '{"fault":"status","status":500,"message":"\\ud800!"}'})
    assert header.status_code == 500, header.data
    assert json.loads(header.data)["message"] == "\ufffd!"


# --- item 15: numbers Go cannot hold -------------------------------------------------------------


def test_an_over_long_number_gets_go_s_message(client):
    digits = "1" * 5000
    r = client.post("/suno/submit/music", data=f'{{"continue_at":{digits}}}', headers=KEY,
                    content_type="application/json")
    assert r.status_code == 400
    assert r.get_json()["message"] == (
        f"json: cannot unmarshal number {digits} into Go struct field "
        "SunoSubmitReq.continue_at of type float64"
    )
    r = client.post("/suno/fetch", data=b'{"ids":["x",[1e400]]}', headers=KEY)
    assert r.status_code == 400
    assert r.get_json(force=True)["message"] == (
        "json: cannot unmarshal number 1e400 into Go struct field .ids of type float64"
    )


def test_numbers_under_keys_go_skips_are_never_converted(client):
    body = '{"prompt":"x","other":' + "9" * 5000 + ',"more":[1e999]}'
    r = client.post("/suno/submit/music", data=body, headers=KEY, content_type="application/json")
    assert r.status_code == 200, r.data


# --- item 11: the gateway envelope's key order ---------------------------------------------------


@pytest.mark.parametrize(("profile", "prefix"), [
    ("newapi-2026", b'{"error":{"code":"","message":"'),
    ("elkapi", b'{"error":{"code":"","message":"'),
])
def test_gateway_errors_write_their_keys_sorted_as_a_go_map(profile, prefix):
    client = create_app(Config(profile=profile, clock="manual", poll_interval=0)).test_client()
    unauthorized = client.post("/suno/fetch", json={})
    assert unauthorized.status_code == 401 and unauthorized.data.startswith(prefix)
    assert unauthorized.data.endswith(b'","type":"new_api_error"}}')
    no_channel = client.post("/suno/submit/video", json={}, headers=KEY)
    assert no_channel.status_code == 503
    assert no_channel.data.startswith(b'{"error":{"code":"model_not_found","message":"')


# --- item 12: over-long namespaces ---------------------------------------------------------------


def test_an_over_long_namespace_is_refused_never_cut(client):
    long_ns = "job-" + "x" * NAMESPACE_LIMIT
    ok_ns = "n" * NAMESPACE_LIMIT
    assert client.post("/suno/submit/music", json={"prompt": "a"},
                       headers={**KEY, "X-Mock-Namespace": ok_ns}).status_code == 200
    for method, path, body in [
        ("POST", "/suno/submit/music", {"prompt": "a"}),
        ("POST", "/suno/fetch", {"ids": ["x"]}),
        ("GET", "/suno/fetch/x", None),
        ("POST", "/__mock/reset", None),
        ("GET", "/__mock/tasks", None),
        ("GET", "/__mock/journal", None),
        ("GET", "/__mock/clock", None),
        ("POST", "/__mock/clock/advance", {"seconds": 1}),
        ("GET", "/__mock/faults", None),
    ]:
        r = client.open(path, method=method, json=body,
                        headers={**KEY, "X-Mock-Namespace": long_ns})
        assert r.status_code == 400, (path, r.data)
        assert r.get_json(force=True) == {
            "code": "invalid_request",
            "message": f"X-Mock-Namespace is {len(long_ns)} characters long; at most "
                       f"{NAMESPACE_LIMIT} are allowed",
            "data": None,
        }, path
    listed = client.get("/__mock/tasks", headers={"X-Mock-Namespace": ok_ns}).get_json()
    assert len(listed) == 1  # nothing was added by the refused submit


# --- item 13: only plain placeholders ------------------------------------------------------------


def _scenario_with(tmp_path: Path, clip: dict) -> Path:  # type: ignore[type-arg]
    raw = json.loads((fixtures_dir() / "scenarios" / "music_success.json").read_text())
    raw["name"] = "hostile"
    raw["steps"][-1]["clip"] = clip
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("template", ["{title:d}", "{title:>300000000}", "{title!r}",
                                      "{index:{index}}", "{title.upper}"])
def test_format_specs_in_a_scenario_are_refused_at_load(tmp_path, template):
    path = _scenario_with(tmp_path, {"title": f"x {template}"})
    with pytest.raises(FixtureError) as info:
        create_app(Config(fixtures=(str(tmp_path),)))
    assert str(info.value).startswith(f"{path}: $.steps[")
    assert ".clip.title: " in str(info.value)
    result = subprocess.run([*SUNO_MOCK_CLI, "validate", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and ".clip.title: " in result.stdout


def test_an_inline_scenario_with_a_format_spec_is_a_400(client):
    raw = json.loads((fixtures_dir() / "scenarios" / "music_success.json").read_text())
    raw["steps"][-1]["clip"] = {"title": "{title:>300000000}"}
    r = client.post("/__mock/tasks", json={"api_key": "sk-hostile", "scenario": raw})
    assert r.status_code == 400 and "format spec" in r.get_json()["message"]


# --- item 14: fixture paths that are not small regular files -------------------------------------


@pytest.fixture
def hostile_fixtures(tmp_path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    made = {}
    fifo = tmp_path / "fifo" / "a.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    made["a FIFO, not a regular file"] = fifo.parent
    zero = tmp_path / "zero" / "a.json"
    zero.parent.mkdir()
    zero.symlink_to("/dev/zero")
    made["a character device, not a regular file"] = zero.parent
    deep = tmp_path / "deep" / "a.json"
    deep.parent.mkdir()
    deep.write_bytes(nested(100_000))
    made["nested deeper than 64 levels"] = deep.parent
    big = tmp_path / "big" / "a.json"
    big.parent.mkdir()
    big.write_bytes(b'{"a":"' + b"x" * MAX_FIXTURE_BYTES + b'"}')
    made["larger than 1 MiB"] = big.parent
    return made


def test_hostile_fixture_files_are_one_line_errors_naming_them(hostile_fixtures):
    for message, directory in hostile_fixtures.items():
        for command in (["validate", str(directory)],
                        ["serve", "--port", "1", "--fixtures", str(directory)]):
            result = subprocess.run([*SUNO_MOCK_CLI, *command], capture_output=True, text=True,
                                    timeout=60)
            out = (result.stdout + result.stderr).strip()
            assert result.returncode in (1, 2), out
            assert "Traceback" not in out and len(out.splitlines()) == 1, out
            assert f"{directory / 'a.json'}: " in out and message in out, out


# --- item 15: IPv4-mapped loopback ---------------------------------------------------------------


@pytest.mark.parametrize(("remote", "status"), [("::ffff:127.0.0.1", 200), ("::ffff:10.0.0.1", 403),
                                                ("::1", 200), ("10.0.0.1", 403)])
def test_an_ipv4_mapped_loopback_client_is_loopback(client, remote, status):
    assert client.get("/__mock/clock", environ_base={"REMOTE_ADDR": remote}).status_code == status


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 on this machine")
def test_with_host_dual_stack_an_ipv4_loopback_client_may_use_the_admin_api(tmp_path):
    server = SunoMock(["--host", "::"], log=tmp_path / "out.log", with_host=False)
    server.cmd += ["--port", str(server.port)]
    with server:
        import httpx

        assert httpx.get(f"http://127.0.0.1:{server.port}/__mock/clock").status_code == 200


# --- item 16: an empty admin token ---------------------------------------------------------------


@pytest.mark.parametrize(("args", "env"), [(["--admin-token", ""], {}),
                                           (["--admin-token", "  "], {}),
                                           ([], {"SUNO_MOCK_ADMIN_TOKEN": ""})])
def test_an_empty_admin_token_refuses_to_start(args, env):
    result = subprocess.run([*SUNO_MOCK, "--port", "1", *args], capture_output=True, text=True,
                            timeout=60, env={**os.environ, **env})
    assert result.returncode == 2
    assert "admin-token" in result.stderr and "every client" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_refuses_an_empty_admin_token():
    with pytest.raises(ValueError, match="every client"):
        Config(admin_token="")
