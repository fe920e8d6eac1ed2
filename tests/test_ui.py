"""The dashboard at /__mock/ui without a browser: pages, forms, access, escaping, the views.

tests/test_ui_browser.py clicks through the same pages in Chromium.
"""

from __future__ import annotations

import hashlib
import html
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server import Config, TaskRecord, create_app
from mock_server.core.scenarios import ScenarioBook
from mock_server.faults.transport import ConnectionDropped
from mock_server.web.ui import UI_TOKEN_COOKIE, content_policy
from mock_server.web.ui.views import ClipPlayer, entry_views, fmt_offset, parse_time, polls_of
from tests.conftest import ROOT

START = 1_700_000_000
ALICE = {"Authorization": "Bearer sk-alice"}
EVIL = "<script>window.__pwned=1</script>"


@pytest.fixture
def app():
    return create_app(Config(clock="manual", clock_start=START, poll_interval=0))


@pytest.fixture
def client(app):
    return app.test_client()


def submit(client, title="a song", scenario=None, ns=None, prompt="p"):
    headers = dict(ALICE)
    if scenario:
        headers["X-Mock-Scenario"] = scenario
    if ns:
        headers["X-Mock-Namespace"] = ns
    r = client.post("/suno/submit/music", json={"title": title, "prompt": prompt}, headers=headers)
    return r.get_json()["data"]


def admin(client, method, path, ns=None, **kwargs):
    headers = {"X-Mock-Namespace": ns} if ns else {}
    return getattr(client, method)(f"/__mock{path}", headers=headers, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- pages ------------------------------------------------------------------------------------


def test_dashboard_is_html_with_a_strict_policy_and_the_root_stays_blank(client):
    r = client.get("/__mock/ui/")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in text(r)  # no inline script: only the vendored file
    assert 'src="/__mock/ui/static/htmx-2.0.11.min.js"' in text(r)
    # GET / is the gateway's NoRoute index page, as before.
    root = client.get("/")
    assert root.status_code == 200 and b"dashboard" not in root.data
    assert client.get("/__mock/ui").status_code in (301, 308)  # to /__mock/ui/


def test_dashboard_reads_without_javascript(client):
    task_id = submit(client, title="Neon rain")
    client.post("/__mock/clock/advance", json={"seconds": 40})
    client.get(f"/suno/fetch/{task_id}", headers=ALICE)
    client.post("/__mock/faults", json={"id": "slow", "fault": "latency", "seconds": 0.01})
    page = text(client.get("/__mock/ui/"))
    row = re.search(rf'<tr class="task" id="task-{task_id}".*?</tr>', page, re.S)
    assert row is not None
    assert 'data-status="IN_PROGRESS"' in row.group(0)
    assert "Neon rain" in row.group(0) and "music_success" in row.group(0)
    assert "o_" in row.group(0) and "sk-alice" not in page  # the owner's digest, never the key
    assert "/suno/fetch/" + task_id in page  # the journal
    assert 'data-fault-id="slow"' in page
    assert "2023-11-14 22:14:00 UTC" in page  # the clock: START + 40 s


def test_tasks_are_listed_newest_first(client):
    first, second = submit(client, "first"), submit(client, "second")
    page = text(client.get("/__mock/ui/"))
    assert page.index(f'id="task-{second}"') < page.index(f'id="task-{first}"')


def test_user_input_is_shown_as_text_everywhere(client):
    task_id = submit(client, title=EVIL, prompt=EVIL)
    client.get(f"/suno/fetch/{task_id}", headers=ALICE)
    pages = [
        client.get("/__mock/ui/"),
        client.get("/__mock/ui/live"),
        client.get(f"/__mock/ui/tasks/{task_id}"),
        client.get(f"/__mock/ui/tasks/{task_id}/live"),
    ]
    for r in pages:
        assert r.status_code == 200
        assert EVIL not in text(r)
        assert html.escape(EVIL) in text(r) or "\\u003cscript" in text(r)


def test_live_answers_out_of_band_fragments(client):
    submit(client)
    body = text(client.get("/__mock/ui/live"))
    for part in ("live-problem", "clock-readout", "tasks-live", "faults-live", "journal-live"):
        assert f'id="{part}" hx-swap-oob="true"' in body
    assert "<html" not in body
    assert 'hx-preserve="true"' in body  # journal entries already shown are kept as they are


def test_task_page_shows_timeline_and_what_each_poll_saw(client):
    task_id = submit(client)
    client.post("/__mock/clock/advance", json={"seconds": 10})
    client.get(f"/suno/fetch/{task_id}", headers=ALICE)  # poll 1: submitted
    client.post("/__mock/clock/advance", json={"seconds": 30})
    client.post("/suno/fetch", json={"ids": [task_id]}, headers=ALICE)  # poll 2: streaming
    client.get(f"/suno/fetch/{task_id}", headers={"Authorization": "Bearer sk-bob"})  # not hers
    page = text(client.get(f"/__mock/ui/tasks/{task_id}"))
    polls = page[page.index('id="polls"') :]
    rows = re.findall(r"<tr class=\"(counted|uncounted)\">(.*?)</tr>", polls, re.S)
    assert [kind for kind, _ in rows] == ["counted", "counted", "uncounted"]
    assert ">1<" in rows[0][1] and "SUBMITTED" in rows[0][1]
    assert ">2<" in rows[1][1] and "IN_PROGRESS" in rows[1][1]
    assert "another key" in rows[2][1]
    assert '&#34;status&#34;: &#34;IN_PROGRESS&#34;' in page  # what a fetch answers now


def test_unknown_task_page_is_a_404_page(client):
    r = client.get("/__mock/ui/tasks/nope")
    assert r.status_code == 404
    assert "no task" in text(r) and r.mimetype == "text/html"
    live = client.get("/__mock/ui/tasks/nope/live")
    assert live.status_code == 404
    assert 'id="live-problem"' in text(live)


# --- forms ------------------------------------------------------------------------------------


def test_forms_steer_through_the_admin_operations(client):
    r = client.post("/__mock/ui/clock/advance", data={"seconds": "30"})
    assert r.status_code == 303 and r.headers["Location"] == "/__mock/ui/"
    assert client.get("/__mock/clock").get_json()["now"] == START + 30
    client.post("/__mock/ui/clock/set", data={"now": "2024-01-01 00:00:00"})
    assert client.get("/__mock/clock").get_json()["now"] == 1_704_067_200
    client.post("/__mock/ui/clock/set", data={"now": "1800000000"})
    assert client.get("/__mock/clock").get_json()["now"] == 1_800_000_000
    client.post("/__mock/ui/clock/resume", data={})
    assert client.get("/__mock/clock").get_json()["speed"] == 1
    client.post("/__mock/ui/clock/speed", data={"speed": "60"})
    assert client.get("/__mock/clock").get_json()["speed"] == 60
    client.post("/__mock/ui/clock/pause")
    assert client.get("/__mock/clock").get_json()["mode"] == "manual"

    r = client.post(
        "/__mock/ui/tasks",
        data={"api_key": "sk-alice", "scenario": "music_failure", "title": "made here", "step": ""},
    )
    assert r.status_code == 303
    (task,) = client.get("/__mock/tasks").get_json()
    assert (task["scenario"], task["status"]) == ("music_failure", "NOT_START")
    fetched = client.get(f"/suno/fetch/{task['task_id']}", headers=ALICE).get_json()["data"]
    assert fetched["status"] == "NOT_START"  # sk-alice owns it

    page = f"/__mock/ui/tasks/{task['task_id']}"
    r = client.post(f"{page}/step", data={"step": "error", "back": "task"})
    assert r.headers["Location"] == page
    assert client.get("/__mock/tasks").get_json()[0]["status"] == "FAILURE"
    client.post(f"/__mock/ui/tasks/{task['task_id']}/step", data={"step": ""})  # unpin
    assert client.get("/__mock/tasks").get_json()[0]["forced"] is False

    client.post("/__mock/faults", json={"id": "r1", "fault": "status", "status": 429})
    assert client.post("/__mock/ui/faults/r1/lift").status_code == 303
    assert client.get("/__mock/faults").get_json() == []

    assert client.post("/__mock/ui/reset").status_code == 303
    assert client.get("/__mock/tasks").get_json() == []


def test_the_create_form_offers_every_bundled_scenario(client):
    page = text(client.get("/__mock/ui/"))
    offered = re.findall(r'<option value="([^"]+)" title="[^"]*">\1 \((\w+)\)</option>', page)
    book = ScenarioBook()
    assert sorted(offered) == sorted((s.name, s.action) for s in book)
    # The MUSIC task kinds' own, each saying it is modelled, not captured.
    for kind in ("extend", "cover", "infill", "gen_stem"):
        assert (f"{kind}_success", "MUSIC") in offered
        assert "Modelled, not captured" in book.get(f"{kind}_success").description


def test_create_from_a_form_at_a_step_with_elapsed_time(client):
    client.post(
        "/__mock/ui/tasks",
        data={"api_key": "k", "scenario": "music_success", "step": "streaming", "elapsed": "12"},
    )
    (task,) = client.get("/__mock/tasks").get_json()
    assert (task["step"], task["forced"], task["submit_time"]) == ("streaming", True, START - 12)


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/__mock/ui/clock/advance", {"seconds": "soon"}, 400, "seconds&#39; must be a number"),
        ("/__mock/ui/clock/advance", {"seconds": "-5"}, 400, "time only moves forward"),
        ("/__mock/ui/clock/advance", {}, 400, "must be a number"),
        ("/__mock/ui/clock/set", {"now": "yesterday"}, 400, "must be a number"),
        ("/__mock/ui/clock/speed", {"speed": "0"}, 400, "must be &gt; 0"),
        ("/__mock/ui/tasks", {"scenario": "music_success"}, 400, "api_key"),
        ("/__mock/ui/tasks", {"api_key": "k", "scenario": "nope"}, 400, "unknown scenario"),
        ("/__mock/ui/tasks", {"api_key": "k", "step": "nope"}, 400, "has no step"),
        ("/__mock/ui/tasks/nope/step", {"step": "complete"}, 404, "no task"),
        ("/__mock/ui/faults/nope/lift", {}, 404, "no fault rule"),
    ],
)
def test_a_bad_form_shows_the_dashboard_with_what_went_wrong(client, path, data, status, message):
    r = client.post(path, data=data)
    assert r.status_code == status
    assert r.mimetype == "text/html"
    problem = re.search(r'<div class="problem" role="alert" id="problem">(.*?)</div>', text(r))
    assert problem is not None and message in problem.group(1)
    assert 'id="tasks-live"' in text(r)  # the dashboard, not a bare error
    assert client.get("/__mock/clock").get_json()["now"] == START
    assert client.get("/__mock/tasks").get_json() == []


def test_forced_step_from_a_form_bad_step_names_the_steps(client):
    task_id = submit(client)
    r = client.post(f"/__mock/ui/tasks/{task_id}/step", data={"step": "nope"})
    assert r.status_code == 400 and "its steps: not_start, submitted" in text(r)


form_text = st.text(
    st.characters(min_codepoint=1, max_codepoint=0x2FFF, exclude_categories=("Cs",)), max_size=40
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(
        [
            "/__mock/ui/clock/advance",
            "/__mock/ui/clock/set",
            "/__mock/ui/clock/speed",
            "/__mock/ui/clock/resume",
            "/__mock/ui/tasks",
            "/__mock/ui/tasks/x/step",
            "/__mock/ui/faults/x/lift",
            "/__mock/ui/login",
        ]
    ),
    form=st.dictionaries(
        st.sampled_from(["seconds", "now", "speed", "api_key", "scenario", "step", "elapsed"]),
        form_text,
    ),
    ns=st.none() | form_text,
)
def test_any_form_gets_a_page_never_a_crash(client, path, form, ns):
    r = client.post(path, data=form, query_string={"ns": ns} if ns is not None else None)
    assert r.status_code in (303, 400, 403, 404), r.data[:300]
    assert b"Traceback" not in r.data
    if r.status_code != 303:
        assert r.mimetype == "text/html"
    client.post("/__mock/ui/clock/pause", query_string={"ns": ns} if ns is not None else None)


# --- namespaces -------------------------------------------------------------------------------


def test_the_ns_parameter_is_the_namespace_header(client):
    mine = submit(client, "in team-a", ns="team-a")
    other = submit(client, "in default")
    page = text(client.get("/__mock/ui/?ns=team-a"))
    assert mine in page and other not in page
    assert 'value="team-a"' in page  # the switcher
    assert "/__mock/ui/live?ns=team-a" in page  # live updates stay in it
    r = client.post("/__mock/ui/clock/advance?ns=team-a", data={"seconds": "60"})
    assert r.headers["Location"] == "/__mock/ui/?ns=team-a"
    assert admin(client, "get", "/clock", ns="team-a").get_json()["now"] == START + 60
    assert admin(client, "get", "/clock").get_json()["now"] == START
    client.post("/__mock/ui/reset?ns=team-a")
    assert admin(client, "get", "/tasks", ns="team-a").get_json() == []
    assert [t["task_id"] for t in admin(client, "get", "/tasks").get_json()] == [other]


# --- access -----------------------------------------------------------------------------------


def test_loopback_only_without_a_token(client):
    task_id = submit(client)
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    for method, path in [
        ("get", "/__mock/ui/"),
        ("get", "/__mock/ui/live"),
        ("get", f"/__mock/ui/tasks/{task_id}"),
        ("post", "/__mock/ui/reset"),
    ]:
        r = getattr(client, method)(path, environ_base=remote)
        assert r.status_code == 403, path
        assert "loopback" in text(r) and task_id not in text(r)
    assert len(client.get("/__mock/tasks").get_json()) == 1


def test_a_token_in_the_header_or_the_login_cookie():
    client = create_app(Config(clock="manual", poll_interval=0, admin_token="s3cret")).test_client()
    assert client.get("/__mock/ui/").status_code == 403  # loopback needs it too
    assert "Enter it" in text(client.get("/__mock/ui/"))
    assert client.get("/__mock/ui/", headers={"X-Mock-Admin-Token": "s3cret"}).status_code == 200
    assert client.get("/__mock/ui/login").status_code == 200
    wrong = client.post("/__mock/ui/login", data={"token": "guess"})
    assert wrong.status_code == 403
    assert client.get_cookie(UI_TOKEN_COOKIE, path="/__mock/ui") is None
    r = client.post("/__mock/ui/login", data={"token": "s3cret"})
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/__mock/ui" in cookie
    assert client.get("/__mock/ui/").status_code == 200
    assert client.get("/__mock/clock").status_code == 403  # the cookie opens the UI only
    client.post("/__mock/ui/logout")
    assert client.get("/__mock/ui/").status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
    ],
)
def test_cross_site_form_posts_are_refused(client, headers):
    r = client.post("/__mock/ui/clock/advance", data={"seconds": "60"}, headers=headers)
    assert r.status_code == 403 and "cross-site" in text(r)
    assert client.get("/__mock/clock").get_json()["now"] == START


def test_same_origin_form_posts_pass(client):
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}):
        r = client.post("/__mock/ui/clock/advance", data={"seconds": "1"}, headers=headers)
        assert r.status_code == 303


def test_static_files_are_open_and_htmx_is_the_vendored_file(client):
    r = client.get("/__mock/ui/static/htmx-2.0.11.min.js", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 200
    digest = hashlib.sha256(r.data).hexdigest()
    notice = (ROOT / "mock_server/web/ui/NOTICE").read_text()
    assert f"sha256 of the file:    {digest}" in notice
    assert "0BSD" in notice
    r.close()


# --- views ------------------------------------------------------------------------------------


def _record(polls: int) -> TaskRecord:
    return TaskRecord("t1", "o_me", "MUSIC", "music_success", 1000.0, 1, polls=polls)


def _fetch(time: float, owner: str = "o_me", status: int = 200, faults=None) -> dict:
    return {
        "time": time,
        "method": "GET",
        "path": "/suno/fetch/t1",
        "status": status,
        "owner": owner,
        "request_id": f"r{time}",
        "body": None,
        "faults": faults,
    }


def test_polls_are_numbered_back_from_the_tasks_poll_count():
    scenario = ScenarioBook().get("music_success")
    # The journal dropped the first poll: three counted ones remain of four.
    journal = [
        _fetch(1010),
        _fetch(1020, status=429, faults=["f1"]),
        _fetch(1030, owner="o_other", status=400),
        {**_fetch(1040), "method": "POST", "path": "/suno/fetch", "body": '{"ids":["x","t1"]}'},
        {**_fetch(1045), "path": "/suno/fetch", "body": '{"ids":["x"]}'},  # not this task
        _fetch(1200, faults=["slow"]),
    ]
    polls = polls_of(_record(polls=4), scenario, journal)
    assert [p.number for p in polls] == [2, None, None, 3, 4]
    assert [p.seen_status for p in polls] == ["SUBMITTED", None, None, "IN_PROGRESS", "SUCCESS"]
    assert "not counted" in polls[1].note and "another key" in polls[2].note
    refused = polls_of(_record(polls=0), scenario, [_fetch(1010, owner=None, status=429)])
    assert refused[0].number is None and "before its key was read" in refused[0].note
    assert "fault rule" in polls[4].note


def test_a_long_body_is_said_to_be_cut(client):
    short = client.post("/suno/submit/music", json={"title": "x"}, headers=ALICE)
    long = client.post("/suno/submit/music", json={"title": "é" * 5000}, headers=ALICE)
    assert short.status_code == long.status_code == 200
    entries = entry_views(client.get("/__mock/journal").get_json(), (), 10)
    assert [e.body_cut for e in entries] == [True, False]  # newest first
    assert "its first 4096 bytes" in text(client.get("/__mock/ui/"))


def test_time_helpers():
    assert fmt_offset(0) == "+0s"
    assert fmt_offset(2.5) == "+2.5s"
    assert fmt_offset(125) == "+2m05s"
    assert fmt_offset(3725) == "+1h02m05s"
    assert fmt_offset(-30) == "-30s"
    assert parse_time("1700000000") == 1_700_000_000
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000
    assert parse_time("2023-11-14 22:13:20 UTC") == 1_700_000_000
    assert parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000
    with pytest.raises(ValueError):
        parse_time("tomorrow")


def test_a_finished_tasks_page_plays_its_clips_from_the_fake(client):
    task_id = submit(client)
    client.post("/__mock/clock/advance", json={"seconds": 200})
    page = client.get(f"/__mock/ui/tasks/{task_id}")
    assert "media-src 'self'" in page.headers["Content-Security-Policy"]
    html = text(page)
    audio = re.findall(r'<audio controls preload="none" src="([^"]+)"', html)
    covers = re.findall(r'<img src="([^"]+)" alt="cover of', html)
    assert len(audio) == len(covers) == 2
    for url in audio + covers:
        assert url.startswith(f"http://localhost/__media/-/{task_id}/")
        assert client.get(url).status_code == 200


# --- the journal keeps answers ----------------------------------------------------------------


def test_each_entry_opens_to_the_answer_the_app_was_sent(client):
    task_id = submit(client, title="Glass harbour")
    fetched = client.get(f"/suno/fetch/{task_id}", headers=ALICE)
    refused = client.get("/suno/fetch/nope", headers=ALICE)
    journal = client.get("/__mock/journal").get_json()
    assert [e["response"] for e in journal] == [
        json.dumps({"code": "success", "message": "", "data": task_id}, separators=(",", ":")),
        fetched.get_data(as_text=True),
        refused.get_data(as_text=True),
    ]
    shown = {e.path: e for e in entry_views(journal, (task_id,), 10)}
    assert json.loads(shown[f"/suno/fetch/{task_id}"].response) == fetched.get_json()
    page = text(client.get("/__mock/ui/"))
    assert "Not recorded" not in page
    # Pretty-printed and escaped in the entry: the fetched task's title and the 400's message.
    assert "&#34;title&#34;: &#34;Glass harbour&#34;" in page
    assert "task_not_exist" in page


def test_an_answer_longer_than_the_limit_is_kept_cut_and_said_so(client):
    ids = [submit(client) for _ in range(4)]
    client.post("/__mock/clock/advance", json={"seconds": 200})  # done: each with its clips
    batch = client.post("/suno/fetch", json={"ids": ids}, headers=ALICE)
    assert len(batch.data) > 4096
    (entry,) = [e for e in client.get("/__mock/journal").get_json() if e["path"] == "/suno/fetch"]
    assert entry["response"] == batch.data[:4096].decode()
    (view,) = [v for v in entry_views([entry], ids, 10)]
    assert view.response_cut and not view.body_cut


def test_an_answer_a_fault_cut_is_kept_as_sent_and_a_dropped_one_not_at_all(client):
    task_id = submit(client)

    def fetch(fault=None):
        headers = ALICE if fault is None else {**ALICE, "X-Mock-Fault": fault}
        return client.get(f"/suno/fetch/{task_id}", headers=headers)

    throttled, page = fetch("status=429"), fetch("not_json")
    whole, half = fetch().data, fetch("truncate; close=false")
    with pytest.raises(ConnectionDropped):
        fetch("disconnect").get_data()
    with pytest.raises(ConnectionResetError):  # cut, then the connection closed: streamed
        fetch("truncate").get_data()
    journal = client.get("/__mock/journal").get_json()
    assert half.data == whole[: len(whole) // 2]
    assert [(e["status"], e["response"]) for e in journal[-6:]] == [
        (429, throttled.get_data(as_text=True)), (page.status_code, page.get_data(as_text=True)),
        (200, whole.decode()), (200, half.data.decode()), (0, None), (200, None)]
    assert throttled.status_code == 429 and not page.is_json
    old = _fetch(1.0)  # an entry of a journal from before answers were kept
    views = entry_views([old, *journal[-2:]], (), 10)
    assert [v.response_kept for v in views] == [True, True, False]
    page = text(client.get("/__mock/ui/"))
    assert "none: the connection was dropped" in page
    assert "not kept whole: a fault rule cut, stalled or streamed it" in page


def test_api_keys_never_reach_the_journal_or_the_dashboard(client):
    secret = "sk-SECRET-do-not-log-0123456789"
    mine = {"Authorization": f"Bearer {secret}"}
    task_id = client.post("/suno/submit/music", json={"prompt": "p"}, headers=mine).get_json()
    task_id = task_id["data"]
    client.get(f"/suno/fetch/{task_id}", headers=mine)
    client.post("/suno/fetch", json={"ids": [task_id, "nope"]}, headers=mine)
    client.post("/suno/submit/music", data=b"{", headers=mine, content_type="application/json")
    client.post("/suno/submit/nosuch", json={}, headers=mine)
    client.get("/suno/fetch/x", headers={"Authorization": "Bearer sk-"})  # no key: 401
    create_app_with_keys = create_app(Config(clock="manual", api_keys=("sk-allowed",)))
    other = create_app_with_keys.test_client()
    assert other.get("/suno/fetch/x", headers=mine).status_code == 401  # a refused key
    client.post("/__mock/faults", json={"fault": "status", "status": 429, "times": 1})
    assert client.get(f"/suno/fetch/{task_id}", headers=mine).status_code == 429
    for app_client in (client, other):
        journal = app_client.get("/__mock/journal").get_data(as_text=True)
        assert '"response":' in journal.replace(" ", "") and secret not in journal
        assert secret[3:] not in journal
        assert secret[3:] not in text(app_client.get("/__mock/ui/"))
    assert secret[3:] not in text(client.get(f"/__mock/ui/tasks/{task_id}"))


def test_a_tasks_polls_show_the_status_each_was_sent(client):
    task_id = submit(client)
    client.get(f"/suno/fetch/{task_id}", headers=ALICE)
    admin(client, "post", f"/tasks/{task_id}/step", json={"step": "complete"})
    client.get(f"/suno/fetch/{task_id}", headers=ALICE)
    admin(client, "post", f"/tasks/{task_id}/step", json={"step": None})
    page = text(client.get(f"/__mock/ui/tasks/{task_id}"))
    sent = re.findall(r'<td class="sent"><span class="status st-\w+">(\w+)</span>', page)
    # The second poll was sent the pinned SUCCESS, which its timeline (at +0s) does not give.
    assert sent == ["NOT_START", "SUCCESS"]


def test_a_players_dom_id_holds_while_its_urls_do():
    """The live refresh keeps a player by its id: same URLs, same player; new URLs (a clip that
    completed: its MP3 instead of the stream) a new one."""
    streaming = ClipPlayer("c 1", "t", "streaming", "http://x/audiopipe/?item_id=c", "http://x/i")
    again = ClipPlayer("c 1", "t", "streaming", "http://x/audiopipe/?item_id=c", "http://x/i")
    done = ClipPlayer("c 1", "t", "complete", "http://x/cdn1/c.mp3", "http://x/i")
    assert streaming.dom_id == again.dom_id != done.dom_id
    assert re.fullmatch(r"clip-c_1-[0-9a-f]{10}", done.dom_id)


def test_the_policy_lets_players_reach_the_media_base_url_and_nothing_else():
    default = create_app(Config(clock="manual")).test_client()
    policy = default.get("/__mock/ui/").headers["Content-Security-Policy"]
    assert "img-src 'self';" in policy and "media-src 'self';" in policy

    base = "http://media.test:9000/behind/a/proxy"
    elsewhere = create_app(Config(clock="manual", media_base_url=base, poll_interval=0))
    client = elsewhere.test_client()
    task_id = submit(client)
    client.post("/__mock/clock/advance", json={"seconds": 200})
    page = client.get(f"/__mock/ui/tasks/{task_id}")
    policy = page.headers["Content-Security-Policy"]
    assert "img-src 'self' http://media.test:9000;" in policy
    assert "media-src 'self' http://media.test:9000;" in policy
    assert policy.count("media.test") == 2  # scripts, styles, fetches: still our own only
    players = re.findall(r'<audio controls preload="none" src="([^"]+)"', text(page))
    assert players and all(p.startswith(f"{base}/__media/") for p in players)


@pytest.mark.parametrize("base", [
    "http://a;script-src *", "http://h.test:99999", "http://h test/", "http://x'y/",
])
def test_a_media_base_url_that_is_no_plain_origin_adds_nothing_to_the_policy(base):
    policy = content_policy(Config(media_base_url=base))
    assert policy == content_policy(Config())


def test_a_task_can_be_created_from_every_scenario_and_shown(profile):
    client = create_app(Config(clock="manual", profile=profile, poll_interval=0)).test_client()
    names = [s["name"] for s in client.get("/__mock/scenarios").get_json()]
    page = text(client.get("/__mock/ui/"))
    select = page[page.index('id="create-scenario"') :]
    offered = re.findall(r'<option value="([^"]+)"', select[: select.index("</select>")])
    assert sorted(offered) == sorted(names) and len(names) > 2
    for name in names:
        made = client.post("/__mock/ui/tasks", data={"api_key": "sk-a", "scenario": name})
        assert made.status_code == 303, name
    tasks = client.get("/__mock/tasks").get_json()
    assert sorted(t["scenario"] for t in tasks) == sorted(names)
    client.post("/__mock/clock/advance", json={"seconds": 3600})  # each at its last step too
    for task in tasks:
        shown = client.get(f"/__mock/ui/tasks/{task['task_id']}")
        assert shown.status_code == 200 and task["scenario"] in text(shown)


def test_clips_on_suno_cdn_urls_are_listed_not_fetched_by_the_page():
    client = create_app(Config(clock="manual", media_urls="suno", poll_interval=0)).test_client()
    task_id = submit(client)
    client.post("/__mock/clock/advance", json={"seconds": 200})
    page = text(client.get(f"/__mock/ui/tasks/{task_id}"))
    assert "listed, not played here" in page
    assert "https://cdn1.suno.ai/" in page  # shown as text
    assert not re.search(r'src="https?://', page)  # nothing the browser would load from there
