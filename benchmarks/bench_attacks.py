"""Attack cost: each PGD step against its floor, batched vs one-by-one per digit, and an attack beside threads that
run Python (the GIL it shares with them in the app server).

    .venv/bin/python benchmarks/bench_attacks.py [--b 100] [--steps 5] [--batch-steps 20] [--singles 10]
                                                 [--repeats 3] [--threads 1] [--device cpu] [--profile] [--json]
    .venv/bin/python benchmarks/bench_attacks.py --tables gil [--intervals 5 0.2] [--gil-steps 100]
    .venv/bin/python benchmarks/bench_attacks.py --quick       # every table at tiny sizes (a smoke run)

Table ``cost`` (the default):
1. **Step / floor** at batch ``--b``: one PGD step of the attack, measured as
   (time of ``steps`` steps − time of 0 steps) / ``steps`` (so the set-up and the result are left out), over
   the floor, the least any step must do:
     senn_concept, protodl_prototype  one forward + backward of the model to the input;
     saliency_topk (method saliency)  the surrogate's map with ``create_graph`` + the top-k objective + its
                                      backward (the double backward of paper 003 Alg. 1), nothing else.
   The rest of a step is the attack's own work: for the saliency attack the real network's map and label at
   every iterate (the papers judge every iterate on the real network), the projection, the best-iterate
   bookkeeping and Python.
   ``(B=1)``: the same ratio for one digit, where Python and per-call overhead weigh most.
2. **Batched vs one-by-one** (``batched ×``): seconds per digit of ``--singles`` one-digit calls over those of
   one call on ``--b`` digits (attacks: ``--batch-steps`` steps each): how much batching saves per digit. ``floor ×``
   is the same ratio for the floor step alone (its arithmetic at B = 1 vs B = ``--b``): what batching can save
   once every overhead is gone; on a CPU it is bounded by how much better the kernels use the cores on a
   larger batch. The gradient explainers of ``--explainers`` (default integrated gradients, the costliest) get
   the batched row only.
Each time is the minimum over ``--repeats`` runs (the least disturbed by other load on the machine); with one
CPU thread (``--threads 1``) it is this process's CPU time, so other jobs on a shared machine do not count in
it (they still share its caches). Ratios, not seconds, are the point: they hold across machines and load. With
CUDA present the table is printed for the GPU as well. ``--json`` prints one JSON object per row instead.

Table ``gil``: a SENN concept attack (``--gil-digits`` digits × ``--gil-steps`` steps, wall seconds) alone and
beside 1 and 3 threads that run pure Python (standing in for the page scripts of other sessions), per GIL switch
interval (``--intervals``, ms). The attack releases the GIL at every torch op and must get it back; a thread
running Python holds it until the switch interval ends, so each op can wait that long. app.py sets the interval
(``SEM_SWITCH_INTERVAL_MS``, default 0.2 ms; its row is marked "(app)").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as app.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sem_core  # noqa: E402
from sem_core.attacks import create_attack  # noqa: E402
from sem_core.explain import explain  # noqa: E402
from sem_core.metrics import normalize_map  # noqa: E402

ATTACKS = ("senn_concept", "protodl_prototype", "saliency_topk")
MODEL = {"senn_concept": "senn", "protodl_prototype": "protodl", "saliency_topk": "cnn"}
APP_INTERVAL_MS = float(os.environ.get("SEM_SWITCH_INTERVAL_MS", "0.2"))   # what app.py sets
QUICK = {"b": 4, "steps": 3, "batch_steps": 2, "singles": 2, "repeats": 2, "explainers": ["ig"],
         "tables": ["cost", "gil"], "intervals": [APP_INTERVAL_MS], "gil_steps": 3, "gil_digits": 4}

CLOCK = time.perf_counter    # wall time; main() switches to this process's CPU time on a one-thread CPU run


def best_of(fns: list[Callable[[], object]], repeats: int, sync: Callable[[], None]) -> list[float]:
    """The least time of each of ``fns`` over ``repeats`` rounds (after one warm-up round); the functions take
    turns within a round, so a burst of load elsewhere on the machine disturbs all of them alike."""
    times = [[] for _ in fns]
    for r in range(repeats + 1):
        for fn, t in zip(fns, times):
            start = CLOCK()
            fn()
            sync()
            if r:
                t.append(CLOCK() - start)
    return [min(t) for t in times]


def make_attack(name: str, model, steps: int):
    return create_attack(model, name, steps=steps, **({"method": "saliency"} if name.startswith("saliency") else {}))


def run_attack(name: str, model, x: torch.Tensor, xt: torch.Tensor, steps: int):
    atk = make_attack(name, model, steps)
    return atk(x, target=xt) if atk.targeted else atk(x)


def floor_step(name: str, model, x: torch.Tensor) -> Callable[[], None]:
    """One floor step on ``x`` (see the module docstring)."""
    if name.startswith("saliency"):
        atk = make_attack(name, model, 1)
        with torch.no_grad():
            pred = model(x).argmax(1)
        mask = atk.prepare(x, pred, None)["topk"]

        def step():
            xa = x.clone().requires_grad_(True)
            i_s = normalize_map(explain(atk.surrogate, "saliency", xa, y=pred, create_graph=True))
            torch.autograd.grad((i_s * mask).flatten(1).sum(1).sum(), xa)
        return step

    def step():
        xa = x.clone().requires_grad_(True)
        torch.autograd.grad(model(xa).logsumexp(1).sum(), xa)
    return step


def step_and_floor(name: str, model, x, xt, steps: int, repeats: int, sync) -> tuple[float, float]:
    """(seconds of one PGD step, seconds of one floor step) on the batch ``x``."""
    floor = floor_step(name, model, x)
    full, none, fl = best_of([lambda: run_attack(name, model, x, xt, steps), lambda: run_attack(name, model, x, xt, 0),
                              lambda: [floor() for _ in range(steps)]], repeats, sync)
    return max(full - none, 0.0) / steps, fl / steps


def batched_vs_single(fn: Callable[[torch.Tensor, torch.Tensor], object], x, xt, args, sync) -> dict:
    """Seconds per digit of one call on ``args.b`` digits and of ``args.singles`` one-digit calls."""
    b = args.b
    batched, single = best_of([lambda: fn(x[:b], xt[:b]),
                               lambda: [fn(x[i:i + 1], xt[i:i + 1]) for i in range(args.singles)]], args.repeats, sync)
    batched, single = batched / b, single / args.singles
    return {"per_digit_batched_ms": round(batched * 1e3, 3), "per_digit_one_by_one_ms": round(single * 1e3, 3),
            "batching_speedup": round(single / batched, 2)}


def measure(name: str, model, x, xt, args, sync) -> dict:
    b = args.b
    step, fl = step_and_floor(name, model, x[:b], xt[:b], args.steps, args.repeats, sync)
    step1, fl1 = step_and_floor(name, model, x[:1], xt[:1], args.steps, args.repeats, sync)
    per_digit = batched_vs_single(lambda xb, tb: run_attack(name, model, xb, tb, args.batch_steps), x, xt, args, sync)
    return {"attack": name, "b": b, "step_ms": round(step * 1e3, 2), "floor_ms": round(fl * 1e3, 2),
            "step_over_floor": round(step / fl, 2), "step_over_floor_b1": round(step1 / fl1, 2), **per_digit,
            # what batching can save on the floor's arithmetic alone (no Python, no per-call overhead)
            "floor_speedup": round(fl1 / (fl / b), 2)}


def measure_explainer(method: str, model, x, args, sync) -> dict:
    """The batched row of a gradient explainer on the CNN (no PGD steps, so no step/floor)."""
    per_digit = batched_vs_single(lambda xb, _: explain(model, method, xb), x, x, args, sync)
    return {"attack": f"explain_{method}", "b": args.b, **per_digit}


def profile(model, x) -> None:
    """The operators that take the time of a saliency top-k attack on ``x`` (torch.profiler, self CPU time)."""
    from torch.profiler import ProfilerActivity, profile as prof

    run_attack("saliency_topk", model, x, x, 2)
    with prof(activities=[ProfilerActivity.CPU]) as p:
        run_attack("saliency_topk", model, x, x, 5)
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def print_cost(rows: list[dict], dev: str, args) -> None:
    clock = "CPU time" if CLOCK is time.process_time else "wall time"
    print(f"\ndevice {dev}, {torch.get_num_threads()} threads ({clock}), B = {args.b}; step/floor over {args.steps} "
          f"steps, batched vs one-by-one over {args.batch_steps} steps ({args.singles} single digits)")
    print(f"{'attack':<19}{'step/floor':>11}{'(B=1)':>7}{'batched ×':>11}{'floor ×':>9}"
          f"{'step ms':>9}{'floor ms':>10}{'ms/digit B':>12}{'ms/digit 1':>12}")
    for r in rows:
        if "step_ms" not in r:   # an explainer: the batched columns only
            print(f"{r['attack']:<19}{'—':>11}{'—':>7}{r['batching_speedup']:>11.2f}{'—':>9}{'—':>9}{'—':>10}"
                  f"{r['per_digit_batched_ms']:>12.2f}{r['per_digit_one_by_one_ms']:>12.2f}")
            continue
        print(f"{r['attack']:<19}{r['step_over_floor']:>11.2f}{r['step_over_floor_b1']:>7.2f}"
              f"{r['batching_speedup']:>11.2f}{r['floor_speedup']:>9.2f}{r['step_ms']:>9.1f}{r['floor_ms']:>10.1f}"
              f"{r['per_digit_batched_ms']:>12.2f}{r['per_digit_one_by_one_ms']:>12.2f}")


def cost_table(dev: str, x, xt, args) -> None:
    global CLOCK
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    # one CPU thread: CPU seconds of this process, what it computed whatever else runs on the machine
    CLOCK = time.process_time if dev == "cpu" and torch.get_num_threads() == 1 else time.perf_counter
    rows = []
    for name in args.attacks:
        rows.append(measure(name, sem_core.load_model(MODEL[name], dev), x.to(dev), xt.to(dev), args, sync))
        if args.json:
            print(json.dumps({**rows[-1], "device": dev, "threads": torch.get_num_threads()}), flush=True)
    for method in args.explainers:
        rows.append(measure_explainer(method, sem_core.load_model("cnn", dev), x.to(dev), args, sync))
        if args.json:
            print(json.dumps({**rows[-1], "device": dev, "threads": torch.get_num_threads()}), flush=True)
    if not args.json:
        print_cost(rows, dev, args)
    if args.profile:
        profile(sem_core.load_model("cnn", dev), x.to(dev))


def gil_table(dev: str, x, xt, args) -> None:
    """The ``gil`` table (see the module docstring); wall seconds, as the app's users wait them."""
    n = args.gil_digits
    attack = create_attack(sem_core.load_model("senn", dev), "senn_concept", eps=0.3, steps=args.gil_steps)
    xs, ts = x[:n].to(dev), xt[:n].to(dev)
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            sum(i * i for i in range(2000))

    def timed(n_busy: int) -> float:
        stop.clear()
        threads = [threading.Thread(target=busy) for _ in range(n_busy)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        attack(xs, target=ts)
        dt = time.perf_counter() - t0
        stop.set()
        for t in threads:
            t.join()
        return dt

    attack(xs, target=ts)   # warm-up
    default = sys.getswitchinterval()
    if not args.json:
        print(f"\nSENN concept attack, {n} digits × {args.gil_steps} steps, device {dev}, {torch.get_num_threads()} "
              f"threads, {os.cpu_count()} cores; wall seconds")
        print("switch interval | alone | beside 1 busy thread | beside 3 busy threads")
    try:
        for ms in args.intervals:
            sys.setswitchinterval(ms / 1000)
            row = {"table": "gil", "interval_ms": ms, "alone_s": round(timed(0), 4),
                   "beside_1_s": round(timed(1), 4), "beside_3_s": round(timed(3), 4)}
            if args.json:
                print(json.dumps({**row, "device": dev, "digits": n, "steps": args.gil_steps}), flush=True)
            else:
                print(f"{ms:g} ms{' (app)' if ms == APP_INTERVAL_MS else ''} | {row['alone_s']:.3g} | "
                      f"{row['beside_1_s']:.3g} | {row['beside_3_s']:.3g}", flush=True)
    finally:
        sys.setswitchinterval(default)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", nargs="+", default=["cost"], choices=("cost", "gil"),
                    help="cost: step/floor and batched vs one-by-one (default); gil: an attack beside busy threads")
    ap.add_argument("--b", type=int, default=100, help="batch size (digits)")
    ap.add_argument("--steps", type=int, default=5, help="PGD steps for the step/floor timing")
    ap.add_argument("--batch-steps", type=int, default=20, help="PGD steps for batched vs one-by-one")
    ap.add_argument("--singles", type=int, default=10, help="one-digit calls timed for the per-digit cost")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", action="append", default=None, help="cpu, cuda... (default: cpu, and cuda when present)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--attacks", nargs="+", default=list(ATTACKS), choices=ATTACKS)
    ap.add_argument("--explainers", nargs="*", default=["ig"],
                    help="gradient explainers timed batched vs one-by-one on the CNN (default: ig; none: leave out)")
    ap.add_argument("--intervals", type=float, nargs="+", default=[5, 1, 0.5, 0.2, 0.1],
                    help="GIL switch intervals for the gil table, ms")
    ap.add_argument("--gil-steps", type=int, default=100, help="PGD steps of the gil table's attack")
    ap.add_argument("--gil-digits", type=int, default=10, help="digits of the gil table's attack")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also print the saliency attack's top operators")
    ap.add_argument("--quick", action="store_true",
                    help="every table at tiny sizes (" + ", ".join(f"{k} {v}" for k, v in QUICK.items()) + ")")
    args = ap.parse_args()
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    x, _, _ = sem_core.load_split("test", "subset")
    n = max(args.b, args.gil_digits)
    x, xt = x[:n], x[500:500 + n]
    for dev in devices:
        if "cost" in args.tables:
            cost_table(dev, x, xt, args)
        if "gil" in args.tables:
            gil_table(dev, x, xt, args)


if __name__ == "__main__":
    main()
