"""Load benchmark (issue 15; memory: issue 16): N concurrent headless Chromium sessions on one app server,
each running the concept attack on a different test digit, cold cache.

    .venv/bin/python benchmarks/bench_load.py                 # 20 sessions (the acceptance run)
    .venv/bin/python benchmarks/bench_load.py --sessions 5    # a small run
    .venv/bin/python benchmarks/bench_load.py --quick         # 2 sessions, 1 s TTL (a smoke run; skipped without Chromium)

Prints errors, tracebacks in the server log, whether every session got its own digit, p50/p95/max seconds from
click to result, where a session's time goes (queue and attack compute, both reported by the service on the
page; script + rendering, the rest), the CPU seconds each kind of process spent meanwhile (the app server,
Chromium's renderers, browser and GPU processes, Playwright, this benchmark), and the server's resident memory (psutil RSS): at start, before the
sessions (after one warm-up session loaded the models and closed), at the peak during, and after the sessions
closed (Streamlit's disconnected-session TTL is set to --ttl seconds here), and again after one more visit
(Streamlit removes expired sessions lazily, when its session store is next used).
Acceptance: 0 errors, 0 tracebacks, p95 ≤ 10 s, memory after within 10 % of before (issue 16: 25 %).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from browser_bench import (CpuByProcess, RssSampler, click_to_result, find_chromium, launch, mb, percentile,
                           renderer_cpu, require_browser, start_server, tracebacks_in, wait_idle)

RUN = "Run concept attack"
QUICK = {"sessions": 2, "ttl": 1, "settle": 1.0, "timeout": 120.0, "deadline": 300.0}


def digits(n: int) -> list[dict]:
    """Session i attacks the (i // 10 + 1)-th test digit of class i % 10, toward a digit of the next class."""
    import sem_core

    _, y, _ = sem_core.load_split("test", sem_core.model_card("senn")["data"]["source"])
    out = []
    for i in range(n):
        c, k = i % 10, i // 10 + 1
        index = int((y == c).nonzero().flatten()[k])
        out.append({"query": f"src={c}&src_i={k}&tgt={(c + 1) % 10}&tgt_i={k}", "index": index, "label": c})
    return out


async def session(browser, url: str, d: dict, timeout: float, watch: str = "observer",
                  reduced_motion: bool = False) -> dict:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900},
                                    reduced_motion="reduce" if reduced_motion else "no-preference")
    page = await ctx.new_page()
    try:
        cdp = await ctx.new_cdp_session(page)
        await cdp.send("Performance.enable")
        await page.goto(f"{url}/concept?{d['query']}", timeout=timeout * 1000)
        await wait_idle(page, timeout)
        opened = await renderer_cpu(cdp)
        out = await click_to_result(page, RUN, timeout, watch=watch)
        out["browser_cpu_open_s"], out["browser_cpu_run_s"] = opened, await renderer_cpu(cdp) - opened
        text = await page.evaluate("() => document.body.innerText")
        m = re.search(r"source: test digit #(\d+) \(label (\d+)\)", text)
        out["own_digit"] = bool(m) and int(m.group(1)) == d["index"] and int(m.group(2)) == d["label"]
        return out
    except Exception as exc:  # noqa: BLE001 - a failed session is counted and printed, not raised
        return {"errors": [f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"], "own_digit": False}
    finally:
        await ctx.close()


async def main(args) -> int:
    from playwright.async_api import async_playwright

    if args.browser_nice or args.pin:  # Chromium and every process it starts inherit this wrapper's nice and cores
        wrapper = Path(tempfile.mkdtemp(prefix="sem-bench-")) / "chromium"
        prefix = (f"nice -n {int(args.browser_nice)} " if args.browser_nice else "") + ("taskset -c 1 " if args.pin else "")
        # Playwright starts the browser in a session of its own; where the kernel groups each session for the
        # scheduler (autogroup, /proc/sys/kernel/sched_autogroup_enabled), the nice of Chromium's processes only
        # orders them among themselves: the group's own nice is what weighs against the app server's group
        group = f"echo {int(args.browser_nice)} > /proc/self/autogroup 2>/dev/null\n" if args.browser_nice else ""
        wrapper.write_text(f'#!/bin/sh\n{group}exec {prefix}"{find_chromium()}" "$@"\n')
        wrapper.chmod(0o755)
        os.environ["SEM_CHROMIUM"] = str(wrapper)
    if args.pin:  # this benchmark, Playwright's driver and the app server on core 0
        os.sched_setaffinity(0, {0})

    server, cache = start_server(ttl_s=args.ttl)
    try:
        rss = RssSampler(server.proc.pid)
        rss_start = rss.rss()
        async with async_playwright() as p:
            browser = await launch(p)
            warm = await session(browser, server.url, {"query": "src=0&src_i=0&tgt=1&tgt_i=0", "index": -1, "label": 0},
                                 args.timeout)
            await asyncio.sleep(args.ttl + args.settle)
            rss_before = rss.rss()
            plan = digits(args.sessions)
            t0 = time.monotonic()
            with rss, CpuByProcess(server.proc.pid) as cpu:
                results = await asyncio.wait_for(
                    asyncio.gather(*(session(browser, server.url, d, args.timeout, args.watch, args.reduced_motion)
                                   for d in plan)),
                    args.deadline)
                wall = time.monotonic() - t0
                peak = rss.peak
            await asyncio.sleep(args.ttl + args.settle)
            rss_after = rss.rss()
            # Streamlit drops expired sessions lazily, on its next session-store access: one new visitor does it
            probe = await browser.new_context()
            await (await probe.new_page()).goto(server.url, timeout=args.timeout * 1000)
            await probe.close()
            await asyncio.sleep(args.settle)
            rss_probe = rss.rss()
            await browser.close()
    finally:
        server.stop()

    errors = [e for r in results for e in r["errors"]]
    ok = [r for r in results if "to_result_s" in r]
    times = [r["to_result_s"] for r in ok]
    print(f"sessions: {args.sessions} concurrent, concept attack (100 steps), cold cache {cache}; wall {wall:.1f} s; "
          f"result line watched by {'a MutationObserver' if args.watch == 'observer' else 'innerText polling (50 ms)'}"
          + ("; browsers prefer reduced motion" if args.reduced_motion else ""))
    print(f"warm-up session: {'ok' if 'to_result_s' in warm else warm['errors']}; dialogs closed (warm-up, "
          f"sessions): {warm.get('dialogs')}, {sum(len(r.get('dialogs', [])) for r in results)}")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(f"tracebacks in the server log: {tracebacks_in(server.log_path)} ({server.log_path})")
    print(f"every session got its own digit's result: {all(r['own_digit'] for r in results)} "
          f"({sum(r['own_digit'] for r in results)}/{len(results)})")
    if times:
        print(f"click → result, s: p50 {percentile(times, 50):.2f}  p95 {percentile(times, 95):.2f}  "
              f"max {max(times):.2f}  (→ page idle, all figures drawn: p50 "
              f"{percentile([r['to_idle_s'] for r in ok], 50):.2f}, max {max(r['to_idle_s'] for r in ok):.2f})")
        q, c = (statistics.mean(r[k] for r in ok) for k in ("queue_s", "compute_s"))
        s = statistics.mean(times) - q - c
        print(f"where a session's time goes (mean of {len(ok)}, to result): queue {q:.2f} s, attack compute "
              f"{c:.2f} s, script + rendering {s:.2f} s")
        bo, br = (statistics.mean(r[k] for r in ok) for k in ("browser_cpu_open_s", "browser_cpu_run_s"))
        print(f"each browser's renderer main thread was busy (mean; Chromium's TaskDuration: wall time of its tasks, "
              f"so under this load it includes waiting for a core): opening the page {bo:.1f} s, from the click until "
              f"every figure was drawn {br:.1f} s" + (f"; browsers at nice {args.browser_nice}" if args.browser_nice else ""))
    cpu_s = cpu.totals()
    print(f"CPU seconds while the sessions ran ({wall:.0f} s on {os.cpu_count()} cores = {wall * os.cpu_count():.0f} "
          "core-seconds): " + ", ".join(f"{k} {v:.1f}" for k, v in cpu_s.items() if v >= 0.05))
    print(f"server memory (RSS): start {mb(rss_start)}, before {mb(rss_before)}, peak during {mb(peak)}, after the "
          f"sessions closed ({args.ttl} s TTL + {args.settle:g} s) {mb(rss_after)} "
          f"({(rss_after - rss_before) / rss_before:+.1%} vs before), after one more visitor let Streamlit drop them "
          f"(+{args.settle:g} s) {mb(rss_probe)} ({(rss_probe - rss_before) / rss_before:+.1%})")
    return 0 if not errors else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180, help="seconds per session step (load, result)")
    ap.add_argument("--deadline", type=float, default=600, help="seconds for all sessions together")
    ap.add_argument("--ttl", type=int, default=10, help="Streamlit's disconnected-session TTL, seconds")
    ap.add_argument("--settle", type=float, default=10, help="seconds to wait after the TTL before reading memory")
    ap.add_argument("--browser-nice", type=int, default=0,
                    help="run Chromium at this nice level (e.g. 10), its processes and, where the kernel groups "
                         "sessions for the scheduler (autogroup), its session's group: the 20 browsers then stand in for "
                         "the students' own machines instead of taking the server's cores at equal priority; 0 "
                         "(default): equal")
    ap.add_argument("--pin", action="store_true",
                    help="the app server on core 0 and the 20 browsers on core 1 (taskset): the server's core is its "
                         "own, as when the browsers run on the students' machines")
    ap.add_argument("--reduced-motion", action="store_true",
                    help="the 20 browsers prefer reduced motion (CSS prefers-reduced-motion): their animation frames "
                         "(Streamlit's running indicator, loading skeletons) then cost the shared 2 cores less; a "
                         "student's browser animates on the student's machine, not on the server")
    ap.add_argument("--watch", choices=("observer", "poll"), default="observer",
                    help="how each page waits for its result line: a MutationObserver (default) or innerText polled "
                         "every 50 ms (the method before 2026-12-04, which forces a layout per poll in every page)")
    ap.add_argument("--quick", action="store_true",
                    help="2 sessions, 1 s TTL and settle (a smoke run); prints 'skipped: …' and exits 0 without Chromium")
    args = ap.parse_args()
    if args.quick:
        vars(args).update(QUICK)
    require_browser(args.quick)
    raise SystemExit(asyncio.run(main(args)))
