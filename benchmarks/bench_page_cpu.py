"""CPU seconds one session of a page costs: the browser's renderer (Chromium's own task time, from the DevTools
Performance domain) and the app server (its process CPU time), for opening the page and for one click on Run.

    .venv/bin/python benchmarks/bench_page_cpu.py                       # the concept page, 3 sessions
    .venv/bin/python benchmarks/bench_page_cpu.py --page prototype --button "Run prototype attack" --query "src=3"

Run it on an otherwise idle machine: the renderer's figure (Chromium's TaskDuration, the time its main thread was
busy) is its CPU time only when it never waits for a core. It isolates what a page costs when 20 sessions share
2 cores (benchmarks/bench_load.py): there, everyone's CPU seconds add up.
Sessions after the first find the attack's result in the cache (the first computes it).
"""
from __future__ import annotations

import argparse
import asyncio

import psutil
from browser_bench import click_to_result, launch, start_server, wait_idle


async def renderer_cpu(cdp) -> float:
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    return metrics["TaskDuration"]


async def one(browser, url: str, args, server_proc) -> dict:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Performance.enable")
    s0 = sum(server_proc.cpu_times()[:2])
    await page.goto(f"{url}/{args.page}?{args.query}", timeout=args.timeout * 1000)
    await wait_idle(page, args.timeout)
    b1, s1 = await renderer_cpu(cdp), sum(server_proc.cpu_times()[:2])
    out = await click_to_result(page, args.button, args.timeout)
    b2, s2 = await renderer_cpu(cdp), sum(server_proc.cpu_times()[:2])
    await ctx.close()
    return {"open_browser": b1, "open_server": s1 - s0, "run_browser": b2 - b1, "run_server": s2 - s1,
            "cached": out["cached"], "to_result_s": out["to_result_s"], "to_idle_s": out["to_idle_s"]}


async def main(args) -> None:
    from playwright.async_api import async_playwright

    server, _ = start_server()
    try:
        proc = psutil.Process(server.proc.pid)
        async with async_playwright() as p:
            browser = await launch(p)
            print(f"page /{args.page}?{args.query}, click '{args.button}'; CPU seconds (browser renderer, server)")
            for i in range(args.sessions):
                r = await one(browser, server.url, args, proc)
                print(f"session {i + 1} ({'cached' if r['cached'] else 'computed'}): open {r['open_browser']:.2f} + "
                      f"{r['open_server']:.2f}; run {r['run_browser']:.2f} + {r['run_server']:.2f}; wall to result "
                      f"{r['to_result_s']:.2f} s, to idle {r['to_idle_s']:.2f} s")
            await browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--page", default="concept")
    ap.add_argument("--query", default="src=3&src_i=1&tgt=4&tgt_i=1")
    ap.add_argument("--button", default="Run concept attack")
    ap.add_argument("--sessions", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=180)
    asyncio.run(main(ap.parse_args()))
