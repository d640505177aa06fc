"""What a page script's Python costs the attack service's thread (they share the app server's GIL), per switch
interval: a SENN concept attack (10 digits, --steps PGD steps) alone, and beside 1 and 3 threads that run pure
Python (standing in for sessions whose scripts render pages).

    .venv/bin/python benchmarks/bench_gil.py                 # 5, 1, 0.5, 0.2 and 0.1 ms
    .venv/bin/python benchmarks/bench_gil.py --intervals 5 0.2
    .venv/bin/python benchmarks/bench_gil.py --service      # through the attack service: its thread vs its process

The service thread releases the GIL at every torch op and must get it back afterwards; a thread running Python
holds it until the switch interval ends, so each op can wait that long. app.py sets the interval
(SEM_SWITCH_INTERVAL_MS, default 0.2 ms). ``--service``: the same attack as a job of the attack service, computed
in the service's thread (``process=False``) or in its compute process (``process=True``, ``sem_core.serve.worker``),
at 0.2 ms; every run has its own seed, so nothing comes from the cache.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as app.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sem_core  # noqa: E402


def main(args) -> None:
    x, y, _ = sem_core.load_split("test", sem_core.model_card("senn")["data"]["source"])
    senn, _ = sem_core.load_model_with_card("senn", "cpu")
    attack = sem_core.create_attack("senn_concept", senn, eps=0.3, steps=args.steps)
    run = lambda: attack(x[:10], y[:10], target=x[20:30])  # noqa: E731
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(i * i for i in range(2000))

    def timed(n_busy: int, run=run) -> float:
        stop.clear()
        threads = [threading.Thread(target=busy) for _ in range(n_busy)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        run()
        dt = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join()
        return dt

    print(f"SENN concept attack, 10 digits × {args.steps} steps, on {os.cpu_count()} cores; seconds")
    if args.service:
        from sem_core.serve.cache import ResultCache
        from sem_core.serve.service import AttackService, JobSpec

        seeds = iter(range(1, 10**6))
        sys.setswitchinterval(0.0002)
        print("computed in (switch interval 0.2 ms) | alone | beside 1 busy thread | beside 3 busy threads")
        for process in (False, True):
            svc = AttackService(device="cpu", cache=ResultCache(), process=process)
            job = lambda: svc.submit("bench", JobSpec("senn", "attack", "senn_concept", x[:10],  # noqa: E731
                                                      {"eps": 0.3, "steps": args.steps}, y=y[:10], target=x[20:30],
                                                      seed=next(seeds))).result()
            job()   # warm-up (and the process's start)
            print(f"the service's {'process' if process else 'thread'} | {timed(0, job):.2f} | {timed(1, job):.2f} | "
                  f"{timed(3, job):.2f}", flush=True)
            svc.shutdown()
        return
    run()   # warm-up
    print("switch interval | alone | beside 1 busy thread | beside 3 busy threads")
    for ms in args.intervals:
        sys.setswitchinterval(ms / 1000)
        print(f"{ms:g} ms | {timed(0):.2f} | {timed(1):.2f} | {timed(3):.2f}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--service", action="store_true", help="through the attack service: its thread vs its process")
    ap.add_argument("--intervals", type=float, nargs="+", default=[5, 1, 0.5, 0.2, 0.1], help="milliseconds")
    main(ap.parse_args())
