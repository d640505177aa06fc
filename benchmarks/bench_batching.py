"""Batched vs one-by-one: the attacks and gradient explainers on B digits, side by side.

    PYTHONPATH=. python benchmarks/bench_batching.py [--b 32] [--steps 20] [--device cpu]

Prints one JSON line per case with the two wall times and their ratio (one-by-one / batched).
Ratios, not absolute times, are the point: they hold across machines and load.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import sem_core
from sem_core.attacks import ProtoDLAttack, SennConceptAttack, create_attack


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--b", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    x, y, _ = sem_core.load_split("test", "subset")
    x, y, xt = x[: args.b], y[: args.b], x[500 : 500 + args.b]
    senn, proto, cnn = (sem_core.load_model(n, args.device) for n in ("senn", "protodl", "cnn"))
    cases = {
        "senn_concept": lambda xb, yb, tb: SennConceptAttack(senn, steps=args.steps)(xb, yb, target=tb),
        "protodl_prototype": lambda xb, yb, tb: ProtoDLAttack(proto, steps=args.steps)(xb, yb),
        "saliency_topk": lambda xb, yb, tb: create_attack("saliency_topk", cnn, steps=args.steps)(xb, yb),
        "explain_ig": lambda xb, yb, tb: sem_core.explain(cnn, xb, "ig"),
    }
    for name, fn in cases.items():
        fn(x[:2], y[:2], xt[:2])  # warm-up
        batched = timed(lambda: fn(x, y, xt))
        single = timed(lambda: [fn(x[i : i + 1], y[i : i + 1], xt[i : i + 1]) for i in range(args.b)])
        print(json.dumps({"case": name, "b": args.b, "steps": args.steps, "batched_s": round(batched, 3),
                          "one_by_one_s": round(single, 3), "ratio": round(single / batched, 2),
                          "device": str(sem_core.model_device(cnn)), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
