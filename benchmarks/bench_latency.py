"""Click → result latency in real Chromium, per page, with a cold and a warm result cache (issue 14).

    .venv/bin/python benchmarks/bench_latency.py                        # every page
    .venv/bin/python benchmarks/bench_latency.py --pages lipschitz,defenses
    .venv/bin/python benchmarks/bench_latency.py --no-batch             # every page but the 200-digit batch

One fresh server with an empty cache (and an empty folder for experiment runs). For each page, at its default
view: a new browser session opens the page and presses Run (cold: the service computes), then another new
session does the same (warm: the result computed by the first is in the shared cache). Seconds from the click
until the result line shows, and until the page is idle with every figure drawn.

Pages: concept, prototype, saliency, batch (its default run: 200 digits of the concept attack, 100 steps),
lipschitz (4 explainers × 5 digits, budget 20), defenses (the concept attack on senn-k5 and senn-adv),
influence (cold includes the model's training gradients, once per server), tour-step1 (the concept page's
default view: after `concept` in the same run its cold row is already cached, and the other way round),
tour-step4 (the stability step), experiments (its Run: faithfulness on N = 20; warm: the first session's finished run, shown from its folder). A cold row that was served from stored work is marked "(cached)".
Acceptance (issue 14): warm ≤ 1 s on every page, cold concept ≤ 3 s.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re

from browser_bench import RESULT_RE, click_to_result, launch, start_server, tracebacks_in, wait_idle

EXPERIMENT_RE = re.compile(r"Your run finished: [0-9]+ chunks computed, [0-9]+ reused|result from the cache")
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


async def once(browser, url: str, path: str, button: str, timeout: float, result_re=RESULT_RE) -> dict:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    try:
        await page.goto(f"{url}/{path}", timeout=timeout * 1000)
        await wait_idle(page, timeout)
        return await click_to_result(page, button, timeout, result_re)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return {"errors": [f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"]}
    finally:
        await ctx.close()


def cell(r: dict, cold: bool = False) -> str:
    if "to_result_s" not in r:
        return "error"
    extra = " (cached)" if cold and r["cached"] else "" if r["cached"] or r["compute_s"] == 0 else \
        f" [compute {r['compute_s']:.2f}]"
    return f"{r['to_result_s']:.2f} ({r['to_idle_s']:.2f}){extra}"


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
    server, cache = start_server()
    rows, errors = [], []
    try:
        async with async_playwright() as p:
            browser = await launch(p)
            await once(browser, server.url, "concept?steps=1&src_i=9", PAGES["concept"][1], args.timeout)  # imports
            for name in pages:
                path, button, result_re = PAGES[name]
                cold = await once(browser, server.url, path, button, args.timeout, result_re)
                warm = await once(browser, server.url, path, button, args.timeout, result_re)
                rows.append((name, cold, warm))
                errors += cold["errors"] + warm["errors"]
            await browser.close()
    finally:
        server.stop()
    print(f"click → result line, seconds (→ page idle with every figure drawn); cold cache {cache}")
    print(f"{'page':<12} {'cold':<34} {'warm':<20} warm from cache")
    for name, cold, warm in rows:
        print(f"{name:<12} {cell(cold, cold=True):<34} {cell(warm):<20} {warm.get('cached')}")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    print(f"tracebacks in the server log: {tracebacks_in(server.log_path)}; dialogs closed before a click: "
          f"{[d for _, c, w in rows for d in c.get('dialogs', []) + w.get('dialogs', [])]}")
    return 0 if not errors else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=300, help="seconds per click (default 300)")
    ap.add_argument("--no-batch", dest="batch", action="store_false")
    ap.add_argument("--pages", nargs="+", default=list(PAGES),
                    help=f"pages to time, space- or comma-separated (default all: {','.join(PAGES)})")
    raise SystemExit(asyncio.run(main(ap.parse_args())))
