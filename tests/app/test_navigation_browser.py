"""Navigation in real Chromium (app_pages/ui/layout.py: PAGE_SCRIPT_HTML; app_pages/ui/state.py: stale_notice):
- a link with more parameters than Streamlit accepts (1,000: it then empties the whole query string before the page
  runs) is not opened silently with the defaults: the page says the link's parameters were all ignored, and how many;
- one Back returns from the page the guided tour opened to the tour (query-string changes replace the history entry);
- a control changed after a Run flags the result below it as computed with the previous settings."""
from __future__ import annotations

import pytest

from browser_helpers import browser_marks, click_and_wait, started_server, wait_idle

pytestmark = browser_marks()


@pytest.fixture(scope="module")
def server():
    srv = started_server()
    yield srv
    srv.stop()


def _warnings(page) -> list[str]:
    return page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts()


def test_a_link_over_the_parameter_limit_says_its_parameters_were_ignored(server, browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    query = "eps=0.2&" + "&".join(f"p{i}=1" for i in range(1200))
    page.goto(f"{server.url}/concept?{query}", wait_until="domcontentloaded")
    # the page reloads once (?link_dropped=N replaces the URL), then says so
    page.locator('[data-testid="stAlertContentWarning"]', has_text="parameters").wait_for(timeout=90_000)
    wait_idle(page, 120)
    text = " ".join(_warnings(page))
    assert "1,201 parameters" in text and "ignored" in text, _warnings(page)
    assert "link_dropped" not in page.url                 # the notice is shown once; the URL is clean again
    page.context.close()


def test_a_link_under_the_limit_opens_with_its_parameters_and_no_notice(server, browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server.url}/concept?eps=0.2&" + "&".join(f"p{i}=1" for i in range(900)), wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, 120)
    assert not any("parameters" in w for w in _warnings(page))
    eps = page.locator('[data-testid="stNumberInput"] input[aria-label^="ε"]')
    assert eps.input_value() == "0.20"
    page.context.close()


def test_back_returns_to_the_tour_after_exploring_a_step_on_its_own_page(server, browser):
    """Changes of the query string (controls bound to the URL, the result the page names) replace the history entry:
    one Back from the page the tour opened returns to the tour (it took 4)."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/tour", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, 120)
    click_and_wait(page, page.locator('[data-testid="stMain"] .st-key-tour_run1 button'), 180)
    explore = page.get_by_text("Explore this on its own page").first
    explore.click()
    page.wait_for_url("**/concept**", timeout=120_000, wait_until="commit")
    wait_idle(page, 180)
    assert "/concept" in page.url and "result=concept" in page.url      # the page named its result in the URL
    page.go_back()
    page.wait_for_url("**/tour**", timeout=60_000, wait_until="commit")
    wait_idle(page, 120)
    assert page.locator("h1").first.inner_text().startswith("Guided tour") or "/tour" in page.url
    page.context.close()


def test_a_control_changed_after_a_run_flags_the_result_as_stale(server, browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/concept?steps=10&result=concept", wait_until="domcontentloaded")
    page.get_by_text("Did the attack work?").first.wait_for(timeout=180_000)   # the link computed its result
    wait_idle(page, 120)
    assert not [w for w in _warnings(page) if "Settings changed" in w]
    eps = page.locator('[data-testid="stNumberInput"] input[aria-label^="ε"]')
    eps.fill("0.20")
    eps.press("Enter")
    page.locator('[data-testid="stAlertContentWarning"]', has_text="Settings changed").wait_for(timeout=60_000)
    wait_idle(page, 120)
    assert page.get_by_text("Did the attack work?").count()        # the old result is still there, flagged
    click_and_wait(page, page.get_by_role("button", name="Run concept attack"), 180)
    assert not [w for w in _warnings(page) if "Settings changed" in w]
    page.context.close()
