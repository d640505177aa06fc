"""A link with more parameters than Streamlit accepts (1,000; it then empties the whole query string before the page
runs) is not opened silently with the defaults: in real Chromium the page says that the link's parameters were all
ignored, and how many there were (app_pages/ui/layout.py: LINK_GUARD_HTML, dropped_link_notice)."""
from __future__ import annotations

import pytest

from browser_helpers import browser_marks, started_server, wait_idle

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
