"""How close the calibrated time estimates (sem_core.serve.estimates) come to the real time of realistic jobs.

    PYTHONPATH=. python benchmarks/bench_estimates.py [--device cpu] [--quick]

Starts a fresh ``Estimator`` (its probe runs first, as at an app's start), then for each job: the estimate
shown before Run, the job run the way the app runs it (attacks through an ``AttackService`` that records every
batch; Lipschitz through ``lipschitz_by_explainer``; influence through its attack), the actual wall seconds, the
ratio actual / estimate and whether it lies in [0.5, 2]. Every run is recorded, as in the app, so later jobs
learn from earlier ones. Prints one table and the load average before and after each job (the machine's
load decides much of the time: run it on the machine you care about).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

import sem_core
from sem_core.attacks import create_attack
from sem_core.serve.cache import ResultCache
from sem_core.serve.estimates import Estimator, attack_job, lipschitz_jobs, load_factor
from sem_core.explain.influence import influence_cached
from sem_core.lipschitz import lipschitz_by_explainer
from sem_core.serve.service import AttackService
from sem_core.serve.views import batch_job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="a quarter of the digits (a smoke run)")
    args = ap.parse_args()
    q = 4 if args.quick else 1
    x, y, _ = sem_core.load_split("test", "subset")
    est = Estimator(device=args.device)
    t0 = time.perf_counter()
    est.wait(600)
    print(f"probe: {time.perf_counter() - t0:.1f} s wall, {est.probe_seconds:.1f} s CPU, error {est.probe_error}; "
          f"load {os.getloadavg()}, load factor {load_factor():.2f}, torch threads {torch.get_num_threads()}")
    svc = AttackService(device=args.device, cache=ResultCache(), estimator=est)

    def attack(model, name, n, steps, **cfg):
        def run():
            spec = batch_job(model, name, x[:n], y[:n], x.flip(0)[:n] if name == "senn_concept" else None,
                             steps=steps, **cfg)
            h = svc.submit("bench", spec)
            h.result(3600)
        return f"{name} {model} {n} digits × {steps} steps", lambda: svc.estimate(
            batch_job(model, name, x[:n], y[:n], x.flip(0)[:n] if name == "senn_concept" else None, steps=steps,
                      **cfg)), run

    def lipschitz(model, explainers, n, budget):
        jobs = lipschitz_jobs(model, explainers, n, budget)

        def run():
            out = lipschitz_by_explainer(svc.model(model)[0], explainers, x[:n], eps=0.1, budget=budget)
            est.record_each({jobs[e]: s for e, s in out.seconds.items()})
        return f"lipschitz {model} {'+'.join(explainers)} {n} digits, budget {budget}", \
            lambda: est.estimate(jobs.values()), run

    def influence(n, steps):
        model = svc.model("cnn")[0]

        def jobs():
            return [attack_job("cnn", "influence_sign", n, steps, setup=not influence_cached(model))]

        def run():
            job, t = jobs()[0], time.perf_counter()
            create_attack("influence_sign", model, steps=steps, eps=0.1)(x[:n], y[:n])
            est.record(job, time.perf_counter() - t)
        return f"influence cnn {n} digits × {steps} steps" + (" (+ setup)" if not influence_cached(model) else ""), \
            lambda: est.estimate(jobs()), run

    cases = [attack("senn", "senn_concept", 50 // q, 100, eps=0.3, lam=1.0),
             attack("senn", "senn_concept", 200 // q, 100, eps=0.3, lam=1.0),
             attack("protodl", "protodl_prototype", 100 // q, 100, eps=0.3, lam=1.0, xi=0.3),
             attack("cnn", "saliency_topk", 20 // q, 50, eps=0.1, method="saliency", k=50),
             lipschitz("cnn", ["saliency", "gradxinput", "ig", "occlusion"], 5, 20),
             lipschitz("senn", ["self", "saliency"], 5, 20),
             lipschitz("cnn", ["lime"], 2, 10),
             influence(5, 10), influence(5, 10)]
    rows = []
    for label, estimate, run in cases:
        e, load0 = estimate(), os.getloadavg()[0]
        t = time.perf_counter()
        run()
        actual = time.perf_counter() - t
        ratio = actual / e.seconds if e.seconds else float("nan")
        rows.append((label, e, actual, ratio, load0, os.getloadavg()[0]))
        print(f"{label:55s} est {e.seconds or float('nan'):8.1f} s  actual {actual:8.1f} s  ratio {ratio:5.2f}  "
              f"{'ok' if 0.5 <= ratio <= 2 else 'OUT'}  load {load0:.1f}→{os.getloadavg()[0]:.1f}  [{e.basis}]",
              flush=True)
    print("\n| job | estimate (s) | basis | actual (s) | actual / estimate | within [0.5, 2] | load 1-min before → after |")
    print("|---|---|---|---|---|---|---|")
    for label, e, actual, ratio, l0, l1 in rows:
        print(f"| {label} | {'—' if e.seconds is None else f'{e.seconds:.1f}'} | {e.basis if e.seconds else 'none yet'} "
              f"| {actual:.1f} | {ratio:.2f} | {'yes' if 0.5 <= ratio <= 2 else 'no'} | {l0:.1f} → {l1:.1f} |")
    svc.shutdown()


if __name__ == "__main__":
    main()
