"""Paper 001, Fig. 3 (right): faithfulness of SENN's relevances (the ``faithfulness`` experiment).

Verdict rule (stated before the run that reports it; issue 28): per digit, r = Pearson(θ_i(x), Δp_i) over the k
concepts, and a chance baseline r₀ = Pearson(θ_π(i)(x), Δp_i) with the relevances in a seeded random order π.
*reproduced* when the 95 % bootstrap interval of median r lies above 0.5 **and** that of the median of r − r₀
(paired by digit) lies above 0; *partly* when only the second holds (better than chance, weakly); *not* when the
interval of median(r − r₀) reaches 0 (no better than relevances in a random order).
"""
from __future__ import annotations

import numpy as np
import torch

from ..metrics.stats import Interval, bootstrap
from ..viz.experiments import box_figure
from .common import DigitExperiment, columns, prose
from .runner import EXPERIMENTS, Outputs

FAITHFUL = 0.5   # the median correlation the claim needs (a strong positive correlation)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation of [B,k] tensors (0 where a row is constant)."""
    ac, bc = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (ac * bc).sum(1) / (ac.norm(dim=1) * bc.norm(dim=1)).clamp(min=1e-12)


@EXPERIMENTS.register("faithfulness")
class Faithfulness(DigitExperiment):
    paper = "paper 001, Fig. 3 (right)"
    claim = prose("""
        SENN's relevances are faithful: removing a concept drops the predicted class's probability in proportion
        to the concept's relevance.""")
    models = ("senn",)
    notes = prose("""
        Removing a concept = setting h_i(x) to 0 with θ(x) unchanged; per digit, the Pearson correlation between
        θ_i(x) for the predicted class and the probability drop over all k concepts of the model (12 for `senn`,
        5 for `senn-k5`: --param model=senn-k5), as in paper 001's faithfulness estimate. Beside it: the same
        correlation with the relevances in a seeded random order (chance), and with θ_i·h_i (the concept's own
        contribution to the logit, which removing h_i takes away exactly) in place of θ_i. Intervals: 95 %
        percentile bootstrap over digits.""")
    defaults = {"n": 1000, "chunk": 250}
    probe = {"n": 1}

    def run_chunk(self, spec, ctx):
        model, (x, _) = ctx.model(self.models[0]), ctx.test_split()
        xb = x[spec["digits"]].to(ctx.device)
        with torch.no_grad():
            e = model.explain(xb)
            theta = model.relevances(xb)                                   # [B,k,10]
            c = e.predicted.view(-1, 1)
            p0 = e.logits.softmax(1).gather(1, c).squeeze(1)
            drops = []
            for i in range(e.concepts.shape[1]):                          # remove concept i: h_i := 0
                h = e.concepts.clone()
                h[:, i] = 0
                drops.append(p0 - model.aggregate(h, theta).softmax(1).gather(1, c).squeeze(1))
            drops = torch.stack(drops, 1)                                  # [B,k]
            gen = torch.Generator().manual_seed(ctx.params["seed"] * 100_003 + spec["digits"][0])
            order = torch.stack([torch.randperm(drops.shape[1], generator=gen) for _ in spec["digits"]])
            shuffled = e.relevances.gather(1, order.to(e.relevances.device))
        return {"idx": spec["digits"], "correlation": _pearson(e.relevances, drops).cpu(),
                "correlation_chance": _pearson(shuffled, drops).cpu(),
                "correlation_theta_h": _pearson(e.relevances * e.concepts, drops).cpu(),
                "concepts": [int(drops.shape[1])] * len(spec["digits"])}

    def finalize(self, results, ctx):
        cols, rows = columns(results)
        seed = ctx.params["seed"]
        r, r0 = np.asarray(cols["correlation"]), np.asarray(cols["correlation_chance"])
        summary = {"n": len(rows), "concepts": cols["concepts"][0],
                   "correlation_median": bootstrap(r, seed=seed).to_dict(),
                   "chance_median": bootstrap(r0, seed=seed).to_dict(),
                   "excess_over_chance_median": bootstrap(r - r0, seed=seed).to_dict(),
                   "theta_h_correlation_median": bootstrap(cols["correlation_theta_h"], seed=seed).to_dict(),
                   "share_positive": float((r > 0).mean()), "threshold": FAITHFUL}
        k = cols["concepts"][0]
        fig = box_figure({f"θᵢ (k={k})": cols["correlation"], "θ in a random order (chance)": cols["correlation_chance"],
                          "θᵢ·hᵢ": cols["correlation_theta_h"]},
                         f"Faithfulness: corr(relevance, probability drop when hᵢ is removed), n={len(rows)}",
                         "Pearson correlation per digit")
        return Outputs(rows, summary, {"faithfulness": fig})

    def verdict(self, s):
        r, excess = Interval.from_dict(s["correlation_median"]), Interval.from_dict(s["excess_over_chance_median"])
        th = s.get("threshold", FAITHFUL)
        text = (f"median correlation {r.text('.2f')} (95 % interval; chance {Interval.from_dict(s['chance_median']).text('.2f')}, "
                f"excess over chance {excess.text('.2f')}; θᵢ·hᵢ {Interval.from_dict(s['theta_h_correlation_median']).text('.2f')}; "
                f"k = {s['concepts']}, n = {s['n']})")
        if r.clears(th) and excess.clears(0):
            return "reproduced", f"{text}: the interval lies above {th}"
        if excess.clears(0):
            return "partly", f"{text}: better than chance, but the interval does not clear {th}"
        return "not", f"{text}: no better than relevances in a random order"
