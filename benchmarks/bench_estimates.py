"""How close the calibrated time estimates (sem_core.serve.estimates) come to the real time of realistic jobs.

    .venv/bin/python benchmarks/bench_estimates.py [--device cpu]
    .venv/bin/python benchmarks/bench_estimates.py --quick      # the same jobs at tiny sizes (a smoke run)

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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import sem_core  # noqa: E402
from sem_core.attacks import create_attack  # noqa: E402
from sem_core.explain.influence import influence_cached  # noqa: E402
from sem_core.lipschitz import lipschitz_by_explainer  # noqa: E402
from sem_core.serve.cache import ResultCache  # noqa: E402
from sem_core.serve.estimates import Estimator, attack_job, lipschitz_jobs, load_factor  # noqa: E402
from sem_core.serve.service import AttackService  # noqa: E402
from sem_core.serve.views import batch_job  # noqa: E402

# The jobs, as (digits, steps or budget) per case: the app's realistic sizes, and tiny ones for --quick.
SIZES = {
    "full": {"concept_small": (50, 100), "concept_large": (200, 100), "prototype": (100, 100), "saliency": (20, 50),
             "lipschitz_cnn": (5, 20), "lipschitz_senn": (5, 20), "lipschitz_lime": (2, 10), "influence": (5, 10)},
    "quick": {"concept_small": (4, 5), "concept_large": (8, 5), "prototype": (4, 5), "saliency": (2, 3),
              "lipschitz_cnn": (1, 2), "lipschitz_senn": (1, 2), "lipschitz_lime": (1, 2), "influence": (2, 2)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="the same jobs at tiny sizes (a smoke run)")
    args = ap.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    x, y, _ = sem_core.load_split("test", "subset")
    est = Estimator(device=args.device)
    t0 = time.perf_counter()
    est.wait(600)
    print(f"probe: {time.perf_counter() - t0:.1f} s wall, {est.probe_seconds:.1f} s CPU, error {est.probe_error}; "
          f"load {os.getloadavg()}, load factor {load_factor():.2f}, torch threads {torch.get_num_threads()}")
    svc = AttackService(device=args.device, cache=ResultCache(), estimator=est)
    models: dict[str, object] = {}

    def model(name: str):
        if name not in models:
            models[name] = sem_core.load_model(name, args.device)
        return models[name]

    def attack(model_name, name, case, **cfg):
        n, steps = size[case]

        def spec():
            return batch_job(model_name, name, x[:n], y[:n], x.flip(0)[:n] if name == "senn_concept" else None,
                             steps=steps, **cfg)
        return lambda: f"{name} {model_name} {n} digits × {steps} steps", lambda: svc.estimate(spec()), \
            lambda: svc.submit("bench", spec()).result(3600)

    def lipschitz(model_name, explainers, case):
        n, budget = size[case]
        jobs = lipschitz_jobs(model_name, explainers, n, budget)

        def run():
            out = lipschitz_by_explainer(model(model_name), explainers, x[:n], eps=0.1, budget=budget)
            est.record_each({jobs[e]: s for e, s in out.seconds.items()})
        return lambda: f"lipschitz {model_name} {'+'.join(explainers)} {n} digits, budget {budget}", \
            lambda: est.estimate(jobs.values()), run

    def influence(case):
        n, steps = size[case]
        cnn = model("cnn")

        def jobs():
            return [attack_job("cnn", "influence_sign", n, steps, setup=not influence_cached(cnn))]

        def run():
            job, t = jobs()[0], time.perf_counter()
            create_attack(cnn, "influence_sign", steps=steps, eps=0.1)(x[:n], y[:n])
            est.record(job, time.perf_counter() - t)
        return lambda: f"influence cnn {n} digits × {steps} steps" + ("" if influence_cached(cnn) else " (+ setup)"), \
            lambda: est.estimate(jobs()), run

    cases = [attack("senn", "senn_concept", "concept_small", eps=0.3, lam=1.0),
             attack("senn", "senn_concept", "concept_large", eps=0.3, lam=1.0),
             attack("protodl", "protodl_prototype", "prototype", eps=0.3, lam=1.0, xi=0.3),
             attack("cnn", "saliency_topk", "saliency", eps=0.1, method="saliency", k=50),
             lipschitz("cnn", ["saliency", "gradxinput", "ig", "occlusion"], "lipschitz_cnn"),
             lipschitz("senn", ["self", "saliency"], "lipschitz_senn"),
             lipschitz("cnn", ["lime"], "lipschitz_lime"),
             influence("influence"), influence("influence")]
    rows = []
    try:
        for label, estimate, run in cases:   # the label and estimate before the run (influence: with or without setup)
            label, e, load0 = label(), estimate(), os.getloadavg()[0]
            t = time.perf_counter()
            run()
            actual = time.perf_counter() - t
            ratio = actual / e.seconds if e.seconds else float("nan")
            rows.append((label, e, actual, ratio, load0, os.getloadavg()[0]))
            print(f"{label:55s} est {e.seconds or float('nan'):8.1f} s  actual {actual:8.1f} s  ratio {ratio:5.2f}  "
                  f"{'ok' if 0.5 <= ratio <= 2 else 'OUT'}  load {load0:.1f}→{os.getloadavg()[0]:.1f}  [{e.basis}]",
                  flush=True)
    finally:
        svc.shutdown()
    print("\n| job | estimate (s) | basis | actual (s) | actual / estimate | within [0.5, 2] | load 1-min before → after |")
    print("|---|---|---|---|---|---|---|")
    for label, e, actual, ratio, l0, l1 in rows:
        print(f"| {label} | {'—' if e.seconds is None else f'{e.seconds:.3g}'} | {e.basis if e.seconds else 'none yet'} "
              f"| {actual:.3g} | {ratio:.2f} | {'yes' if 0.5 <= ratio <= 2 else 'no'} | {l0:.1f} → {l1:.1f} |")


if __name__ == "__main__":
    main()
