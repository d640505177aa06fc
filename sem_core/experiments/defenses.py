"""Defenses: the paper's concept attack on the natural SENN and on the robust ones (paper 000 Sec. 6).

Zheng et al. propose adversarial training of h and a local Lipschitz constraint on h and never build
either; ``senn-adv`` and ``senn-lip`` are those two (``sem_core.models.defenses``). Each model gets the
senn-distances protocol (Fig. 2) on the same digits and targets.
"""
from __future__ import annotations

from typing import Any

import torch

from ..viz.experiments import box_figure
from .common import columns, digit_chunks, prose
from .runner import EXPERIMENTS, Experiment, Outputs
from .senn_distances import senn_distances, senn_summary

NATURAL = "senn"


@EXPERIMENTS.register("defenses")
class Defenses(Experiment):
    paper = "paper 000, Sec. 6 (proposed defenses), Fig. 2 protocol"
    claim = prose("""
        Training SENN's concepts to resist the concept attack (adversarial training) or to move little within the
        ε-ball (a local Lipschitz penalty) makes the targeted attack fail: the adversarial out-class concept
        distance no longer falls below the natural in-class distance, at a small cost in accuracy.""")
    models = ("senn", "senn-adv", "senn-lip")
    notes = prose("""
        Same protocol as senn-distances on fewer pairs (default 50 digits × 20 targets, 100 PGD steps, ε 0.3, λ 1)
        so that the three models fit in minutes on a CPU. Concept distances are in each model's own concept units,
        so the scale-free ratio adversarial out-class / natural in-class (within a model) is the fair comparison;
        the absolute 2× of the natural model's distance is reported too. Robust models: 20 epochs like the
        natural SENN, defense weight 1, ε 0.3; senn-adv runs 5 PGD steps of eq. 1 toward another-label digit
        of the batch per training batch.""")
    defaults = {"n": 50, "targets": 20, "eps": 0.3, "steps": 100, "lam": 1.0, "chunk": 10}

    def chunks(self, ctx) -> list[dict[str, Any]]:
        return [{"model": m, **c} for m in self.models for c in digit_chunks(ctx, ctx.params["chunk"])]

    def run_chunk(self, spec, ctx):
        x, y = ctx.test_split()
        r = senn_distances(ctx.model(spec["model"]), x, y, idx=torch.tensor(spec["digits"]),
                           **ctx.pick("targets", "eps", "steps", "lam", "seed"))
        n = len(r.idx)
        return {"model": [spec["model"]] * n, "idx": r.idx, "adv_outclass": r.adv_outclass, "in_class": r.in_class,
                "out_class": r.out_class, "label_kept_rate": r.label_kept.float().mean(1)}

    def finalize(self, results, ctx):
        _, rows = columns(results)
        summary: dict[str, Any] = {"targets": ctx.params["targets"]}
        groups = {}
        for m in self.models:
            mine = [r for r in rows if r["model"] == m]
            col = {k: [r[k] for r in mine] for k in ("adv_outclass", "in_class", "out_class", "label_kept_rate")}
            s = senn_summary(col["adv_outclass"], col["in_class"], col["out_class"], targets=ctx.params["targets"],
                             label_kept_rate=sum(col["label_kept_rate"]) / len(mine), linf_max=ctx.params["eps"])
            card = ctx.models[m][1]
            summary[m] = {**s, "accuracy": card["test_accuracy"], "train_seconds": card.get("train_seconds"),
                          "defense": card.get("hparams", {}).get("defense", "none")}
            groups[f"{m}: adversarial out-class"] = col["adv_outclass"]
            groups[f"{m}: natural in-class"] = col["in_class"]
        nat = summary[NATURAL]
        for m in self.models[1:]:
            s = summary[m]
            s["adv_vs_natural_model"] = s["adv_outclass_median"] / nat["adv_outclass_median"]
            s["accuracy_cost_points"] = 100 * (nat["accuracy"] - s["accuracy"])
        fig = box_figure(groups, f"Concept attack on natural vs robust SENN (n={ctx.params['n']}, "
                                 f"{ctx.params['targets']} targets, ε={ctx.params['eps']})", "min ‖h(·) − h(x_t)‖₂")
        return Outputs(rows, summary, {"defenses": fig})

    def verdict(self, s):
        parts, ok = [], []
        for m in self.models[1:]:
            r = s[m]
            holds = r["adv_over_in_class"] >= 1 and r["adv_vs_natural_model"] >= 2 and r["accuracy_cost_points"] <= 2
            ok.append(holds)
            parts.append(f"{m}: adversarial out-class {r['adv_over_in_class']:.2f}× its natural in-class median "
                         f"(natural SENN {s[NATURAL]['adv_over_in_class']:.2f}×), {r['adv_vs_natural_model']:.2f}× the "
                         f"natural SENN's distance, accuracy cost {r['accuracy_cost_points']:.1f} points")
        verdict = "reproduced" if all(ok) else "partly" if any(ok) else "not"
        return verdict, "; ".join(parts)
