"""An explanation-robustness card for any model (the ``card`` experiment; issue 31): every attack family the model's
capabilities allow, at the papers' standard budgets, each against its control on the same digits, on scale-free
numbers with 95 % bootstrap intervals; the local Lipschitz estimate of its explanations (scale-free, with noise
floors); its accuracy and the facts of its checkpoint card.

    python -m sem_core card --model senn --n 100 --out cards/senn      # = experiment card --param model=senn

Sections (``SECTIONS``; a section the model cannot take is listed in the card with the reason, never left out
silently):
    accuracy    the whole test split of the model's own data source
    saliency    per differentiable explainer of ``methods``: the top-k attack (paper 003 Alg. 1), the mass-center
                attack and the targeted-region attack (a SLIC superpixel on the object that the natural map ignores,
                ``attacks.saliency.quiet_superpixels``), each against the equal-budget random control: the best of
                ``steps`` random-sign draws of the same ε judged on the same metric (issue 28, point 3). k is the
                same *fraction* of the image's pixels as the papers' 50 of 784, the center shift is in units of the
                image's diagonal, the region mass is a fraction of the map: numbers comparable across image sizes.
    concept     models with concepts (SENN-like): paper 000 Fig. 2 — per digit the smallest concept distance an
                attack toward ``targets`` other-class digits reaches, over the digit's natural distance to its own
                class; scale-free (a ratio within the model).
    prototype   prototype models (PrototypeDL-like): paper 000 Fig. 3 — whether the nearest prototype keeps the
                digit's class under the attack.
    lipschitz   per explainer of ``lipschitz_explainers`` (and SENN's θ of the predicted class, the authors' reading):
                the strict protocol's search, its elasticity (‖ΔE‖/‖E(x)‖)/(‖Δx‖/‖x‖) and noise floor.
    sanity      per explainer of ``sanity_explainers`` ("self": the model's own explanation, where it has one):
                Adebayo et al.'s cascading parameter randomisation (``explain.sanity.randomisation_check``), the
                Spearman rank correlation of |map| between the trained and the fully randomised network per digit;
                an explainer *passes* when the interval of its median lies below ``sanity.PASS_BELOW``.
ε is in [0, 1] pixel units, scaled to the model's input range (``model.input_range``) when it declares another.

Verdict rule (stated with the card, before its runs): the papers' fragility finding *holds* for a family when its
attack beats the control on the interval's bound — saliency: the mean paired gap (control − attack) of the top-k
intersection lies above ``saliency_fragility.MARGIN`` (the mass-center and region attacks are reported, not judged);
concept: the interval of median(adversarial out-class) / median(natural in-class) lies below 1; prototype: the mean
paired drop in nearest-prototype consistency (natural − attacked) lies above 0.1 — every one with the label kept.
*reproduced*: the finding holds for every family the model takes; *partly*: for some; *not*: for none. A card's
"reproduced" is bad news for the model: its explanations are fragile.
"""
from __future__ import annotations

from typing import Any

import torch

from ..attacks import create_attack
from ..attacks.saliency import quiet_superpixels
from ..errors import AttackError, SemError
from ..metrics.stats import Interval, bootstrap, bootstrap_paired, mean_difference, ratio_of_medians
from ..models.capabilities import ConceptModel, PrototypeModel, has_capability, input_domain
from ..viz.experiments import box_figure
from .common import digit_chunks, median, prose, require_moved
from .runner import EXPERIMENTS, Experiment, Outputs
from .saliency_fragility import MARGIN

SECTIONS = ("accuracy", "saliency", "concept", "prototype", "lipschitz", "sanity")
KINDS = ("topk", "center", "region")
PAPER_K_FRACTION = 50 / 784       # paper 003's k on MNIST-size maps here: 50 of 28·28 pixels
PROTOTYPE_DROP = 0.1              # the prototype finding holds when the consistency drop's interval clears this
CARD_SCHEMA = 1                   # card.json's schema version (``sem_core.viz.card``)


def card_k(shape: tuple[int, ...]) -> int:
    """The top-k size for maps of ``shape`` (…, H, W): the papers' fraction of the pixels, at least 1."""
    return max(1, round(PAPER_K_FRACTION * shape[-2] * shape[-1]))


def scaled_eps(model, eps: float) -> float:
    """ε in [0, 1] units as the model's input units (its declared ``input_range``)."""
    lo, hi = input_domain(model)
    return eps * (hi - lo)


def applicable(model) -> dict[str, str | None]:
    """section -> None when ``model`` can take it, else the reason it cannot (shown in the card)."""
    from ..lipschitz import list_lipschitz_explainers  # noqa: F401  (the lipschitz package registers its explainers)

    out: dict[str, str | None] = {"accuracy": None, "saliency": None, "lipschitz": None}
    out["concept"] = None if has_capability(model, ConceptModel) else \
        "not a concept model (no concepts(x), relevances(x), aggregate(h, θ))"
    out["prototype"] = None if has_capability(model, PrototypeModel) else \
        "not a prototype model (no prototype_distances(x), prototype_classes(), classifier(h))"
    return out


@EXPERIMENTS.register("card")
class RobustnessCard(Experiment):
    paper = "papers 000 (Figs. 2, 3), 002 (local Lipschitz) and 003 (Fig. 3, Sec. 3) applied to one model"
    claim = prose("""
        The papers' fragility findings hold for this model: at their standard budgets, each attack family its
        capabilities allow moves the explanation further than an equal-budget random control of the same size, while
        the predicted label stays.""")
    models = ("cnn",)      # the model parameter replaces it: `card --model NAME|PATH`
    notes = prose("""
        One model, the sections its capabilities allow; the same seeded digits in every section (so two cards of
        the same n and seed are paired digit by digit, as the leaderboard compares them). Saliency: the strict
        budget of saliency-fragility (50 steps of 2.5·ε/50, IG 16 steps) at ε 0.1, the control the best of as many
        random-sign draws as the attack has steps; concept and prototype: the defenses experiment's protocols (ε 0.3,
        100 steps); Lipschitz: the strict protocol (L∞ ball ε 0.1, batched Bayesian optimisation) with
        lipschitz_calls evaluations per digit. Numbers are scale-free: fractions of the map or the image, ratios
        within the model, elasticities.""")
    defaults = {"n": 100, "eps": 0.1, "steps": 50, "ig_steps": 16, "methods": ["saliency", "gradxinput"],
                "kinds": list(KINDS), "concept_eps": 0.3, "concept_steps": 100, "targets": 20,
                "lipschitz_explainers": ["saliency", "gradxinput"], "lipschitz_calls": 10,
                "sanity_explainers": ["saliency", "gradxinput", "self"], "chunk": 25}
    probe = {"n": 1, "steps": 2, "concept_steps": 2, "targets": 2, "lipschitz_calls": 2}

    def chunks(self, ctx):
        p = ctx.params
        model = ctx.model("cnn")
        bad = [k for k in p["kinds"] if k not in KINDS]
        if bad:
            raise SemError(f"experiment card: kinds must be among {', '.join(KINDS)}, got {', '.join(map(str, bad))}")
        can = applicable(model)
        digits = digit_chunks(ctx, p["chunk"])
        specs: list[dict[str, Any]] = [{"section": "accuracy"}]
        if can["saliency"] is None:
            specs += [{"section": "saliency", "method": m, **d} for m in p["methods"] for d in digits]
        for section in ("concept", "prototype"):
            if can[section] is None:
                specs += [{"section": section, **d} for d in digits]
        if can["lipschitz"] is None:
            specs += [{"section": "lipschitz", "explainer": e, **d} for e in self._lipschitz_explainers(model, p)
                      for d in digits]
        specs += [{"section": "sanity", **d} for d in digits]
        return specs

    @staticmethod
    def _lipschitz_explainers(model, p) -> list[str]:
        from ..lipschitz.protocols import THETA_PRED
        from ..models.base import SemModel

        own = [THETA_PRED] if isinstance(model, SemModel) and has_capability(model, ConceptModel) else []
        return [*own, *p["lipschitz_explainers"]]

    def run_chunk(self, spec, ctx):
        try:
            return getattr(self, f"_{spec['section']}")(spec, ctx)
        except SemError as exc:   # e.g. an attack that cannot move this model's digits: the card says so
            if spec["section"] == "accuracy":
                raise
            return {"section": spec["section"], "error": " ".join(str(exc).split())[:500],
                    **{k: spec[k] for k in ("method", "explainer") if k in spec}}

    # ---- sections -------------------------------------------------------------------------------------------
    def _accuracy(self, spec, ctx):
        model, (x, y) = ctx.model("cnn"), ctx.test_split()
        with torch.no_grad():
            pred = torch.cat([model(b.to(ctx.device)).argmax(1).cpu() for b in x.split(500)])
        return {"correct": int((pred == y).sum()), "total": len(y)}

    def _saliency(self, spec, ctx):
        p, model, (x, y) = ctx.params, ctx.model("cnn"), ctx.test_split()
        idx = spec["digits"]
        xb, yb = x[idx].to(ctx.device), y[idx].to(ctx.device)
        eps, k = scaled_eps(model, p["eps"]), card_k(x.shape)
        make = lambda kind: create_attack(model, f"saliency_{kind}", method=spec["method"], eps=eps,  # noqa: E731
                                          steps=p["steps"], k=k, ig_steps=p["ig_steps"])
        what = f"card: saliency {spec['method']}"
        draws = [require_moved(make("random")(xb, yb, seed=p["seed"] + d), f"{what} random draw {d}")
                 for d in range(p["steps"])]
        out: dict[str, Any] = {"method": spec["method"], "idx": idx, "k": k}
        diag = float(x.shape[-1] ** 2 + x.shape[-2] ** 2) ** 0.5
        rand_inter = torch.stack([r.metrics["topk_intersection"] for r in draws])        # [D,B]
        rand_shift = torch.stack([r.metrics["center_shift"] for r in draws]) / diag
        kept = torch.stack([r.label_kept for r in draws])
        out["random_topk"] = rand_inter.min(0).values.tolist()       # the control's best on each metric
        out["random_center"] = rand_shift.max(0).values.tolist()
        out["random_label_kept"] = kept.all(0).tolist()
        out["random_single_topk"] = rand_inter[0].tolist()
        for kind in p["kinds"]:
            if kind == "region":
                out.update(self._region(make, draws, xb, yb, p, what))
                continue
            res = require_moved(make(kind)(xb, yb, seed=p["seed"]), f"{what} {kind}")
            out[f"{kind}_topk"] = res.metrics["topk_intersection"].tolist()
            out[f"{kind}_center"] = (res.metrics["center_shift"] / diag).tolist()
            out[f"{kind}_label_kept"] = res.label_kept.tolist()
        return out

    @staticmethod
    def _region(make, draws, xb, yb, p, what) -> dict[str, Any]:
        """The targeted-region attack toward each digit's quiet superpixel, and the control's best region mass."""
        atk = make("region")
        masks, has = [], []
        for b in range(len(xb)):        # a digit without a usable superpixel is left out of this metric, counted
            try:
                masks.append(quiet_superpixels(xb[b:b + 1], draws[0].explanations["natural"][b:b + 1]))
                has.append(True)
            except AttackError:
                masks.append(torch.zeros(1, 1, *xb.shape[-2:]))
                has.append(False)
        mask = torch.cat(masks).to(xb.device)
        nan = [float("nan")] * len(xb)
        if not any(has):
            return {"region_mass": nan, "region_mass_before": nan, "random_region_mass": nan, "region_label_kept": [True] * len(xb)}
        sel = torch.tensor(has)
        res = require_moved(atk(xb[sel], yb[sel], target=mask[sel], seed=p["seed"]), f"{what} region")
        after = torch.full((len(xb),), float("nan"))
        before = after.clone()
        after[sel], before[sel] = res.metrics["region_mass_after"].cpu(), res.metrics["region_mass_before"].cpu()
        kept = torch.ones(len(xb), dtype=torch.bool)
        kept[sel] = res.label_kept.cpu()
        m = mask.cpu()
        rand = torch.stack([(r.explanations["adversarial"] * m).flatten(1).sum(1) for r in draws]).max(0).values
        rand[~sel] = float("nan")
        return {"region_mass": after.tolist(), "region_mass_before": before.tolist(),
                "random_region_mass": rand.tolist(), "region_label_kept": kept.tolist()}

    def _concept(self, spec, ctx):
        from .senn_distances import senn_distances

        p, model, (x, y) = ctx.params, ctx.model("cnn"), ctx.test_split()
        r = senn_distances(model, x, y, idx=torch.tensor(spec["digits"]), targets=p["targets"],
                           eps=scaled_eps(model, p["concept_eps"]), steps=p["concept_steps"], seed=p["seed"])
        return {"idx": spec["digits"], "adv_outclass": r.adv_outclass.tolist(), "in_class": r.in_class.tolist(),
                "label_kept_rate": r.label_kept.float().mean(1).tolist()}

    def _prototype(self, spec, ctx):
        from .protodl_distances import protodl_distances

        p, model, (x, y) = ctx.params, ctx.model("cnn"), ctx.test_split()
        r = protodl_distances(model, x, y, idx=torch.tensor(spec["digits"]), eps=scaled_eps(model, p["concept_eps"]),
                              steps=p["concept_steps"], seed=p["seed"])
        cols = r.columns()
        return {"idx": spec["digits"], **{k: [float(v) for v in cols[k].tolist()]
                                          for k in ("label_kept", "nearest_consistent_nat", "nearest_consistent_adv")}}

    def _lipschitz(self, spec, ctx):
        from ..lipschitz.protocols import get_protocol, noise_floor, protocol_lipschitz

        p, model, (x, _) = ctx.params, ctx.model("cnn"), ctx.test_split()
        xb = x[spec["digits"]].to(ctx.device)
        protocol = get_protocol("strict")
        r = protocol_lipschitz(model, spec["explainer"], xb, protocol, seed=p["seed"], calls=p["lipschitz_calls"])
        rel = r.relative()
        floor = noise_floor(model, spec["explainer"], xb, protocol, seed=p["seed"])
        return {"explainer": spec["explainer"], "idx": spec["digits"], "value": r.values.tolist(),
                "elasticity": rel["elasticity"].tolist(), "change": rel["change"].tolist(),
                "noise_floor": floor.tolist() if floor is not None else [0.0] * len(spec["digits"])}

    def _sanity(self, spec, ctx):
        from ..explain.sanity import randomisation_check

        p, model, (x, _) = ctx.params, ctx.model("cnn"), ctx.test_split()
        r = randomisation_check(model, x[spec["digits"]].to(ctx.device), explainers=p["sanity_explainers"],
                                mode="cascading", seed=p["seed"])
        last = {e: {m: (v[:, -1].tolist() if v is not None else None) for m, v in r.similarity[e].items()}
                for e in r.explainers}
        return {"sanity": last, "idx": spec["digits"], "about": {"layers": list(r.layers), "skipped": dict(r.skipped)}}

    # ---- summary --------------------------------------------------------------------------------------------
    def finalize(self, results, ctx):
        p, seed = ctx.params, ctx.params["seed"]
        model, card = ctx.models["cnn"]
        by = {s: [r for r in results if _section(r) == s] for s in SECTIONS}
        acc = by["accuracy"][0]
        summary: dict[str, Any] = {
            "schema": CARD_SCHEMA, "model": p.get("model", "cnn"), "architecture": card.get("model"),
            "sha256": card.get("sha256"), "data_source": card.get("data", {}).get("source"),
            "claimed_accuracy": card.get("test_accuracy"), "accuracy": acc["correct"] / acc["total"],
            "accuracy_digits": acc["total"], "n": p["n"], "eps": p["eps"],
            "not_applicable": {s: why for s, why in applicable(model).items() if why}, "sections": {}}
        rows: list[dict[str, Any]] = []
        figures: dict[str, Any] = {}
        if by["saliency"]:
            summary["sections"]["saliency"] = self._saliency_summary(by["saliency"], p, seed, rows, figures)
        if by["concept"]:
            summary["sections"]["concept"] = self._concept_summary(by["concept"], seed, rows)
        if by["prototype"]:
            summary["sections"]["prototype"] = self._prototype_summary(by["prototype"], seed, rows)
        if by["lipschitz"]:
            summary["sections"]["lipschitz"] = self._lipschitz_summary(by["lipschitz"], seed, rows, figures)
        if by["sanity"]:
            summary["sections"]["sanity"] = self._sanity_summary(by["sanity"], seed, rows)
        failed = [r for r in results if "error" in r]
        summary["failed"] = {_failed_name(r): r["error"] for r in failed}
        summary["headline"] = headline(summary)
        keys = list(dict.fromkeys(k for r in rows for k in r))       # one CSV: empty cells where a section has none
        return Outputs([{k: r.get(k) for k in keys} for r in rows], summary, figures)

    @staticmethod
    def _saliency_summary(results, p, seed, rows, figures) -> dict[str, Any]:
        out: dict[str, Any] = {"k": results[0]["k"], "steps": p["steps"], "kinds": p["kinds"], "methods": {}}
        groups: dict[str, list[float]] = {}
        for method in dict.fromkeys(r["method"] for r in results):
            col = _columns([r for r in results if r["method"] == method])
            entry: dict[str, Any] = {"random_topk_mean": _mean(col["random_topk"]),
                                     "random_single_topk_mean": _mean(col["random_single_topk"])}
            if "topk" in p["kinds"]:
                entry["topk_mean"] = bootstrap(col["topk_topk"], "mean", seed=seed).to_dict()
                entry["topk_gap"] = bootstrap_paired(col["random_topk"], col["topk_topk"], mean_difference,
                                                     seed=seed).to_dict()
                entry["topk_label_kept"] = _mean(col["topk_label_kept"])
                groups[f"{method}: top-k attack"] = col["topk_topk"]
                groups[f"{method}: random control"] = col["random_topk"]
            if "center" in p["kinds"]:
                entry["center_shift"] = bootstrap(col["center_center"], "median", seed=seed).to_dict()
                entry["center_gap"] = bootstrap_paired(col["center_center"], col["random_center"], mean_difference,
                                                       seed=seed).to_dict()
            if "region" in p["kinds"]:
                ok = [i for i, v in enumerate(col["region_mass"]) if v == v]
                entry["region_digits"] = len(ok)
                if ok:
                    pick = lambda key: [col[key][i] for i in ok]  # noqa: E731
                    entry["region_mass"] = bootstrap(pick("region_mass"), "mean", seed=seed).to_dict()
                    entry["region_gap"] = bootstrap_paired(pick("region_mass"), pick("random_region_mass"),
                                                           mean_difference, seed=seed).to_dict()
                    entry["region_mass_before_mean"] = _mean(pick("region_mass_before"))
            out["methods"][method] = entry
            for i, d in enumerate(col["idx"]):
                rows.append({"section": "saliency", "method": method, "idx": d,
                             **{k: col[k][i] for k in col if k not in ("idx", "method", "k")}})
        figures["card_saliency"] = box_figure(groups, f"Top-{out['k']} intersection under attack and under the "
                                                      f"equal-budget random control (ε {p['eps']})", "intersection")
        return out

    @staticmethod
    def _concept_summary(results, seed, rows) -> dict[str, Any]:
        col = _columns(results)
        for i, d in enumerate(col["idx"]):
            rows.append({"section": "concept", "idx": d, "adv_outclass": col["adv_outclass"][i],
                         "in_class": col["in_class"][i], "label_kept": col["label_kept_rate"][i]})
        return {"ratio": bootstrap_paired(col["adv_outclass"], col["in_class"], ratio_of_medians, seed=seed).to_dict(),
                "adv_outclass_median": median(col["adv_outclass"]), "in_class_median": median(col["in_class"]),
                "label_kept": _mean(col["label_kept_rate"])}

    @staticmethod
    def _prototype_summary(results, seed, rows) -> dict[str, Any]:
        col = _columns(results)
        for i, d in enumerate(col["idx"]):
            rows.append({"section": "prototype", "idx": d, **{k: col[k][i] for k in col if k != "idx"}})
        return {"consistency": bootstrap(col["nearest_consistent_adv"], "mean", seed=seed).to_dict(),
                "natural_consistency": _mean(col["nearest_consistent_nat"]),
                "drop": bootstrap_paired(col["nearest_consistent_nat"], col["nearest_consistent_adv"], mean_difference,
                                         seed=seed).to_dict(),
                "label_kept": _mean(col["label_kept"])}

    @staticmethod
    def _lipschitz_summary(results, seed, rows, figures) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": "strict", "explainers": {}}
        for e in dict.fromkeys(r["explainer"] for r in results):
            col = _columns([r for r in results if r["explainer"] == e])
            for i, d in enumerate(col["idx"]):
                rows.append({"section": "lipschitz", "explainer": e, "idx": d,
                             **{k: col[k][i] for k in ("value", "elasticity", "change", "noise_floor")}})
            finite = [v for v in col["elasticity"] if v == v]
            out["explainers"][e] = {"elasticity": bootstrap(finite, seed=seed).to_dict() if finite else None,
                                    "change": bootstrap(col["change"], seed=seed).to_dict(),
                                    "noise_floor": median(col["noise_floor"]), "value_median": median(col["value"])}
        figures["card_lipschitz"] = box_figure(
            {e: [r["elasticity"] for r in rows if r.get("explainer") == e] for e in out["explainers"]},
            "Local Lipschitz, scale-free: elasticity at the search's maximiser (strict protocol)", "elasticity",
            log_y=True)
        return out

    @staticmethod
    def _sanity_summary(results, seed, rows) -> dict[str, Any]:
        from ..explain.sanity import PASS_BELOW

        about = results[0]["about"]
        out: dict[str, Any] = {"mode": "cascading", "layers": about["layers"], "pass_below": PASS_BELOW,
                               "skipped": about["skipped"], "explainers": {}}
        idx = [d for r in results for d in r["idx"]]
        for e in results[0]["sanity"]:
            cols = {m: [v for r in results for v in (r["sanity"][e][m] or [])] for m in results[0]["sanity"][e]}
            for i, d in enumerate(idx):
                rows.append({"section": "sanity", "explainer": e, "idx": d,
                             **{f"sanity_{m}": (v[i] if v else None) for m, v in cols.items()}})
            finite = [v for v in cols["spearman_abs"] if v == v]
            iv = bootstrap(finite, seed=seed) if finite else None
            out["explainers"][e] = {
                "spearman_abs": iv.to_dict() if iv else None,
                "spearman": bootstrap([v for v in cols["spearman"] if v == v], seed=seed).to_dict()
                if any(v == v for v in cols["spearman"]) else None,
                "ssim": median(cols["ssim"]) if cols.get("ssim") else None,
                "passes": bool(iv is None or iv.under(PASS_BELOW)), "constant": iv is None}
        return out

    def verdict(self, s):
        """The rule of the module docstring."""
        found = findings(s)
        parts = [f"{family}: {'holds' if ok else 'does not hold'} ({why})" for family, (ok, why) in found.items()]
        missing = "; ".join(f"{k}: {v}" for k, v in s.get("not_applicable", {}).items())
        failed = "; ".join(f"{k}: {v}" for k, v in s.get("failed", {}).items())
        text = "; ".join(parts) + (f" (not applicable — {missing})" if missing else "") + (
            f" (could not run — {failed})" if failed else "")
        oks = [ok for ok, _ in found.values()]
        if not oks:
            return "not", "no attack family could be run on this model" + (f" ({missing})" if missing else "")
        return ("reproduced" if all(oks) else "partly" if any(oks) else "not"), text


def _section(r: dict[str, Any]) -> str:
    """Which section a stored chunk result belongs to (read from its columns)."""
    if "error" in r:
        return "failed"
    if "sanity" in r:
        return "sanity"
    if "method" in r:
        return "saliency"
    if "explainer" in r:
        return "lipschitz"
    if "adv_outclass" in r:
        return "concept"
    if "nearest_consistent_adv" in r:
        return "prototype"
    return "accuracy"


def _failed_name(r: dict[str, Any]) -> str:
    """A failed chunk's section as the card names it, e.g. "saliency (ig)"."""
    what = r.get("method") or r.get("explainer")
    return f"{r['section']} ({what})" if what else r["section"]


def _columns(results: list[dict[str, Any]]) -> dict[str, list]:
    keys = [k for k, v in results[0].items() if isinstance(v, list)]
    return {k: [v for r in results for v in r[k]] for k in keys}


def _mean(values) -> float:
    vals = [float(v) for v in values if v == v]
    return sum(vals) / len(vals) if vals else float("nan")


def findings(s: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """family -> (the papers' fragility finding holds for this model, why), by the module docstring's rule."""
    out: dict[str, tuple[bool, str]] = {}
    sections = s.get("sections", {})
    sal = sections.get("saliency")
    if sal:
        for method, e in sal["methods"].items():
            if "topk_gap" not in e:
                continue
            gap = Interval.from_dict(e["topk_gap"])
            ok = gap.clears(MARGIN) and e["topk_label_kept"] == 1
            out[f"saliency ({method})"] = (ok, f"top-{sal['k']} intersection {e['topk_mean']['point']:.2f} under "
                                               f"attack vs {e['random_topk_mean']:.2f} for the random control, gap "
                                               f"{gap.text('.2f')}")
    if "concept" in sections:
        c = sections["concept"]
        ratio = Interval.from_dict(c["ratio"])
        out["concept"] = (ratio.under(1) and c["label_kept"] == 1,
                          f"adversarial out-class distance {ratio.text('.2f')}× the natural in-class median")
    if "prototype" in sections:
        pr = sections["prototype"]
        drop = Interval.from_dict(pr["drop"])
        out["prototype"] = (drop.clears(PROTOTYPE_DROP) and pr["label_kept"] == 1,
                            f"nearest-prototype consistency {pr['natural_consistency']:.0%} → "
                            f"{pr['consistency']['point']:.0%} under attack (drop {drop.text('.2f')})")
    return out


#: the leaderboard's columns: (key, label, higher is more robust)
HEADLINES = (("saliency_topk", "Saliency top-k kept under attack", True),
             ("lipschitz_elasticity", "Saliency elasticity (Lipschitz)", False),
             ("concept_ratio", "Concept attack: adversarial / natural in-class", True),
             ("prototype_consistency", "Nearest prototype keeps its class under attack", True),
             ("sanity_saliency", "Saliency map after randomising the network (Spearman)", False))


def headline(s: dict[str, Any]) -> dict[str, Any]:
    """The card's headline numbers (``HEADLINES``), each an ``Interval`` dict or None when the model does not take
    that section: the gradient saliency map's top-k intersection under the top-k attack and its Lipschitz
    elasticity (every differentiable model), the concept ratio and the prototype consistency under attack."""
    sec = s.get("sections", {})
    sal = sec.get("saliency", {}).get("methods", {}).get("saliency", {})
    lip = sec.get("lipschitz", {}).get("explainers", {}).get("saliency", {})
    return {"saliency_topk": sal.get("topk_mean"), "lipschitz_elasticity": lip.get("elasticity"),
            "concept_ratio": sec.get("concept", {}).get("ratio"),
            "prototype_consistency": sec.get("prototype", {}).get("consistency"),
            "sanity_saliency": sec.get("sanity", {}).get("explainers", {}).get("saliency", {}).get("spearman_abs")}


CARD_FILES = ("card.json", "card.md", "card.html")


def read_card(folder) -> tuple[dict[str, Any], dict[str, Any]]:
    """(card document, figures) of a finished ``card`` run in ``folder``, from its *verified* manifest
    (``runner.open_results``: an edited, foreign or unsealed folder is refused); the card files beside it are
    exports and never read back."""
    from ..viz.card import card_document
    from .integrity import show
    from .runner import open_results

    from ..viz.card import card_command

    manifest, figures, _ = open_results(folder)
    if manifest.get("experiment") != "card":
        raise SemError(f"{folder} holds a run of {show(manifest.get('experiment'))}, not a robustness card")
    command = card_command(manifest["params"], RobustnessCard.defaults, str(folder))
    return card_document(manifest, findings(manifest["summary"]), HEADLINES, command), figures


def write_card(folder) -> dict[str, Any]:
    """Write card.json, card.md and card.html (self-contained) into a finished ``card`` run's ``folder``; returns the
    card document."""
    from pathlib import Path

    from ..viz.card import card_html, card_json, card_markdown
    from .integrity import write_atomic

    doc, figures = read_card(folder)
    for name, text in zip(CARD_FILES, (card_json(doc), card_markdown(doc), card_html(doc, figures))):
        write_atomic(Path(folder) / name, text)
    return doc
