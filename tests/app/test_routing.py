"""Deep links work on a freshly started server.

Streamlit keeps a legacy mode for apps with a folder named `pages/` next to the entry script
(streamlit/runtime/pages_manager.py, ``PagesManager.uses_pages_directory``): until some session has run
app.py's st.navigation, every script run goes through ``_mpa_v1`` (runtime/scriptrunner/script_runner.py),
which lists pages/*.py by file name. A first request for /concept matched no file there, so Streamlit sent
"Page not found" to the browser *before* running app.py, which then routed to the right page underneath
the dialog (streamlit/streamlit issues 8860, 9992; the pages directory is the legacy mechanism, docs:
develop/concepts/multipage-apps/overview). The pages therefore live in `app_pages/`, and no `pages/`
folder may come back. The browser check is tests/app/test_classroom_browser.py.
"""
from pathlib import Path

from tests.app.browser_helpers import ROOT, discover_pages


def test_no_legacy_pages_folder_next_to_the_entry_script():
    assert not (ROOT / "pages").exists(), ("a pages/ folder next to app.py turns on Streamlit's legacy "
                                           "multipage mode: the first deep link after a start shows 'Page not found'")


def test_every_routed_page_exists():
    for page in discover_pages():
        assert (ROOT / page.script).is_file(), page.script
        assert Path(page.script).parts[0] == "app_pages"
