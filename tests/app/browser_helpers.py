"""Helpers for the real-browser test (tests/app/test_browser.py): page discovery, the Streamlit
server, Chromium, and waiting for a Streamlit run to finish. No pytest fixtures here."""
from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# Flags that work on these machines (closed network, root, no GPU, no display).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Playwright gives every launch() a fresh, empty temporary profile (it refuses --user-data-dir).


def find_chromium() -> str | None:
    """The Chromium to drive: $SEM_CHROMIUM, Debian's /usr/bin/chromium, or one on PATH."""
    for cand in (os.environ.get("SEM_CHROMIUM"), "/usr/bin/chromium"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class AppPage:
    script: str  # "app_pages/home.py"
    url_path: str  # "" for the default page
    title: str

    @property
    def name(self) -> str:  # used for test ids and screenshot file names
        return Path(self.script).stem


def _inferred_name(script: str) -> str:
    """The pathname Streamlit infers from a page's file name (same rule as st.Page)."""
    try:
        from streamlit.source_util import page_icon_and_name

        return page_icon_and_name(Path(script))[1] or Path(script).stem
    except Exception:  # noqa: BLE001 - internal API; fall back to the plain stem
        return Path(script).stem


def discover_pages(app: Path = ROOT / "app.py") -> list[AppPage]:
    """Every `st.Page("app_pages/x.py", ...)` in app.py (file pages only), in source order."""
    tree = ast.parse(app.read_text())
    found: list[tuple[tuple[int, int], AppPage]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "Page")
            or (isinstance(node.func, ast.Name) and node.func.id == "Page")
        )):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        target = node.args[0] if node.args else kw.get("page")
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            continue  # a callable page: not reachable by file name
        script = target.value

        def const(key, default=None):
            v = kw.get(key)
            return v.value if isinstance(v, ast.Constant) else default

        inferred = _inferred_name(script)
        url_path = "" if const("default", False) else str(const("url_path", inferred)).strip().strip("/")
        page = AppPage(script, url_path, const("title") or inferred.replace("_", " "))
        found.append(((node.lineno, node.col_offset), page))
    found.sort(key=lambda lp: (lp[1].url_path != "", lp[0]))  # default page first, then source order
    return [page for _, page in found]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`python app.py` (what `make app` runs) on 127.0.0.1:<free port>, output to test-artifacts/streamlit.log."""

    def __init__(self, startup_timeout: float = 90.0, root: Path = ROOT, results_dir: Path | None = None,
                 env: dict[str, str] | None = None, poll_s: float = 0.5):
        self.root, self.extra_env, self.poll_s = root, dict(env or {}), poll_s
        self.results_dir = results_dir or ARTIFACTS / "results"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / ("streamlit.log" if not self.extra_env else f"streamlit-{self.port}.log")
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> "StreamlitServer":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "app.py",   # as `make app` starts it: the process warms itself (sem_core.serve.preload)
            "--server.headless", "true",
            "--server.address", "127.0.0.1",
            "--server.port", str(self.port),
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",  # no "source changed" prompts mid-test
        ]
        # experiments run from the browser write into test-artifacts (or results_dir), never into the repo's results/
        env = dict(os.environ, PYTHONUNBUFFERED="1", SEM_RESULTS_DIR=str(self.results_dir), **self.extra_env)
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(self.poll_s)
        self.stop()
        raise RuntimeError(f"streamlit did not answer {self.url}/_stcore/health within "
                           f"{self.startup_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------- waiting for Streamlit runs
# stApp carries data-test-script-state ("initial", "running", "notRunning", "rerunRequested", ...)
# and data-test-connection-state; the status widget ("Running...") and spinners show while busy.
BUSY_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return 'no stApp';
  const s = app.getAttribute('data-test-script-state');
  if (s !== 'notRunning') return 'script ' + s;
  if (!document.querySelector('[data-testid="stAppViewContainer"]')) return 'no view container';
  for (const id of ['stStatusWidget', 'stSpinner', 'stSkeleton'])
    if (document.querySelector(`[data-testid="${id}"]`)) return id;
  return '';
}"""

_WATCH_JS = """() => {
  window.__semSawRunning = false;
  const app = document.querySelector('[data-testid="stApp"]');
  const mark = () => { if (app.getAttribute('data-test-script-state') !== 'notRunning') window.__semSawRunning = true; };
  new MutationObserver(mark).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  if (document.querySelector('[data-testid="stStatusWidget"]')) window.__semSawRunning = true;
}"""


def wait_idle(page, timeout: float, settle: float = 1.5) -> None:
    """Wait until the script is not running and nothing is busy, continuously for `settle` s."""
    deadline = time.monotonic() + timeout
    idle_since = None
    reason = "?"
    while time.monotonic() < deadline:
        reason = page.evaluate(BUSY_JS)
        now = time.monotonic()
        if reason == "":
            idle_since = idle_since or now
            if now - idle_since >= settle:
                return
        else:
            idle_since = None
        page.wait_for_timeout(200)
    raise TimeoutError(f"Streamlit still busy after {timeout:.0f} s ({reason})")


def click_and_wait(page, button, timeout: float) -> None:
    """Click a button and wait for the rerun it starts to finish."""
    page.evaluate(_WATCH_JS)
    button.click()
    try:  # the rerun starts within a moment; a very quick one may already be over
        page.wait_for_function("() => window.__semSawRunning === true", timeout=10_000)
    except Exception:  # noqa: BLE001 - playwright TimeoutError; wait_idle decides
        pass
    wait_idle(page, timeout)


_TEXT_WITHOUT_ICONS_JS = """el => {
  const c = el.cloneNode(true);
  c.querySelectorAll('[data-testid="stIconMaterial"], [role="img"]').forEach(n => n.remove());
  return c.textContent.trim();
}"""
RUN_LABEL = re.compile(r"^[^\w]*Run\b")


def button_label(button) -> str:
    """A button's label without Material icon names ("play_arrow Run" -> "Run")."""
    return button.evaluate(_TEXT_WITHOUT_ICONS_JS)


def first_run_button(page):
    """The first enabled button in the main area whose label starts with "Run", or None."""
    buttons = page.locator('[data-testid="stMain"] button')
    for i in range(buttons.count()):
        b = buttons.nth(i)
        if b.is_visible() and b.is_enabled() and RUN_LABEL.match(button_label(b)):
            return b
    return None


CONTENT_SELECTORS = {
    "metric": '[data-testid="stMetric"]',
    "image": '[data-testid="stMain"] [data-testid="stImage"]',
    "plotly": '[data-testid="stPlotlyChart"]',
    "dataframe": '[data-testid="stDataFrame"]',
    "table": '[data-testid="stTable"]',
    "vega": '[data-testid="stVegaLiteChart"]',
}


def content_counts(page) -> dict[str, int]:
    return {k: page.locator(sel).count() for k, sel in CONTENT_SELECTORS.items()}


def full_page_screenshot(page, path: Path, max_height: int = 12_000) -> None:
    """Streamlit scrolls inside <main data-testid="stMain">, so Playwright's full_page only sees
    the viewport: grow the viewport to the main area's scroll height, shoot, restore."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate("""() => {
      const m = document.querySelector('[data-testid="stMain"]');
      const s = document.querySelector('[data-testid="stSidebarContent"]');
      return Math.max(m ? m.scrollHeight : 0, s ? s.scrollHeight : 0, document.body.scrollHeight);
    }""")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), max_height)})
    page.mouse.move(0, 0)  # no hover effects (plotly mode bars, button highlights) in the picture
    page.wait_for_timeout(800)  # let charts re-lay out
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def alert_texts(page, kind: str = "Error") -> list[str]:
    """Texts of st.error (kind="Error") / st.warning (kind="Warning") boxes."""
    return [t.strip() for t in page.locator(f'[data-testid="stAlertContent{kind}"]').all_inner_texts()]


def browser_missing() -> str | None:
    """Why no real-browser test can run here (no Chromium, no playwright), or None."""
    if find_chromium() is None:
        return "Chromium not found"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the machine
        return "playwright not installed"
    return None


def browser_marks() -> list:
    """A browser test module's ``pytestmark``: marked ``browser``, skipped when it cannot run (unless
    SEM_REQUIRE_BROWSER=1, where its server fixture fails instead: see ``started_server``)."""
    import pytest

    missing = browser_missing()
    return [pytest.mark.browser, pytest.mark.skipif(missing is not None and os.environ.get("SEM_REQUIRE_BROWSER") != "1",
                                                    reason=f"browser test skipped: {missing}")]


def started_server(**kwargs):
    """A started ``StreamlitServer`` for a module fixture (``yield`` it, then ``stop()``); fails the test when
    SEM_REQUIRE_BROWSER=1 and no browser can run."""
    import pytest

    missing = browser_missing()
    if missing is not None:
        pytest.fail(f"SEM_REQUIRE_BROWSER=1 but {missing}")
    return StreamlitServer(startup_timeout=90.0, **kwargs).start()
