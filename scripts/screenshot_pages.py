"""Screenshot every page of the app after its first Run, at several window widths, for a person to look at
(issue 29: "screenshots of every page at 1280 and 1920 looked at").

    .venv/bin/python scripts/screenshot_pages.py                       # 1280 and 1920 px, every page
    .venv/bin/python scripts/screenshot_pages.py --widths 1280 --pages home concept_attack

One server (``python app.py``, as ``make app`` starts it) with an empty result cache; per width and page a new
browser session opens the page, waits until it is idle, presses its first "Run…" button (if any), waits again and
saves the whole page to ``test-artifacts/screenshots/<width>/<page>.png``. Prints one line per page: seconds, the
error boxes and exceptions it showed (a page with one exits with status 1).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))
sys.path.insert(0, str(ROOT))

from browser_helpers import (ARTIFACTS, CHROMIUM_ARGS, StreamlitServer, alert_texts, click_and_wait,  # noqa: E402
                             discover_pages, find_chromium, first_run_button, full_page_screenshot, wait_idle)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[1280, 1920])
    ap.add_argument("--pages", nargs="+", default=None, help="page file stems (default: every page of app.py)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per load and per run (default 300)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    pages = [p for p in discover_pages() if args.pages is None or p.name in args.pages]
    runs = Path(tempfile.mkdtemp(prefix="sem-shots-results-"))
    server = StreamlitServer(startup_timeout=120, results_dir=runs,
                             env={"SEM_CACHE_DIR": tempfile.mkdtemp(prefix="sem-shots-cache-"), "SEM_PRECOMPUTE": "0"})
    server.start()
    bad = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            for width in args.widths:
                for app_page in pages:
                    ctx = browser.new_context(viewport={"width": width, "height": round(width * 9 / 16)})
                    page = ctx.new_page()
                    t0 = time.monotonic()
                    try:
                        page.goto(f"{server.url}/{app_page.url_path}")
                        page.wait_for_selector('[data-testid="stAppViewContainer"]', state="attached")
                        wait_idle(page, args.timeout)
                        button = first_run_button(page)
                        if button is not None:
                            click_and_wait(page, button, args.timeout)
                        shot = ARTIFACTS / "screenshots" / str(width) / f"{app_page.name}.png"
                        full_page_screenshot(page, shot)
                        problems = alert_texts(page, "Error") + page.locator(
                            '[data-testid="stException"]').all_inner_texts()
                    except Exception as exc:  # noqa: BLE001 - reported per page
                        problems = [f"{type(exc).__name__}: {str(exc).splitlines()[0]}"]
                    finally:
                        ctx.close()
                    bad += bool(problems)
                    print(f"{width} {app_page.name:<22} {time.monotonic() - t0:6.1f} s  "
                          f"{'; '.join(x[:120] for x in problems) or 'ok'}", flush=True)
            browser.close()
    finally:
        server.stop()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
