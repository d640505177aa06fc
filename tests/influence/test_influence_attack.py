"""The influence attack on the shipped CNN, on 2 digits and a few steps: the ball, [0,1], an honest label_kept,
metrics that agree with the explanations it carries, the random baseline, bad parameters."""
import json

import pytest
import torch

from sem_core.attacks import ATTACKS, create_attack, list_attacks
from sem_core.errors import AttackError
from sem_core.explain.influence import influence_for


@pytest.fixture(scope="module")
def cnn(shipped):
    return shipped["cnn"][0]


@pytest.fixture(scope="module")
def two(test_split):
    x, y, _ = test_split
    return x[:2], y[:2]


def test_registered_as_the_influence_family():
    assert list_attacks(family="influence") == ["influence_random", "influence_sign"]
    assert ATTACKS.get("influence_sign").headline == ("topk_intersection", "spearman")


@pytest.mark.parametrize("name", ["influence_sign", "influence_random"])
def test_ball_box_label_and_metrics_agree_with_the_explanations(name, cnn, two):
    x, y = two
    atk = create_attack(cnn, name, eps=0.1, steps=3)
    res = atk(x, y)
    assert (res.x_adv - res.x).abs().max() <= 0.1 + 1e-6
    assert res.x_adv.min() >= 0 and res.x_adv.max() <= 1
    fresh = cnn(res.x_adv).argmax(1)
    assert torch.equal(res.label_kept, fresh == res.pred_before) and res.label_kept.all()
    nat, adv = res.explanations["natural"], res.explanations["adversarial"]
    direct = influence_for(cnn, "subset")(res.x_adv, res.pred_before)
    assert torch.allclose(adv.scores, direct.scores, rtol=1e-4, atol=1e-8)
    for i in range(2):
        shared = len(set(nat.top_idx[i].tolist()) & set(adv.top_idx[i].tolist())) / 5
        assert res.metrics["topk_intersection"][i].item() == pytest.approx(shared)
    assert ((-1 <= res.metrics["spearman"]) & (res.metrics["spearman"] <= 1)).all()
    best = res.objective.gather(0, res.best_step.view(1, -1)).squeeze(0)
    assert (best <= res.objective[0] + 1e-6).all()                         # the natural digit is a candidate
    assert res.config["k"] == 5 and res.config["damping"] == 0.01
    json.loads(json.dumps(res.to_dict()))


def test_the_sign_attack_lowers_the_influence_of_the_natural_top_digits(cnn, two):
    """What the objective promises (paper 003 eq. 1): Σ I over the natural top 3 rises (they help less)."""
    x, y = two
    res = create_attack(cnn, "influence_sign", eps=0.1, steps=3)(x, y)
    nat, adv = res.explanations["natural"], res.explanations["adversarial"]
    top3 = nat.top_idx[:, :3]
    moved = res.best_step > 0
    assert moved.any()
    assert (adv.scores.gather(1, top3).sum(1)[moved] > nat.scores.gather(1, top3).sum(1)[moved]).all()


def test_the_random_baseline_is_one_step_of_exactly_eps(cnn, two):
    x, y = two
    res = create_attack(cnn, "influence_random", eps=0.05, steps=50)(x, y, seed=1)
    assert res.config["steps"] == 1
    d = (res.x_adv - res.x)[res.best_step > 0]
    inside = (res.x[res.best_step > 0] >= 0.05) & (res.x[res.best_step > 0] <= 0.95)
    assert torch.allclose(d[inside].abs(), torch.full_like(d[inside], 0.05), atol=1e-6)


def test_bad_parameters_are_clear_errors(cnn):
    with pytest.raises(AttackError, match=r"k must be an integer in 1\.\.1000"):
        create_attack(cnn, "influence_sign", k=0)
    with pytest.raises(AttackError, match="top must be"):
        create_attack(cnn, "influence_sign", top=5000)
    with pytest.raises(AttackError, match="damping"):
        create_attack(cnn, "influence_sign", damping=-0.1)
    with pytest.raises(AttackError, match="eps"):
        create_attack(cnn, "influence_sign", eps=2.0)
