"""Paper 000, Fig. 3: PrototypeDL's distances, natural vs adversarial (the ``attack protodl`` CLI and
the ``protodl-distances`` experiment).

Reports, over the correctly classified digits: nearest-prototype consistency (the nearest
prototype's class is the label) and D-consistency (D(x, y) < min over y' ≠ y of D(x, y')), before
and after the untargeted attack (eq. 3), and the medians of D(x, y) and min D(x, y'). The experiment
runs on two PrototypeDLs: the shipped ``protodl`` (R1/R2 weight 0.5) and ``protodl-li`` (Li et al.'s
0.05, OscarcarLi/PrototypeDL ``CAE_MNIST.py``), each with its own verdict, plus a ξ sweep and an α sweep
of eq. 3 (paper 000 gives no values for either).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch

from ..attacks.base import AttackResult
from ..attacks.protodl_prototype import ProtoDLAttack
from ..metrics.stats import Interval, bootstrap, bootstrap_paired, mean_difference
from ..models.protodl import class_distances
from ..viz.experiments import box_figure, lines_figure
from .common import DigitExperiment, columns, median, prose
from .runner import EXPERIMENTS, Outputs
from .sampling import pick_digits

DISTANCES = ("D_true_nat", "D_other_nat", "D_true_adv", "D_other_adv")
CONSISTENCY = ("nearest_consistent_nat", "nearest_consistent_adv")


def share(flags: torch.Tensor) -> float:
    """The share of true entries of a 0/1 column, in double precision; 0 for an empty column."""
    return flags.sum().item() / max(len(flags), 1)


def protodl_summary(cols: Mapping[str, Sequence], rate: Callable[[torch.Tensor], float] = share) -> dict[str, float]:
    """Fig. 3's numbers from per-digit columns [n] (lists or tensors): ``correct``, ``label_kept``, the
    four ``DISTANCES`` and the two ``CONSISTENCY`` flags. Consistencies and medians are over the
    correctly classified digits; ``rate`` turns a 0/1 column into a share (the CLI passes its float32 mean)."""
    t = {k: torch.as_tensor(cols[k], dtype=torch.float64) for k in ("correct", "label_kept", *DISTANCES, *CONSISTENCY)}
    ok = t["correct"].bool()
    return {
        "n": len(ok), "n_correct": int(ok.sum()),
        "label_kept_rate": rate(t["label_kept"]),
        "natural_consistency": rate(t["nearest_consistent_nat"][ok]),
        "adversarial_consistency": rate(t["nearest_consistent_adv"][ok]),
        "natural_d_consistency": rate((t["D_true_nat"] < t["D_other_nat"])[ok]),
        "adversarial_d_consistency": rate((t["D_true_adv"] < t["D_other_adv"])[ok]),
        **{f"{k}_median": median(t[k][ok]) for k in DISTANCES},
    }


@dataclass(frozen=True)
class ProtoDistancesResult:
    """The prototype attack on ``n`` digits (``protodl_distances``): the digits, the attack result, seconds, config."""
    idx: torch.Tensor          # [n] indices into the split
    correct: torch.Tensor      # [n] bool: natural prediction == label
    attack: AttackResult       # the per-image attack result (x, x_adv, metrics ...)
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, torch.Tensor]:
        """The per-digit columns of ``protodl_summary`` (and of the experiment's rows), [n] each."""
        m = self.attack.metrics
        return {"correct": self.correct, "label_kept": self.attack.label_kept,
                **{k: m[k] for k in (*DISTANCES, *CONSISTENCY)}}

    def summary(self) -> dict[str, float]:
        """Medians and rates for the CLI's JSON (``attack protodl``), plus ``linf_max`` and ``seconds``."""
        s = protodl_summary(self.columns(), rate=lambda v: v.float().mean().item())  # the CLI's float32 rates
        # the CLI's JSON spells the natural medians out: D_true_natural_median, D_other_natural_median
        return {k.replace("_nat_", "_natural_"): v for k, v in s.items()} | {
            "linf_max": self.attack.linf.max().item(), "seconds": self.seconds}


def protodl_distances(model, images: torch.Tensor, labels: torch.Tensor, *, n: int = 100, eps: float = 0.3,
                      steps: int = 100, lam: float = 1.0, xi: float = 0.3, alpha: float = 0.0, seed: int = 0,
                      idx: torch.Tensor | None = None, on_step: Callable[[int, int], None] | None = None,
                      **attack_config: Any) -> ProtoDistancesResult:
    """Attack ``n`` seeded test digits of a PrototypeDL (paper 000 eq. 3, Fig. 3 protocol); ``attack_config``:
    further settings of the prototype attack (``ProtoDLAttack.settings``), reported in ``config``."""
    start = time.perf_counter()
    idx = pick_digits(labels, n, seed) if idx is None else idx
    n = len(idx)
    attack = ProtoDLAttack(model, eps=eps, steps=steps, lam=lam, xi=xi, alpha=alpha, **attack_config)
    res = attack(images[idx], labels[idx], seed=seed, on_step=on_step)
    correct = res.pred_before == labels[idx]
    return ProtoDistancesResult(idx=idx, correct=correct, attack=res, seconds=time.perf_counter() - start,
                                config={"n": n, "eps": eps, "steps": steps, "lam": lam, "xi": xi, "alpha": alpha, "seed": seed,
                                        **attack_config})


@torch.no_grad()
def natural_consistency(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> dict[str, Any]:
    """A PrototypeDL's explanation on natural digits, no attack: accuracy, the classes that own no prototype,
    and over the correctly classified digits nearest-prototype consistency and D-consistency (a digit of a
    class without a prototype counts as D-inconsistent: D(x, y) is undefined), also over the digits whose class
    owns a prototype. Works for any PrototypeDL, including those the attack refuses.
    Example: ``natural_consistency(load_model("protodl-li"), *load_split("test", "subset")[:2])``"""
    dev = next(model.parameters()).device
    h = torch.cat([model.prototype_distances(b.to(dev)).cpu() for b in images.split(batch_size)])   # [N,m]
    classes = model.prototype_classes().cpu()
    dc = class_distances(h, classes)                                                              # [N,10]
    pred = torch.cat([model.classifier(b.to(dev)).argmax(1).cpu() for b in h.split(batch_size)])
    labels = labels.cpu()
    d_true = dc.gather(1, labels.view(-1, 1)).squeeze(1)
    d_consistent = d_true < dc.scatter(1, labels.view(-1, 1), float("inf")).min(1).values
    orphans = orphan_classes(model)
    ok = pred == labels
    owned = ok & ~torch.isin(labels, torch.tensor(orphans, dtype=labels.dtype))
    return {"accuracy": share(ok), "classes_without_prototype": orphans,
            "natural_consistency": share((classes[h.argmin(1)] == labels)[ok]),
            "natural_d_consistency": share(d_consistent[ok]), "natural_d_consistency_owned": share(d_consistent[owned])}


def r_weights(card: Mapping[str, Any]) -> str:
    """The R1 / R2 weights of a PrototypeDL's training loss, from its card (e.g. "0.05 / 0.05"), or "?"."""
    hp = card.get("hparams", {})
    return f"{hp['proto_r1']:g} / {hp['proto_r2']:g}" if "proto_r1" in hp and "proto_r2" in hp else "?"


def orphan_classes(model) -> list[int]:
    """The classes no prototype belongs to (D(x, y) is undefined for them), sorted."""
    return sorted(set(range(10)) - set(model.prototype_classes().tolist()))


def fig3_verdict(s: Mapping[str, Any]) -> tuple[str, str]:
    """Paper 000 Fig. 3's verdict for one model's ``protodl_summary`` with its intervals (``d_consistency_intervals``;
    issue 28: decided on 95 % bootstrap bounds over the correctly classified digits): *reproduced* when the interval of
    the natural D-consistency lies at or above 90 %, that of the adversarial one at or below 65 % and the label is
    kept on ≥ 90 % of the digits; *partly* when the interval of the paired drop (natural − adversarial) lies above 0;
    *not* otherwise."""
    nat_i = Interval.from_dict(s["natural_d_consistency_interval"])
    adv_i = Interval.from_dict(s["adversarial_d_consistency_interval"])
    drop = Interval.from_dict(s["d_consistency_drop_interval"])
    nat, adv, kept = nat_i.point, adv_i.point, s["label_kept_rate"]
    medians = (f"median D(x, y) {s['D_true_nat_median']:.2f} → {s['D_true_adv_median']:.2f}, median min D(x, y') "
               f"{s['D_other_nat_median']:.2f} → {s['D_other_adv_median']:.2f}")
    shown = (f"D-consistency {nat_i.text('.0%')} → {adv_i.text('.0%')} (drop {drop.text('.2f')}; 95 % intervals)")
    if kept >= 0.9 and adv_i.high <= 0.65 and nat_i.low >= 0.9:
        how = ("overshooting the paper's ≈ 50 %: the adversarial distributions cross instead of overlapping"
               if adv_i.high < 0.35 else "the paper's ≈ 50 % means overlapping distributions")
        return "reproduced", f"{shown} with the label kept on {kept:.0%} ({how}); {medians}"
    missing = [why for bad, why in ((nat_i.low < 0.9, f"natural D-consistency {nat:.0%} (interval from "
                                                      f"{nat_i.low:.0%}) not ≥ 90 % (the paper: nearly all)"),
                                    (adv_i.high > 0.65, f"adversarial D-consistency {adv:.0%} (interval to "
                                                        f"{adv_i.high:.0%}) not ≤ 65 %"),
                                    (kept < 0.9, f"label kept on {kept:.0%} < 90 %")) if bad]
    if drop.clears(0):
        return "partly", f"{shown}, but {'; '.join(missing)}; {medians}"
    return "not", f"{shown}; {medians}"


def d_consistency_intervals(rows: Sequence[Mapping[str, Any]], seed: int = 0) -> dict[str, dict]:
    """The 95 % bootstrap intervals ``fig3_verdict`` reads, over the correctly classified digits of ``rows``
    (per-digit columns ``correct`` and the four ``DISTANCES``): natural and adversarial D-consistency (means of 0/1)
    and their paired drop."""
    good = [r for r in rows if r["correct"]]
    nat = [float(r["D_true_nat"] < r["D_other_nat"]) for r in good]
    adv = [float(r["D_true_adv"] < r["D_other_adv"]) for r in good]
    return {"natural_d_consistency_interval": bootstrap(nat, "mean", seed=seed).to_dict(),
            "adversarial_d_consistency_interval": bootstrap(adv, "mean", seed=seed).to_dict(),
            "d_consistency_drop_interval": bootstrap_paired(nat, adv, mean_difference, seed=seed).to_dict()}


def combine_verdicts(verdicts: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """One verdict from per-model ones: theirs when they agree, else "partly"; the reason lists each."""
    kinds = {v for v, _ in verdicts.values()}
    overall = kinds.pop() if len(kinds) == 1 else "partly"
    return overall, "; ".join(f"{m}: {v} — {why}" for m, (v, why) in verdicts.items())


def sweep_settings(params: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(ξ, α) pairs to attack with: the headline pair first, then the ξ sweep at the headline α and the α sweep
    at the headline ξ, each pair once."""
    xi, alpha = float(params["xi"]), float(params["alpha"])
    pairs = [(xi, alpha)] + [(float(v), alpha) for v in params["xi_values"]] + [(xi, float(a)) for a in params["alpha_values"]]
    return list(dict.fromkeys(pairs))


@EXPERIMENTS.register("protodl-distances")
class ProtoDistances(DigitExperiment):
    paper = "paper 000, Fig. 3"
    claim = prose("""
        Natural digits are closest (in D) to their own class's prototypes; after the attack D(x*, y) and min
        over y' ≠ y of D(x*, y') have almost the same distribution, while the label stays.""")
    models = ("protodl", "protodl-li")
    notes = prose("""
        Two PrototypeDLs (15 prototypes, 60 epochs on 4,000 subset digits, seed 1), each with its own verdict:
        the shipped protodl weighs R1 and R2 0.5 per unit of cross-entropy; protodl-li uses Li et al.'s 0.05
        (lambda_class 20 : lambda_ae 1 : lambda_1 1 : lambda_2 1, OscarcarLi/PrototypeDL CAE_MNIST.py). Li et
        al. trained 1,500 epochs of 55k elastically deformed digits (batch 250, constant Adam 0.002, no bias in
        the last layer); both models here train far shorter. D-consistency is counted over the correctly
        classified digits. Paper 000 gives no values for ξ and α of eq. 3: the headline uses ξ 0.3, α 0; the
        sweeps vary ξ at the headline α and α at the headline ξ on the same digits. The attack keeps, per digit,
        the label-keeping iterate with the best D − λR (ξ and α shape the steps, not the choice). Seed dependence
        (natural digits, no attack: ``train --model protodl [--r1 0.05 --r2 0.05] --seed S --data subset``, then
        ``natural_consistency`` of this module over the 1,000 test digits; a digit of a class without a prototype
        counts as D-inconsistent): with R1/R2 0.5, seed 0 leaves classes 0 and 5 without a prototype and natural
        D-consistency 70 % (87 % over the classes that own one), seed 1 (the shipped protodl) none and 98 %, seed 2
        none and 64 %; with Li's 0.05, seed 0 leaves classes 0, 2 and 9 without one, 54 % (77 %), seed 1
        (protodl-li) none and 55 %, seed 2 none and 80 %. So the shipped model's 98 % is the best of three seeds
        (seed 1 was kept for the shipped model because every class owns a prototype; protodl-li reuses that seed,
        fixed before it was trained): the protodl verdict holds for that checkpoint, not for the training recipe.
        The issue's observation that with Li's weights class 7 owns no prototype and natural D-consistency is 75 %
        did not recur at seed 1 with this code; orphan classes appear at seed 0 with either weighting.""")
    defaults = {"n": 1000, "eps": 0.3, "steps": 100, "lam": 1.0, "xi": 0.3, "alpha": 0.0,
                "xi_values": [0.0, 0.1, 0.3, 1.0, 3.0], "alpha_values": [0.0, 0.001, 0.01, 0.1], "chunk": 100}
    probe = {"n": 1, "steps": 2}

    def chunks(self, ctx):
        digits = super().chunks(ctx)
        return [{"model": m, "xi": xi, "alpha": alpha, **d} for m in self.models
                for xi, alpha in sweep_settings(ctx.params) for d in digits]

    def run_chunk(self, spec, ctx):
        name = spec.get("model", self.models[0])
        xi, alpha = spec.get("xi", ctx.params["xi"]), spec.get("alpha", ctx.params["alpha"])
        model, (x, y) = ctx.model(name), ctx.test_split()
        r = protodl_distances(model, x, y, idx=torch.tensor(spec["digits"]), xi=xi, alpha=alpha,
                              **ctx.pick("eps", "steps", "lam", "seed"))
        with torch.no_grad():  # ||h(x*)||², the quantity α penalises
            h_sq = model.prototype_distances(r.attack.x_adv.to(ctx.device)).pow(2).sum(1).cpu()
        n = len(r.idx)
        return {"model": [name] * n, "xi": [xi] * n, "alpha": [alpha] * n, "idx": r.idx, "label": y[r.idx],
                **r.columns(), "h_sq_adv": h_sq}

    def finalize(self, results, ctx):
        _, rows = columns(results)
        for r in rows:
            r.setdefault("model", self.models[0])
        head = (ctx.params["xi"], ctx.params["alpha"])
        names = list(dict.fromkeys(r["model"] for r in rows))
        per_model, sweep, verdicts, boxes = [], [], {}, {}
        for name in names:
            mine = [r for r in rows if r["model"] == name]
            for xi, alpha in dict.fromkeys((r["xi"], r["alpha"]) for r in mine):
                these = [r for r in mine if (r["xi"], r["alpha"]) == (xi, alpha)]
                s = protodl_summary({k: [r[k] for r in these] for k in these[0]})
                ok = [r["h_sq_adv"] for r in these if r["correct"]]
                sweep.append({"model": name, "xi": xi, "alpha": alpha, **s, "h_sq_adv_median": median(ok)})
                if (xi, alpha) == head:
                    card = ctx.models[name][1] if name in ctx.models else {}
                    orphans = orphan_classes(ctx.model(name)) if name in ctx.models else []
                    s = {**s, **d_consistency_intervals(these, ctx.params["seed"])}
                    verdicts[name] = fig3_verdict(s)
                    per_model.append({"model": name, "r1_r2": r_weights(card),
                                      "classes_without_prototype": ", ".join(map(str, orphans)) or "none", **s,
                                      "verdict": verdicts[name][0]})
                    good = [r for r in these if r["correct"]]
                    boxes |= {f"{name}: {k}": [r[c] for r in good] for k, c in
                              (("D(x, y)", "D_true_nat"), ("min D(x, y')", "D_other_nat"),
                               ("D(x*, y)", "D_true_adv"), ("min D(x*, y')", "D_other_adv"))}
        head_rows = [r for r in rows if (r["xi"], r["alpha"]) == head]
        fig = box_figure(boxes, f"PrototypeDL class distances, natural vs adversarial (ε={ctx.params['eps']}, "
                                f"ξ={head[0]}, α={head[1]})", "D")
        figures = {"protodl_distances": fig}
        if len(sweep) > len(names):
            figures["protodl_sweep"] = self._sweep_figure(sweep, head)
        summary = {"models": per_model, "verdicts": {m: v for m, (v, _) in verdicts.items()},
                   "verdict_reasons": {m: why for m, (_, why) in verdicts.items()}, "sweep": sweep}
        return Outputs(head_rows, summary, figures)

    @staticmethod
    def _sweep_figure(sweep, head):
        panels: dict[str, dict[str, tuple[list, list]]] = {f"ξ sweep (α = {head[1]:g})": {}, f"α sweep (ξ = {head[0]:g})": {}}
        for (title, series), vary, fixed in zip(panels.items(), ("xi", "alpha"), ("alpha", "xi")):
            at = head[0] if fixed == "xi" else head[1]
            for name in dict.fromkeys(s["model"] for s in sweep):
                pts = sorted(((s[vary], s) for s in sweep if s["model"] == name and s[fixed] == at), key=lambda p: p[0])
                series[f"{name} / adversarial D-consistency"] = ([p for p, _ in pts], [s["adversarial_d_consistency"] for _, s in pts])
                series[f"{name} / label kept"] = ([p for p, _ in pts], [s["label_kept_rate"] for _, s in pts])
        return lines_figure(panels, "PrototypeDL under eq. 3: ξ (left) and α (right) sweeps", "ξ (left), α (right)")

    def verdict(self, s):
        """Each model's ``fig3_verdict``, recomputed from its stored numbers and intervals, combined."""
        return combine_verdicts({m["model"]: fig3_verdict(m) for m in s["models"]})
