"""The OpenAPI 3.1 document: valid, complete, built from schemas/, with examples the fake sent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from mock_server import Config, create_app, resolved_schema
from mock_server.contract.openapi import _COMPONENTS
from mock_server.web.openapi import document


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    out = {}
    for name in ("elkapi", "newapi-2025", "newapi-2026"):
        client = create_app(Config(profile=name)).test_client()
        answer = client.get("/openapi.json", base_url="http://fake.test:9000")
        assert answer.status_code == 200
        assert answer.content_type == "application/json; charset=utf-8"
        out[name] = answer.get_json()
    return out


def expand(node: Any, doc: dict[str, Any]) -> Any:
    """``node`` with every local $ref replaced by what it points at (no schema here recurses)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return expand(target, doc)
        return {k: expand(v, doc) for k, v in node.items()}
    if isinstance(node, list):
        return [expand(v, doc) for v in node]
    return node


def operations(doc: dict[str, Any]):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_each_profiles_document_is_valid_openapi_3_1(profile, documents):
    doc = documents[profile]
    validate_spec(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["x-profile"] == profile
    assert doc["servers"] == [{"url": "http://fake.test:9000"}]


def test_every_route_the_fake_serves_is_documented(profile, documents):
    app = create_app(Config(profile=profile))
    served = {
        (re.sub(r"<(?:\w+:)?\w+>", "{}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.startswith("suno_mock_ui.")
        for method in rule.methods or () if method not in ("HEAD", "OPTIONS")
    }
    documented = {(re.sub(r"\{\w+\}", "{}", path), method)
                  for path, method, _ in operations(documents[profile])}
    assert served == documented


def test_every_schema_is_the_one_in_schemas(profile, documents):
    # One source of truth: each component, its $refs expanded, is the resolved schema file.
    doc = documents[profile]
    for name, kind in _COMPONENTS.items():
        expected = resolved_schema(kind, profile)
        expected.pop("$schema")
        found = expand(doc["components"]["schemas"][name], doc)
        if kind == "admin-task":  # an addition: the profile's task id format
            assert found["properties"]["task_id"].pop("pattern")
        if kind in ("submit-request", "fetch-request", "admin-task"):
            # and another: Go binds null to any field of a request body the gateway decodes
            request = found["properties"].get("request", {"anyOf": [{}]})["anyOf"][0]
            for body in (found, request):
                for name in body.pop("x-go-null", {}).get("fields", ()):
                    kinds = body["properties"][name]["type"]
                    assert kinds[-1] == "null"
                    body["properties"][name]["type"] = kinds[0] if len(kinds) == 2 else kinds[:-1]
        assert found == expected, name


def test_the_task_and_id_format_follow_the_profile(documents):
    tasks = {p: d["components"]["schemas"]["Task"] for p, d in documents.items()}
    assert "notify_hook" in tasks["elkapi"]["properties"]
    assert "result_url" in tasks["newapi-2026"]["properties"]
    assert "result_url" not in tasks["elkapi"]["properties"]
    patterns = {p: d["components"]["schemas"]["AdminTask"]["properties"]["task_id"]["pattern"]
                for p, d in documents.items()}
    assert patterns["newapi-2026"] == "^task_[A-Za-z0-9]{32}$"
    assert patterns["elkapi"].startswith("^[0-9a-f]{8}-")
    submit = {p: d["paths"]["/suno/submit/{action}"]["post"]["responses"]["200"]
              for p, d in documents.items()}
    assert list(submit["elkapi"]["content"]) == ["application/json"]
    assert list(submit["newapi-2026"]["content"]) == ["application/json; charset=utf-8"]
    assert "X-New-Api-Other-Ratios" in submit["newapi-2026"]["headers"]


def test_auth_status_codes_and_envelopes_are_documented(profile, documents):
    doc = documents[profile]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["mjApiSecret"]["name"] == "mj-api-secret"
    assert doc["security"] == [{"bearer": []}, {"mjApiSecret": []}]
    submit = doc["paths"]["/suno/submit/{action}"]["post"]["responses"]
    fetch = doc["paths"]["/suno/fetch"]["post"]["responses"]
    one = doc["paths"]["/suno/fetch/{id}"]["get"]["responses"]
    assert {"200", "400", "401", "413", "500", "503"} <= set(submit)
    assert {"200", "400", "401", "500"} <= set(fetch) and {"200", "400", "401"} <= set(one)
    gateway, task = "#/components/schemas/GatewayError", "#/components/schemas/TaskError"
    assert submit["401"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"] == gateway
    assert submit["503"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"] == gateway
    assert one["400"]["content"]["application/json; charset=utf-8"]["schema"]["$ref"] == task
    # The bind error's quirk: a JSON body sent as text/plain.
    assert list(fetch["400"]["content"]) == ["text/plain; charset=utf-8"]
    for _path, _method, op in operations(doc):
        if op["tags"] == ["suno"]:
            for response in op["responses"].values():
                assert response["headers"]["X-Oneapi-Request-Id"]


def test_deviations_from_the_live_gateway_are_in_the_document(documents):
    doc = documents["elkapi"]
    texts = json.dumps(doc["x-deviations"])
    assert "new_api_panic" in texts and "null" in texts and "Content-Type" in texts
    submit = doc["paths"]["/suno/submit/{action}"]["post"]
    assert len(submit["x-deviations"]) == 2
    assert "x-quirk" in doc["paths"]["/suno/fetch"]["post"]["responses"]["400"]


def test_every_example_is_an_answer_that_fits_its_schema(profile, documents):
    doc = documents[profile]
    seen = 0
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            for content_type, media in response.get("content", {}).items():
                schema = expand(media["schema"], doc)
                for name, example in media.get("examples", {}).items():
                    value = example["value"]
                    if content_type.startswith("text/plain"):
                        value = json.loads(value)  # the quirk: JSON under text/plain
                    errors = list(Draft202012Validator(schema).iter_errors(value))
                    assert not errors, (method, path, status, name, errors[0].message)
                    seen += 1
    assert seen >= 40
    examples = doc["paths"]["/suno/fetch"]["post"]["responses"]["200"]["content"][
        "application/json"]["examples"]
    assert examples["no_ids"]["value"]["data"] == []
    assert examples["no_match"]["value"]["data"] is None
    assert [t["status"] for t in examples["tasks"]["value"]["data"]] == ["IN_PROGRESS", "SUCCESS"]


def test_statuses_the_fake_answers_have_examples(documents):
    doc = documents["newapi-2026"]
    paths = doc["paths"]
    with_examples = {
        (path, method, status)
        for path, method, op in operations(doc)
        for status, response in op["responses"].items()
        if any(m.get("examples") for m in response.get("content", {}).values())
    }
    for status in ("200", "400", "401", "413", "429", "503"):
        assert ("/suno/submit/{action}", "post", status) in with_examples
    for status in ("200", "400", "401"):
        assert ("/suno/fetch", "post", status) in with_examples
        assert ("/suno/fetch/{id}", "get", status) in with_examples
    created = paths["/__mock/tasks"]["post"]["responses"]
    assert created["409"]["content"]["application/json; charset=utf-8"]["examples"]["taken"]
    request_examples = paths["/suno/submit/{action}"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert request_examples["music"]["value"]["title"] == "Neon Rain"


def test_the_command_prints_the_same_document_every_time(tmp_path):
    runs = [
        subprocess.run(
            [sys.executable, "-m", "mock_server.cli", "openapi", "--profile", "newapi-2026",
             "--server", "http://127.0.0.1:8080"],
            capture_output=True, timeout=120, check=True,
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]  # fixed ids and times: a document to commit and diff
    printed = json.loads(runs[0])
    validate_spec(printed)
    served = document("newapi-2026", create_app, ["http://127.0.0.1:8080"])
    assert printed == served
    out = tmp_path / "openapi.json"
    subprocess.run([sys.executable, "-m", "mock_server.cli", "openapi", "-o", str(out)],
                   check=True, timeout=120)
    assert json.loads(out.read_text(encoding="utf-8"))["info"]["x-profile"] == "elkapi"
