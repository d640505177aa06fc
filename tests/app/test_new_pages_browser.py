"""The Sanity checks, Robustness card and Leaderboard pages in real Chromium: each driven as a user would, its result
checked on screen and in its download, and a 1280-px-wide picture of it in docs/screenshots/ (sanity.png,
robustness-card.png, leaderboard.png). The leaderboard needs the verified cards shipped in results/cards/."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from browser_helpers import (ROOT, alert_texts, browser_marks, click_and_wait, full_page_screenshot, started_server,
                             wait_idle)
from sem_core import list_shipped

pytestmark = browser_marks()
DOCS_SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One app server; experiments it runs (the card) go to a temporary $SEM_RESULTS_DIR, results to a fresh cache."""
    tmp = tmp_path_factory.mktemp("new_pages")
    srv = started_server(results_dir=tmp / "results", env={"SEM_CACHE_DIR": str(tmp / "cache")})
    yield srv
    srv.stop()


def _open(server, browser, path: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
    wait_idle(page, 120)
    return page


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    box = page.locator('[data-testid="stSelectbox"]', has=page.get_by_text(label, exact=True))
    box.locator('[role="combobox"]').click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page, 120)


def _set_number(page, label: str, value: int) -> None:
    box = page.locator(f'[data-testid="stNumberInput"] input[aria-label="{label}"]')
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page, 120)


def _download(page, button_name: str, popover: str | None = None) -> bytes:
    """The bytes a download button delivers (opening its popover first)."""
    if popover:
        page.locator('[data-testid="stPopover"] button', has_text=popover).first.click()
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name=button_name).click()
    return Path(dl.value.path()).read_bytes()


def _no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not alert_texts(page, "Error"), alert_texts(page, "Error")


def _run(server, browser, path: str, model: str, digits: tuple[str, int], button: str, timeout: float):
    """The page at ``path`` with ``model`` chosen and the number input ``digits`` = (label, value) set, after a click
    on ``button`` and the run it starts, checked for errors."""
    page = _open(server, browser, path)
    _choose(page, "Model", model)
    _set_number(page, *digits)
    click_and_wait(page, page.get_by_role("button", name=button), timeout)
    _no_errors(page)
    return page


def test_sanity_page_runs_on_the_cnn_and_its_slider_and_download_work(server, browser):
    page = _run(server, browser, "sanity", "cnn", ("Digits", 2), "Run sanity check", 300)
    assert page.get_by_text("cnn: 2 test digits, cascading randomisation").count() == 1
    assert page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentWarning"]').count() >= 1
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2          # the maps and the similarity lines
    thumb = page.locator('[data-testid="stSlider"] input[type="range"]')
    assert "features.0" in thumb.get_attribute("aria-valuetext")               # the whole network randomised
    thumb.focus()
    thumb.press("Home")                                                        # back to the output layer only
    wait_idle(page, 120)
    assert "features.0" not in thumb.get_attribute("aria-valuetext")
    _no_errors(page)
    full_page_screenshot(page, DOCS_SHOTS / "sanity.png")
    doc = json.loads(_download(page, "medians (JSON)", popover="Download the result"))
    assert set(doc) >= {"saliency", "gradxinput"}, doc                          # a median per layer per explainer
    page.context.close()


@pytest.mark.slow
def test_card_page_makes_a_card_and_its_json_names_the_model(server, browser):
    page = _run(server, browser, "card", "senn-k5", ("Number of digits N", 1), "Make the card", 600)
    heading = page.locator('[data-testid="stMain"] h3').first.inner_text()
    assert "fragile" in heading.lower() or "robust" in heading.lower(), heading
    table = page.locator('[data-testid="stTable"]')
    assert table.count() == 1
    text = table.inner_text()
    assert "Value [95 % interval]" in text and "Concepts" in text and "Grad × input" in text, text
    assert "gradxinput" not in text and "theta_pred" not in text, text            # explainers by their labels
    assert (server.results_dir / "cards" / "card-senn-k5-n1" / "manifest.json").is_file()
    full_page_screenshot(page, DOCS_SHOTS / "robustness-card.png")
    doc = json.loads(_download(page, "Download card.json"))
    assert doc["model"]["name"] == "senn-k5" and doc["run"]["n"] == 1
    page.context.close()


def test_leaderboard_ranks_the_shipped_cards_with_intervals(server, browser):
    page = _open(server, browser, "leaderboard")
    _no_errors(page)
    assert not alert_texts(page, "Warning"), alert_texts(page, "Warning")     # every shipped card verified
    table = page.locator('[data-testid="stTable"]').first
    table.wait_for()
    text = table.inner_text()
    rows = [[c.inner_text().strip() for c in tr.locator("th, td").all()]      # Rank, Model, Accuracy, the headlines…
            for tr in table.locator("tbody tr").all()]
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1)), text   # ranked 1..n
    assert {r[1] for r in rows} == set(list_shipped()), text                   # every shipped model has its card
    assert all(re.fullmatch(r"-?[0-9.]+ \[-?[0-9.]+, -?[0-9.]+\]", r[3]) for r in rows), text   # 95 % intervals
    markdown = _download(page, "Download the leaderboard (Markdown)").decode()
    assert markdown.startswith("# Explanation-robustness leaderboard") and "| 1 |" in markdown
    full_page_screenshot(page, DOCS_SHOTS / "leaderboard.png")
    page.context.close()
