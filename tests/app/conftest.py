"""The browser tests' one headless Chromium per session (Playwright's sync API allows one at a time), and a fresh
attack service with an empty result cache for the page tests that count its batches."""
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import app_test

from browser_helpers import CHROMIUM_ARGS, find_chromium
from sem_core.serve.service import get_service, reset_service


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def fresh_service(monkeypatch, tmp_path):
    """An empty result cache in a temporary folder, and a new service using it."""
    monkeypatch.setenv("SEM_CACHE_DIR", str(tmp_path))
    reset_service()
    yield get_service()
    reset_service()


@pytest.fixture
def media(monkeypatch):
    """The media managers of the AppTest's runs (the last one holds the page's current images and downloads)."""
    made: list[MediaFileManager] = []

    class Recording(MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", Recording)
    return made
