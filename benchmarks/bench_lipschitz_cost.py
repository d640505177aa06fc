"""Seconds per digit and per budget unit of the local Lipschitz estimate, per model and explainer.

    .venv/bin/python benchmarks/bench_lipschitz_cost.py [--n 4] [--budget 10] [--device cpu] [--models cnn,senn] [--write]
    .venv/bin/python benchmarks/bench_lipschitz_cost.py --quick     # 1 digit, budget 2, never writes (a smoke run)

Runs ``lipschitz_by_explainer`` exactly as the Lipschitz page does (each explainer's default search)
on n test digits of the offline subset with the given budget, and prints one JSON line per
(model, explainer) with ``seconds_per_call`` = wall seconds / (n × budget). With ``--write`` the
table goes to ``assets/lipschitz_costs.json``, which the app reads for its time estimate (so the
estimate comes from a measurement on a named machine, not from a guess).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sem_core  # noqa: E402
from sem_core.lipschitz import lipschitz_by_explainer, list_lipschitz_explainers  # noqa: E402
from sem_core.lipschitz.cost import COSTS_PATH  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--device", default=None)
    ap.add_argument("--models", default="cnn,senn")
    ap.add_argument("--write", action="store_true", help=f"write the table to {COSTS_PATH}")
    ap.add_argument("--quick", action="store_true", help="--n 1 --budget 2, and never --write (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.budget, args.write = 1, 2, False
    x, _, source = sem_core.load_split("test", "subset")
    x = x[: args.n]
    table: dict[str, dict[str, float]] = {}
    device = "cpu"
    for name in args.models.split(","):
        model = sem_core.load_model(name, args.device)
        device = str(sem_core.model_device(model))
        xs = x.to(device)
        table[name] = {}
        for explainer in list_lipschitz_explainers(model):
            lipschitz_by_explainer(model, [explainer], xs[:1], eps=0.1, budget=2)  # warm-up of the same code path
            start = time.perf_counter()
            out = lipschitz_by_explainer(model, [explainer], xs, eps=0.1, budget=args.budget)
            seconds = time.perf_counter() - start
            if explainer in out.skipped:  # e.g. LRP has no rule for SENN's softplus layers
                print(json.dumps({"model": name, "explainer": explainer, "skipped": out.skipped[explainer]}))
                continue
            per_call = seconds / (args.n * args.budget)
            table[name][explainer] = round(per_call, 5)
            print(json.dumps({"model": name, "explainer": explainer, "n": args.n, "budget": args.budget,
                              "seconds": round(seconds, 3), "seconds_per_call": round(per_call, 5)}))
    if args.write:
        record = {
            "what": "wall seconds of local_lipschitz per digit and per budget unit (explainer call)",
            "command": f"PYTHONPATH=. python benchmarks/bench_lipschitz_cost.py --n {args.n} --budget {args.budget} --write",
            "measured_on": {"date": date.today().isoformat(), "device": device, "torch_threads": torch.get_num_threads(),
                            "cpus": os.cpu_count(), "machine": platform.machine(), "data": source},
            "seconds_per_call": table,
        }
        COSTS_PATH.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {COSTS_PATH}")


if __name__ == "__main__":
    main()
