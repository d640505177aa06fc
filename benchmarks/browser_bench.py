"""Shared parts of the real-browser benchmarks (bench_load.py, bench_latency.py), not a benchmark itself: the app
server with its own result cache, headless Chromium through playwright's async API (or a clean skip without it),
timing one click until its result shows, and the CPU seconds of the processes involved.

A result has shown when the page's result line appears: "result from the cache" or "queued Q s, computed C s"
(app_pages.common.timing_caption; every page that runs service jobs shows it), or the line a caller names (the
Experiments page: "Your run finished: N chunks computed, M reused …").
"""
from __future__ import annotations

import asyncio
import atexit
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))
sys.path.insert(0, str(ROOT))

from browser_helpers import CHROMIUM_ARGS, StreamlitServer, BUSY_JS, find_chromium  # noqa: E402

RESULT_RE = re.compile(r"result from the cache|queued ([0-9.]+) s, computed ([0-9.]+) s")
CACHED_RE = re.compile(r"from the cache|\b0 chunks computed")  # served from stored work (an experiment: its chunks)
_RESULT_JS = """(pattern) => { const m = document.body.innerText.match(new RegExp(pattern)); return m ? m[0] : null; }"""
# The same wait without polling: a MutationObserver checks the page's text (textContent: no layout) whenever the DOM
# changes. Polling innerText every 50 ms forced a full layout of the page 20 times a second, in each of the 20
# pages of bench_load.py: work no real user's browser does, taken from the cores the app and the other sessions use.
_RESULT_OBSERVER_JS = """(pattern) => new Promise(resolve => {
  const re = new RegExp(pattern);
  const found = () => { const m = document.body.textContent.match(re); if (m) resolve(m[0]); return !!m; };
  if (found()) return;
  const obs = new MutationObserver(() => { if (found()) obs.disconnect(); });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true});
})"""
_ERRORS_JS = """() => [...document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]')]
                 .map(e => e.innerText.trim())"""


def browser_missing() -> str | None:
    """Why the browser benchmarks cannot run here (no Chromium, no playwright package), or None."""
    if find_chromium() is None:
        return "Chromium not found (/usr/bin/chromium or `chromium` on PATH; Debian: apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return None


def require_browser(quick: bool) -> None:
    """Return when Chromium and playwright are here. Otherwise, as tests/app/test_browser.py: with --quick print
    "skipped: <why>" and exit 0 (a smoke run on a machine without a browser), unless SEM_REQUIRE_BROWSER=1, which
    turns the skip into a failure; without --quick exit with the reason (exit status 1)."""
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get("SEM_REQUIRE_BROWSER") == "1":
        raise SystemExit(f"SEM_REQUIRE_BROWSER=1 but {missing}")
    if quick:
        print(f"skipped: {missing}", flush=True)
        raise SystemExit(0)
    raise SystemExit(missing)


def start_server(*, ttl_s: int | None = None) -> tuple[StreamlitServer, str]:
    """The app on a loopback port with an empty result cache of its own (cold) and no background precompute."""
    cache = tempfile.mkdtemp(prefix="sem-bench-cache-")
    os.environ.update(SEM_CACHE_DIR=cache, SEM_PRECOMPUTE="0")
    if ttl_s is not None:  # how long Streamlit keeps a disconnected session's state (its default is 120 s)
        os.environ["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(ttl_s)
    runs = Path(tempfile.mkdtemp(prefix="sem-bench-results-"))  # experiment runs: none yet (cold)
    for folder in (cache, runs):  # removed when the benchmark ends
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return StreamlitServer(startup_timeout=180, results_dir=runs).start(), cache


async def launch(playwright):
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (install Debian's chromium or set SEM_CHROMIUM)")
    return await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


async def renderer_cpu(cdp) -> float:
    """Seconds the page's renderer main thread has been busy (Chromium's TaskDuration, from the DevTools Performance
    domain, enabled on ``cdp``): its CPU time only when the machine is otherwise idle, else it includes waiting for
    a core."""
    return {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}["TaskDuration"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has spent (psutil)."""
    import psutil

    return sum(psutil.Process(pid).cpu_times()[:2])


# The same test as BUSY_JS, run by the page itself every 100 ms until it has held for ``settle`` ms: one DevTools
# round trip per wait. Asking from here every 100 ms (the method until the last session of 2026-12-05) was, with 20
# pages waiting, 200 round trips a second through this process, Playwright's driver and Chromium's browser process:
# ≈ 0.15 of a core on this machine (an ad-hoc count, 20 idle pages for 15 s), work no student's browser does.
_IDLE_JS = """([busy, settleMs]) => new Promise(resolve => {
  const isBusy = eval(busy);
  let since = null;
  const check = () => {
    if (isBusy() === '') {
      since = since ?? performance.now();
      if (performance.now() - since >= settleMs) return resolve(true);
    } else {
      since = null;
    }
    setTimeout(check, 100);
  };
  check();
})"""


async def wait_idle(page, timeout: float, settle: float = 0.5) -> None:
    """The script finished and nothing is busy for ``settle`` seconds (as tests/app/browser_helpers.wait_idle, async),
    watched by the page itself."""
    try:
        await asyncio.wait_for(page.evaluate(_IDLE_JS, [BUSY_JS, settle * 1000]), timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"page still busy after {timeout:.0f} s") from None


async def dismiss_dialogs(page) -> list[str]:
    """Close any modal dialog (the first deep link after a server start shows "Page not found": issue 14) and
    return their texts, so the benchmark can report them instead of failing on a blocked click."""
    dialogs = page.locator('[role="dialog"]')
    texts = [t.strip().splitlines()[0] for t in await dialogs.all_inner_texts() if t.strip()]
    if texts:
        await page.keyboard.press("Escape")
        await dialogs.first.wait_for(state="detached", timeout=10_000)
    return texts


async def click_to_result(page, button_name: str, timeout: float, result_re: re.Pattern = RESULT_RE,
                          watch: str = "observer") -> dict:
    """Click the button and time: until the result line shows (``to_result_s``), and until the page is idle
    with every figure drawn (``to_idle_s``). Also the result line, queue/compute seconds it reports, and errors.
    ``result_re``: what the result line looks like (default: the service's timing caption). ``watch``: how the
    result line is waited for: "observer" (a MutationObserver in the page, no polling; the default) or "poll"
    (innerText every 50 ms, as before 2026-12-04; it costs each page a full layout per poll)."""
    page.set_default_timeout(timeout * 1000)
    dialogs = await dismiss_dialogs(page)
    button = page.get_by_role("button", name=button_name, exact=True)
    await button.wait_for(state="visible", timeout=timeout * 1000)
    t0 = time.monotonic()
    await button.click()
    if watch == "poll":
        handle = await page.wait_for_function(_RESULT_JS, arg=result_re.pattern, timeout=timeout * 1000, polling=50)
        to_result = time.monotonic() - t0
        text = await handle.json_value()
    elif watch == "observer":
        text = await asyncio.wait_for(page.evaluate(_RESULT_OBSERVER_JS, result_re.pattern), timeout)
        to_result = time.monotonic() - t0
    else:
        raise ValueError(f"watch must be 'observer' or 'poll', not {watch!r}")
    await wait_idle(page, timeout)
    to_idle = time.monotonic() - t0 - 0.5  # wait_idle's settle time is not the page's
    m = RESULT_RE.search(text)
    queue_s, compute_s = (float(m.group(1)), float(m.group(2))) if m and m.group(1) else (0.0, 0.0)
    return {"to_result_s": to_result, "to_idle_s": max(to_idle, to_result), "queue_s": queue_s,
            "compute_s": compute_s, "cached": bool(CACHED_RE.search(text)), "errors": await page.evaluate(_ERRORS_JS),
            "dialogs": dialogs}


class RssSampler:
    """Samples a process's resident memory every ``every`` seconds in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, every: float = 0.25):
        import psutil

        self.proc, self.every, self.peak = psutil.Process(pid), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self.rss())

    def __enter__(self):
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class CpuByProcess:
    """CPU seconds (user + system) each kind of process on the machine spent while the ``with`` block ran: the app
    server, Chromium's processes by their ``--type`` (renderer, gpu-process, utility; none: the browser process),
    Playwright's driver, this benchmark, and the rest. Processes are sampled every ``every`` seconds, so one that
    starts and ends between two samples is missed (they are Chromium's short helpers, if any)."""

    def __init__(self, server_pid: int, every: float = 0.5):
        self.server_pid, self.every = server_pid, every
        self._start: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _kind(self, p) -> str:
        if p.pid == self.server_pid:
            return "app server"
        if p.pid == os.getpid():
            return "this benchmark"
        cmd = p.cmdline()
        name = os.path.basename(cmd[0]) if cmd else p.name()
        if "chrom" in name:
            kind = next((a.split("=", 1)[1] for a in cmd if a.startswith("--type=")), "browser")
            return f"chromium {kind}"
        if name == "node" or "playwright" in " ".join(cmd[:2]):
            return "playwright driver"
        return "other"

    def _sample(self, first: bool = False) -> None:
        import psutil

        for p in psutil.process_iter():
            try:
                t = sum(p.cpu_times()[:2])
                if first:
                    self._start[p.pid] = t
                elif p.pid not in self._last:
                    self._last[p.pid] = (self._kind(p), t)
                else:
                    self._last[p.pid] = (self._last[p.pid][0], t)
            except (psutil.Error, OSError):
                continue

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self):
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def totals(self) -> dict[str, float]:
        """CPU seconds per kind of process, largest first."""
        out: dict[str, float] = {}
        for pid, (kind, t) in self._last.items():
            out[kind] = out.get(kind, 0.0) + t - self._start.get(pid, 0.0)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def tracebacks_in(log_path: Path) -> int:
    try:
        return log_path.read_text(errors="replace").count("Traceback (most recent call last)")
    except OSError:
        return 0


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank, of a non-empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"
