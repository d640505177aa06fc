"""The browser tests' one headless Chromium per session (Playwright's sync API allows one at a time)."""
import pytest

from browser_helpers import CHROMIUM_ARGS, find_chromium


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()
