"""Paper 002, eq. 2: the discrete, sample-based local Lipschitz estimate over the test split (the
``discrete-lipschitz`` experiment)."""
from __future__ import annotations

from ..lipschitz import DiscreteSearch
from ..lipschitz.protocols import STRICT, noise_floor, protocol_explanation, split_name
from ..viz.experiments import box_figure
from .common import median, prose
from .lipschitz_stability import scale_free, scale_free_verdict
from .runner import EXPERIMENTS, Experiment, Outputs
from .sampling import pick_digits

EXPLAINERS = ["saliency", "gradxinput", "ig", "deeplift", "smoothgrad", "lrp", "occlusion", "lime", "shap",
              "senn:self", "senn:theta_pred"]


@EXPERIMENTS.register("discrete-lipschitz")
class DiscreteLipschitz(Experiment):
    paper = "paper 002, eq. 2 (Fig. 4 on COMPAS; here MNIST)"
    claim = prose("""
        Even among real data points, explanations change much faster than the inputs for some explainers
        (the sample-based estimate of eq. 2 exposes the least stable ones without any optimisation).""")
    models = ("cnn", "senn")
    notes = prose("""
        L̃(x_i) = max over x_j in the test split, x_j ≠ x_i, ‖x_i − x_j‖₂ ≤ eps, of ‖E(x_i) − E(x_j)‖₂ / ‖x_i − x_j‖₂
        (sem_core/lipschitz/discrete.py) for n seeded test digits x_i against every digit of the test split; eps
        null = no radius, as robust_interpret's explainer_wrapper.estimate_discrete_dataset_lipschitz defaults
        (eps=None; github dmelis/robust_interpret, robust_interpret/explainers.py). MNIST digits are far apart
        in L2 (a nearest neighbour is typically several units away), so the estimate compares real digits, not
        small perturbations. sample: compare against the first that many test digits (200 by default, so that a
        default run takes a minute; the authors' whole split: any number at least its size, e.g. 100000). Explainers at the project's settings (protocol 'strict'); senn:self is paper 001
        eq. 5 over ‖Δh‖, senn:theta_pred the authors' θ_ŷ over ‖Δx‖. Values in [0,1] pixel units.""")
    defaults = {"n": 100, "eps": None, "explainers": EXPLAINERS, "sample": 200}
    probe = {"n": 1, "sample": 16}   # every explainer on one digit against 16 others (the whole split: minutes)

    def chunks(self, ctx):
        return [{"explainer": e} for e in ctx.params["explainers"]]

    def run_chunk(self, spec, ctx):
        model_name, name = split_name(spec["explainer"])
        model, (x, y) = ctx.model(model_name), ctx.test_split()
        idx = pick_digits(y, ctx.params["n"], ctx.params["seed"])
        sample = x[:ctx.params["sample"]].to(ctx.device)   # the first `sample` test digits (all when it is larger)
        r = DiscreteSearch(protocol_explanation(model, name, STRICT), sample=sample,
                           eps=ctx.params["eps"])(x[idx].to(ctx.device))
        nearest = (r.x_prime - r.x).flatten(1).norm(dim=1)
        floor = noise_floor(model, name, x[idx].to(ctx.device), STRICT, seed=ctx.params["seed"])
        return {"explainer": spec["explainer"], "idx": idx, "values": r.values, "distance": nearest, **r.relative(),
                "noise_floor": floor if floor is not None else [0.0] * len(idx)}

    def finalize(self, results, ctx):
        rows = [{"explainer": r["explainer"], "idx": i, "value": v, "argmax_distance": d, "elasticity": el}
                for r in results for i, v, d, el in zip(r["idx"], r["values"], r["distance"], r["elasticity"])]
        medians = {r["explainer"]: median(r["values"]) for r in results}
        summary = {"protocol": "strict", "medians": medians, **scale_free(results, ctx.params["seed"]), "eps": ctx.params["eps"],
                   "sample": f"the first {min(ctx.params['sample'], len(ctx.test_split()[0]))} of the "
                             f"{len(ctx.test_split()[0])} test digits",
                   "median_argmax_distance": {r["explainer"]: median(r["distance"]) for r in results}}
        fig = box_figure({r["explainer"]: r["values"] for r in results},
                         f"Discrete local Lipschitz estimates over the test split (n={ctx.params['n']}, "
                         f"eps={ctx.params['eps']})", "L̃(x)", log_y=True)
        return Outputs(rows, summary, {"discrete_lipschitz": fig})

    def verdict(self, s):
        """The lipschitz experiment's scale-free rule (LIME the least stable, SENN θ_ŷ the most, on 95 %
        intervals of the median elasticity; lipschitz_stability's docstring)."""
        return scale_free_verdict(s)
