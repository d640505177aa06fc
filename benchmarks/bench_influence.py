"""Influence functions on the CNN's last layer: what each part costs, and CG next to an explicit inverse.

    .venv/bin/python benchmarks/bench_influence.py [--n 10] [--steps 10] [--device cpu]
    .venv/bin/python benchmarks/bench_influence.py --quick      # 2 digits, 2 steps (a smoke run)

Prints one JSON object: seconds to cache the training gradients (once per model); per test digit, the influence
of all 4,000 training digits by conjugate gradients on Hessian-vector products (batched over ``--n`` digits)
next to the same with the explicit (H + λI) factorised once by Cholesky (the authors' route, influence.py
``get_cached_inverse_hessian``), and the largest relative difference of the two; the CG iterations; the
seconds per digit of the gradient-sign attack (``--steps``) and of the random-sign baseline.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sem_core  # noqa: E402
from sem_core.attacks import create_attack  # noqa: E402
from sem_core.explain.influence import InfluenceFunction, batched_cg  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="influence functions: cache, CG vs Cholesky, attack seconds per digit")
    ap.add_argument("--n", type=int, default=10, help="test digits (one batch)")
    ap.add_argument("--steps", type=int, default=10, help="sign steps of the attack")
    ap.add_argument("--device", default=None, help="cpu, cuda... (default: best available)")
    ap.add_argument("--quick", action="store_true", help="--n 2 --steps 2 (a smoke run; the explicit Hessian is built "
                                                         "all the same, it does not depend on --n)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.steps = 2, 2
    cnn = sem_core.load_model("cnn", args.device)
    x_train, y_train, _ = sem_core.load_split("train", "subset")
    x, y, _ = sem_core.load_split("test", "subset")
    x, y = x[: args.n], y[: args.n]
    t0 = time.perf_counter()
    infl = InfluenceFunction(cnn, x_train, y_train)
    build = time.perf_counter() - t0
    g, _ = infl.test_gradients(x)
    g = g.detach()
    t0 = time.perf_counter()
    s, _, iters = batched_cg(infl.hvp, g, tol=infl.tol, max_iter=infl.max_iter)
    cg = time.perf_counter() - t0
    t0 = time.perf_counter()
    chol = torch.linalg.cholesky(infl.dense_hessian())
    dense_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    exact = torch.cholesky_solve(g.T, chol).T
    dense = time.perf_counter() - t0
    i_cg, i_exact = infl.influence_of(s), infl.influence_of(exact)
    out = {"n": args.n, "params": infl.n_params, "train_digits": infl.n_train, "cache_seconds": build,
           "cg_seconds_per_digit": cg / args.n, "cg_iterations": iters,
           "explicit_hessian_build_seconds": dense_build, "cholesky_solve_seconds_per_digit": dense / args.n,
           "max_relative_difference": ((i_cg - i_exact).abs().max() / i_exact.abs().max()).item(),
           "same_top5": bool((i_cg.topk(5, largest=False).indices == i_exact.topk(5, largest=False).indices).all())}
    for name in ("influence_sign", "influence_random"):
        atk = create_attack(cnn, name, steps=args.steps)
        t0 = time.perf_counter()
        atk(x, y)
        out[f"{name}_seconds_per_digit"] = (time.perf_counter() - t0) / args.n
    print(json.dumps(out))


if __name__ == "__main__":
    main()
