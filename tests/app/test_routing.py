"""Deep links work on a freshly started server.

Streamlit keeps a legacy mode for apps with a `pages/` folder: until some session has run app.py
(and its st.navigation), a request for /NAME runs pages/NAME.py *directly*, with the old
file-list sidebar and without app.py's page config. A shared link such as /experiments to a
just-restarted server would then open a broken view. No page's URL path may equal the stem of a
file in pages/, so that first request falls through to app.py, which routes it properly.
"""
from pathlib import Path

from tests.app.browser_helpers import ROOT, discover_pages


def test_no_url_path_equals_a_pages_file_name():
    stems = {p.stem for p in (ROOT / "pages").glob("*.py")}
    clashes = {p.url_path for p in discover_pages()} & stems
    assert not clashes, f"rename pages/{{{','.join(sorted(clashes))}}}.py: a first deep link would bypass app.py"


def test_every_routed_page_exists():
    for page in discover_pages():
        assert (ROOT / page.script).is_file(), page.script
        assert Path(page.script).parts[0] == "pages"
