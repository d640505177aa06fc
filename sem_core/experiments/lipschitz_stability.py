"""Paper 002, Fig. 6 and paper 001, Fig. 5C: local Lipschitz estimates of post-hoc explainers and of
SENN's own explanation (the ``lipschitz`` experiment; named so as not to read as ``sem_core.lipschitz``)."""
from __future__ import annotations

from ..lipschitz import explanation_function, local_lipschitz
from ..viz.experiments import box_figure
from .common import median, prose
from .runner import EXPERIMENTS, Experiment, Outputs
from .sampling import pick_digits


@EXPERIMENTS.register("lipschitz")
class Lipschitz(Experiment):
    paper = "paper 002, Fig. 6; paper 001, Fig. 5C"
    claim = prose("""
        Post-hoc explainers have large local Lipschitz estimates (LIME the worst on MNIST); SENN's own
        explanations are the most stable.""")
    models = ("cnn", "senn")
    notes = prose("""
        Post-hoc explainers explain the shipped CNN; L̂(x) = max ‖E(x) − E(x')‖ / ‖x − x'‖ over the ε-ball on
        the raw maps (not normalised). Gradient explainers: projected gradient ascent with random restarts; LRP,
        occlusion, LIME and SHAP: Bayesian optimisation over 7×7-block perturbations with `budget` explainer
        calls. senn:self is paper 001's eq. 5, ‖θ(x) − θ(x')‖ / ‖h(x) − h(x')‖ for the shipped SENN (λ = 0.01):
        a ratio in other units, so its rank against the post-hoc maps is only indicative. The λ sweep
        (senn-lambda) shows how this estimate behaves as the stability weight grows.""")
    defaults = {"n": 20, "eps": 0.1, "budget": 20,
                "explainers": ["saliency", "gradxinput", "ig", "deeplift", "smoothgrad", "lrp", "occlusion", "lime",
                               "shap", "senn:self"]}

    def chunks(self, ctx):
        return [{"explainer": e} for e in ctx.params["explainers"]]

    def run_chunk(self, spec, ctx):
        model_name, name = spec["explainer"].split(":") if ":" in spec["explainer"] else ("cnn", spec["explainer"])
        model, (x, y) = ctx.model(model_name), ctx.test_split()
        idx = pick_digits(y, ctx.params["n"], ctx.params["seed"])
        r = local_lipschitz(explanation_function(model, name), x[idx].to(ctx.device), eps=ctx.params["eps"],
                            budget=ctx.params["budget"], seed=ctx.params["seed"])
        return {"explainer": spec["explainer"], "idx": idx, "values": r.values, "method": r.search, "calls": r.calls}

    def finalize(self, results, ctx):
        rows = [{"explainer": r["explainer"], "idx": i, "value": v, "method": r["method"], "calls": r["calls"]}
                for r in results for i, v in zip(r["idx"], r["values"])]
        medians = {r["explainer"]: median(r["values"]) for r in results}
        summary = {"medians": medians, "budget": ctx.params["budget"], "eps": ctx.params["eps"],
                   "methods": {r["explainer"]: r["method"] for r in results}}
        fig = box_figure({r["explainer"]: r["values"] for r in results},
                         f"Local Lipschitz estimates (n={ctx.params['n']}, ε={ctx.params['eps']}, "
                         f"budget {ctx.params['budget']})", "L̂(x)", log_y=True)
        return Outputs(rows, summary, {"lipschitz": fig})

    def verdict(self, s):
        med = s["medians"]
        post = {k: v for k, v in med.items() if not k.endswith(":self")}
        worst = max(post, key=post.get)
        senn = med.get("senn:self")
        senn_best = senn is not None and senn <= min(post.values())
        text = "; ".join(f"{k} {v:.3g}" for k, v in sorted(med.items(), key=lambda kv: kv[1]))
        if worst == "lime" and senn_best:
            return "reproduced", f"LIME least stable, SENN most stable (medians: {text})"
        if worst == "lime" or senn_best:
            return "partly", f"medians: {text} (maps have different scales; compare with care)"
        rank = sorted(post, key=post.get, reverse=True)
        lime = f"LIME ranks {rank.index('lime') + 1} of {len(rank)} post-hoc explainers (worst: {worst})" \
            if "lime" in rank else f"worst post-hoc explainer: {worst}"
        senn_txt = "" if senn is None else (f"; SENN's own explanation has the {'largest' if senn >= max(post.values()) else 'a larger'} "
                                            f"estimate, not the smallest")
        return "not", f"{lime}{senn_txt} (medians: {text})"
