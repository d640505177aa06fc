"""Real-browser test: serve the app with `streamlit run`, open every page of app.py's navigation in
headless Chromium (Playwright), click the page's first "Run…" button, and check that the page ends
with no exception box and shows a result. One full-page screenshot per page lands in
test-artifacts/screenshots/<page>.png, a summary in test-artifacts/browser-report.json and the
server's output in test-artifacts/streamlit.log.

Skipped when Chromium or the playwright package is missing, unless SEM_REQUIRE_BROWSER=1 (set by
.ci/run once it has Chromium), which turns the skip into a failure.
"""
from __future__ import annotations

import json
import os
import time
from urllib.parse import urlparse

import pytest

from browser_helpers import (
    ARTIFACTS,
    SCREENSHOTS,
    StreamlitServer,
    alert_texts,
    button_label,
    click_and_wait,
    content_counts,
    discover_pages,
    find_chromium,
    first_run_button,
    full_page_screenshot,
    wait_idle,
)

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = find_chromium()
MISSING = (
    "Chromium not found (/usr/bin/chromium or `chromium` on PATH; Debian: apt-get install chromium)"
    if CHROMIUM is None
    else "the playwright package is not installed (pip install -r requirements.txt)"
    if sync_playwright is None
    else None
)
REQUIRED = os.environ.get("SEM_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=f"browser test skipped: {MISSING}"),
]

PAGES = discover_pages()
LOAD_TIMEOUT = 120.0  # first script run of a page (loads models and data)
RUN_TIMEOUT = 180.0  # the run started by the page's "Run…" button
VIEWPORT = {"width": 1400, "height": 1000}
REPORT: dict[str, dict] = {}
# pages whose first view holds only controls, with where their content is tested
LOBBIES = {"quiz": "opens or joins a room; the room's pictures, tally and reveal: tests/app/test_quiz_browser.py"}


@pytest.fixture(scope="session")
def server():
    if MISSING is not None:
        pytest.fail(f"SEM_REQUIRE_BROWSER=1 but {MISSING}")
    srv = StreamlitServer(startup_timeout=90.0).start()
    yield srv
    srv.stop()


@pytest.fixture
def page(browser):  # browser: one headless Chromium for the session (tests/app/conftest.py)
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.page_errors = []
    pg.on("pageerror", lambda exc: pg.page_errors.append(str(exc)))
    yield pg
    context.close()


def _write_report():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "browser-report.json").write_text(json.dumps(REPORT, indent=2) + "\n")


def test_app_declares_pages():
    assert PAGES, "no st.Page(\"app_pages/….py\") found in app.py"


@pytest.mark.parametrize("app_page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_in_browser(server, page, app_page):
    entry = REPORT[app_page.name] = {"url": f"{server.url}/{app_page.url_path}", "title": app_page.title}
    t0 = time.monotonic()
    button = None
    try:
        page.goto(entry["url"], wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
        wait_idle(page, LOAD_TIMEOUT)
        entry["load_s"] = round(time.monotonic() - t0, 1)

        button = first_run_button(page)
        entry["run_button"] = None if button is None else button_label(button)
        if button is not None:
            t1 = time.monotonic()
            click_and_wait(page, button, RUN_TIMEOUT)
            entry["run_s"] = round(time.monotonic() - t1, 1)
    finally:  # screenshot and report also when loading or the run times out
        entry["total_s"] = round(time.monotonic() - t0, 1)
        exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
        entry.update(
            content=content_counts(page),
            exceptions=[e[:2000] for e in exceptions],
            errors=alert_texts(page, "Error"),
            warnings=alert_texts(page, "Warning"),
            page_errors=page.page_errors,
        )
        shot = SCREENSHOTS / f"{app_page.name}.png"
        full_page_screenshot(page, shot)
        entry["screenshot"] = str(shot.relative_to(ARTIFACTS.parent))
        _write_report()

    assert not exceptions, f"{app_page.title}: exception box(es):\n" + "\n---\n".join(exceptions)
    if app_page.name in LOBBIES:
        assert not entry["errors"], entry["errors"]
        return
    assert sum(entry["content"].values()) >= 1, (
        f"{app_page.title}: no metric, image, chart or table after "
        f"{'clicking ' + repr(entry['run_button']) if button is not None else 'loading'}; "
        f"error boxes: {entry['errors']}"
    )


def test_navigation_lists_every_page(server, page):
    """The sidebar's navigation and app.py's st.Page list agree (catches pages this test missed)."""
    page.goto(server.url + "/", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, LOAD_TIMEOUT)
    links = page.locator('[data-testid="stSidebarNavLink"]')
    if len(PAGES) <= 1:  # Streamlit shows no navigation for a single page
        assert links.count() == 0
        return
    paths = {urlparse(h).path.strip("/") for h in links.evaluate_all("els => els.map(e => e.href)")}
    assert paths == {p.url_path for p in PAGES}


# A hand-edited URL must not put attacker Markdown (a link, a remote image) into the app's own warning.
INJECTIONS = {
    "backtick-link": "concept?eps=x%60%20**Session%20expired**%20[Log%20in](https://evil.example)%20%60",
    "image": "prototype?digits=![i](http://127.0.0.1:9/x.png)",
    "bare-address": "lipschitz?lip_n=www.evil.example%20a@evil.example",
}


@pytest.mark.parametrize("path", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_url_injection_shows_plain_warning(server, page, path):
    page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, LOAD_TIMEOUT)
    boxes = page.locator('[data-testid="stAlertContentWarning"]')
    texts = boxes.all_inner_texts()
    assert any(t.startswith("Ignored ") for t in texts), texts
    assert boxes.locator("a, img, code, strong, em").count() == 0, boxes.evaluate_all("els => els.map(e => e.innerHTML)")
    assert not page.locator('[data-testid="stException"]').count()
