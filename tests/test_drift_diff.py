"""The drift check's pure core: schemas, wire contract, id format, baseline, merge, redaction."""

from __future__ import annotations

import argparse
import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import contract_tests.drift as drift
from contract_tests._observation import NOT_JSON
from contract_tests._redact import Redactor
from contract_tests.drift import diff_body
from contract_tests.drift.baseline import Baseline, build_baseline
from contract_tests.drift.diff import diff_survey
from contract_tests.drift.model import Probe, Response, Survey
from contract_tests.drift.observe import parse_ids
from contract_tests.drift.probes import build_probes
from contract_tests.drift.report import Outcome, build_report, render_junit, render_markdown
from mock_server import load_profile, validate
from tests.conftest import SHARED, shared_dir

CAPTURES = {
    "001_submit_music_success_newapi_docs.json": ("submit-response", "elkapi"),
    "002_submit_lyrics_success_apifox_export.json": ("submit-response", "newapi-2025"),
    "003_fetch_batch_music_in_progress_newapi_docs.json": ("fetch-batch-response", "elkapi"),
    "004_fetch_single_lyrics_success_newapi_docs.json": ("fetch-one-response", "elkapi"),
    "005_fetch_single_music_success_2clips_2025-09.json": ("fetch-one-response", "newapi-2025"),
    "006_fetch_single_music_in_progress_2025-12.json": ("fetch-one-response", "newapi-2025"),
    "013_submit_concat_success_newapi_docs.json": ("submit-response", "elkapi"),
    "014_upload_audio_url_success_newapi_docs.json": ("submit-response", "elkapi"),
}
PROFILE = load_profile("newapi-2025")
TASK_ID = "3f0c7e1a-7d7b-4d0e-8a59-1c2b3d4e5f60"


def test_every_capture_in_the_corpus_is_covered():
    names = {p.name for p in shared_dir("corpus", "real-captures").glob("*.json")}
    assert names == set(CAPTURES)


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_real_captures_show_no_breaking_drift_in_their_profile(name):
    kind, profile = CAPTURES[name]
    payload = json.loads(shared_dir("corpus", "real-captures", name).read_text(encoding="utf-8"))
    findings = diff_body(payload, kind, profile)
    assert [f for f in findings if f.severity != "info"] == []


def test_a_capture_read_with_the_wrong_profile_is_breaking():
    if not SHARED.exists():
        pytest.skip("reference material ../shared is absent")
    path = SHARED / "corpus" / "real-captures"
    path = path / "005_fetch_single_music_success_2clips_2025-09.json"
    found = diff_body(json.loads(path.read_text(encoding="utf-8")), "fetch-one-response", "elkapi")
    assert [(f.severity, f.path) for f in found if f.severity != "info"] == [
        ("breaking", "$.data.notify_hook")]
    # The commercial upstream's extra clip keys are info, once each however many clips had them.
    state = next(f for f in found if f.path == "$.data.data[*].state")
    assert (state.severity, state.occurrences, state.example) == ("info", 2, "succeeded")


# -- schemas ----------------------------------------------------------------------------------


def task(**changes: Any) -> dict[str, Any]:
    base = {"task_id": TASK_ID, "action": "MUSIC", "status": "SUCCESS", "fail_reason": "",
            "submit_time": 1, "start_time": 1, "finish_time": 2, "progress": "100%",
            "data": [{"id": "c1", "status": "complete", "title": "a"},
                     {"id": "c2", "status": "complete", "title": "b"}]}
    return {**base, **changes}


def one(body: Any) -> dict[str, Any]:
    return {"code": "success", "message": "", "data": body}


def findings_of(payload: Any, kind: str = "fetch-one-response", profile: str = "newapi-2025"):
    return {(f.severity, f.category, f.path, f.observed)
            for f in diff_body(payload, kind, profile)}


def test_a_new_status_and_progress_are_warnings():
    assert findings_of(one(task(status="PAUSED", progress="50%"))) == {
        ("warning", "new-enum-value", "$.data.status", '"PAUSED"'),
        ("warning", "new-enum-value", "$.data.progress", '"50%"'),
    }


def test_a_field_that_turned_null_is_a_warning_and_another_type_is_breaking():
    assert findings_of(one(task(fail_reason=None, submit_time="1"))) == {
        ("warning", "became-nullable", "$.data.fail_reason", "null"),
        ("breaking", "type-changed", "$.data.submit_time", "string"),
    }


def test_a_value_of_another_type_is_one_finding_not_also_a_new_value():
    assert findings_of(one(task(status=3))) == {
        ("breaking", "type-changed", "$.data.status", "integer")}


def test_data_of_no_known_shape_is_breaking():
    assert findings_of(one(task(data="oops"))) == {
        ("breaking", "type-changed", "$.data.data", "string")}


def test_a_new_clip_key_is_one_finding_for_all_clips():
    body = task()
    for clip in body["data"]:
        clip["stem_url"] = "https://cdn1.suno.ai/x.wav"
    (finding,) = diff_body(one(body), "fetch-one-response", "newapi-2025")
    assert (finding.severity, finding.path, finding.observed, finding.occurrences) == (
        "info", "$.data.data[*].stem_url", "string", 2)


def test_a_missing_field_is_breaking_once():
    body = task()
    del body["progress"]
    body["data"][0].pop("status")
    assert findings_of(one(body)) == {
        ("breaking", "missing-field", "$.data.progress", "absent"),
        ("breaking", "missing-field", "$.data.data[*].status", "absent"),
    }


def test_task_id_format():
    assert findings_of(one(task(task_id="task_" + "aB3" * 10 + "xy"))) == {
        ("warning", "id-format", "$.data.task_id", "task_alnum32")}
    assert findings_of({"code": "success", "message": "", "data": "0123456789abcdef" * 2},
                       "submit-response") == {("warning", "id-format", "$.data", "hex32")}


# -- the wire contract per probe ------------------------------------------------------------------


def probes(ids: tuple[str, ...] = (TASK_ID,)) -> dict[str, Probe]:
    return {p.name: p for p in build_probes(PROFILE, ids, max_single=1, seed="t")}


def answer(probe: Probe, status: int, body: Any, content_type: str = "application/json"
           ) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(probe, status, content_type, NOT_JSON if isinstance(body, str) else body,
                    text, 1.0)


def good(p: dict[str, Probe]) -> list[Response]:
    """Every probe answered exactly as the newapi-2025 profile says."""
    gw = "application/json; charset=utf-8"
    return [
        answer(p["fetch-batch-known"], 200, {"code": "success", "message": "", "data": [task()]}),
        answer(p["fetch-one-known"], 200, one(task())),
        answer(p["fetch-batch-unknown"], 200, {"code": "success", "message": "", "data": None}),
        answer(p["fetch-one-unknown"], 400,
               {"code": "task_not_exist", "message": "task_not_exist", "data": None}, gw),
        answer(p["fetch-batch-empty"], 200, {"code": "success", "message": "", "data": []}),
        answer(p["fetch-batch-bad-json"], 400, {
            "code": "invalid_request", "data": None,
            "message": "invalid character 'x' looking for beginning of value"},
            "text/plain; charset=utf-8"),
        answer(p["auth-missing-key"], 401, {"error": {
            "message": "未提供令牌 (request id: 2025110219372122956275fVMryIXC)",
            "type": "new_api_error", "code": ""}}, gw),
        answer(p["auth-wrong-key"], 401, {"error": {
            "message": "无效的令牌 (request id: 2025110219372122956275fVMryIXD)",
            "type": "new_api_error", "code": ""}}, gw),
    ]


def observed(responses: list[Response]) -> Survey:
    return Survey("https://api.example.test", "newapi-2025", (TASK_ID,), responses)


def diff(responses: list[Response], baseline: Baseline | None = None):
    result = diff_survey(observed(responses), PROFILE, baseline)
    return {(f.severity, f.category, f.labels[0], f.path, f.observed) for f in result.findings}


def replace(responses: list[Response], name: str, **changes: Any) -> list[Response]:
    out = []
    for r in responses:
        if r.probe.name == name:
            r = Response(r.probe, changes.get("status", r.status),
                         changes.get("content_type", r.content_type),
                         changes.get("body", r.body), r.text, 1.0)
        out.append(r)
    return out


def test_answers_as_the_profile_says_give_no_findings():
    assert diff(good(probes())) == set()


@pytest.mark.parametrize(("name", "changes", "expected"), [
    ("fetch-batch-known", {"content_type": "application/json; charset=utf-8"},
     ("info", "content-type", "fetch-batch-known", "$", "application/json; charset=utf-8")),
    ("fetch-batch-bad-json", {"content_type": "application/json; charset=utf-8"},
     ("warning", "content-type", "fetch-batch-bad-json", "$",
      "application/json; charset=utf-8")),
    ("fetch-one-unknown", {"status": 404},
     ("breaking", "status-code", "fetch-one-unknown", "$", "404")),
    ("fetch-one-unknown", {"body": {"code": "not_found", "message": "task_not_exist",
                                    "data": None}},
     ("breaking", "error-code", "fetch-one-unknown", "$.code", '"not_found"')),
    ("fetch-one-unknown", {"body": {"code": "task_not_exist", "message": "Task not found",
                                    "data": None}},
     ("warning", "error-text", "fetch-one-unknown", "$.message", '"Task not found"')),
    ("auth-wrong-key", {"body": {"error": {"message": "无效的令牌", "type": "new_api_error"}}},
     ("warning", "error-code", "auth-wrong-key", "$.error.code", "absent")),
    ("auth-missing-key", {"body": {"code": "unauthorized", "message": "no", "data": None}},
     ("breaking", "envelope", "auth-missing-key", "$", "task envelope")),
    ("fetch-batch-unknown", {"body": {"code": "success", "message": "", "data": []}},
     ("warning", "data-value", "fetch-batch-unknown", "$.data", "[]")),
    ("fetch-batch-known", {"body": {"code": "success", "message": "", "data": None}},
     ("breaking", "task-missing", "fetch-batch-known", "$.data", f"{TASK_ID} missing")),
    ("fetch-batch-known", {"body": {"code": "success", "message": "",
                                    "data": [task(), task(task_id="someone-elses")]}},
     ("breaking", "unexpected-task", "fetch-batch-known", "$.data[*].task_id", "someone-elses")),
])
def test_each_change_to_the_wire_contract_is_named(name, changes, expected):
    found = diff(replace(good(probes()), name, **changes))
    assert expected in found
    others = {f for f in found if f[1] != expected[1]}
    assert others <= {("warning", "id-format", "fetch-batch-known", "$.data[*].task_id",
                       "other (not uuid, hex32 or task_alnum32)")}


def test_a_wrong_status_stops_the_checks_of_that_body():
    body = {"error": {"message": "boom", "type": "new_api_error"}}
    found = diff(replace(good(probes()), "fetch-one-unknown", status=429, body=body))
    assert found == {("breaking", "status-code", "fetch-one-unknown", "$", "429")}


# -- the baseline -------------------------------------------------------------------------------


def with_clip_extra(value: Any) -> list[Response]:
    responses = good(probes())
    body = copy.deepcopy(responses[0].body)
    for clip in body["data"][0]["data"]:
        if value is not ...:
            clip["state"] = value
    return replace(responses, "fetch-batch-known", body=body)


def baseline_of(responses: list[Response]) -> Baseline:
    result = diff_survey(observed(responses), PROFILE)
    round_trip = build_baseline(observed(responses), result.findings, {"uuid"}, Redactor(), "now")
    return Baseline.from_json(json.loads(json.dumps(round_trip.to_json())))


@pytest.mark.parametrize(("before", "after", "expected"), [
    ("running", "running", set()),
    ("running", ..., {("breaking", "missing-field", "$.data[*].data[*].state", "absent")}),
    ("running", None, {("warning", "became-nullable", "$.data[*].data[*].state", "null")}),
    ("running", 3, {("breaking", "type-changed", "$.data[*].data[*].state", "integer")}),
    (3, 3.5, {("warning", "type-widened", "$.data[*].data[*].state", "number")}),
    (3.5, 3, set()),
    (None, "running", set()),  # a value arrived where there was none: the task moved on
    (..., "running", {("info", "new-field", "$.data[*].data[*].state", "string")}),
])
def test_the_baseline_catches_what_the_schema_does_not_describe(before, after, expected):
    baseline = baseline_of(with_clip_extra(before))
    result = diff_survey(observed(with_clip_extra(after)), PROFILE, baseline)
    assert {(f.severity, f.category, f.path, f.observed) for f in result.findings} == expected


def test_the_baseline_accepts_non_breaking_findings_but_never_breaking_ones():
    drifted = replace(with_clip_extra("running"), "fetch-one-unknown",
                      body={"code": "task_not_exist", "message": "gone", "data": None})
    baseline = baseline_of(drifted)
    assert {fp.split("|")[0] for fp in baseline.accepted} == {"new-field", "error-text"}
    result = diff_survey(observed(drifted), PROFILE, baseline)
    assert result.findings == [] and len(result.accepted) == 2
    # A different new text is news again.
    other = replace(drifted, "fetch-one-unknown",
                    body={"code": "task_not_exist", "message": "gone!", "data": None})
    (finding,) = diff_survey(observed(other), PROFILE, baseline).findings
    assert (finding.observed, finding.baseline) == ('"gone!"', '"gone"')
    # Breaking findings are reported whatever the baseline says.
    broken = replace(drifted, "fetch-one-unknown", status=404)
    assert baseline_of(broken).accepted.keys().isdisjoint(
        {f.fingerprint for f in diff_survey(observed(broken), PROFILE).findings
         if f.severity == "breaking"})
    assert any(f.severity == "breaking" for f in
               diff_survey(observed(broken), PROFILE, baseline_of(broken)).findings)


# -- reports -----------------------------------------------------------------------------------


def test_reports_validate_and_render():
    responses = replace(with_clip_extra("running"), "fetch-batch-known",
                        body={"code": "success", "message": "",
                              "data": [task(progress="1|2", notify_hook=None)]})
    obs = observed(responses)
    result = diff_survey(obs, PROFILE)
    report = build_report(obs, Outcome(findings=result.findings), Redactor())
    assert validate(report, "drift-report") == []
    assert report["result"] == {"status": "breaking", "exit_code": 1, "reason": None}
    md = render_markdown(report)
    assert "## Breaking (1)" in md and "## Info (1)" in md
    assert '"1\\|2"' in md  # a pipe in a value does not break the table
    suites = ET.fromstring(render_junit(report))
    cases = suites.findall(".//testcase")
    assert len(cases) == len(responses)
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["fetch-batch-known"]


# -- redaction -------------------------------------------------------------------------------


def test_redaction():
    r = Redactor(["sk-DRIFTSECRET123456"])
    assert "DRIFTSECRET" not in r.text("key sk-DRIFTSECRET123456 or DRIFTSECRET123456")
    assert r.string("mail me: ann.lee+x@mail.example.com") == "mail me: redacted@example.invalid"
    assert r.string("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert r.string("sk-live0123456789abcdefgh") == "[redacted]"
    assert r.string("https://x.test/a.mp3?X-Amz-Signature=abc123&ok=1") == (
        "https://x.test/a.mp3?X-Amz-Signature=[redacted]&ok=1")
    assert r.string("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl") == "[redacted]"
    assert r.string("token Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z") == "token [redacted]"
    for task_id in (TASK_ID, "0123456789abcdef" * 2, "task_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"):
        assert r.string(task_id) == task_id  # ids are not secrets
    clip = {"user_id": "b7e0", "handle": "ann", "display_name": "Ann", "is_liked": True,
            "play_count": 3, "meta": {"email": "a@b.co", "user_id": 42}}
    assert r.value(clip) == {"user_id": "[redacted]", "handle": "[redacted]",
                             "display_name": "[redacted]", "is_liked": True, "play_count": 3,
                             "meta": {"email": "[redacted]", "user_id": 0}}
    assert "sk-" not in repr(r) and "DRIFT" not in repr(r)


# -- entry points ----------------------------------------------------------------------------


def test_public_names():
    assert set(drift.__all__) == {"DriftOptions", "DriftResult", "Finding", "add_arguments",
                                  "diff_body", "main", "run", "run_drift"}
    for name in drift.__all__:
        assert getattr(drift, name)


def test_the_issue_command_line_parses():
    parser = argparse.ArgumentParser()
    drift.add_arguments(parser)
    args = parser.parse_args(["--base-url", "https://api.elkapi.com", "--api-key-env", "MY_KEY",
                              "--task-ids", "ids.txt", "--profile", "newapi-2025", "--baseline",
                              "b.json", "--report-dir", "out", "--record", "rec",
                              "--update-baseline", "--allow-spend", "1"])
    options = drift.options_from_args(args)
    assert (options.api_key_env, options.profile, options.allow_spend, options.progress) == (
        "MY_KEY", "newapi-2025", 1, None)
    assert options.report_dir == Path("out") and options.update_baseline


def test_ids_files():
    assert parse_ids("# mine\na, b\n\n  c  \na\n") == ("a", "b", "c")
    assert parse_ids('["x", "y", "x"]') == ("x", "y")
    with pytest.raises(ValueError):
        parse_ids('[1, 2]')
