"""SENN defenses (paper 000 Sec. 6): the attack inside training obeys the ball and works; the penalties fall."""
import dataclasses

import pytest
import torch

from sem_core.models import create_model
from sem_core.models.defenses import concept_pgd, lipschitz_term, other_class_partner
from sem_core.models.train import TrainConfig


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
@pytest.mark.parametrize("defense", ["adversarial", "lipschitz"])
def test_training_with_a_defense_lowers_its_term(test_split, defense):
    """The defense term, at fixed random partners / ball corners, falls by half over 30 steps."""
    x, y = test_split[0][:64], test_split[1][:64]
    cfg = dataclasses.replace(TrainConfig(), defense=defense, defense_weight=5.0, defense_steps=3)
    torch.manual_seed(0)
    model = create_model("senn", n_concepts=4)

    def term() -> float:
        torch.manual_seed(1)
        return model.training_loss(x, y, cfg)[defense].item()

    first = term()
    _steps(model, x, y, cfg, 30)
    assert term() < 0.5 * first


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
