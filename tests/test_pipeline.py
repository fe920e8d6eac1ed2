"""service/pipeline.py: the routes as plain functions, without any web stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mock_server import Config, MockService, create_app
from mock_server.service import pipeline
from mock_server.service.pipeline import Call, begin, finish
from mock_server.wire.envelopes import WireError
from mock_server.wire.request import mimetype_of

KEY = "sk-pipeline-key"


def _call(service: MockService, method: str, path: str, body: bytes = b"", **headers: str) -> Call:
    environ = {"HTTP_AUTHORIZATION": f"Bearer {KEY}", "CONTENT_TYPE": "application/json",
               **headers}
    return begin(service, environ, method, path, lambda: body)


def test_a_route_is_a_function_from_a_call_to_an_answer() -> None:
    service = MockService(Config(clock="manual", poll_interval=0, clock_start=1_750_000_000.0))
    call = _call(service, "POST", "/suno/submit/lyrics", b'{"prompt": "words"}')
    call.action = "lyrics"
    answer = pipeline.submit(service, call)
    task_id = json.loads(answer.body)["data"]
    assert answer.status == 200 and call.owner and call.journaled == 200
    finish(service, call, answer.status)  # already journaled with the task: nothing more

    call = _call(service, "GET", f"/suno/fetch/{task_id}")
    call.task_id = task_id
    fetched = pipeline.fetch_one(service, call)
    assert json.loads(fetched.body)["data"]["task_id"] == task_id
    assert fetched.content_type == "application/json"
    assert call.journaled is None  # its answer comes from the poll: ``finish`` journals it
    finish(service, call, fetched.status, None, fetched.body)

    call = _call(service, "GET", "/suno/fetch/nope")
    call.task_id = "nope"
    with pytest.raises(WireError) as refused:
        pipeline.fetch_one(service, call)
    assert refused.value.status == 400 and call.journaled is None
    finish(service, call, refused.value.status, None, refused.value.body)
    journal = service.store.journal("")
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/suno/submit/lyrics", 200),
        ("GET", f"/suno/fetch/{task_id}", 200),
        ("GET", "/suno/fetch/nope", 400),
    ]
    assert journal[0]["body"] == '{"prompt": "words"}' and journal[1]["body"] is None
    # Each with the answer as sent: the submit's too, though its store call journaled it.
    assert [e["response"] for e in journal] == [
        answer.body.decode(), fetched.body.decode(), refused.value.body.decode()]


def test_the_journal_keeps_the_first_4096_bytes_of_a_body() -> None:
    app = create_app(Config(clock="manual", poll_interval=0))
    body = b'{"ids": ["' + b"\xff" + b"x" * 5000 + b'"]}'
    answer = app.test_client().post("/suno/fetch", data=body, headers={
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert answer.status_code == 200
    (entry,) = app.extensions["suno_mock"].store.journal("")
    assert entry["body"] == body[:4096].decode("utf-8", errors="replace")
    assert entry["body"].startswith('{"ids": ["\ufffdxxx') and len(entry["body"]) == 4096


@given(st.text(st.characters(codec="latin-1"), max_size=40) | st.sampled_from([
    "application/json", "Application/JSON; charset=utf-8", " text/json-seq ;", "\tjson\t;x",
    ";json", "json ; ; ", "application/vnd.api+json", "\x0bjson", "json\x85", "",
]))
def test_mimetype_of_reads_content_type_as_werkzeug_does(value: str) -> None:
    environ = EnvironBuilder().get_environ()
    environ["CONTENT_TYPE"] = value  # as a server hands it over, whatever its bytes
    request = Request(environ)
    assert mimetype_of(value) == request.mimetype


def test_the_routes_load_without_the_web_stack() -> None:
    code = (
        "import sys, mock_server.service.pipeline\n"
        "print(sorted(m for m in ('flask', 'werkzeug', 'granian') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
