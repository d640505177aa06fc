"""One torch thread against all of them, per attack and batch size, on an idle machine and beside busy processes
(standing in for a class's browsers on the server's cores): where the attack service's ``ONE_THREAD_BELOW`` comes from.

    .venv/bin/python benchmarks/bench_threads.py                    # idle, then beside 6 busy processes
    .venv/bin/python benchmarks/bench_threads.py --busy 0 --sizes 1 8 16

Prints, per attack and number of digits, the best and worst of --repeats runs (seconds) with 1 thread and with
torch's default, and their ratio (> 1: one thread is faster).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as app.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sem_core  # noqa: E402

ATTACKS = {"senn_concept": ("senn", {"eps": 0.3, "steps": 100}, True),
           "protodl_prototype": ("protodl", {"eps": 0.3, "steps": 100}, False),
           "saliency_topk": ("cnn", {"eps": 0.1, "steps": 20}, False)}


def main(args) -> None:
    x, y, _ = sem_core.load_split("test", sem_core.model_card("senn")["data"]["source"])
    default = torch.get_num_threads()
    print(f"{os.cpu_count()} cores, torch default {default} threads, OMP_WAIT_POLICY "
          f"{os.environ['OMP_WAIT_POLICY']}; seconds, best/worst of {args.repeats}")
    for busy in args.busy:
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.5)
            print(f"\nbeside {busy} busy processes\nattack | digits | 1 thread | {default} threads | ratio")
            for name in args.attacks:
                model_name, cfg, targeted = ATTACKS[name]
                attack = sem_core.create_attack(name, sem_core.load_model_with_card(model_name, "cpu")[0], **cfg)
                for n in args.sizes:
                    kw = {"target": x[300:300 + n]} if targeted else {}
                    cells = {}
                    for threads in (1, default):
                        torch.set_num_threads(threads)
                        attack(x[:n], y[:n], **kw)   # warm-up
                        ts = []
                        for _ in range(args.repeats):
                            t0 = time.perf_counter()
                            attack(x[:n], y[:n], **kw)
                            ts.append(time.perf_counter() - t0)
                        cells[threads] = ts
                    print(f"{name} | {n} | {min(cells[1]):.2f}/{max(cells[1]):.2f} | "
                          f"{min(cells[default]):.2f}/{max(cells[default]):.2f} | "
                          f"{min(cells[default]) / min(cells[1]):.2f}", flush=True)
        finally:
            for h in hogs:
                h.kill()
        torch.set_num_threads(default)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=list(ATTACKS))
    ap.add_argument("--sizes", nargs="+", type=int, default=[1, 4, 8, 16, 50])
    ap.add_argument("--busy", nargs="+", type=int, default=[0, 6])
    ap.add_argument("--repeats", type=int, default=3)
    main(ap.parse_args())
