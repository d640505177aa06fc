"""SENN defenses (paper 000 Sec. 5): the attack inside training obeys the ball and works; the penalties fall."""
import dataclasses

import pytest
import torch

from sem_core.models import create_model
from sem_core.errors import SemError
from sem_core.models import defenses
from sem_core.models.defenses import concept_pgd, lipschitz_term, madry_term, other_class_partner, pgd_linf
from sem_core.models.train import TrainConfig, _epoch_config


@pytest.fixture
def senn():
    torch.manual_seed(0)
    return create_model("senn", n_concepts=4)


def test_partners_have_another_label():
    y = torch.tensor([0, 0, 1, 2, 2, 3])
    p = other_class_partner(y)
    assert (y[p] != y).all()


def test_the_attack_inside_training_stays_in_the_ball_and_moves_the_concepts(senn, test_split):
    x, y = test_split[0][:8], test_split[1][:8]
    h_t = senn.concepts(x[other_class_partner(y)]).detach()
    x_adv = concept_pgd(senn, x, y, h_t, eps=0.2, steps=5)
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    before = (senn.concepts(x) - h_t).norm(dim=1)
    after = (senn.concepts(x_adv) - h_t).norm(dim=1)
    assert (after < before).float().mean() >= 0.75
    assert all(p.grad is None for p in senn.parameters()), "the inner attack must not touch parameter grads"


def _steps(model, x, y, cfg, n):
    """``n`` Adam steps on the training loss, each drawing the same random partners / ball corners (so
    the defense term is one fixed objective that descent must lower)."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(n):
        torch.manual_seed(1)
        opt.zero_grad()
        model.training_loss(x, y, cfg)["loss"].backward()
        opt.step()
    return model


@pytest.mark.slow
@pytest.mark.parametrize("defense", ["adversarial", "madry", "lipschitz"])
def test_training_with_a_defense_lowers_its_term(test_split, defense):
    """The defense term, at fixed random partners / ball corners, falls by half over 30 steps."""
    x, y = test_split[0][:64], test_split[1][:64]
    cfg = dataclasses.replace(TrainConfig(), defense=defense, defense_weight=5.0, defense_steps=3, defense_targets=2)
    torch.manual_seed(0)
    model = create_model("senn", n_concepts=4)

    def term() -> float:
        torch.manual_seed(1)
        return model.training_loss(x, y, cfg)[defense].item()

    first = term()
    _steps(model, x, y, cfg, 30)
    assert term() < 0.5 * first


def _mixed(split, n):
    """``n`` test digits of several labels (the split is sorted by label): two of each label from 0 up."""
    x, y = split[0], split[1]
    idx = torch.cat([(y == c).nonzero()[:2, 0] for c in range((n + 1) // 2)])[:n]
    return x[idx], y[idx]


def test_a_random_start_lies_in_the_ball_and_is_not_the_digit(test_split):
    x = test_split[0][:4]
    torch.manual_seed(0)
    start = pgd_linf(x, lambda z: z.sum(), eps=0.2, steps=0, random_start=True)
    assert (start - x).abs().max() <= 0.2 + 1e-6 and start.min() >= 0 and start.max() <= 1
    assert (start - x).abs().mean() > 0.05   # uniform in the ball: mean |δ| ≈ ε/2 where not clipped
    assert torch.equal(pgd_linf(x, lambda z: z.sum(), eps=0.2, steps=0), x)


def test_madry_attacks_each_digit_toward_several_other_labels_from_a_random_start(senn, test_split, monkeypatch):
    x, y = _mixed(test_split, 6)
    h = senn.concepts(x)
    seen = {}

    def recording(model, xs, ys, h_target, **kw):
        seen.update(xs=xs, ys=ys, h_target=h_target, **kw)
        return concept_pgd(model, xs, ys, h_target, **kw)

    monkeypatch.setattr(defenses, "concept_pgd", recording)
    term = madry_term(senn, x, y, h, eps=0.2, steps=3, targets=3)
    assert seen["xs"].shape[0] == 18 and seen["random_start"] and seen["steps"] == 3
    assert torch.equal(seen["ys"], y.repeat_interleave(3))
    labels = {tuple(r.tolist()): int(c) for r, c in zip(h.detach(), y)}
    assert all(labels[tuple(t.tolist())] != int(c) for t, c in zip(seen["h_target"], seen["ys"]))
    assert torch.isfinite(term) and term.item() > 0


def test_the_worst_target_counts(senn, test_split, monkeypatch):
    """With T targets the term is the largest concept move among the T attacks (each digit), not their mean."""
    x, y = _mixed(test_split, 4)
    h = senn.concepts(x).detach()
    shifts = torch.tensor([0.0, 0.3, 0.1])  # the second target's attack moves furthest

    def fake(model, xs, ys, h_target, **kw):
        return (xs + shifts.repeat(len(x)).view(-1, 1, 1, 1)).clamp(0, 1)

    monkeypatch.setattr(defenses, "concept_pgd", fake)
    monkeypatch.setattr(defenses.F, "cross_entropy", lambda *a, **k: torch.zeros(()))
    term = madry_term(senn, x, y, h, eps=0.3, steps=1, targets=3)
    worst = (senn.concepts((x + 0.3).clamp(0, 1)) - h).pow(2).sum(1).mean() / defenses.concept_spread(h)
    assert term.item() == pytest.approx(worst.item(), rel=1e-5)


def test_the_training_config_refuses_an_unknown_defense_and_ramps_eps():
    with pytest.raises(SemError, match="defense must be one of"):
        TrainConfig(defense="madri")
    with pytest.raises(SemError, match="defense_targets"):
        TrainConfig(defense="madry", defense_targets=0)
    cfg = TrainConfig(defense="madry", defense_eps=0.3, defense_ramp_epochs=3)
    assert [round(_epoch_config(cfg, e).defense_eps, 6) for e in range(5)] == [0.1, 0.2, 0.3, 0.3, 0.3]
    assert _epoch_config(TrainConfig(defense_eps=0.3), 0).defense_eps == 0.3


def test_the_lipschitz_term_is_zero_in_a_zero_ball(senn, test_split):
    x = test_split[0][:4]
    assert lipschitz_term(senn, x, senn.concepts(x), eps=0.0).item() == pytest.approx(0.0, abs=1e-8)


def test_the_prototype_attack_inside_training_stays_in_the_ball_and_raises_its_objective(test_split):
    from sem_core.attacks.protodl_prototype import d_and_r
    from sem_core.models.protodl import prototype_pgd

    torch.manual_seed(0)
    model = create_model("protodl", class_init=True)
    x, y = test_split[0][:8], test_split[1][:8]
    x_adv = prototype_pgd(model, x, y, eps=0.2, steps=5)
    assert (x_adv - x).abs().max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    classes = model.prototype_classes()
    gain = [d - r for d, r in (d_and_r(model.prototype_distances(z), classes, y) for z in (x, x_adv))]
    assert (gain[1] > gain[0]).float().mean() >= 0.75


def test_prototypedl_refuses_a_defense_it_does_not_have(test_split):
    from sem_core.errors import SemError

    model = create_model("protodl")
    with pytest.raises(SemError, match="adversarial"):
        model.training_loss(test_split[0][:4], test_split[1][:4], dataclasses.replace(TrainConfig(), defense="lipschitz"))
