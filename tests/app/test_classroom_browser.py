"""Classroom checks in real Chromium (issue 14): a deep link as the very first request to a freshly started
server opens its page with its parameters and no "Page not found" dialog, and the guided tour runs start to
finish with clicks on the tour's own buttons only. Screenshots land in test-artifacts/tour/.

Both tests share one server started for this module; the deep-link test runs first, on the fresh server.
Skipped like test_browser.py when Chromium or playwright is missing (unless SEM_REQUIRE_BROWSER=1).
"""
from __future__ import annotations

import os

import pytest

from browser_helpers import ARTIFACTS, StreamlitServer, click_and_wait, find_chromium, full_page_screenshot, wait_idle

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = find_chromium()
MISSING = "Chromium not found" if CHROMIUM is None else "playwright not installed" if sync_playwright is None else None
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(MISSING is not None and os.environ.get("SEM_REQUIRE_BROWSER") != "1",
                                 reason=f"browser test skipped: {MISSING}")]
SHOTS = ARTIFACTS / "tour"
FIRST_REQUESTS: list[str] = []  # what this module's server has been asked, in order


@pytest.fixture(scope="module")
def fresh(browser):
    """(server, browser): a server no browser has talked to yet, and the session's Chromium."""
    if MISSING is not None:
        pytest.fail(f"SEM_REQUIRE_BROWSER=1 but {MISSING}")
    srv = StreamlitServer(startup_timeout=90.0).start()
    yield srv, browser
    srv.stop()


def _open(browser, url: str):
    FIRST_REQUESTS.append(url)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, 120)
    return page


def test_first_request_deep_link_opens_the_page_without_a_dialog(fresh):
    srv, browser = fresh
    assert not FIRST_REQUESTS, "this test must be the server's first request"
    page = _open(browser, f"{srv.url}/concept?eps=0.2")
    full_page_screenshot(page, SHOTS / "deep-link-concept.png")
    dialogs = page.locator('[role="dialog"]').all_inner_texts()
    assert not dialogs, f"a dialog opened on the first deep link: {dialogs}"
    assert page.locator("h1").first.inner_text().startswith("Concept attack")
    eps = page.locator('[data-testid="stNumberInput"] input[aria-label^="ε"]')
    assert eps.input_value() == "0.20"
    page.context.close()


def test_guided_tour_runs_with_the_tour_buttons_only(fresh):
    srv, browser = fresh
    page = _open(browser, f"{srv.url}/tour")
    full_page_screenshot(page, SHOTS / "tour-0-start.png")
    for n in range(1, 5):
        button = page.locator(f'[data-testid="stMain"] .st-key-tour_run{n} button')
        click_and_wait(page, button, 180)
        assert not page.locator('[data-testid="stException"]').count()
        boxes = page.locator('[data-testid="stAlertContentSuccess"]', has_text="What just happened.")
        said = boxes.nth(n - 1).inner_text()
        assert said.startswith("What just happened.") and said.count(". ") >= 1
        page.locator(f"#step-{n}").evaluate("e => e.scrollIntoView({block: 'start'})")  # step n at the top
        page.screenshot(path=str(SHOTS / f"tour-{n}.png"))
    # four "what just happened" boxes (a step's verdict, when the attack worked, is a success box of its own)
    assert page.locator('[data-testid="stAlertContentSuccess"]', has_text="What just happened.").count() == 4
    full_page_screenshot(page, SHOTS / "tour-all.png")
    page.context.close()
