"""The dashboard in a real browser: headless Chromium (Debian's) driven by Playwright, against a
real ``suno-mock serve --clock manual`` on 127.0.0.1.

Skipped, with the reason, when Playwright or Chromium is missing; on CI (CI=true), which must
install both (.ci/run), they fail instead. Each test has a namespace of its own; the screenshot
test alone uses the default one. ``SUNO_UPDATE_SCREENSHOTS=1`` copies its screenshots into
docs/images/ (otherwise they go to the test's tmp directory only).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, free_port, running_fake

EVIL = "<script>window.__pwned=1</script>"
KEY = "sk-browser"
DOCS_IMAGES = ROOT / "docs" / "images"
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(f"{reason}: browser tests skipped")


def _chromium() -> str:
    for candidate in (
        os.environ.get("SUNO_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    _unavailable("no chromium on PATH (apt-get install chromium)")
    raise AssertionError  # not reached


@pytest.fixture(scope="module")
def sync_api() -> Any:
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    return sync_api


@pytest.fixture(scope="module")
def browser(sync_api: Any) -> Iterator[Any]:
    executable = _chromium()
    with sync_api.sync_playwright() as playwright:
        try:
            # Clips are played by a script in the tests, with no user gesture to allow it.
            browser = playwright.chromium.launch(
                executable_path=executable, args=["--autoplay-policy=no-user-gesture-required"]
            )
        except sync_api.Error as exc:
            _unavailable(f"chromium at {executable} does not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    with running_fake("--clock", "manual") as base:
        yield base


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:100]


@pytest.fixture
def api(fake: str, ns: str) -> Iterator[httpx.Client]:
    """The fake's API and admin API in the test's namespace, from outside the browser."""
    with httpx.Client(base_url=fake, headers={"X-Mock-Namespace": ns}, timeout=10) as client:
        yield client


@pytest.fixture
def page(browser: Any, sync_api: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors too: a failed live refresh or a CSP refusal only shows there.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()
    assert errors == []


@pytest.fixture
def expect(sync_api: Any) -> Any:
    return sync_api.expect


def dashboard(fake: str, ns: str = "") -> str:
    return f"{fake}/__mock/ui/" + (f"?ns={ns}" if ns else "")


def submit(api: httpx.Client, title: str, scenario: str = "music_success") -> str:
    r = api.post(
        "/suno/submit/music",
        json={"title": title, "prompt": f"a song about {title}"},
        headers={"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": scenario},
    )
    return str(r.json()["data"])


def fetch(api: httpx.Client, task_id: str) -> httpx.Response:
    return api.get(f"/suno/fetch/{task_id}", headers={"Authorization": f"Bearer {KEY}"})


def test_create_a_task_advance_the_clock_and_force_a_failure(page, expect, fake, ns, api):
    page.goto(dashboard(fake, ns))
    expect(page.locator("#tasks-live")).to_contain_text("No tasks in this namespace yet")
    page.select_option("#create-scenario", "music_success")
    page.fill("#create-key", KEY)
    page.fill("#create input[name=title]", EVIL)
    page.fill("#create textarea[name=prompt]", EVIL)
    page.click("#create button[type=submit]")

    row = page.locator("#tasks-live tr.task")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "NOT_START")
    expect(row.locator(".clip")).to_have_text(EVIL)  # shown as text, never run
    assert page.evaluate("window.__pwned") is None
    assert re.fullmatch(r"o_[0-9a-f]{8}…", row.locator("td").nth(1).inner_text().strip())

    presets = page.locator("#clock form.presets")
    presets.get_by_role("button", name="+1m").click()
    expect(row).to_have_attribute("data-status", "IN_PROGRESS")
    expect(row.locator("button.step.current")).to_contain_text("streaming")
    presets.get_by_role("button", name="+5m").click()
    expect(row).to_have_attribute("data-status", "SUCCESS")
    task_id = row.get_attribute("data-task-id")
    assert fetch(api, task_id).json()["data"]["status"] == "SUCCESS"  # the API agrees

    # A failure: the music_failure scenario, pinned at its FAILURE step, then by its own timeline.
    page.select_option("#create-scenario", "music_failure")
    page.fill("#create-key", KEY)
    page.click("#create button[type=submit]")
    expect(row).to_have_count(2)
    failing = row.first  # newest first
    expect(failing).to_contain_text("music_failure")
    failing.locator("button.step", has_text="error").click()
    expect(failing).to_have_attribute("data-status", "FAILURE")
    expect(failing.locator(".pin")).to_have_text("pinned")
    failing.get_by_role("button", name="Unpin").click()
    expect(failing).to_have_attribute("data-status", "NOT_START")
    presets.get_by_role("button", name="+1m").click()
    expect(failing).to_have_attribute("data-status", "FAILURE")
    expect(failing.locator(".pin")).to_have_count(0)
    failed = fetch(api, failing.get_attribute("data-task-id")).json()["data"]
    assert failed["status"] == "FAILURE" and failed["fail_reason"]


def test_the_journal_updates_live_after_an_api_call(page, expect, fake, ns, api):
    page.goto(dashboard(fake, ns))
    page.evaluate("window.__same_page = true")
    entries = page.locator("#journal-live li.entry")
    expect(entries).to_have_count(0)

    task_id = submit(api, "Live wire")  # from outside the browser
    expect(entries).to_have_count(1)
    submitted = entries.first
    expect(submitted).to_have_attribute("data-path", "/suno/submit/music")
    expect(page.locator(f'#tasks-live tr[data-task-id="{task_id}"]')).to_be_visible()

    submitted.locator("summary").click()
    body = submitted.locator("pre.request")
    expect(body).to_be_visible()
    expect(body).to_contain_text('"title": "Live wire"')
    # The answer the app was sent: the new task's id.
    expect(submitted.locator("pre.response")).to_contain_text(f'"data": "{task_id}"')

    fetched = fetch(api, task_id).json()["data"]
    expect(entries).to_have_count(2)
    expect(entries.first).to_have_attribute("data-path", f"/suno/fetch/{task_id}")
    entries.first.locator("summary").click()
    expect(entries.first.locator("pre.response")).to_contain_text(
        f'"status": "{fetched["status"]}"'
    )
    # The entry opened before stays open through the refreshes.
    expect(entries.nth(1).locator("details")).to_have_attribute("open", "")
    assert page.evaluate("window.__same_page") is True  # no reload happened


def test_clock_advance_set_pause_resume_and_speed(page, expect, fake, ns, api):
    page.goto(dashboard(fake, ns))
    state = page.locator("#clock-state")
    expect(state).to_have_text("paused")
    before = api.get("/__mock/clock").json()["now"]
    page.locator("#clock form.presets").get_by_role("button", name="+30s").click()
    expect(page.locator("#clock-now")).to_have_attribute("data-now", re.compile(rf"^{before + 30}"))

    page.click("#clock-resume")
    expect(state).to_have_text("running ×1")
    assert api.get("/__mock/clock").json()["speed"] == 1
    page.select_option("#clock select[name=speed]", "60")
    page.get_by_role("button", name="Set speed").click()
    expect(state).to_have_text("running ×60")
    assert api.get("/__mock/clock").json()["speed"] == 60
    page.click("#clock-pause")
    expect(state).to_have_text("paused")
    assert api.get("/__mock/clock").json()["mode"] == "manual"

    page.fill("#clock input[name=now]", "2030-01-01 00:00:00")
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.locator("#clock-now")).to_have_text("2030-01-01 00:00:00 UTC")
    assert api.get("/__mock/clock").json()["now"] == 1_893_456_000


def test_fault_rules_appear_live_and_are_lifted(page, expect, fake, ns, api):
    page.goto(dashboard(fake, ns))
    rules = page.locator("#faults-live li.fault")
    expect(page.locator("#faults-live")).to_contain_text("None in force")
    rule = {"id": "rl", "fault": "status", "status": 429, "route": "fetch"}
    api.post("/__mock/faults", json=rule)
    expect(rules).to_have_count(1)
    expect(rules.first).to_contain_text("status=429")
    task_id = submit(api, "Throttled")
    assert fetch(api, task_id).status_code == 429
    expect(page.locator("#journal-live .fault-tag")).to_have_text("⚡rl")
    expect(rules.first).to_contain_text("fired 1")

    rules.first.get_by_role("button", name="Lift").click()
    expect(rules).to_have_count(0)
    assert api.get("/__mock/faults").json() == []
    assert fetch(api, task_id).status_code == 200


def test_a_tasks_page_shows_its_timeline_and_polls_live(page, expect, fake, ns, api):
    task_id = submit(api, "Polled")
    page.goto(f"{fake}/__mock/ui/tasks/{task_id}?ns={ns}")
    detail = page.locator("#task-detail")
    expect(detail).to_have_attribute("data-status", "NOT_START")
    expect(page.locator("#polls")).to_contain_text("No fetch of this task")

    api.post("/__mock/clock/advance", json={"seconds": 10})
    fetch(api, task_id)
    api.post("/__mock/clock/advance", json={"seconds": 30})
    fetch(api, task_id)
    rows = page.locator("#polls tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("SUBMITTED")
    expect(rows.nth(1)).to_contain_text("IN_PROGRESS")
    expect(rows.nth(1).locator("td").first).to_have_text("2")
    expect(detail).to_have_attribute("data-status", "IN_PROGRESS")
    expect(page.locator("svg.track .mark.current")).to_contain_text("streaming")

    detail.locator("form.steps button.step", has_text="complete").click()
    expect(detail).to_have_attribute("data-status", "SUCCESS")
    assert page.url.startswith(f"{fake}/__mock/ui/tasks/{task_id}")  # it stays on the page
    expect(detail.locator(".pin")).to_contain_text("pinned at complete")


def test_a_finished_tasks_clips_play_and_show_their_covers(page, expect, fake, ns, api):
    task_id = submit(api, "Loud and clear")
    api.post("/__mock/clock/advance", json={"seconds": 600})
    clips = fetch(api, task_id).json()["data"]["data"]
    assert clips and all(c["status"] == "complete" for c in clips)
    page.goto(f"{fake}/__mock/ui/tasks/{task_id}?ns={ns}")
    shown = page.locator("#clips li.clip")
    expect(shown).to_have_count(len(clips))
    for clip in clips:
        item = page.locator(f'#clips li.clip[data-clip-id="{clip["id"]}"]')
        cover = item.locator("img").element_handle()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=cover)
        audio = item.locator("audio").element_handle()
        audio.evaluate("a => { a.muted = true; return a.play(); }")  # rejects if it cannot
        page.wait_for_function("a => a.currentTime > 0 && a.readyState >= 2", arg=audio)
        # The page refreshes itself every second: a clip being played plays on through it.
        with page.expect_response(lambda r: f"/tasks/{task_id}/live" in r.url):
            pass
        page.wait_for_timeout(100)  # real time for the swap to land; the fake's clock is manual
        assert audio.evaluate("a => a.isConnected && !a.paused")
        played = audio.evaluate(
            "a => { a.pause(); return {duration: a.duration, error: a.error && a.error.code}; }"
        )
        assert played["error"] is None
        # The MP3 is as long as the clip says (LAME pads a frame or two: 26 ms each).
        assert played["duration"] == pytest.approx(clip["metadata"]["duration"], abs=0.5)


def test_clips_play_from_a_media_base_url_of_another_origin(browser, page, expect, ns):
    """Clip URLs on another origin (here the same fake as ``localhost``, the page on
    127.0.0.1): the page's policy lets the players and covers reach it (no refusal in the
    console, which the page fixture checks)."""
    port = free_port()
    with running_fake(
        "--clock", "manual", "--media-base-url", f"http://localhost:{port}", port=port
    ) as base, httpx.Client(base_url=base, headers={"X-Mock-Namespace": ns}, timeout=10) as api:
        task_id = submit(api, "Across the street")
        api.post("/__mock/clock/advance", json={"seconds": 600})
        clip = fetch(api, task_id).json()["data"]["data"][0]
        assert clip["audio_url"].startswith(f"http://localhost:{port}/__media/")
        page.goto(f"{base}/__mock/ui/tasks/{task_id}?ns={ns}")
        item = page.locator(f'#clips li.clip[data-clip-id="{clip["id"]}"]')
        cover = item.locator("img").element_handle()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=cover)
        audio = item.locator("audio").element_handle()
        audio.evaluate("a => { a.muted = true; return a.play(); }")
        page.wait_for_function("a => a.currentTime > 0", arg=audio)
        audio.evaluate("a => a.pause()")
        page.goto("about:blank")  # its live refresh would fail once this fake stops


def test_switch_namespace_create_there_and_reset(page, expect, fake, ns, api):
    other = ns + "-b"
    page.goto(dashboard(fake, ns))
    page.fill("#ns-input", other)
    page.get_by_role("button", name="Switch", exact=True).click()
    expect(page).to_have_url(re.compile(rf"ns={re.escape(other)}$"))
    page.fill("#create-key", KEY)
    page.click("#create button[type=submit]")
    expect(page.locator("#tasks-live tr.task")).to_have_count(1)
    assert len(api.get("/__mock/tasks", headers={"X-Mock-Namespace": other}).json()) == 1
    assert api.get("/__mock/tasks").json() == []

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Reset {other}").click()
    expect(page.locator("#tasks-live")).to_contain_text("No tasks in this namespace yet")
    assert api.get("/__mock/tasks", headers={"X-Mock-Namespace": other}).json() == []


def test_without_javascript_it_reads_and_its_forms_work(browser, expect, fake, ns, api):
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        task_id = submit(api, "No script")
        page.goto(dashboard(fake, ns))
        expect(page.locator("noscript")).to_have_count(1)
        row = page.locator(f'#tasks-live tr[data-task-id="{task_id}"]')
        expect(row).to_have_attribute("data-status", "NOT_START")
        page.locator("#clock form.presets").get_by_role("button", name="+5m").click()
        expect(row).to_have_attribute("data-status", "SUCCESS")  # a plain POST, then a 303
        page.fill("#create-key", KEY)
        page.click("#create button[type=submit]")
        expect(page.locator("#tasks-live tr.task")).to_have_count(2)
        assert page.url == dashboard(fake, ns)
    finally:
        context.close()


def test_screenshot_of_the_dashboard(page, expect, fake, tmp_path):
    """The docs' pictures, made from a small session in the default namespace."""
    with httpx.Client(base_url=fake, timeout=10) as api:
        api.post("/__mock/reset")
        done = submit(api, "Neon rain")
        api.post("/__mock/clock/advance", json={"seconds": 20})
        fetch(api, done)
        failing = submit(api, "Glass harbour", "music_failure")
        api.post("/__mock/clock/advance", json={"seconds": 25})
        fetch(api, failing)
        streaming = submit(api, "Night drive")
        api.post("/__mock/clock/advance", json={"seconds": 40})
        for task_id in (done, failing, streaming):
            fetch(api, task_id)
        api.post("/__mock/tasks/" + done + "/step", json={"step": "complete"})
        rule = {"id": "rate-limit", "fault": "status", "status": 429, "route": "fetch", "times": 3}
        api.post("/__mock/faults", json=rule)
        fetch(api, streaming)
        api.post(
            "/suno/submit/lyrics",
            json={"prompt": "a harbour at dawn"},
            headers={"Authorization": f"Bearer {KEY}"},
        )

    page.goto(dashboard(fake))
    expect(page.locator("#tasks-live tr.task")).to_have_count(4)
    page.locator('#journal-live li.entry[data-path="/suno/submit/music"]').first.locator(
        "summary"
    ).click()
    shots = {"dashboard.png": tmp_path / "dashboard.png"}
    page.screenshot(path=shots["dashboard.png"], full_page=True)
    page.goto(f"{fake}/__mock/ui/tasks/{streaming}")
    expect(page.locator("#polls tbody tr")).to_have_count(2)  # one answered 429 by the rule
    shots["dashboard-task.png"] = tmp_path / "dashboard-task.png"
    page.screenshot(path=shots["dashboard-task.png"], full_page=True)

    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("SUNO_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        for name, shot in shots.items():
            shutil.copyfile(shot, DOCS_IMAGES / name)
