"""One verdict per result, by the experiments' own thresholds: worked / did not work / label changed / no gradient for
every family, on hand-built results (the numbers decide) and a few tiny real attacks."""
from types import SimpleNamespace

import pytest
import torch

from sem_core.attacks.labels import METRIC_LABELS, attack_label, metric_label
from sem_core.experiments.influence_fragility import CLEAR_GAP, SOME_GAP
from sem_core.experiments.saliency_fragility import MARGIN
from sem_core.experiments.senn_distances import OUT_CLASS_RATIO
from sem_core.viz.verdicts import (OUTCOMES, VERDICT_PHRASES, batch_verdict, comparison_verdict, lipschitz_verdict,
                                   verdict, verdicts)


def result(attack: str, metrics: dict, *, kept=(True,), status=("ok",), pred=(9,), after=None, **config):
    """A stand-in for an ``AttackResult``: what the verdicts read (metrics, labels, status, config)."""
    n = len(kept)
    return SimpleNamespace(
        metrics={k: torch.tensor(v, dtype=torch.float32) for k, v in metrics.items()},
        label_kept=torch.tensor(kept), status=tuple(status), y=torch.tensor(pred[:n]),
        pred_before=torch.tensor(pred[:n]), pred_after=torch.tensor(after or pred[:n]),
        config={"attack": attack, "eps": 0.05, **config}, explanations={})


def concept(d_nat, d_adv, **kw):
    return result("senn_concept", {"concept_distance_nat": [d_nat], "concept_distance_adv": [d_adv]}, **kw)


def test_the_concept_attack_works_below_the_experiments_out_class_ratio():
    worked = verdict(concept(1.0, OUT_CLASS_RATIO - 0.01))
    assert worked.outcome == "worked" and worked.level == "success" and worked.sentence.startswith("The attack worked")
    assert "still says 9" in worked.sentence
    not_enough = verdict(concept(1.35, 1.10))           # the ε 0.05: 1.35 → 1.10 is 0.81×
    assert not_enough.outcome == "did-not-work" and "ε 0.05" in not_enough.sentence and "1.35 → 1.10" in not_enough.sentence
    assert verdict(concept(1.0, OUT_CLASS_RATIO)).outcome == "did-not-work"     # strictly below, as "under"


@pytest.mark.parametrize("attack, metrics", [
    ("senn_concept", {"concept_distance_nat": [1.0], "concept_distance_adv": [0.1]}),
    ("protodl_prototype", {"nearest_consistent_nat": [1.0], "nearest_consistent_adv": [0.0]}),
    ("saliency_topk", {"topk_intersection": [0.1], "spearman": [0.1], "center_shift": [3.0]}),
    ("influence_sign", {"topk_intersection": [0.0], "spearman": [0.0]}),
])
def test_every_family_says_a_changed_label_and_no_gradient_before_its_rule(attack, metrics):
    changed = verdict(result(attack, metrics, kept=(False,), after=(4,)))
    assert changed.outcome == "label-changed" and "(9 → 4), so it does not count" in changed.sentence
    lost = verdict(result(attack, metrics, status=("label-lost",)))
    assert lost.outcome == "label-changed" and "does not count" in lost.sentence
    stuck = verdict(result(attack, metrics, status=("no-gradient",)))
    assert stuck.outcome == "no-gradient" and stuck.level == "error" and "could not move" in stuck.sentence
    assert "held" not in stuck.sentence
    assert verdict(result(attack, metrics, status=("not-run",))).outcome == "not-run"


def test_the_prototype_attack_works_when_the_nearest_prototype_leaves_the_class():
    def proto(nat, adv):
        return result("protodl_prototype", {"nearest_consistent_nat": [nat], "nearest_consistent_adv": [adv]})
    assert verdict(proto(1.0, 0.0)).outcome == "worked"
    assert verdict(proto(1.0, 1.0)).outcome == "did-not-work"
    already = verdict(proto(0.0, 0.0))
    assert already.outcome == "did-not-work" and "does not count" in already.sentence


def saliency(inter, base_inter, kind="topk"):
    res = result(f"saliency_{kind}", {"topk_intersection": [inter], "spearman": [0.5], "center_shift": [2.0]},
                 k=50, kind=kind)
    base = result("saliency_random", {"topk_intersection": [base_inter], "spearman": [0.6], "center_shift": [0.5]},
                  k=50, kind="random")
    return res, base


def test_a_saliency_attack_works_when_it_beats_the_random_baseline_by_the_margin():
    res, base = saliency(0.34, 0.64)
    v = verdict(res, baseline=base)
    assert v.outcome == "worked" and "34%" in v.sentence and "64%" in v.sentence
    res, base = saliency(0.60, 0.60 + MARGIN / 2)
    assert verdict(res, baseline=base).outcome == "did-not-work"
    res, base = saliency(0.3, 0.9, kind="center")
    assert "center moved 2.0 pixels" in verdict(res, baseline=base).sentence
    unjudged = verdict(res)                            # no baseline: a moved map is not called a success
    assert unjudged.outcome == "not-judged" and "no random baseline" in unjudged.sentence
    assert verdict(base).outcome == "baseline"


def test_the_region_attack_is_judged_on_the_regions_mass_against_the_random_step():
    mask = torch.zeros(28, 28)
    mask[:10, :10] = 1
    res = result("saliency_region", {"topk_intersection": [0.5], "spearman": [0.5], "center_shift": [1.0],
                                     "region_mass_before": [0.01], "region_mass_after": [0.30]}, k=50, kind="region")
    base_map = torch.full((1, 1, 28, 28), 0.02 / 100) * mask      # 0.02 of the mass in the region after the random step
    base = SimpleNamespace(explanations={"adversarial": base_map})
    assert verdict(res, baseline=base, mask=mask).outcome == "worked"
    res.metrics["region_mass_after"] = torch.tensor([0.02 + MARGIN / 2])
    assert verdict(res, baseline=base, mask=mask).outcome == "did-not-work"


def test_the_influence_attack_works_when_it_beats_the_random_baseline_clearly_or_a_little():
    def influence(inter, base_inter, rho=0.3, base_rho=0.9):
        return (result("influence_sign", {"topk_intersection": [inter], "spearman": [rho]}, k=5),
                result("influence_random", {"topk_intersection": [base_inter], "spearman": [base_rho]}, k=5))
    res, base = influence(0.2, 0.2 + CLEAR_GAP + 0.1)
    assert verdict(res, baseline=base).sentence.startswith("The attack worked clearly")
    res, base = influence(0.4, 0.6)                   # the 0.40 vs 0.60, compared by hand no more
    v = verdict(res, baseline=base)
    assert v.outcome == "worked" and "not by much" in v.sentence
    res, base = influence(0.8, 0.8 + SOME_GAP / 2)
    assert verdict(res, baseline=base).outcome == "did-not-work"


def test_a_batch_says_on_how_many_digits_it_worked():
    res = result("senn_concept", {"concept_distance_nat": [1.0, 1.0, 1.0, 1.0], "concept_distance_adv": [0.2, 0.3, 0.9, 0.1]},
                 kept=(True, True, True, False), status=("ok",) * 4, pred=(9, 9, 9, 9))
    assert [v.outcome for v in verdicts(res)] == ["worked", "worked", "did-not-work", "label-changed"]
    v = batch_verdict(res)
    assert "worked on 2 of 4 digits" in v.sentence and "1 changed the label" in v.sentence and v.outcome == "partly"
    stuck = result("saliency_topk", {"topk_intersection": [1.0, 1.0]}, kept=(True, True),
                   status=("no-gradient", "no-gradient"), pred=(3, 3))
    assert batch_verdict(stuck).outcome == "no-gradient"


def test_a_defense_holds_when_the_attack_works_on_the_natural_model_only():
    works, fails = concept(1.0, 0.1), concept(1.0, 0.95)
    assert comparison_verdict({"senn-k5": works, "senn-adv": fails}, "senn-k5", "senn-adv").outcome == "held"
    assert comparison_verdict({"senn-k5": works, "senn-adv": works}, "senn-k5", "senn-adv").outcome == "not-held"
    assert comparison_verdict({"senn-k5": fails, "senn-adv": fails}, "senn-k5", "senn-adv").outcome == "untested"


def test_lipschitz_names_the_least_stable_only_when_the_intervals_separate():
    def lip(values):
        x = torch.ones(len(values), 4)
        step = 0.1 * torch.ones(len(values), 1)
        return SimpleNamespace(relative=lambda: {"elasticity": torch.tensor(values, dtype=torch.float64)},
                               x=x, x_prime=x + step)
    clear = lipschitz_verdict({"lime": lip([9.0, 10.0, 11.0, 10.5]), "ig": lip([1.0, 1.1, 0.9, 1.05])})
    assert "lime is the least stable" in clear.sentence and "ig the most stable" in clear.sentence
    mixed = lipschitz_verdict({"lime": lip([1.0, 5.0, 9.0]), "ig": lip([2.0, 4.0, 8.0])})
    assert "not separably" in mixed.sentence
    assert "in relative terms" in lipschitz_verdict({"saliency": lip([3.0, 4.0])}).sentence


def test_tiny_real_attacks_get_a_sentence_of_their_family(shipped, test_split):
    from sem_core import ProtoDLAttack, SennConceptAttack

    x, y, _ = test_split
    res = SennConceptAttack(shipped["senn"][0], eps=0.3, steps=3)(x[:2], target=x[2:4])
    proto = ProtoDLAttack(shipped["protodl"][0], eps=0.3, steps=3)(x[:2])
    for r in (res, proto):
        for v in verdicts(r):
            assert v.outcome in OUTCOMES and any(p in v.sentence for p in VERDICT_PHRASES), v


def test_every_metric_an_attack_reports_has_a_human_label():
    from sem_core.attacks import ATTACKS

    for name in ATTACKS.names():
        assert "_" not in attack_label(name), name
        for key in ATTACKS.get(name).headline:
            assert key in METRIC_LABELS, (name, key)
    assert metric_label("nearest_consistent_adv") == "Nearest prototype has the right class (after)"
    assert attack_label("senn_concept") == "Concept attack"
