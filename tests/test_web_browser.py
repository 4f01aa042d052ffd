"""The live display in a real browser (issue 6): Debian's Chromium driven by Playwright against the real web
service (``LiveService``) fed by a real run (the built-in demo, cut to 90 s).

The run finishes before the browser opens, so the picture the page shows and the one the API returns are the
same frame. Skipped only when /usr/bin/chromium is absent (``make test`` installs it); never downloads a browser.
The symbol codes are checked without a browser, by ``npm test`` in web/ (node:test, milsymbol's own validation).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STATIC = Path(__file__).resolve().parents[1] / "src" / "airpicture" / "web" / "static"
RUN_S = 90.0
TIMEOUT_MS = 30_000

try:
    from playwright import sync_api  # the test extras; its own browsers are never used
except ImportError:  # pragma: no cover - make test installs it
    sync_api = None

pytestmark = pytest.mark.xdist_group("web_browser")  # one service and one run for the module (make test: loadfile)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def service(tmp_path_factory):
    if not (STATIC / "index.html").is_file():
        pytest.fail(f"the front end is not built ({STATIC}): run `make web` (make test does)")
    from airpicture.picture import Controls, SinkSet
    from airpicture.pipeline import run_scenario
    from airpicture.scenario.loader import load_scenario
    from airpicture.web.server import LiveService

    tmp = tmp_path_factory.mktemp("web_browser")
    controls = Controls()
    svc = LiveService(port=0, tokens_path=tmp / "tokens.json", controls=controls).start()
    try:
        scenario = dataclasses.replace(load_scenario("demo"), duration_s=RUN_S)
        run_scenario(scenario, tmp / "out", show_progress=False, sinks=SinkSet([svc.store]), controls=controls)
        svc.artifacts = tmp
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (make test installs Debian's chromium: apt-get install chromium "
                    "chromium-driver)")
    if sync_api is None:
        pytest.fail("the Python Playwright client is missing: pip install -e '.[test]' (make test does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()



def wait_js(page, expression: str, timeout_s: float = 30.0) -> None:
    """Wait until a JavaScript expression is true, polled from here: Playwright's own wait_for_function evaluates
    its predicate with eval() inside the page, which the display's Content-Security-Policy (no unsafe-eval)
    forbids - as it should."""
    import time

    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for: {expression}"
        time.sleep(0.05)

class Page:
    """A page of the display opened with one role's token, recording console errors and every request."""

    def __init__(self, browser, svc, role: str):
        self.svc, self.role = svc, role
        self.context = browser.new_context(viewport={"width": 1600, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.goto(svc.token_url(role))
        self.page.wait_for_selector("body[data-ready='1']")
        wait_js(self.page, "document.querySelectorAll('.leaflet-marker-pane [data-track-id]').length == "
                                    "Number(document.body.dataset.trackCount)")

    def symbols(self):
        return self.page.locator(".leaflet-marker-pane [data-track-id]")

    def close(self):
        self.context.close()


@pytest.fixture
def operator_page(browser, service):
    p = Page(browser, service, "operator")
    yield p
    p.close()


@pytest.fixture
def viewer_page(browser, service):
    p = Page(browser, service, "viewer")
    yield p
    p.close()


def api(svc, path: str, role: str = "operator", method: str = "GET", body=None):
    req = urllib.request.Request(urllib.parse.urljoin(svc.url, path), method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {svc.tokens.token(role)}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def unacknowledged(svc) -> list[dict]:
    return [a for a in api(svc, "/api/alerts") if a["acknowledged"] is None]


# ------------------------------------------------------------------------------------------------ tests
def test_symbol_codes_are_valid_2525_air_symbols():
    web = STATIC.parents[3] / "web"
    if not (web / "node_modules" / "milsymbol").is_dir():
        pytest.fail("web/node_modules is missing: run `make web` (make test does)")
    npm = shutil.which("npm")
    assert npm, "npm is needed (make test builds the front end with it)"
    done = subprocess.run([npm, "test", "--silent"], check=False, cwd=web, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_page_loads_offline_without_console_errors(operator_page, service):
    p = operator_page
    p.page.wait_for_load_state("networkidle")
    assert p.errors == []
    hosts = {urllib.parse.urlsplit(u).hostname for u in p.requests if not u.startswith(("data:", "blob:"))}
    assert any(u.startswith("ws://127.0.0.1:") for u in p.requests)  # the live feed
    assert hosts <= {"127.0.0.1"}, f"requests left the loopback host: {sorted(hosts)}"
    paths = {urllib.parse.urlsplit(u).path for u in p.requests}
    assert {"/app.js", "/app.css", "/base/land-50m.json", "/base/countries-50m.json"} <= paths
    # the base map drew (coastlines / borders on a canvas), the context too: sensors, zones, defended points
    assert p.page.locator(".leaflet-pane canvas").count() >= 1
    assert p.page.locator("[data-sensor]").count() == len(api(service, "/api/sensors"))
    assert p.page.locator("[data-defended-point]").count() == len(api(service, "/api/zones")["defended_points"])
    assert p.page.locator("#conn").inner_text().lower() == "connected"
    shot = service.artifacts / "display.png"
    p.page.screenshot(path=str(shot))
    out = os.environ.get("AIRPICTURE_ARTIFACTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(out) / "web_display.png")
    assert shot.stat().st_size > 10_000


def test_track_symbols_match_the_api(operator_page, service):
    p = operator_page
    tracks = api(service, "/api/tracks")
    assert len(tracks) > 5
    assert p.symbols().count() == len(tracks)
    shown = sorted(int(x) for x in p.symbols().evaluate_all("els => els.map(e => e.dataset.trackId)"))
    assert shown == sorted(t["track_id"] for t in tracks)
    # the table lists them by threat, highest first, as the API does
    rows = p.page.locator("tr[data-track-row]").evaluate_all("els => els.map(e => Number(e.dataset.trackRow))")
    scores = {t["track_id"]: t["threat_score"] or 0 for t in tracks}
    assert sorted(rows) == sorted(scores)
    assert [scores[i] for i in rows] == sorted(scores.values(), reverse=True)
    # the clock shows the picture time of a run without a wall clock
    picture = api(service, "/api/picture")
    assert picture["epoch_unix"] is None
    s = int(picture["time"])
    assert p.page.locator("#clock").inner_text() == f"T+{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def test_clicking_a_track_symbol_shows_its_identity_reason(operator_page, service):
    p = operator_page
    tracks = {t["track_id"]: t for t in api(service, "/api/tracks")}
    # a symbol not covered by another one, whose track has an identity reason
    tid = p.page.evaluate("""ids => {
        for (const el of document.querySelectorAll('.leaflet-marker-pane [data-track-id]')) {
            if (!ids.includes(Number(el.dataset.trackId))) continue;
            const r = el.getBoundingClientRect();
            if (r.width == 0 || r.right > innerWidth - 470 || r.left < 0 || r.top < 40 || r.bottom > innerHeight - 40)
                continue;
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            if (hit && hit.closest('[data-track-id]') === el) return Number(el.dataset.trackId);
        }
        return null; }""", [i for i, t in tracks.items() if t["identity_reason"]])
    assert tid is not None, "no uncovered track symbol with an identity reason"
    p.page.locator(f".leaflet-marker-pane [data-track-id='{tid}']").click()
    p.page.wait_for_selector(f"#details-panel[data-track-id='{tid}']:not([hidden])")
    reason = p.page.locator("#details .identity-reason")
    sync_api.expect(reason).to_have_text(tracks[tid]["identity_reason"])
    details = p.page.locator("#details").inner_text()
    assert tracks[tid]["threat_level"] in details
    assert tracks[tid]["sources"] in details
    # a row of the table opens the same details
    other = next(i for i in tracks if i != tid)
    p.page.locator(f"tr[data-track-row='{other}']").click()
    p.page.wait_for_selector(f"#details-panel[data-track-id='{other}']")
    sync_api.expect(p.page.locator("#details .identity-reason")).to_have_text(tracks[other]["identity_reason"])
    p.page.screenshot(path=str(service.artifacts / "details.png"))


def test_operator_acknowledges_an_alert_by_clicking(operator_page, service):
    p = operator_page
    open_alerts = unacknowledged(service)
    assert open_alerts, "the run raised no alert to acknowledge"
    aid = open_alerts[0]["id"]
    item = p.page.locator(f"li.alert[data-alert-id='{aid}']")
    item.locator("button.ack").click()
    sync_api.expect(item).to_have_attribute("data-acknowledged", "true")
    acked = next(a for a in api(service, "/api/alerts") if a["id"] == aid)
    assert acked["acknowledged"] is not None and acked["acknowledged_by"] == "operator"
    assert any(e["event"] == "acknowledged" for e in acked["timeline"])
    assert p.errors == []


def test_viewer_cannot_acknowledge(viewer_page, service):
    p = viewer_page
    open_alerts = unacknowledged(service)
    assert open_alerts, "no unacknowledged alert left"
    aid = open_alerts[0]["id"]
    item = p.page.locator(f"li.alert[data-alert-id='{aid}']")
    item.locator("button.ack").click()
    refusal = item.locator(".alert-error")
    sync_api.expect(refusal).to_be_visible()
    sync_api.expect(refusal).to_contain_text("403")
    sync_api.expect(p.page.locator("#alert-error")).to_contain_text("Not allowed")
    assert item.get_attribute("data-acknowledged") == "false"
    p.page.wait_for_timeout(2500)  # heartbeats and deltas go by: the refusal stays under its alert
    sync_api.expect(item.locator(".alert-error")).to_contain_text("403")
    still = next(a for a in api(service, "/api/alerts") if a["id"] == aid)
    assert still["acknowledged"] is None
    # the browser logs the refused request; nothing else went wrong
    assert [e for e in p.errors if "403" not in e] == []


def test_time_slider_shows_a_past_picture(viewer_page, service):
    p = viewer_page
    t = 30.0
    past = api(service, f"/api/picture?t={t}")
    p.page.eval_on_selector("#slider", "(s, t) => { s.value = t; s.dispatchEvent(new Event('change')); }", t)
    sync_api.expect(p.page.locator("#view-state")).to_have_text("HISTORY")
    sync_api.expect(p.page.locator("#clock")).to_have_text("T+00:00:30")
    wait_js(p.page, f"document.body.dataset.trackCount == '{len(past['tracks'])}'")
    assert p.symbols().count() == len(past["tracks"])
    # back to the live picture
    p.page.locator("#btn-live").click()
    sync_api.expect(p.page.locator("#view-state")).to_have_text("LIVE")
    wait_js(p.page, "document.querySelectorAll('.leaflet-marker-pane [data-track-id]').length == "
                             f"{len(api(service, '/api/tracks'))}")


def test_the_page_reconnects_when_the_websocket_drops(operator_page, service):
    p = operator_page
    sockets = []
    p.page.on("websocket", lambda ws: sockets.append(ws.url))
    p.page.evaluate("window.airpicture.dropConnection()")
    wait_js(p.page, "document.body.dataset.conn != 'up'")
    wait_js(p.page, "document.body.dataset.conn == 'up'")
    assert len(sockets) == 1 and "/ws?token=" in sockets[0]  # a new socket, with the token
    # the new snapshot gives the same picture
    wait_js(p.page, "document.querySelectorAll('.leaflet-marker-pane [data-track-id]').length == "
                             f"{len(api(service, '/api/tracks'))}")
    assert p.errors == []


def test_operator_overrides_an_identity_and_a_viewer_cannot(browser, service):
    tid = next(t["track_id"] for t in api(service, "/api/tracks") if t["identity"] != "hostile")
    viewer = Page(browser, service, "viewer")
    try:
        viewer.page.locator(f"tr[data-track-row='{tid}']").click()
        viewer.page.select_option("#override-identity", "hostile")
        viewer.page.fill("#override-why", "browser test: a viewer tries")
        viewer.page.locator("#override-set").click()
        sync_api.expect(viewer.page.locator("#override-result")).to_contain_text("Not allowed")
    finally:
        viewer.close()
    assert api(service, f"/api/tracks/{tid}")["track"]["identity"] != "hostile"
    operator = Page(browser, service, "operator")
    try:
        operator.page.locator(f"tr[data-track-row='{tid}']").click()
        operator.page.select_option("#override-identity", "hostile")
        operator.page.fill("#override-why", "browser test: seen launching")
        operator.page.locator("#override-set").click()
        sync_api.expect(operator.page.locator("#override-result")).to_have_class("ok")
        detail = api(service, f"/api/tracks/{tid}")
        assert detail["track"]["identity"] == "hostile"
        assert detail["identity"]["override"]["who"] == "operator"
        sync_api.expect(operator.page.locator(f".leaflet-marker-pane [data-track-id='{tid}']")).to_have_attribute(
            "data-identity", "hostile")
        assert operator.errors == []
    finally:
        operator.close()
