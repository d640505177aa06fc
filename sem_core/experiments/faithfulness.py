"""Paper 001, Fig. 3 (right): faithfulness of SENN's relevances (the ``faithfulness`` experiment)."""
from __future__ import annotations

import torch

from ..viz.experiments import box_figure
from .common import DigitExperiment, columns, median, prose
from .runner import EXPERIMENTS, Outputs


@EXPERIMENTS.register("faithfulness")
class Faithfulness(DigitExperiment):
    paper = "paper 001, Fig. 3 (right)"
    claim = prose("""
        SENN's relevances are faithful: removing a concept drops the predicted class's probability in proportion
        to the concept's relevance.""")
    models = ("senn",)
    notes = prose("""
        Removing a concept = setting h_i(x) to 0 with θ(x) unchanged; per digit, the Pearson correlation between
        θ_i(x) for the predicted class and the probability drop over all k concepts of the model (12 for
        `senn`), as in paper 001's faithfulness estimate.""")
    defaults = {"n": 1000, "chunk": 250}
    probe = {"n": 1}

    def run_chunk(self, spec, ctx):
        model, (x, _) = ctx.model("senn"), ctx.test_split()
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
            rc = e.relevances - e.relevances.mean(1, keepdim=True)
            dc = drops - drops.mean(1, keepdim=True)
            corr = (rc * dc).sum(1) / (rc.norm(dim=1) * dc.norm(dim=1)).clamp(min=1e-12)
        return {"idx": spec["digits"], "correlation": corr.cpu()}

    def finalize(self, results, ctx):
        cols, rows = columns(results)
        summary = {"n": len(rows), "correlation_median": median(cols["correlation"]),
                   "share_positive": sum(c > 0 for c in cols["correlation"]) / len(rows)}
        fig = box_figure({"SENN (learnt concepts)": cols["correlation"]},
                         f"Faithfulness: corr(θᵢ, probability drop when hᵢ is removed), n={len(rows)}",
                         "Pearson correlation")
        return Outputs(rows, summary, {"faithfulness": fig})

    def verdict(self, s):
        if s["correlation_median"] >= 0.5:
            return "reproduced", f"median correlation {s['correlation_median']:.2f}"
        if s["correlation_median"] > 0:
            return "partly", f"median correlation {s['correlation_median']:.2f} (positive but weak)"
        return "not", f"median correlation {s['correlation_median']:.2f}"
