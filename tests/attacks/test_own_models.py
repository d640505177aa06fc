"""Contract: every attack on models this project did not write (``tests/foreign_models.py``) plus a shipped one.

An applicable attack moves its objective (status "ok"; the saliency top-k attack beats the random-sign baseline);
an inapplicable one refuses, naming the missing capability. Never a silent no-op.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sem_core import AttackError, SemError, create_attack, explain, list_attacks
from sem_core.models.capabilities import ConceptModel, PrototypeModel, has_capability

MODELS = ["cnn", "functional-cnn", "colour-3x32x32", "duck-concept", "duck-prototype"]
FAST = {"eps": 0.1, "steps": 10}


@pytest.fixture(scope="module")
def cases(foreign, shipped, test_split):
    x, y, _ = test_split
    return {**foreign, "cnn": (shipped["cnn"][0], x[:4], y[:4])}


def applicable(name: str, model) -> bool:
    family = create_attack_family(name)
    if family == "senn":
        return has_capability(model, ConceptModel)
    if family == "protodl":
        return has_capability(model, PrototypeModel)
    return True


def create_attack_family(name: str) -> str:
    from sem_core.attacks import ATTACKS
    return ATTACKS.get(name).family


def settings_for(name: str) -> dict:
    if name.startswith("saliency"):
        return {**FAST, "k": 20}
    if name.startswith("influence"):
        return {"eps": 0.1, "steps": 2}
    return {"eps": 0.3, "steps": 10}


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("attack_name", [a for a in list_attacks() if not a.startswith("influence")])
def test_every_attack_moves_its_objective_or_names_what_is_missing(cases, model_name, attack_name):
    model, x, y = cases[model_name]
    if not applicable(attack_name, model):
        with pytest.raises(AttackError, match="needs a (concept|prototype) model .* has no "):
            create_attack(model, attack_name, **settings_for(attack_name))
        return
    atk = create_attack(model, attack_name, **settings_for(attack_name))
    target = atk.example_target(x, y) if atk.targeted else None
    res = atk(x, y, target=target)
    assert res.outcome == "ok" and len(res.status) == len(x)
    assert "no-gradient" not in res.status, res.status
    assert "ok" in res.status, res.status
    assert (res.linf <= atk.eps + 1e-6).all()


@pytest.mark.parametrize("model_name", MODELS)
def test_the_topk_attack_beats_the_random_baseline_on_every_classifier(cases, model_name):
    model, x, y = cases[model_name]
    topk = create_attack(model, "saliency_topk", eps=0.1, steps=20, k=20)(x, y)
    rand = create_attack(model, "saliency_random", eps=0.1, k=20)(x, y)
    assert topk.metrics["topk_intersection"].mean() < rand.metrics["topk_intersection"].mean()


def test_concept_and_prototype_attacks_run_on_duck_typed_models(cases):
    model, x, y = cases["duck-concept"]
    res = create_attack(model, "senn_concept", eps=0.3, steps=20)(x, y, target=x.roll(1, 0))
    assert (res.metrics["concept_distance_adv"] < res.metrics["concept_distance_nat"]).float().mean() >= 0.5
    model, x, y = cases["duck-prototype"]
    res = create_attack(model, "protodl_prototype", eps=0.3, steps=20)(x, y)
    assert res.improved.any() and res.explanations["natural"].distances.shape == (4, 20)


def test_the_influence_attack_runs_on_a_functional_cnn_and_refuses_colour_images(cases):
    model, x, y = cases["functional-cnn"]
    res = create_attack(model, "influence_sign", eps=0.1, steps=2)(x[:2], y[:2])
    assert res.outcome == "ok" and res.metrics["topk_intersection"].shape == (2,)
    model, x, y = cases["colour-3x32x32"]
    with pytest.raises(SemError, match=r"cannot take images of shape \[1, 1, 28, 28\]"):
        create_attack(model, "influence_sign", eps=0.1, steps=2)


class ClampNet(nn.Module):
    """A ReLU network the surrogate cannot see: its ReLU is ``clamp(min=0)``, so the saliency map has zero
    second derivative and the attack has no gradient."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(784, 32), nn.Linear(32, 10)

    def forward(self, x):
        return self.b(self.a(x.flatten(1)).clamp(min=0))


def test_an_attack_without_gradient_says_no_gradient_never_a_result(test_split):
    x, y, _ = test_split
    torch.manual_seed(0)
    res = create_attack(ClampNet().eval(), "saliency_topk", eps=0.1, steps=5)(x[:3])
    assert res.outcome == "no-gradient" and set(res.status) == {"no-gradient"}
    assert res.to_dict()["outcome"] == "no-gradient" and res.to_dict()["status_counts"] == {"no-gradient": 3}
    assert (res.linf == 0).all()   # nothing moved, and the result says why


def test_the_surrogate_smooths_functional_relus_so_the_attack_has_a_gradient(cases):
    from sem_core.models.surrogate import SmoothSurrogate, smooth_surrogate

    model, x, _ = cases["functional-cnn"]
    smooth = smooth_surrogate(model, 10.0)
    assert isinstance(smooth, SmoothSurrogate)
    out = smooth(x)
    assert smooth.replaced == 2 and not torch.equal(out, model(x))
    assert (out.argmax(1) == model(x).argmax(1)).float().mean() >= 0.75   # softplus(10) is close to ReLU
    xx = x.clone().requires_grad_(True)
    m = explain(smooth, "saliency", xx, create_graph=True)
    (g,) = torch.autograd.grad(m.sum(), xx)
    assert g.abs().sum() > 0


@pytest.mark.parametrize("model_name", ["functional-cnn"])
def test_deeplift_refuses_a_model_whose_relus_it_cannot_see(cases, model_name):
    model, x, _ = cases[model_name]
    with pytest.raises(SemError, match="DeepLIFT cannot see .*max_pool2d, relu"):
        explain(model, "deeplift", x)
    with pytest.raises(SemError, match="DeepLIFT cannot see"):
        create_attack(model, "saliency_topk", method="deeplift", steps=1)(x)


def test_lrp_refuses_functional_calls_it_has_no_rule_for(test_split):
    class SoftNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(784, 16), nn.Linear(16, 10)

        def forward(self, x):
            return self.b(F.softplus(self.a(x.flatten(1))))

    x, _, _ = test_split
    with pytest.raises(SemError, match="lrp has no rule for the functional calls softplus"):
        explain(SoftNet().eval(), "lrp", x[:2])


@pytest.mark.parametrize("model_name", MODELS)
def test_every_explainer_gives_maps_of_the_input_shape_or_refuses(cases, model_name):
    from sem_core import list_explainers

    model, x, _ = cases[model_name]
    for name in list_explainers():
        try:
            maps = explain(model, name, x[:2], **({"samples": 40} if name == "lime" else {}))
        except SemError as exc:   # a refusal names why, in one line
            assert "\n" not in str(exc) and name in ("deeplift", "lrp", "influence") or "cannot" in str(exc), exc
            continue
        assert maps.shape == x[:2].shape and torch.isfinite(maps).all(), name
