"""Eq. 3 of paper 000 on hand-made numbers: λ, ξ and α enter the prototype attack's objective as stated."""
import math

import pytest
import torch
import torch.nn as nn

from sem_core.attacks.protodl_prototype import ProtoDLAttack, prototype_objective
from sem_core.errors import AttackError
from sem_core.models import create_model


def test_objective_on_hand_computed_numbers():
    h = torch.tensor([[1.0, 2.0, 3.0]])               # three prototypes, of classes 0, 0, 1
    classes, y, logits = torch.tensor([0, 0, 1]), torch.tensor([0]), torch.zeros(1, 10)
    d, r, ce, h_sq = math.sqrt((1 + 4) / 2), 3.0, math.log(10), 1 + 4 + 9
    for lam, xi, alpha in ((1.0, 0.0, 0.0), (1.0, 0.3, 0.0), (0.5, 1.0, 0.01), (1.0, 0.3, 0.1)):
        got = prototype_objective(h, logits, classes, y, lam=lam, xi=xi, alpha=alpha)
        assert got.item() == pytest.approx(d - lam * r - xi * ce - alpha * h_sq, rel=1e-6)


@pytest.fixture(scope="module")
def hand_made():
    """A PrototypeDL whose encoder is a fixed linear map and whose prototype j belongs to class j mod 10."""
    torch.manual_seed(0)
    model = create_model("protodl", class_init=True)
    model.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 40))
    with torch.no_grad():
        model.encoder[1].weight.copy_(torch.randn(40, 784) / 28)
        model.encoder[1].bias.zero_()
        model.prototypes.copy_(torch.randn(15, 40) * 0.5)
    return model.eval().requires_grad_(False)


@pytest.mark.parametrize("xi,alpha", [(0.0, 0.0), (0.3, 0.0), (0.3, 0.01), (3.0, 0.1)])
def test_the_attack_step_minimises_minus_the_objective(hand_made, xi, alpha):
    x = torch.rand(4, 1, 28, 28)
    attack = ProtoDLAttack(hand_made, lam=1.0, xi=xi, alpha=alpha, steps=1)
    pred = hand_made(x).argmax(1)
    ctx = attack.prepare(x, pred, None)
    out = attack.step(x, pred, ctx)
    h = hand_made.prototype_distances(x)
    logits = hand_made.classifier(h)
    base = prototype_objective(h, logits, ctx["classes"], pred, lam=1.0, xi=0.0, alpha=0.0)
    ce = nn.functional.cross_entropy(logits, pred, reduction="none")
    torch.testing.assert_close(out.loss, -(base - xi * ce - alpha * h.pow(2).sum(1)))
    d_minus_r = prototype_objective(h, logits, ctx["classes"], pred, lam=1.0, xi=0.0, alpha=0.0)
    torch.testing.assert_close(out.score, -d_minus_r)   # the iterate is chosen by D − λR alone
    assert attack.config()["xi"] == xi and attack.config()["alpha"] == alpha


def test_alpha_changes_the_steps_and_pulls_h_in(hand_made):
    x = torch.rand(8, 1, 28, 28)
    h_sq = {}
    for alpha in (0.0, 1.0):
        res = ProtoDLAttack(hand_made, xi=0.0, alpha=alpha, eps=0.1, steps=1, step_size=0.1, snapshot_every=1)(x)
        first_step = res.snapshots[1].x            # the iterate after one step (not the kept one)
        h_sq[alpha] = hand_made.prototype_distances(first_step).pow(2).sum(1)
    # with α = 1 the ||h||² term dominates eq. 3's gradient, so the step lowers ||h||² below the α = 0 step's
    assert (h_sq[1.0] < h_sq[0.0]).all()


@pytest.mark.parametrize("key", ["lam", "xi", "alpha"])
def test_non_finite_weights_are_refused(hand_made, key):
    with pytest.raises(AttackError, match=f"{key} must be a finite number"):
        ProtoDLAttack(hand_made, **{key: math.nan})
