"""Defenses: the papers' attacks on the natural models and on their robust versions.

Zheng et al. (paper 000, Sec. 5, "Discussion and Conclusion") propose adversarial training of SENN's concepts and a local
Lipschitz constraint on h, and never build either; ``senn-adv`` and ``senn-lip`` are those two, ``senn-madry`` the
adversarial training given a real chance (Madry et al. 2018: 20 PGD steps from a random start, the worst of three
other-label targets per digit, ε ramped over the first epochs), and
``protodl-adv`` is PrototypeDL fine-tuned against its own attack (``sem_core.models.defenses``), and
``cnn-smooth`` is the saliency defense (β-smoothing: softplus activations). Each model meets the
protocol of its family on the same digits: senn-distances (Fig. 2) for SENN, protodl-distances
(Fig. 3) for PrototypeDL, the top-k saliency attack (paper 003 Fig. 3) for the CNN.

Verdict rule (issue 28; stated before the run that reports it; 95 % bootstrap intervals over digits). A defense
*holds* when, at an accuracy cost of at most 2 points: SENN (senn-adv, senn-lip, senn-madry): the interval of the scale-free
ratio median(adversarial out-class) / median(natural in-class), both of the defended model itself, lies above 1 (the
attack no longer brings the concepts closer to another class than the digit's own class is); the ratio to the
natural model's raw distance is reported, never judged (the models' concept units differ). protodl-adv: the
interval of the mean paired difference in nearest-prototype consistency under attack (defended − natural, same
digits) lies above 0.1. cnn-smooth: the interval of the mean paired gain in top-50 intersection under the top-k
attack lies above 0.15. *reproduced*: every defense holds; *partly*: some; *not*: none.
"""
from __future__ import annotations

from typing import Any

import torch

from ..metrics.stats import Interval, bootstrap_paired, mean_difference, ratio_of_medians
from ..viz.experiments import box_figure
from .common import columns, digit_chunks, prose, require_moved
from .protodl_distances import CONSISTENCY, DISTANCES, protodl_distances, protodl_summary
from .runner import EXPERIMENTS, Experiment, Outputs
from .senn_distances import senn_distances, senn_summary

# robust -> natural. senn-adv and senn-lip share senn-k5's architecture and training recipe (5 concepts,
# unbounded θ; the defense term added), so senn-k5, not the authors' 12-concept senn, is their natural model.
PAIRS = {"senn-adv": "senn-k5", "senn-lip": "senn-k5", "senn-madry": "senn-k5", "protodl-adv": "protodl",
         "cnn-smooth": "cnn"}
ROBUST_SENNS = tuple(m for m, natural in PAIRS.items() if natural == "senn-k5")
SENNS = ("senn-k5", *ROBUST_SENNS)


def _senn_chunk(model, x, y, idx, ctx) -> dict[str, Any]:
    r = senn_distances(model, x, y, idx=idx, **ctx.pick("targets", "eps", "steps", "seed"))
    return {"adv_outclass": r.adv_outclass, "in_class": r.in_class, "out_class": r.out_class,
            "label_kept_rate": r.label_kept.float().mean(1)}


def _protodl_chunk(model, x, y, idx, ctx) -> dict[str, Any]:
    r = protodl_distances(model, x, y, idx=idx, **ctx.pick("eps", "steps", "seed"))
    return {k: v.tolist() for k, v in r.columns().items()}


def _cnn_chunk(model, x, y, idx, ctx) -> dict[str, Any]:
    from ..attacks import create_attack

    res = require_moved(create_attack(model, "saliency_topk", method="saliency", eps=ctx.params["saliency_eps"],
                                      steps=ctx.params["saliency_steps"], k=50)(x[idx], y[idx], seed=ctx.params["seed"]),
                        "defenses: the saliency attack")
    return {"topk_intersection": res.metrics["topk_intersection"], "spearman": res.metrics["spearman"],
            "label_kept": res.label_kept.float()}


def _cnn_summary(rows: list[dict[str, Any]], ctx) -> dict[str, Any]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in ("topk_intersection", "spearman", "label_kept")}


def _senn_summary(rows: list[dict[str, Any]], ctx) -> dict[str, Any]:
    col = {k: [r[k] for r in rows] for k in ("adv_outclass", "in_class", "out_class", "label_kept_rate")}
    return senn_summary(col["adv_outclass"], col["in_class"], col["out_class"], targets=ctx.params["targets"],
                        label_kept_rate=sum(col["label_kept_rate"]) / len(rows), linf_max=ctx.params["eps"])


def _protodl_summary(rows: list[dict[str, Any]], ctx) -> dict[str, Any]:
    return protodl_summary({k: [r[k] for r in rows] for k in ("correct", "label_kept", *DISTANCES, *CONSISTENCY)})


CHUNK = {"senn": _senn_chunk, "protodl": _protodl_chunk, "cnn": _cnn_chunk}
SUMMARY = {"senn": _senn_summary, "protodl": _protodl_summary, "cnn": _cnn_summary}


@EXPERIMENTS.register("defenses")
class Defenses(Experiment):
    paper = "paper 000, Sec. 5 (defenses proposed as future work); Fig. 2 and Fig. 3 protocols"
    claim = prose("""
        Training a self-explaining model against its explanation attack makes the attack fail: SENN's adversarial
        out-class concept distance no longer falls below the natural in-class distance, PrototypeDL's nearest
        prototype keeps its class under attack, a smooth CNN's saliency map keeps its top-k pixels — at a small cost
        in accuracy.""")
    models = (*SENNS, "protodl", "protodl-adv", "cnn", "cnn-smooth")
    notes = prose("""
        The senn-distances protocol on every SENN (100 digits × 20 other-class targets by default, the paper 100;
        100 PGD steps, ε 0.3, λ 1),
        protodl-distances on the same 100 digits for PrototypeDL (ξ 0.3). A first run with 50 digits × 20 targets
        gave senn-adv 0.82× its in-class median: the fewer the targets, the larger the minimum. Concept distances are in each
        model's own units: the scale-free ratio adversarial out-class / natural in-class (within a model) is the
        fair comparison, and the absolute ratio to the natural SENN's distance is reported too. senn-adv: 20
        epochs with 5 PGD steps of eq. 1 per batch toward another-label digit of the batch, term ‖h(x*) − h(x)‖²
        over the batch's concept variance, weight 1; senn-madry: senn-k5 fine-tuned 10 epochs against the same
        attack as Madry et al. (2018) would train it: each digit attacked toward 3 other-label digits of the batch,
        20 PGD steps each from a random start in the ε-ball, the worst target's ‖h(x*) − h(x)‖² over the
        concept variance plus the cross-entropy on every x*, weight 4, ε ramped 0.1 → 0.3 over the first 3 epochs
        (weight 1 was also trained: 1.41 [1.23, 1.73] on this protocol, beside 1.57 [1.39, 1.91] at weight 4, both
        at 98.3 % accuracy; the card's "selection" says why weight 4 ships); senn-lip: ‖h(x+δ) − h(x)‖²/(ε² · variance) at a random
        corner of the ε-ball, weight 1; protodl-adv: the shipped PrototypeDL fine-tuned 20 epochs with 5 PGD steps
        of eq. 3 per batch and a cross-entropy over the class distances D(x*, ·); cnn-smooth: the CNN trained with
        softplus (β = 1) activations instead of ReLU (β-smoothing, Dombrowski et al. 2019, "Explanations can be
        manipulated and geometry is to blame"), attacked through its own smooth gradients with the top-k attack
        (ε 0.1, 50 steps, k 50, paper 003's setting). Earlier versions of both SENN terms were met by shrinking or
        collapsing the concepts: see sem_core/models/defenses.py.""")
    defaults = {"n": 100, "targets": 20, "eps": 0.3, "steps": 100, "saliency_eps": 0.1, "saliency_steps": 50,
                "chunk": 10}
    probe = {"n": 1, "targets": 2, "steps": 2, "saliency_steps": 2}

    def chunks(self, ctx) -> list[dict[str, Any]]:
        return [{"model": m, **c} for m in self.models for c in digit_chunks(ctx, ctx.params["chunk"])]

    def run_chunk(self, spec, ctx):
        x, y = ctx.test_split()
        idx = torch.tensor(spec["digits"])
        family = ctx.models[spec["model"]][1]["model"]
        out = CHUNK[family](ctx.model(spec["model"]), x, y, idx, ctx)
        return {"model": [spec["model"]] * len(idx), "idx": idx, **out}

    def finalize(self, results, ctx):
        rows = [row for r in results for row in columns([r])[1]]  # the families' chunks have different columns
        keys = list(dict.fromkeys(k for r in rows for k in r))
        rows = [{k: r.get(k) for k in keys} for r in rows]       # one CSV: empty cells where a family has no value
        summary: dict[str, Any] = {"targets": ctx.params["targets"]}
        for m in self.models:
            mine = [r for r in rows if r["model"] == m]
            card = ctx.models[m][1]
            s = SUMMARY[card["model"]](mine, ctx)
            summary[m] = {**s, "accuracy": card["test_accuracy"], "train_seconds": card.get("train_seconds"),
                          "defense": card.get("hparams", {}).get("defense", "none")}
        seed = ctx.params["seed"]
        by_model = {m: sorted((r for r in rows if r["model"] == m), key=lambda r: r["idx"]) for m in self.models}
        for m in SENNS:
            summary[m]["adv_over_in_class_interval"] = bootstrap_paired(
                [r["adv_outclass"] for r in by_model[m]], [r["in_class"] for r in by_model[m]], ratio_of_medians,
                seed=seed).to_dict()
        rob, nat_rows = by_model["protodl-adv"], by_model["protodl"]
        summary["protodl-adv"]["consistency_gain_interval"] = bootstrap_paired(
            [float(r["nearest_consistent_adv"]) for r in rob], [float(r["nearest_consistent_adv"]) for r in nat_rows],
            mean_difference, seed=seed).to_dict()
        summary["cnn-smooth"]["topk_gain_interval"] = bootstrap_paired(
            [r["topk_intersection"] for r in by_model["cnn-smooth"]], [r["topk_intersection"] for r in by_model["cnn"]],
            mean_difference, seed=seed).to_dict()
        for robust, natural in PAIRS.items():
            r, nat = summary[robust], summary[natural]
            r["accuracy_cost_points"] = round(100 * (nat["accuracy"] - r["accuracy"]), 2)
            if "adv_outclass_median" in r:
                r["adv_vs_natural_model"] = r["adv_outclass_median"] / nat["adv_outclass_median"]
            elif "adversarial_consistency" in r:
                r["consistency_vs_natural_model"] = r["adversarial_consistency"] / max(nat["adversarial_consistency"], 1e-9)
            else:
                r["topk_gain"] = r["topk_intersection"] - nat["topk_intersection"]
        groups = {f"{m}: {k}": [r[col] / summary[m]["in_class_median"] for r in rows if r["model"] == m]
                  for m in SENNS for k, col in (("adversarial out-class", "adv_outclass"),
                                                                            ("natural in-class", "in_class"))}
        fig = box_figure(groups, f"Concept attack on natural vs robust SENN, in units of each model's in-class median "
                                 f"(n={ctx.params['n']}, {ctx.params['targets']} targets, ε={ctx.params['eps']})",
                         "min ‖h(·) − h(x_t)‖₂ / median natural in-class")
        return Outputs(rows, summary, {"defenses": fig})

    def verdict(self, s):
        """The rule of the module docstring."""
        held = defense_holds(s)
        ok = [h for h, _ in held.values()]
        return ("reproduced" if all(ok) else "partly" if any(ok) else "not"), "; ".join(t for _, t in held.values())


def defense_holds(s: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """robust model -> (its defense holds by the module docstring's rule, the numbers), from a summary of this
    experiment's shape (the leaderboard builds one from robustness cards to apply the same rule)."""
    held: dict[str, tuple[bool, str]] = {}
    for m in ROBUST_SENNS:
        if m not in s:  # a summary from before senn-madry: judged on the defenses it has
            continue
        r = s[m]
        ratio = Interval.from_dict(r["adv_over_in_class_interval"])
        natural = Interval.from_dict(s["senn-k5"]["adv_over_in_class_interval"])
        held[m] = (ratio.clears(1) and r["accuracy_cost_points"] <= 2,
                   f"{m}: adversarial out-class {ratio.text('.2f')}× its own natural in-class median (natural "
                   f"senn-k5 {natural.text('.2f')}×; 95 % intervals), accuracy cost "
                   f"{r['accuracy_cost_points']:.1f} points (raw distance {r['adv_vs_natural_model']:.2f}× the "
                   f"natural model's, not judged: other concept units)")
    for m, key, threshold, what in (
            ("protodl-adv", "consistency_gain_interval", 0.1, "nearest-prototype consistency under attack"),
            ("cnn-smooth", "topk_gain_interval", 0.15, "top-50 intersection under the top-k attack")):
        r, natural = s[m], s[PAIRS[m]]
        gain = Interval.from_dict(r[key])
        value = "adversarial_consistency" if m == "protodl-adv" else "topk_intersection"
        shown = (lambda v: f"{v:.0%}") if m == "protodl-adv" else (lambda v: f"{v:.2f}")  # noqa: E731
        held[m] = (gain.clears(threshold) and r["accuracy_cost_points"] <= 2,
                   f"{m}: {what} {shown(r[value])} vs {shown(natural[value])} natural (paired gain "
                   f"{gain.text('+.2f')}), accuracy cost {r['accuracy_cost_points']:.1f} points")
    return held
