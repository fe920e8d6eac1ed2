"""schemas/ is the contract: captures pass the lenient form, the strict form names additions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from mock_server import resolved_schema, validate
from mock_server.contract.validation import KINDS
from tests.conftest import SHARED, shared_dir

CAPTURE_KINDS = {
    "submit": "submit-response",
    "upload": "submit-response",
    "fetch_batch": "fetch-batch-response",
    "fetch_single": "fetch-one-response",
}
CAPTURES = sorted((SHARED / "corpus" / "real-captures").glob("*.json")) if SHARED.exists() else []


def capture_kind(path: Path) -> str:
    stem = path.stem.split("_", 1)[1]
    return next(kind for prefix, kind in CAPTURE_KINDS.items() if stem.startswith(prefix))


def test_the_corpus_is_present():
    captures = list(shared_dir("corpus", "real-captures").glob("*.json"))
    assert len(captures) >= 8


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_real_capture_passes_the_lenient_schema(path):
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert validate(payload, capture_kind(path)) == []


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("003_fetch_batch_music_in_progress_newapi_docs.json", "elkapi"),
        ("004_fetch_single_lyrics_success_newapi_docs.json", "elkapi"),
        ("005_fetch_single_music_success_2clips_2025-09.json", "newapi-2025"),
        ("006_fetch_single_music_in_progress_2025-12.json", "newapi-2025"),
    ],
)
def test_real_task_captures_fit_their_profile(name, profile):
    path = shared_dir("corpus", "real-captures", name)
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert validate(payload, capture_kind(path), profile) == []


def test_strict_form_names_additions_that_lenient_accepts():
    path = shared_dir("corpus", "real-captures", "006_fetch_single_music_in_progress_2025-12.json")
    payload = json.loads(path.read_text(encoding="utf-8"))
    strict = validate(payload, "fetch-one-response", "newapi-2025", strict=True)
    assert strict, "the commercial upstream's extra clip keys must show in the strict form"
    assert {v.path for v in strict} == {"$.data.data[0]", "$.data.data[0].metadata"}
    assert any("'batch_index'" in v.message for v in strict)


def test_lenient_form_locates_breakage():
    payload = {"code": "success", "message": "", "data": {"task_id": "x", "status": 3}}
    problems = validate(payload, "fetch-one-response", "newapi-2025")
    assert "$.data.status" in {p.path for p in problems}
    assert any("'progress' is a required property" in p.message for p in problems)


def test_strict_form_closes_known_values():
    task = {
        "task_id": "t",
        "action": "MUSIC",
        "status": "PAUSED",
        "fail_reason": "",
        "submit_time": 1,
        "start_time": 0,
        "finish_time": 0,
        "progress": "50%",
        "data": None,
    }
    assert validate(task, "task", "newapi-2025") == []
    strict = {v.path: v.message for v in validate(task, "task", "newapi-2025", strict=True)}
    assert set(strict) == {"$.status", "$.progress"}


def test_every_kind_resolves_to_a_self_contained_draft7_schema():
    for kind in KINDS:
        schema = resolved_schema(kind)
        assert "$ref" not in json.dumps(schema), kind
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kind 'bogus'"):
        validate({}, "bogus")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=from_schema(resolved_schema("task", "newapi-2026")))
def test_generated_tasks_validate_against_their_own_schema(task):
    # Proves hypothesis-jsonschema understands our schemas (draft-07 only, refs inlined).
    assert validate(task, "task", "newapi-2026") == []
