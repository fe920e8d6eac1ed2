"""What a client sees for each fault, in process: status, headers, bytes; scoping; integrity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_server import Config, FixtureError, create_app, validate
from mock_server.cli import main as suno_mock
from mock_server.core.identity import owner_of
from mock_server.faults.responses import SATURATED, proxy_page
from mock_server.faults.transport import ConnectionDropped
from mock_server.wire.envelopes import INDEX_HTML

A, B = "key-alice", "key-bob"


class Fake:
    """The fake on a manual clock, with shortcuts for the calls these tests make."""

    def __init__(self, profile: str = "elkapi", **config: Any) -> None:
        self.app = create_app(
            Config(profile=profile, clock="manual", poll_interval=0, media_urls="suno", **config)
        )
        self.http = self.app.test_client()
        self.service = self.app.extensions["suno_mock"]

    @staticmethod
    def auth(key: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", **headers}

    def submit(self, key: str = A, **headers: str) -> str:
        response = self.http.post("/suno/submit/music", json={}, headers=self.auth(key, **headers))
        assert response.status_code == 200, response.data
        return str(response.get_json()["data"])

    def get(self, task_id: str, key: str = A, **headers: str) -> Any:
        return self.http.get(f"/suno/fetch/{task_id}", headers=self.auth(key, **headers))

    def batch(self, ids: list[str], key: str = A, **headers: str) -> Any:
        return self.http.post("/suno/fetch", json={"ids": ids}, headers=self.auth(key, **headers))

    def add(self, rule: dict[str, Any]) -> Any:
        response = self.http.post("/__mock/faults", json=rule)
        assert response.status_code == 201, response.data
        return response.get_json()

    def clear(self) -> None:
        assert self.http.delete("/__mock/faults").status_code == 200

    def advance(self, seconds: float) -> None:
        self.service.advance(seconds)

    def tasks(self) -> dict[str, dict[str, Any]]:
        return {t["task_id"]: t for t in self.http.get("/__mock/tasks").get_json()}


@pytest.fixture
def fake() -> Fake:
    return Fake()


def task_envelope(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message, "data": None},
                      ensure_ascii=False, separators=(",", ":")).encode()


# --- HTTP faults ----------------------------------------------------------------------------


def test_429_is_the_saturated_group_task_error_with_retry_after(fake):
    task = fake.submit()
    response = fake.get(task, **{"X-Mock-Fault": "status=429"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Oneapi-Request-Id"]
    assert response.data == task_envelope("fail_to_fetch_task", SATURATED)
    assert SATURATED == "当前分组上游负载已饱和，请稍后再试"
    assert validate(response.get_json(), "task-error") == []


@pytest.mark.parametrize(
    ("route", "code", "message"),
    [
        ("batch", "get_tasks_failed", "Error 1040: Too many connections"),
        ("one", "get_task_failed", "Error 1040: Too many connections"),
        ("submit", "do_request_failed", "请求上游地址失败"),
    ],
)
def test_500_is_the_task_error_of_the_route(fake, route, code, message):
    fault = {"X-Mock-Fault": "status=500"}
    task = fake.submit()
    response = {
        "batch": lambda: fake.batch([task], **fault),
        "one": lambda: fake.get(task, **fault),
        "submit": lambda: fake.http.post("/suno/submit/music", json={},
                                         headers=fake.auth(A, **fault)),
    }[route]()
    assert (response.status_code, response.data) == (500, task_envelope(code, message))
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize("status", [502, 504])
def test_502_and_504_are_the_proxy_page(fake, status):
    response = fake.get(fake.submit(), **{"X-Mock-Fault": f"status={status}"})
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/html"
    assert response.data == proxy_page(status)
    assert response.data.startswith(b"<html>\r\n<head><title>")
    assert b"<hr><center>nginx</center>" in response.data


def test_503_is_no_channel_on_submit_and_the_proxy_page_on_fetch(fake):
    fault = {"X-Mock-Fault": "status=503"}
    response = fake.http.post("/suno/submit/lyrics", json={"prompt": "x"},
                              headers=fake.auth(A, **fault))
    body = response.get_json()
    assert response.status_code == 503
    assert body["error"]["code"] == "model_not_found"
    assert body["error"]["message"].startswith(
        "当前分组 default 下对于模型 suno_lyrics 无可用渠道 (request id: "
    )
    assert validate(body, "gateway-error") == []
    assert fake.get(fake.submit(), **fault).data == proxy_page(503)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ("elkapi", "该令牌状态不可用"),
        ("newapi-2025", "该令牌状态不可用"),
        ("newapi-2026", "Invalid token"),
    ],
)
def test_401_is_a_revoked_key_in_the_gateway_envelope(profile, message):
    fake = Fake(profile)
    task = fake.submit()
    response = fake.get(task, **{"X-Mock-Fault": "status=401"})
    assert response.status_code == 401
    error = response.get_json()["error"]
    request_id = response.headers["X-Oneapi-Request-Id"]
    assert error == {"message": f"{message} (request id: {request_id})", "type": "new_api_error",
                     "code": ""}


@pytest.mark.parametrize(
    ("profile", "code", "message"),
    [
        ("elkapi", "quota_not_enough", "user quota is not enough"),
        ("newapi-2026", "insufficient_user_quota", "用户额度不足, 剩余额度: 0"),
    ],
)
def test_403_is_quota_exhausted(profile, code, message):
    fake = Fake(profile)
    response = fake.http.post("/suno/submit/music", json={},
                              headers=fake.auth(A, **{"X-Mock-Fault": "status=403"}))
    assert (response.status_code, response.data) == (403, task_envelope(code, message))
    assert fake.tasks() == {}  # rejected before anything was created


def test_envelope_code_and_message_override_the_defaults(fake):
    rule = '{"fault":"status","status":418,"envelope":"gateway","code":"teapot","message":"no"}'
    response = fake.get(fake.submit(), **{"X-Mock-Fault": rule})
    assert response.status_code == 418
    assert response.get_json()["error"]["code"] == "teapot"
    assert response.get_json()["error"]["message"].startswith("no (request id: ")
    empty = fake.get(fake.submit(), **{"X-Mock-Fault": "status=500; envelope=empty"})
    assert (empty.status_code, empty.data) == (500, b"")


# --- transport faults, in process ------------------------------------------------------------


def test_not_json_is_an_html_page_with_status_200_by_default(fake):
    response = fake.get(fake.submit(), **{"X-Mock-Fault": "not_json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.data == INDEX_HTML
    rule = '{"fault":"not_json","status":502,"body":"","content_type":"application/json"}'
    custom = fake.get(fake.submit(), **{"X-Mock-Fault": rule})
    assert (custom.status_code, custom.data, custom.headers["Content-Type"]) == (
        502, b"", "application/json")


def test_truncate_without_close_is_a_complete_answer_with_cut_json(fake):
    task = fake.submit()
    whole = fake.get(task).data
    cut = fake.get(task, **{"X-Mock-Fault": "truncate=40; close=false"})
    assert cut.status_code == 200
    assert cut.data == whole[:40]
    assert cut.headers["Content-Length"] == "40"
    half = fake.get(task, **{"X-Mock-Fault": "truncate; close=false"})
    assert half.data == whole[: len(whole) // 2]


def test_in_process_transport_faults_reach_the_caller_as_exceptions(fake):
    task = fake.submit()
    with pytest.raises(ConnectionDropped):
        fake.get(task, **{"X-Mock-Fault": "disconnect"}).get_data()
    with pytest.raises(ConnectionResetError):
        fake.get(task, **{"X-Mock-Fault": "truncate"}).get_data()
    with pytest.raises(TimeoutError):
        fake.get(task, **{"X-Mock-Fault": "hang=300"}).get_data()
    journal = fake.http.get("/__mock/journal").get_json()
    assert [(e["status"], e["faults"]) for e in journal[-3:]] == [
        (0, ["header"]), (200, ["header"]), (200, ["header"])]


def test_a_dropped_submit_is_not_handled_but_a_truncated_one_is(fake):
    with pytest.raises(ConnectionDropped):
        fake.http.post("/suno/submit/music", json={},
                       headers=fake.auth(A, **{"X-Mock-Fault": "disconnect"})).get_data()
    assert fake.tasks() == {}
    with pytest.raises(ConnectionResetError):
        fake.http.post("/suno/submit/music", json={},
                       headers=fake.auth(A, **{"X-Mock-Fault": "truncate=5"})).get_data()
    assert len(fake.tasks()) == 1  # the answer was lost, the task exists: retry with care


# --- async-polling faults ------------------------------------------------------------------


def test_invisible_answers_task_not_exist_until_asked_n_times_and_is_not_a_poll(fake):
    fake.add({"fault": "invisible", "polls": 2})
    task = fake.submit()
    for _ in range(2):
        response = fake.get(task)
        assert (response.status_code, response.data) == (
            400, task_envelope("task_not_exist", "task_not_exist"))
    assert fake.tasks()[task]["polls"] == 0
    assert fake.get(task).status_code == 200
    assert fake.tasks()[task]["polls"] == 1


def test_invisible_for_seconds_after_submit_in_a_batch(fake):
    fake.add({"fault": "invisible", "seconds": 3})
    old = fake.submit()
    fake.advance(5)
    new = fake.submit()
    response = fake.batch([old, new])
    assert [t["task_id"] for t in response.get_json()["data"]] == [old]
    assert fake.batch([new]).get_json() == {"code": "success", "message": "", "data": None}
    fake.advance(3)
    assert len(fake.batch([old, new]).get_json()["data"]) == 2


def test_shuffle_answers_in_an_order_other_than_asked_and_repeats_with_its_seed():
    orders = []
    for _ in range(2):
        fake = Fake()
        fake.add({"fault": "shuffle", "seed": 4})
        ids = [fake.submit() for _ in range(5)]
        got = [[t["task_id"] for t in fake.batch(ids).get_json()["data"]] for _ in range(4)]
        assert all(sorted(g) == sorted(ids) and g != ids for g in got)
        orders.append([[ids.index(i) for i in g] for g in got])
    assert orders[0] == orders[1]
    assert len({tuple(o) for o in orders[0]}) > 1


def test_missing_drops_ids_from_a_batch_and_null_when_none_is_left(fake):
    ids = [fake.submit() for _ in range(3)]
    fake.add({"fault": "missing", "times": 1})
    assert len(fake.batch(ids).get_json()["data"]) == 2
    assert len(fake.batch(ids).get_json()["data"]) == 3
    fake.add({"fault": "missing", "task_id": ids[1]})
    got = [t["task_id"] for t in fake.batch(ids).get_json()["data"]]
    assert got == sorted([ids[0], ids[2]])
    assert fake.batch([ids[1]]).get_json()["data"] is None
    assert fake.get(ids[1]).status_code == 200  # a single fetch is no batch


def test_stuck_never_gets_past_its_step_and_clearing_restores_the_timeline(fake):
    fake.add({"fault": "stuck", "step": "queued"})
    task = fake.submit()
    fake.advance(600)
    data = fake.get(task).get_json()["data"]
    assert (data["status"], data["progress"]) == ("QUEUED", "0%")
    assert data["data"][0]["status"] == "queued"
    fake.clear()
    assert fake.get(task).get_json()["data"]["status"] == "SUCCESS"


def test_stuck_by_default_stops_short_of_the_end_but_a_finished_task_stays_finished(fake):
    done = fake.submit()
    fake.advance(600)
    fake.add({"fault": "stuck"})
    fresh = fake.submit()
    fake.advance(600)
    assert fake.get(fresh).get_json()["data"]["status"] == "IN_PROGRESS"
    assert fake.get(done).get_json()["data"]["status"] == "SUCCESS"  # terminal states stick


def test_fail_after_n_polls_fails_for_good_with_a_stable_finish_time(fake):
    fake.add({"fault": "fail_after", "polls": 2, "fail_reason": "boom {not a placeholder}"})
    task = fake.submit()
    fake.advance(40)
    first = fake.get(task).get_json()["data"]
    assert first["status"] == "IN_PROGRESS"
    failed = fake.get(task).get_json()["data"]
    assert (failed["status"], failed["progress"], failed["fail_reason"]) == (
        "FAILURE", "100%", "boom {not a placeholder}")
    assert failed["finish_time"] == failed["submit_time"] + 40
    assert validate(failed, "task", "elkapi") == []
    fake.advance(600)  # the timeline would have succeeded by now: terminal states stick
    assert fake.get(task).get_json()["data"] == failed
    fake.clear()
    assert fake.get(task).get_json()["data"]["status"] == "SUCCESS"


def test_null_data_on_the_first_poll(fake):
    fake.add({"fault": "null_data"})
    task = fake.submit()
    fake.advance(10)
    first = fake.get(task).get_json()["data"]
    assert first["status"] == "SUBMITTED" and first["data"] is None
    assert validate(first, "task", "elkapi") == []
    assert fake.get(task).get_json()["data"]["data"][0]["status"] == "submitted"


def test_task_faults_with_a_rate_pick_tasks_for_good_not_requests(fake):
    fake.add({"fault": "stuck", "step": "not_start", "rate": 0.5, "seed": 1})
    ids = [fake.submit() for _ in range(12)]
    fake.advance(600)
    first = {i: fake.get(i).get_json()["data"]["status"] for i in ids}
    assert set(first.values()) == {"NOT_START", "SUCCESS"}
    for _ in range(3):
        assert {i: fake.get(i).get_json()["data"]["status"] for i in ids} == first


def test_task_faults_with_times_take_the_next_n_tasks(fake):
    fake.add({"fault": "fail_after", "polls": 0, "times": 2, "id": "two"})
    ids = [fake.submit() for _ in range(4)]
    statuses = [fake.get(i).get_json()["data"]["status"] for i in ids]
    assert statuses == ["FAILURE", "FAILURE", "NOT_START", "NOT_START"]
    view = fake.http.get("/__mock/faults").get_json()[0]
    assert (view["fired"], view["remaining"]) == (2, 0)


# --- scoping, lifetime, isolation ------------------------------------------------------------


def test_faults_scoped_to_one_key_never_touch_another_key(fake):
    for rule in (
        {"fault": "status", "status": 429},
        {"fault": "invisible", "polls": 100},
        {"fault": "stuck", "step": 0},
        {"fault": "fail_after", "polls": 0},
        {"fault": "null_data", "polls": 100},
        {"fault": "missing"},
        {"fault": "not_json"},
    ):
        fake.add({**rule, "api_key": A})
    bob = [fake.submit(B) for _ in range(2)]
    fake.advance(600)
    for task in bob:
        data = fake.get(task, B).get_json()["data"]
        assert (data["status"], len(data["data"])) == ("SUCCESS", 2)
    assert len(fake.batch(bob, B).get_json()["data"]) == 2
    assert fake.get(bob[0], A).status_code == 429
    journal = fake.http.get("/__mock/journal").get_json()
    assert all(e["faults"] is None for e in journal if e["owner"] == owner_of(B))


def test_route_scope_hits_only_its_route():
    fake = Fake()
    fake.add({"fault": "status", "status": 500, "route": "fetch_one"})
    task = fake.submit()
    assert fake.get(task).status_code == 500
    assert fake.batch([task]).status_code == 200


def test_task_id_scope(fake):
    one, other = fake.submit(), fake.submit()
    fake.add({"fault": "status", "status": 502, "task_id": one, "times": 1})
    assert fake.get(other).status_code == 200
    assert fake.batch([other, one]).status_code == 502
    assert fake.get(one).status_code == 200  # used up


def test_a_header_fault_is_for_that_request_only(fake):
    task = fake.submit()
    assert fake.get(task, **{"X-Mock-Fault": "status=429"}).status_code == 429
    assert fake.get(task).status_code == 200
    assert fake.http.get("/__mock/faults").get_json() == []


def test_a_bad_header_is_a_400_naming_the_path(fake):
    response = fake.get(fake.submit(), **{"X-Mock-Fault": "status=99"})
    assert (response.status_code, response.data) == (400, task_envelope(
        "invalid_request", "X-Mock-Fault: $.status: 99 is less than the minimum of 400"))


def test_faults_in_one_namespace_stay_there(fake):
    ns = {"X-Mock-Namespace": "team-a"}
    assert fake.http.post("/__mock/faults", json={"fault": "status", "status": 429},
                          headers=ns).status_code == 201
    assert fake.http.post("/suno/submit/music", json={},
                          headers=fake.auth(A, **ns)).status_code == 429
    fake.submit()
    assert fake.http.get("/__mock/faults").get_json() == []


def test_no_fault_leaves_a_task_changed_once_the_rules_are_cleared():
    fake = Fake()
    for rule in (
        {"fault": "invisible", "polls": 1},
        {"fault": "stuck", "step": "queued", "rate": 0.5, "seed": 2},
        {"fault": "fail_after", "polls": 3, "rate": 0.5, "seed": 3},
        {"fault": "null_data", "polls": 2},
        {"fault": "shuffle"},
        {"fault": "missing", "rate": 0.3, "seed": 4},
        {"fault": "truncate", "rate": 0.2, "seed": 5, "close": False, "route": "fetch"},
        {"fault": "status", "status": 500, "rate": 0.2, "seed": 6, "route": "fetch"},
    ):
        fake.add(rule)
    ids = [fake.submit() for _ in range(6)]
    for _ in range(8):
        fake.advance(30)
        fake.batch(ids)
        for task in ids:
            fake.get(task)
    before = fake.tasks()
    fake.clear()
    assert fake.tasks() == before  # faults never wrote a task
    for task in ids:
        data = fake.get(task).get_json()["data"]
        record = fake.service.store.get("", owner_of(A), task)
        assert data == fake.service.render(record)  # the normal state of its facts
    assert sorted(t["task_id"] for t in fake.batch(ids).get_json()["data"]) == sorted(ids)


def test_the_admin_api_is_never_faulted(fake):
    fake.add({"fault": "status", "status": 500})
    fake.add({"fault": "disconnect"})
    assert fake.http.get("/__mock/tasks").status_code == 200
    asked = fake.http.get("/__mock/faults", headers={"X-Mock-Fault": "status=429"})
    assert asked.status_code == 200


# --- admin API -----------------------------------------------------------------------------


def test_admin_add_list_delete(fake):
    added = fake.add({"fault": "status", "status": 429, "times": 3, "api_key": A})
    assert added == {"id": "f1", "fault": "status", "status": 429, "owner": owner_of(A),
                     "times": 3, "remaining": 3, "fired": 0}
    many = fake.add({"rules": [{"fault": "shuffle", "seed": 2, "id": "mix"},
                               {"fault": "latency", "seconds": 0}]})
    assert [r["id"] for r in many["rules"]] == ["mix", "f3"]
    fake.submit(B)
    assert fake.http.post("/suno/submit/music", json={}, headers=fake.auth(A)).status_code == 429
    listed = fake.http.get("/__mock/faults").get_json()
    assert [(r["id"], r.get("remaining"), r["fired"]) for r in listed] == [
        ("f1", 2, 1), ("mix", None, 0), ("f3", None, 2)]
    assert fake.http.delete("/__mock/faults/mix").get_json() == {"deleted": "mix"}
    missing = fake.http.delete("/__mock/faults/mix")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    assert fake.http.delete("/__mock/faults").get_json() == {"cleared": 2}
    assert fake.http.get("/__mock/faults").get_json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"fault":"status","status":99}',
         "invalid fault: $.status: 99 is less than the minimum of 400"),
        (b'{"rules":[{"fault":"hang","seconds":0}]}',
         "invalid fault: $.rules[0].seconds: 0 is less than or equal to the minimum of 0"),
        (b"{", "invalid fault: $: body is not JSON"),
        (b"", "invalid fault: $: None is not of type 'object'"),
        (b'{"fault":"disconnect","id":"x"}', None),
    ],
)
def test_admin_rejects_a_bad_rule_with_a_400_naming_the_path(fake, body, message):
    fake.add({"fault": "disconnect", "id": "x", "route": "submit"})
    response = fake.http.post("/__mock/faults", data=body, content_type="application/json")
    assert response.status_code == 400
    expected = message or "invalid fault: $.id: a fault with id 'x' exists already"
    assert response.get_json() == {"code": "invalid_request", "message": expected, "data": None}


def test_start_rules_from_config_and_reset(tmp_path):
    fake = Fake(faults=("rate-limited",))
    assert [r["id"] for r in fake.http.get("/__mock/faults").get_json()] == [
        "saturated-burst", "saturated"]
    codes = [fake.http.post("/suno/submit/music", json={}, headers=fake.auth(A)).status_code
             for _ in range(2)]
    assert codes == [429, 429]
    fake.clear()
    assert fake.http.post("/suno/submit/music", json={}, headers=fake.auth(A)).status_code == 200
    fake.http.post("/__mock/reset")
    assert fake.http.post("/suno/submit/music", json={}, headers=fake.auth(A)).status_code == 429
    path = tmp_path / "chaos.json"
    path.write_text(json.dumps({"rules": [{"fault": "status", "status": 500}]}), encoding="utf-8")
    assert Fake(faults=(str(path),)).http.get("/__mock/faults").get_json()[0]["id"] == "p1"


def test_a_bad_fault_profile_stops_the_server_before_it_listens(tmp_path, capsys):
    with pytest.raises(FixtureError, match="no such fault file or bundled fault profile"):
        Fake(faults=("chaos",))
    code = suno_mock(["serve", "--port", "1", "--faults", "chaos"])
    assert code == 2
    assert "chaos: no such fault file or bundled fault profile" in capsys.readouterr().err


def test_the_suno_mock_fixture_adds_lists_and_clears_faults():
    from contract_tests.mock import MockAdminError, SunoMock

    with SunoMock() as mock:
        rule = mock.add_fault("status", status=429, times=1, retry_after=5)
        assert rule["id"] == "f1" and rule["remaining"] == 1
        task = mock.client.post("/suno/submit/music", json={})
        assert (task.status_code, task.headers["Retry-After"]) == (429, "5")
        mock.add_fault({"fault": "stuck", "id": "hold"})
        assert [f["id"] for f in mock.faults()] == ["f1", "hold"]
        mock.remove_fault("hold")
        with pytest.raises(MockAdminError, match=r"\$\.status: 99 is less than the minimum"):
            mock.add_fault("status", status=99)
        assert mock.clear_faults() == 1
        assert mock.faults() == []


def test_fail_after_leaves_alone_a_task_the_client_saw_finish(fake):
    fake.add({"fault": "fail_after", "polls": 3})
    task = fake.submit()
    fake.advance(600)
    assert [fake.get(task).get_json()["data"]["status"] for _ in range(4)] == ["SUCCESS"] * 4


def test_workers_sharing_a_store_share_the_rules_and_their_counts(tmp_path):
    url = f"sqlite://{tmp_path / 'store.db'}"
    one, two = Fake(store=url), Fake(store=url)  # two workers of one fake
    one.add({"fault": "status", "status": 429, "times": 3, "route": "fetch"})
    task = one.submit()
    codes = [worker.get(task).status_code for worker in (one, two, one, two, one)]
    assert codes == [429, 429, 429, 200, 200]
    assert two.http.get("/__mock/faults").get_json()[0]["remaining"] == 0
    two.add({"fault": "invisible", "polls": 1})
    assert one.get(two.submit()).status_code == 400
    assert one.http.delete("/__mock/faults").get_json() == {"cleared": 2}
    assert two.http.get("/__mock/faults").get_json() == []


def test_serve_reads_fault_profiles_from_the_environment_too(monkeypatch, capsys):
    monkeypatch.setenv("SUNO_MOCK_FAULTS", "rate-limited,chaos")
    assert suno_mock(["serve", "--port", "1"]) == 2
    assert "chaos: no such fault file or bundled fault profile" in capsys.readouterr().err
