"""Paper 000, Table 1: PrototypeDL's prototype distances of one digit per class, natural vs adversarial
(the ``protodl-table`` experiment), on the shipped ``protodl`` and on ``protodl-li`` (Li et al.'s loss
weights), each with its own verdict."""
from __future__ import annotations

import torch

from ..viz.tables import prototype_marks, prototype_table_figure
from .common import prose
from .protodl_distances import combine_verdicts, protodl_distances, r_weights
from .runner import EXPERIMENTS, Experiment, Outputs


def table_verdict(s) -> tuple[str, str]:
    """Table 1's verdict for one model: every natural minimum at the correct class, at least half the
    adversarial minima at a wrong class, every label kept."""
    n = s["digits"]
    if s["natural_min_correct"] == n and s["adversarial_min_wrong"] >= (n + 1) // 2 and s["label_kept"] == n:
        return "reproduced", (f"natural minima all at the correct class; {s['adversarial_min_wrong']}/{n} "
                              "adversarial minima at a wrong class, labels kept")
    return "partly", (f"natural minima correct {s['natural_min_correct']}/{n}; adversarial minima wrong "
                      f"{s['adversarial_min_wrong']}/{n}; labels kept {s['label_kept']}/{n}")


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
