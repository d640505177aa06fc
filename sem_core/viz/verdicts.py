"""Did the attack work? One plain sentence per result, decided by the rule and threshold its experiment uses.

Each experiment states its verdict rule in its module docstring and decides it on bootstrap intervals over many
digits; a page shows one digit (or a batch), so here the same comparison is made on that digit's numbers, with the
experiment's own threshold (imported, never copied):

- concept attack (``experiments.senn_distances``): worked when the adversarial concepts' distance to the target's
  is below ``OUT_CLASS_RATIO`` (0.75) times the natural digit's distance to them (the experiment's ratio of
  adversarial to natural out-class distance), the label kept;
- prototype attack (``experiments.protodl_distances``, ``experiments.defenses``): worked when the nearest prototype
  was of the digit's class before and is of another class after (nearest-prototype consistency lost), label kept;
- saliency top-k and mass-center attacks (``experiments.saliency_fragility``): worked when the top-k intersection is
  lower than after the random-sign step of the same ε by more than ``MARGIN`` (0.05); the targeted-region attack
  (``experiments.saliency_region``): when the region's map mass exceeds the random step's by more than ``MARGIN``.
  Without the random baseline beside it a saliency result is not judged (a random change moves maps too);
- influence attack (``experiments.influence_fragility``): worked when the top-k intersection is below the random
  baseline's by more than ``SOME_GAP`` (0.1), "clearly" when by more than ``CLEAR_GAP`` (0.3) with the Spearman
  gap above ``SPEARMAN_GAP`` (0.2).

Before any rule, the result's status is said as it is: a digit the attack could not move ("no gradient"), a label
that changed (then it does not count), 0 steps. Pure functions: the pages show ``Verdict.sentence`` at
``Verdict.level`` (st.success / st.info / st.warning / st.error).

Example:
    v = verdict(res)                      # res: an AttackResult of one digit
    v.outcome, v.sentence                 # ('worked', 'The attack worked: the concepts now look like a 2's …')
    batch_verdict(res).sentence           # 'The concept attack worked on 7 of 10 digits …'
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from ..attacks.labels import attack_label, metric_label
from ..experiments.influence_fragility import CLEAR_GAP, SOME_GAP, SPEARMAN_GAP
from ..experiments.saliency_fragility import MARGIN
from ..experiments.senn_distances import OUT_CLASS_RATIO
from ..metrics.stats import bootstrap

__all__ = ["Verdict", "verdict", "verdicts", "batch_verdict", "comparison_verdict", "lipschitz_verdict",
           "VERDICT_PHRASES", "attack_label", "metric_label"]   # the labels re-exported for the pages

#: outcome -> (how loud a page says it, the word a table's verdict column shows)
OUTCOMES = {
    "worked": ("success", "worked"),
    "partly": ("info", "worked on some"),
    "did-not-work": ("info", "did not work"),
    "label-changed": ("warning", "label changed: does not count"),
    "no-gradient": ("error", "could not move it (no gradient)"),
    "not-run": ("info", "not run"),
    "not-judged": ("info", "not judged (no random baseline)"),
    "baseline": ("info", "baseline"),
    "measured": ("info", "measured"),
    "held": ("success", "the defense held"),
    "not-held": ("warning", "the defense did not hold"),
    "untested": ("info", "the defense was not tested"),
}
#: how every verdict sentence starts or what it contains: a page with a result shows one of these (the tests look)
VERDICT_PHRASES = ("The attack worked", "The attack did not work", "The attack changed the label",
                   "The attack could not move", "did not run", "worked on", "The map moved", "The influence moved",
                   "This is the random baseline", "The defense", "in relative terms", "no stability can be compared")


@dataclass(frozen=True)
class Verdict:
    """Whether an attack worked: ``outcome`` (a key of ``OUTCOMES``) and ``sentence`` (plain words with the numbers
    that decided it)."""

    outcome: str
    sentence: str

    @property
    def level(self) -> str:
        """How loud to say it: "success", "info", "warning" or "error" (a Streamlit call of that name)."""
        return OUTCOMES[self.outcome][0]

    @property
    def short(self) -> str:
        """A few words for a table's verdict column ("worked", "did not work", …)."""
        return OUTCOMES[self.outcome][1]


def _f(t: torch.Tensor | Any, i: int) -> float:
    return float(t[i]) if isinstance(t, torch.Tensor) else float(t)


def _status(res: Any, i: int) -> Verdict | None:
    """The verdict that the result's status already decides (no gradient, label changed, not run), else None."""
    status = res.status[i] if len(getattr(res, "status", ())) > i else "ok"
    pb, pa = int(res.pred_before[i]), int(res.pred_after[i])
    if status == "no-gradient":
        return Verdict("no-gradient", "The attack could not move this digit: its loss had no gradient at any step, "
                                      "so these numbers say nothing about the explanation.")
    if status == "not-run":
        return Verdict("not-run", "With 0 steps the attack did not run.")
    if status == "label-lost":
        return Verdict("label-changed", f"The attack changed the label at every step it tried, so it does not count: "
                                        f"the digit is shown unchanged and the model still says {pb}.")
    if not bool(res.label_kept[i]):
        return Verdict("label-changed", f"The attack changed the label ({pb} → {pa}), so it does not count.")
    return None


def _a(digit: int) -> str:
    """"a 2", "an 8": a digit with its article."""
    return f"{'an' if digit == 8 else 'a'} {digit}"


def _eps(res: Any) -> str:
    return f"ε {res.config['eps']:g}" if "eps" in res.config else "this ε"


def concept_verdict(res: Any, i: int = 0, baseline: Any = None) -> Verdict:
    """The concept attack (SENN) on digit ``i``: worked when ‖h(x*) − h(x_t)‖ < ``OUT_CLASS_RATIO`` ·
    ‖h(x) − h(x_t)‖ with the label kept (``experiments.senn_distances``' out-class ratio)."""
    done = _status(res, i)
    if done is not None:
        return done
    d_nat, d_adv = _f(res.metrics["concept_distance_nat"], i), _f(res.metrics["concept_distance_adv"], i)
    target = res.explanations.get("target")
    t = None if target is None else int(target.logits[i].argmax())
    like, whose = (f"{_a(t)}'s", f"the {t}'s") if t is not None else ("the target's", "the target's")
    ratio = d_adv / d_nat if d_nat > 0 else math.inf
    numbers = f"distance to them {d_nat:.2f} → {d_adv:.2f}, {ratio:.2f}× the start"
    if ratio < OUT_CLASS_RATIO:
        return Verdict("worked", f"The attack worked: the concepts now look like {like} ({numbers}; it counts below "
                                 f"{OUT_CLASS_RATIO:g}×) while the model still says {int(res.pred_after[i])}.")
    return Verdict("did-not-work", f"The attack did not work at {_eps(res)}: the concepts did not come close enough to "
                                   f"{whose} ({numbers}; it counts only below {OUT_CLASS_RATIO:g}×, as in the "
                                   f"senn-distances experiment).")


def prototype_verdict(res: Any, i: int = 0, baseline: Any = None) -> Verdict:
    """The prototype attack (PrototypeDL) on digit ``i``: worked when the nearest prototype's class was the
    prediction before and is another class after, with the label kept (nearest-prototype consistency, as in
    ``experiments.protodl_distances`` and ``experiments.defenses``)."""
    done = _status(res, i)
    if done is not None:
        return done
    before, after = _f(res.metrics["nearest_consistent_nat"], i), _f(res.metrics["nearest_consistent_adv"], i)
    pb = int(res.pred_before[i])
    nat, adv = res.explanations.get("natural"), res.explanations.get("adversarial")
    near = (lambda e: _a(int(e.nearest_class[i]))) if nat is not None and adv is not None else (lambda e: "")
    if not before:
        return Verdict("did-not-work", f"The attack did not work here, and needed not: the nearest prototype was "
                                       f"already {near(nat) or 'of another class'} before the attack, so this digit "
                                       "does not count.")
    if not after:
        return Verdict("worked", f"The attack worked: the nearest prototype is now {near(adv) or 'of another class'} "
                                 f"instead of {near(nat) or _a(pb)} while the model still says {pb}.")
    return Verdict("did-not-work", f"The attack did not work at {_eps(res)}: the nearest prototype is still "
                                   f"{near(adv) or _a(pb)}, of the digit's own class.")


def _pct(v: float) -> str:
    return f"{v:.0%}"


def saliency_verdict(res: Any, i: int = 0, baseline: Any = None, mask: torch.Tensor | None = None) -> Verdict:
    """A saliency attack on digit ``i`` against ``baseline``, the random-sign step of the same ε on the same digit
    (``experiments.saliency_fragility`` / ``saliency_region``): worked when it beats the baseline by more than
    ``MARGIN`` on the top-k intersection (top-k, mass-center) or on the map mass in ``mask`` (region, [28,28] or
    [B,1,28,28]); without a baseline, not judged."""
    done = _status(res, i)
    if done is not None:
        return done
    kind, k = res.config.get("kind", ""), res.config.get("k", "k")
    pb = int(res.pred_after[i])
    if kind == "random":
        inter = _f(res.metrics["topk_intersection"], i)
        return Verdict("baseline", f"This is the random baseline: after one random change of {_eps(res)}, "
                                   f"{_pct(inter)} of the top-{k} pixels stayed. An attack counts as working when it "
                                   f"does better than this by more than {MARGIN:g}.")
    if kind == "region":
        after = _f(res.metrics["region_mass_after"], i)
        before = _f(res.metrics["region_mass_before"], i)
        if baseline is None or mask is None:
            return Verdict("not-judged", f"The map moved: the mass in the region went from {before:.3f} to {after:.3f}, "
                                         "but no random baseline ran beside it, so whether the attack beat a random "
                                         "change of the same size is not known.")
        m = torch.as_tensor(mask, dtype=torch.float32).reshape(-1, 1, 28, 28)
        m = m[i if len(m) > i else 0]
        base = float((baseline.explanations["adversarial"][i] * m).sum())
        gain = after - base
        numbers = (f"mass in the region {before:.3f} → {after:.3f}, against {base:.3f} after a random change of the "
                   f"same size")
        if gain > MARGIN:
            return Verdict("worked", f"The attack worked: the map now points into the region ({numbers}; it counts "
                                     f"above +{MARGIN:g}) while the model still says {pb}.")
        return Verdict("did-not-work", f"The attack did not work at {_eps(res)}: {numbers}, a gain of {gain:+.3f}; it "
                                       f"counts only above +{MARGIN:g}, as in the saliency-region experiment.")
    inter = _f(res.metrics["topk_intersection"], i)
    moved = f"; the map's center moved {_f(res.metrics['center_shift'], i):.1f} pixels" if kind == "center" else ""
    if baseline is None:
        return Verdict("not-judged", f"The map moved: {_pct(inter)} of its top-{k} pixels stayed{moved}; no random "
                                     "baseline ran beside it, so whether the attack beat a random change of the same "
                                     "size is not known.")
    base = _f(baseline.metrics["topk_intersection"], i)
    numbers = f"{_pct(inter)} of the top-{k} pixels stayed, against {_pct(base)} after a random change of the same size"
    if base - inter > MARGIN:
        return Verdict("worked", f"The attack worked: the map points elsewhere ({numbers}{moved}; it counts when it "
                                 f"beats the random change by more than {MARGIN:g}) while the model still says {pb}.")
    return Verdict("did-not-work", f"The attack did not work at {_eps(res)}: {numbers}{moved}; it counts only when it "
                                   f"beats the random change by more than {MARGIN:g}, as in the saliency-fragility "
                                   "experiment.")


def influence_verdict(res: Any, i: int = 0, baseline: Any = None) -> Verdict:
    """The influence attack on digit ``i`` against ``baseline`` (the random-sign step of the same ε): worked when its
    top-k intersection is below the baseline's by more than ``SOME_GAP``, clearly when by more than ``CLEAR_GAP``
    with the Spearman gap above ``SPEARMAN_GAP`` (``experiments.influence_fragility``)."""
    done = _status(res, i)
    if done is not None:
        return done
    k = res.config.get("k", "k")
    inter = _f(res.metrics["topk_intersection"], i)
    if res.config.get("attack") == "influence_random":
        return Verdict("baseline", f"This is the random baseline: after one random change of {_eps(res)}, "
                                   f"{_pct(inter)} of the {k} most influential training digits stayed on top.")
    if baseline is None:
        return Verdict("not-judged", f"The influence moved: {_pct(inter)} of the {k} most influential training digits "
                                     "stayed on top, but no random baseline ran beside it, so whether the attack beat "
                                     "a random change is not known.")
    base = _f(baseline.metrics["topk_intersection"], i)
    gap = base - inter
    rho_gap = _f(baseline.metrics["spearman"], i) - _f(res.metrics["spearman"], i)
    numbers = (f"{_pct(inter)} of the {k} most influential training digits stayed on top, against {_pct(base)} after a "
               f"random change of the same size")
    if gap > CLEAR_GAP and rho_gap > SPEARMAN_GAP:
        return Verdict("worked", f"The attack worked clearly: other training digits now explain the prediction "
                                 f"({numbers}) while the model still says {int(res.pred_after[i])}.")
    if gap > SOME_GAP:
        return Verdict("worked", f"The attack worked, though not by much: {numbers} (it counts above a gap of "
                                 f"{SOME_GAP:g}, clearly above {CLEAR_GAP:g}) while the model still says "
                                 f"{int(res.pred_after[i])}.")
    return Verdict("did-not-work", f"The attack did not work at {_eps(res)}: {numbers}; it counts only when it beats the "
                                   f"random change by more than {SOME_GAP:g}, as in the influence-fragility experiment.")


#: the registered attack -> its rule (a new attack family adds its own here)
RULES: dict[str, Callable[..., Verdict]] = {
    "senn_concept": concept_verdict, "protodl_prototype": prototype_verdict,
    "saliency_topk": saliency_verdict, "saliency_center": saliency_verdict, "saliency_region": saliency_verdict,
    "saliency_random": saliency_verdict, "influence_sign": influence_verdict, "influence_random": influence_verdict,
}


def verdict(res: Any, i: int = 0, baseline: Any = None, **context: Any) -> Verdict:
    """Digit ``i`` of the ``AttackResult`` ``res``, by the rule of its attack (``res.config["attack"]``);
    ``baseline``: the random-sign result of the same ε on the same digits (saliency, influence); ``context``: what
    a rule needs beside them (the region attack's ``mask``)."""
    rule = RULES.get(res.config.get("attack", ""))
    if rule is None:
        done = _status(res, i)
        return done or Verdict("not-judged", f"No rule says when {res.config.get('attack', 'this attack')} works.")
    return rule(res, i, baseline, **context)


def verdicts(res: Any, baseline: Any = None, **context: Any) -> list[Verdict]:
    """``verdict`` of every digit of ``res``."""
    return [verdict(res, i, baseline, **context) for i in range(len(res.y))]


def batch_verdict(res: Any, baseline: Any = None, **context: Any) -> Verdict:
    """The batch in one sentence: on how many digits the attack worked (by ``verdict``), how many changed the label
    or could not be moved."""
    each = verdicts(res, baseline, **context)
    n = len(each)
    count = {o: sum(v.outcome == o for v in each) for o in OUTCOMES}
    name = attack_label(res.config.get("attack", "attack"))
    name = name[0].lower() + name[1:]
    if count["no-gradient"] == n:
        return Verdict("no-gradient", f"The attack could not move any of the {n} digits (no gradient), so these numbers "
                                      "say nothing about the explanation.")
    if count["not-run"] == n:
        return Verdict("not-run", "With 0 steps the attack did not run.")
    if count["not-judged"] == n:
        return Verdict("not-judged", f"The map moved on {n} digits, but no random baseline ran beside the {name}, so "
                                     "whether it beat a random change of the same size is not judged here (the "
                                     "single-digit page runs one).")
    if count["baseline"] == n:
        return Verdict("baseline", f"This is the random baseline on {n} digits: what a random change of the same "
                                   "size does, for comparison with an attack.")
    notes = [f"{count[o]} {what}" for o, what in (("label-changed", "changed the label and do not count"),
                                                   ("no-gradient", "could not be moved (no gradient)")) if count[o]]
    note = f" ({'; '.join(notes)})" if notes else ""
    worked = count["worked"]
    if not worked:
        return Verdict("did-not-work", f"The attack did not work on any of the {n} digits{note}.")
    rule = CRITERIA.get(res.config.get("attack", ""), "")
    return Verdict("worked" if 2 * worked > n else "partly",
                   f"The {name} worked on {worked} of {n} digits{note}" + (f": {rule}." if rule else "."))


#: what "worked" means, for a batch's sentence (the rules of the functions above)
CRITERIA = {
    "senn_concept": f"the concepts came below {OUT_CLASS_RATIO:g}× their natural distance to the target's while the "
                    "label stayed",
    "protodl_prototype": "the nearest prototype moved to another class while the label stayed",
    "saliency_topk": f"the top-k intersection beat the random change's by more than {MARGIN:g}",
    "saliency_center": f"the top-k intersection beat the random change's by more than {MARGIN:g}",
    "saliency_region": f"the region's mass beat the random change's by more than {MARGIN:g}",
    "influence_sign": f"the top-k intersection beat the random change's by more than {SOME_GAP:g}",
}


def comparison_verdict(results: Mapping[str, Any], natural: str, robust: str, i: int = 0) -> Verdict:
    """One sentence on a defense (the Defenses page): the same attack on digit ``i`` of the ``natural`` model and of
    its ``robust`` version (``results``: model name -> ``AttackResult``), each judged by ``verdict``."""
    v_nat, v_rob = verdict(results[natural], i), verdict(results[robust], i)
    if v_nat.outcome != "worked":
        return Verdict("untested", f"The defense is not tested by this digit: the attack did not work on the "
                                       f"natural {natural} either ({v_nat.short}). Try a larger ε or another digit.")
    if v_rob.outcome == "worked":
        return Verdict("not-held", f"The defense did not hold on this digit: the attack worked on both {natural} and "
                                   f"{robust}.")
    return Verdict("held", f"The defense held on this digit: the attack worked on {natural} but not on {robust} "
                             f"({v_rob.short}).")


def lipschitz_verdict(results: Mapping[str, Any], seed: int = 0) -> Verdict:
    """One sentence on local Lipschitz estimates (``results``: explainer -> ``LipschitzResult``), on the
    experiment's scale-free footing (``experiments.lipschitz_stability``): each explainer's median elasticity
    (relative change of the explanation per relative change of the digit) with its 95 % bootstrap interval over the
    digits; one explainer is called the least (most) stable only when its interval lies above (below) every other's."""
    el = {e: bootstrap(r.relative()["elasticity"], seed=seed) for e, r in results.items()}
    el = {e: v for e, v in el.items() if v.n > 0 and math.isfinite(v.point)}
    if not el:
        return Verdict("measured", "The explanation did not change anywhere the search looked, so no stability can be "
                                   "compared.")
    ranked = sorted(el, key=lambda e: el[e].point)
    if len(el) == 1:
        e = ranked[0]
        v = el[e].point
        how = "more" if v > 1 else "less"
        return Verdict("measured", f"The explanation ({e}) changed {v:.2g} times as much as the digit did, in relative "
                                   f"terms (median elasticity over {el[e].n} digits): {how} than the digit itself, so "
                                   f"it is {'not ' if v > 1 else ''}stable at this scale.")
    worst, best = ranked[-1], ranked[0]
    text = ", ".join(f"{e} {el[e].point:.2g}" for e in reversed(ranked))
    sep_worst = all(el[worst].low > el[e].high for e in ranked[:-1])
    sep_best = all(el[best].high < el[e].low for e in ranked[1:])
    parts = [f"{worst} is the least stable" if sep_worst else f"{worst} has the largest median but its 95 % interval "
             "overlaps another's, so it is not separably the least stable",
             f"{best} the most stable" if sep_best else f"{best} is not separably the most stable"]
    return Verdict("measured", f"The explanation that changes most for a small change of the digit: {parts[0]}; "
                               f"{parts[1]} (median elasticity over {el[worst].n} digits: {text}; above 1 the "
                               "explanation changes more than the digit, in relative terms).")
