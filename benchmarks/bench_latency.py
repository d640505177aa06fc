"""Click → result latency and the CPU seconds of one session, in real Chromium, per page, with a cold and a warm
result cache (issue 14).

    .venv/bin/python benchmarks/bench_latency.py                        # every page, a cold and a warm session
    .venv/bin/python benchmarks/bench_latency.py --pages lipschitz,defenses
    .venv/bin/python benchmarks/bench_latency.py --no-batch             # every page but the 200-digit batch
    .venv/bin/python benchmarks/bench_latency.py --pages concept --sessions 12 --query "src=3&src_i=1&tgt=4&tgt_i=1"
    .venv/bin/python benchmarks/bench_latency.py --quick                # one start, the concept page (smoke run)

One fresh server with an empty cache (and an empty folder for experiment runs); one warm-up session first (a 1-step
concept attack: the imports and the models). For each page, at its default view (plus ``--query``): a new browser
session opens the page and presses Run (cold: the service computes), then ``--sessions`` − 1 more new sessions do
the same, one at a time (warm: the result computed by the first is in the shared cache).

Table 1, latency: seconds from the click until the result line shows, and until the page is idle with every
figure drawn, for the cold session and the first warm one. A cold row that was served from stored work is marked
"(cached)". Acceptance (issue 14): warm ≤ 1 s on every page, cold concept ≤ 3 s.

Table 2, CPU seconds per session (what bench_page_cpu.py measured until 2026-12-07): the browser's renderer
(Chromium's own task time, from the DevTools Performance domain) and the app server (its process CPU time), for
opening the page and for the click on Run; with 3 or more sessions, the median of sessions 2–N (the warm ones).
Run it on an otherwise idle machine: the renderer's figure is its CPU time only when it never waits for a core. It
isolates what a page costs when 20 sessions share 2 cores (bench_load.py): there, everyone's CPU seconds add up.

Table 0 (``--start``, issue 29 point 8), the first impression: a server process started ``--restarts`` times, each
with an empty result cache and no background precompute, Chromium already running; seconds from the process start
until its health check answers, until the home page's title shows, until the home page is drawn and idle (every
figure, nothing running), and then from the click on its "Try this" button until the concept attack's result line
shows (cold cache). Acceptance (issue 29): idle ≤ 3 s after the start, the result ≤ 3 s after the click.

    .venv/bin/python benchmarks/bench_latency.py --start               # table 0 only, 3 restarts

Pages: concept, prototype, saliency, batch (its default run: 200 digits of the concept attack, 100 steps),
lipschitz (4 explainers × 5 digits, budget 20), defenses (the concept attack on senn-k5 and senn-adv),
influence (cold includes the model's training gradients, once per server), tour-step1 (the concept page's
default view: after `concept` in the same run its cold row is already cached, and the other way round),
tour-step4 (the stability step), experiments (its Run: faithfulness on N = 20; warm: the first session's finished
run, shown from its folder).
"""
from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from browser_bench import (RESULT_RE, click_to_result, cpu_seconds, launch, renderer_cpu, require_browser,
                           start_server, tracebacks_in, wait_idle)

EXPERIMENT_RE = re.compile(r"Your run finished: [0-9]+ chunks? computed, [0-9]+ reused|result from the cache")
# name -> (URL path, button, result line)
PAGES = {
    "concept": ("concept", "Run concept attack", RESULT_RE),
    "prototype": ("prototype", "Run prototype attack", RESULT_RE),
    "saliency": ("saliency", "Run saliency attack", RESULT_RE),
    "batch": ("batch", "Run batch", RESULT_RE),
    "lipschitz": ("lipschitz", "Run Lipschitz estimates", RESULT_RE),
    "defenses": ("defenses", "Run on both models", RESULT_RE),
    "influence": ("influence", "Run influence attack", RESULT_RE),
    "tour-step1": ("tour", "Run step 1: attack SENN's concepts", RESULT_RE),
    "tour-step4": ("tour", "Run step 4: measure the map's stability", RESULT_RE),
    "experiments": ("experiments", "Run experiment", EXPERIMENT_RE),
}
QUICK = {"pages": ["concept"], "sessions": 2, "timeout": 120.0}
HOME_TITLE = "SEM Explorer"
TRY_BUTTON = re.compile(r"^Try this: attack a")


async def first_impression(browser, timeout: float, precompute: bool = False) -> dict:
    """One server start → home drawn and idle → "Try this" → concept result (module docstring, table 0)."""
    from browser_helpers import StreamlitServer

    cache = tempfile.mkdtemp(prefix="sem-bench-cache-")
    runs = tempfile.mkdtemp(prefix="sem-bench-results-")
    server = StreamlitServer(startup_timeout=timeout, results_dir=Path(runs), poll_s=0.02,
                             env={"SEM_CACHE_DIR": cache, "SEM_PRECOMPUTE": "1" if precompute else "0"})
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    try:
        t0 = time.monotonic()
        server.start()
        health = time.monotonic() - t0
        await page.goto(server.url, timeout=timeout * 1000)
        await page.get_by_role("heading", name=HOME_TITLE).first.wait_for(timeout=timeout * 1000)
        text = time.monotonic() - t0
        await wait_idle(page, timeout)
        idle = time.monotonic() - t0 - 0.5   # wait_idle's settle time is not the page's
        out = await click_to_result(page, TRY_BUTTON, timeout)
        return {"health_s": health, "text_s": text, "idle_s": idle, "click_to_result_s": out["to_result_s"],
                "click_to_idle_s": out["to_idle_s"], "cached": out["cached"], "errors": out["errors"],
                "tracebacks": tracebacks_in(server.log_path)}
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return {"errors": [f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"]}
    finally:
        await ctx.close()
        server.stop()
        for folder in (cache, runs):
            shutil.rmtree(folder, ignore_errors=True)


async def start_table(args) -> int:
    """Table 0: ``args.restarts`` server starts, one after the other."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p)
        rows = [await first_impression(browser, args.timeout, args.precompute) for _ in range(args.restarts)]
        await browser.close()
    print("server start → home (seconds from the process start) → its 'Try this' click → concept result (cold cache"
          + (", background precompute on: the app's default" if args.precompute else "") + ")")
    print(f"{'start':<6} {'health':>7} {'title':>7} {'idle':>7} {'click→result':>13} {'click→idle':>11}")
    for i, r in enumerate(rows, 1):
        if "idle_s" not in r:
            print(f"{i:<6} error: {r['errors']}")
            continue
        print(f"{i:<6} {r['health_s']:>7.2f} {r['text_s']:>7.2f} {r['idle_s']:>7.2f} {r['click_to_result_s']:>13.2f} "
              f"{r['click_to_idle_s']:>11.2f}" + (" (cached!)" if r["cached"] else ""))
    ok = [r for r in rows if "idle_s" in r]
    if ok:
        print(f"median: idle {statistics.median(r['idle_s'] for r in ok):.2f} s, click → result "
              f"{statistics.median(r['click_to_result_s'] for r in ok):.2f} s (acceptance: ≤ 3 s each)")
    errors = [e for r in rows for e in r["errors"]] + [f"{r['tracebacks']} traceback(s)" for r in ok if r["tracebacks"]]
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    return 0 if not errors else 1


async def once(browser, url: str, path: str, button: str, timeout: float, result_re=RESULT_RE,
               server_pid: int | None = None) -> dict:
    """One new session: open ``url/path``, wait until idle, click ``button`` until the result shows. Besides
    click_to_result's timings: the renderer's and (with ``server_pid``) the server's CPU seconds, to open and to run."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    server = (lambda: cpu_seconds(server_pid)) if server_pid else (lambda: 0.0)
    try:
        cdp = await ctx.new_cdp_session(page)
        await cdp.send("Performance.enable")
        s0 = server()
        await page.goto(f"{url}/{path}", timeout=timeout * 1000)
        await wait_idle(page, timeout)
        b1, s1 = await renderer_cpu(cdp), server()
        out = await click_to_result(page, button, timeout, result_re)
        b2, s2 = await renderer_cpu(cdp), server()
        return {**out, "open_browser": b1, "open_server": s1 - s0, "run_browser": b2 - b1, "run_server": s2 - s1}
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return {"errors": [f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"]}
    finally:
        await ctx.close()


def cell(r: dict, cold: bool = False) -> str:
    if "to_result_s" not in r:
        return "error"
    extra = " (cached)" if cold and r["cached"] else "" if r["cached"] or r["compute_s"] == 0 else \
        f" [compute {r['compute_s']:.2f}]"
    return f"{r['to_result_s']:.2f} ({r['to_idle_s']:.2f}){extra}"


def cpu_row(r: dict) -> str:
    return (f"open {r['open_browser']:.2f} + {r['open_server']:.2f}; run {r['run_browser']:.2f} + "
            f"{r['run_server']:.2f}; wall to result {r['to_result_s']:.2f} s, to idle {r['to_idle_s']:.2f} s")


def chosen(names: list[str], batch: bool) -> list[str]:
    """The pages named (each entry may list several, comma-separated), in the table's order."""
    wanted = {n.strip() for entry in names for n in entry.split(",") if n.strip()}
    unknown = sorted(wanted - set(PAGES))
    if unknown:
        raise SystemExit(f"unknown page(s) {', '.join(unknown)}; one of: {', '.join(PAGES)}")
    return [n for n in PAGES if n in wanted and (batch or n != "batch")]


async def main(args) -> int:
    from playwright.async_api import async_playwright

    pages = chosen(args.pages, args.batch)
    query = f"?{args.query}" if args.query else ""
    server, cache = start_server()
    rows, errors = [], []
    try:
        async with async_playwright() as p:
            browser = await launch(p)
            warm_up = await once(browser, server.url, "concept?steps=1&src_i=9", PAGES["concept"][1], args.timeout)
            errors += [f"warm-up session: {e}" for e in warm_up["errors"]]   # it loads the imports and the models
            for name in pages:
                path, button, result_re = PAGES[name]
                sessions = [await once(browser, server.url, path + query, button, args.timeout, result_re,
                                       server.proc.pid) for _ in range(args.sessions)]
                rows.append((name, sessions))
                errors += [e for s in sessions for e in s["errors"]]
            await browser.close()
    finally:
        server.stop()
    print(f"click → result line, seconds (→ page idle with every figure drawn); cold cache {cache}"
          + (f"; query {args.query}" if args.query else ""))
    print(f"{'page':<12} {'cold':<34} {'warm':<20} warm from cache")
    for name, (cold, warm, *_) in rows:
        print(f"{name:<12} {cell(cold, cold=True):<34} {cell(warm):<20} {warm.get('cached')}")
    print(f"\nCPU seconds per session (browser renderer + server), {args.sessions} sessions a page, one at a time")
    for name, sessions in rows:
        for i, r in enumerate(sessions, 1):
            if "to_result_s" in r:
                print(f"{name} session {i} ({'cached' if r['cached'] else 'computed'}): {cpu_row(r)}", flush=True)
        warm = [r for r in sessions[1:] if "to_result_s" in r]
        if len(warm) >= 2:
            med = {k: statistics.median(r[k] for r in warm) for k in ("open_browser", "open_server", "run_browser",
                                                                      "run_server", "to_result_s", "to_idle_s")}
            print(f"{name} median of sessions 2–{len(sessions)}: {cpu_row(med)}")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(f"tracebacks in the server log: {tracebacks_in(server.log_path)}; dialogs closed before a click: "
          f"{[d for _, ss in rows for s in ss for d in s.get('dialogs', [])]}")
    return 0 if not errors else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=300, help="seconds per click (default 300)")
    ap.add_argument("--no-batch", dest="batch", action="store_false")
    ap.add_argument("--pages", "--page", nargs="+", default=list(PAGES),
                    help=f"pages to time, space- or comma-separated (default all: {','.join(PAGES)})")
    ap.add_argument("--sessions", type=int, default=2,
                    help="sessions per page, one after the other: the first cold, the rest warm (default 2, at least 2)")
    ap.add_argument("--query", default="", help="URL query added to every page's address, e.g. src=3&src_i=1")
    ap.add_argument("--start", action="store_true", help="table 0 only: server start → home idle → first result")
    ap.add_argument("--precompute", action="store_true",
                    help="--start with the background precompute of the default views on (the app's default)")
    ap.add_argument("--restarts", type=int, default=3, help="server starts for --start (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="one server start (table 0), then the concept page, 2 sessions (a smoke run); prints "
                         "'skipped: …' and exits 0 without Chromium")
    args = ap.parse_args()
    if args.quick:
        vars(args).update(QUICK)
    if args.sessions < 2:
        ap.error("--sessions must be at least 2 (a cold and a warm session)")
    require_browser(args.quick)
    if args.quick:   # the smoke run: one server start (table 0), then the concept page
        raise SystemExit(asyncio.run(start_table(argparse.Namespace(**{**vars(args), "restarts": 1})))
                         | asyncio.run(main(args)))
    raise SystemExit(asyncio.run(start_table(args) if args.start else main(args)))
