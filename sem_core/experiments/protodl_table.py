"""Paper 000, Table 1: PrototypeDL's prototype distances of one digit per class, natural vs adversarial
(the ``protodl-table`` experiment), on the shipped ``protodl`` and on ``protodl-li`` (Li et al.'s loss
weights), each with its own verdict.

Verdict rule per model (issue 28, point 3; written before the rerun that first applied it): with k/n digits whose
adversarial nearest prototype is of a wrong class and its exact 95 % (Clopper–Pearson) interval, *reproduced* when
every natural minimum is at the correct class, every label is kept and the interval's lower bound lies above 0.5
(most adversarial minima wrong, beyond chance of the few digits); *partly* when the counts meet the paper's table
(all natural minima correct, at least half of the adversarial ones wrong, labels kept) but the interval does not
clear 0.5 — at the paper's five digits it cannot (5/5 gives [0.48, 1.00]), so the table illustrates and
``protodl-distances`` (1,000 digits) decides — and also when only one half of the claim holds (the natural minima
all correct, or at least half the adversarial minima wrong with the labels kept); *not* when neither does. Before
issue 28 the counts alone decided."""
from __future__ import annotations

import torch

from ..viz.tables import prototype_marks, prototype_table_figure
from ..metrics.stats import proportion
from .common import prose
from .protodl_distances import combine_verdicts, protodl_distances, r_weights
from .runner import EXPERIMENTS, Experiment, Outputs


def table_verdict(s) -> tuple[str, str]:
    """Table 1's verdict for one model, by the module docstring's rule (exact intervals of the counts)."""
    n = s["digits"]
    wrong = proportion(s["adversarial_min_wrong"], n)
    counts = (f"natural minima correct {s['natural_min_correct']}/{n}; adversarial minima wrong "
              f"{s['adversarial_min_wrong']}/{n} (share {wrong.text('.2f')}, exact 95 % interval); labels kept "
              f"{s['label_kept']}/{n}")
    natural, kept = s["natural_min_correct"] == n, s["label_kept"] == n
    adversarial = kept and s["adversarial_min_wrong"] >= (n + 1) // 2
    if natural and kept and wrong.clears(0.5):
        return "reproduced", f"{counts}: the interval lies above 0.5"
    if natural and adversarial:
        return "partly", (f"{counts}: the table's counts hold, but {n} digits cannot put the share's interval "
                          "above 0.5 (protodl-distances decides on 1,000)")
    if natural or adversarial:
        return "partly", f"{counts}: only the {'natural' if natural else 'adversarial'} half of the table holds"
    return "not", counts


@EXPERIMENTS.register("protodl-table")
class ProtoTable(Experiment):
    paper = "paper 000, Table 1"
    claim = prose("""
        For natural digits the smallest prototype distance points to a prototype of the correct class; for
        adversarial digits it points to a prototype of a wrong class, while the label is kept.""")
    models = ("protodl", "protodl-li")
    notes = prose("""
        One test digit of each of the classes 0, 2, 4, 6, 8 (the first of its class that the model classifies
        correctly, in the offline test split), as in the paper's Table 1; same attack settings as
        protodl-distances. Run on the shipped protodl (R1/R2 weight 0.5) and on protodl-li (Li et al.'s 0.05),
        each with its own verdict.""")
    defaults = {"n": 5, "classes": [0, 2, 4, 6, 8], "eps": 0.3, "steps": 100, "lam": 1.0, "xi": 0.3, "alpha": 0.0}
    probe = {"n": 1, "steps": 2}

    def chunks(self, ctx):
        return [{"model": m, "classes": ctx.params["classes"][: ctx.params["n"]]} for m in self.models]

    def run_chunk(self, spec, ctx):
        name = spec.get("model", self.models[0])
        model, (x, y) = ctx.model(name), ctx.test_split()
        with torch.no_grad():
            pred = torch.cat([model(b.to(ctx.device)).argmax(1).cpu() for b in x.split(500)])
        idx = torch.tensor([int(torch.nonzero((y == c) & (pred == c))[0]) for c in spec["classes"]])
        r = protodl_distances(model, x, y, idx=idx, **ctx.pick("eps", "steps", "lam", "xi", "alpha", "seed"))
        with torch.no_grad():
            h_nat = model.prototype_distances(r.attack.x.to(ctx.device)).cpu()
            h_adv = model.prototype_distances(r.attack.x_adv.to(ctx.device)).cpu()
        return {"model": name, "idx": idx, "label": y[idx], "h_nat": h_nat, "h_adv": h_adv,
                "label_kept": r.attack.label_kept, "classes": model.prototype_classes().cpu()}

    def finalize(self, results, ctx):
        rows, per_model, verdicts, figures = [], [], {}, {}
        for r in results:
            name = r.get("model", self.models[0])
            classes, labels = r["classes"], r["label"]
            bold, red = prototype_marks(r["h_nat"], r["h_adv"], classes, labels)   # [m, 2n]: Nat., Adv. per digit
            rows += [{"model": name, "prototype": j, "class": c,
                      **{f"{lab}_{tag}": r[f"h_{tag}"][d][j] for d, lab in enumerate(labels) for tag in ("nat", "adv")}}
                     for j, c in enumerate(classes)]
            s = {"model": name, "r1_r2": r_weights(ctx.models[name][1]) if name in ctx.models else "?",
                 "digits": len(labels), "idx": ", ".join(map(str, r["idx"])),
                 "natural_min_correct": int((red & bold)[:, 0::2].any(0).sum()),    # minimum at the correct class
                 "adversarial_min_wrong": int((red & ~bold)[:, 1::2].any(0).sum()),  # minimum at a wrong class
                 "label_kept": sum(r["label_kept"])}
            s["adversarial_min_wrong_interval"] = proportion(s["adversarial_min_wrong"], s["digits"]).to_dict()
            s["natural_min_correct_interval"] = proportion(s["natural_min_correct"], s["digits"]).to_dict()
            verdicts[name] = table_verdict(s)
            per_model.append({**s, "verdict": verdicts[name][0]})
            figures[f"{name.replace('-', '_')}_table"] = prototype_table_figure(
                r["h_nat"], r["h_adv"], classes, labels,
                f"{name}: prototype distances, natural vs adversarial (bold: correct class; red: column minimum)")
        summary = {"models": per_model, "verdicts": {m: v for m, (v, _) in verdicts.items()},
                   "verdict_reasons": {m: why for m, (_, why) in verdicts.items()}}
        return Outputs(rows, summary, figures)

    def verdict(self, s):
        return combine_verdicts({m: (v, s["verdict_reasons"][m]) for m, v in s["verdicts"].items()})
