"""SENN as the authors built it (issue 12): bounded θ, inputs standardised inside the model, the full-Jacobian
stability penalty against finite differences, and old cards still loading with the project's defaults."""
import dataclasses
import json
import shutil

import pytest
import torch
import torch.nn.functional as F

import sem_core
from sem_core.errors import CheckpointError
from sem_core.models.checkpoint import SHIPPED_DIR, seal
from sem_core.models.registry import create_model
from sem_core.models.senn import AUTHORS_CONFIG, AUTHORS_TRAIN, MNIST_MEAN, MNIST_STD
from sem_core.models.train import TrainConfig


def _tiny_authors(**over):
    return create_model("senn", **{**AUTHORS_CONFIG, "n_concepts": 2, **over}).double().eval()


def _tiny_mlp_senn():
    """The authors' SENN with its encoder and parameterizer swapped for small MLPs (so finite differences over
    all 784 inputs are cheap); the penalty code under test is SENN's own."""
    model = _tiny_authors()
    torch.manual_seed(1)
    model.encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8), torch.nn.Tanh(),
                                        torch.nn.Linear(8, 2)).double()
    model.parameterizer = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 8), torch.nn.Tanh(),
                                              torch.nn.Linear(8, 20)).double()
    return model


def _finite_difference_penalty(model, x: torch.Tensor, step: float = 1e-5) -> torch.Tensor:
    """‖J_F(z) − J_h(z) θ(z)‖_F per image, every Jacobian by central differences over the 784 inputs z."""
    z = model.standardise(x)
    out = []
    for zi in z:
        eye = torch.eye(784, dtype=z.dtype).view(784, 1, 28, 28) * step
        plus, minus = zi + eye, zi - eye

        def f(t):
            return F.log_softmax(model.aggregate(model._h(t), model._theta(t)), dim=1)

        j_f = (f(plus) - f(minus)) / (2 * step)                           # [784, 10]
        j_h = (model._h(plus) - model._h(minus)) / (2 * step)             # [784, k]
        theta = model._theta(zi.unsqueeze(0))[0]                          # [k, 10]
        out.append((j_f - j_h @ theta).norm())
    return torch.stack(out)


def test_full_penalty_matches_a_finite_difference_jacobian():
    model = _tiny_mlp_senn()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        expected = _finite_difference_penalty(model, x)
    got = model.stability_penalty(x, create_graph=False)
    assert expected.min() > 1e-3                                 # a real, nonzero Jacobian mismatch
    assert torch.allclose(got, expected, rtol=1e-5)


def test_training_loss_uses_the_batch_norm_and_summed_sparsity():
    model = _tiny_authors().train()
    cfg = TrainConfig(**AUTHORS_TRAIN)
    x, y = torch.rand(3, 1, 28, 28, dtype=torch.float64), torch.tensor([1, 2, 3])
    torch.manual_seed(0)
    terms = model.training_loss(x, y, cfg)
    pen = model.stability_penalty(x, create_graph=False)
    assert terms["stability"].item() == pytest.approx(pen.norm().item(), rel=1e-9)   # not the mean
    h = model.concepts(x)
    assert terms["sparsity"].item() == pytest.approx(h.abs().sum().item(), rel=1e-9)  # ||h||_1 over the batch
    z = model.standardise(x)
    assert terms["rec"].item() == pytest.approx(F.mse_loss(model.standardise(model.reconstruct(h)), z).item(), rel=1e-9)


def test_theta_is_bounded_and_inputs_stay_in_pixel_units():
    model = _tiny_authors()
    with torch.no_grad():
        model.parameterizer[-1].weight.mul_(1e3)                      # push θ's pre-activations far out
        x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
        theta = model.relevances(x)
        assert theta.abs().max() <= 1 and theta.abs().max() > 0.99
        assert torch.equal(model.concepts(x), model.encoder((x - MNIST_MEAN) / MNIST_STD))
        e = model.explain(x)
        assert torch.allclose(e.logits, model(x)) and torch.allclose(e.logits, model.aggregate(model.concepts(x), theta))


def test_predicted_relevance_explanation_is_the_predicted_column():
    model = _tiny_authors()
    x = torch.rand(3, 1, 28, 28, dtype=torch.float64)
    fn = model.predicted_relevance_explanation()
    with torch.no_grad():
        pred = model(x).argmax(1)
        expected = model.relevances(x)[torch.arange(3), :, pred]
        assert fn.denominator is None and fn.differentiable
        assert torch.equal(fn(x), expected)


def test_shipped_senn_is_the_authors_recipe_with_bounded_theta_on_every_test_digit(shipped, test_split):
    model, card = shipped["senn"]
    assert card["config"] == {**card["config"], **AUTHORS_CONFIG}
    assert card["test_accuracy"] >= 0.97
    x, _, _ = test_split
    with torch.no_grad():
        theta = torch.cat([model.relevances(b) for b in x.split(500)])
    assert theta.shape == (len(x), 12, 10) and theta.abs().max() <= 1


def test_old_card_without_the_new_fields_loads_with_the_project_defaults(tmp_path):
    card = json.loads((SHIPPED_DIR / "senn-k5.json").read_text())
    assert set(card["config"]) == {"n_concepts", "n_grounding", "act", "beta"}   # written before issue 12
    shutil.copy(SHIPPED_DIR / "senn-k5.safetensors", tmp_path / "senn-k5.safetensors")
    (tmp_path / "senn-k5.json").write_text(json.dumps(card))
    model = sem_core.load_model(tmp_path / "senn-k5.json", "cpu")
    c = model.config
    assert (c.n_concepts, c.theta_act, c.normalize, c.penalty, c.sparsity_reduction) == (5, "none", False, "predicted", "mean")


def test_a_card_with_an_unknown_recipe_value_is_refused_in_one_line(tmp_path):
    card = json.loads((SHIPPED_DIR / "senn-k5.json").read_text())
    card["config"]["theta_act"] = "sigmoid"
    shutil.copy(SHIPPED_DIR / "senn-k5.safetensors", tmp_path / "senn-k5.safetensors")
    (tmp_path / "bad.json").write_text(json.dumps(seal(card)))
    with pytest.raises(CheckpointError, match=r"bad config: SENN theta_act must be one of none, tanh, got 'sigmoid'"):
        sem_core.load_model(tmp_path / "bad.json", "cpu")


def test_each_robust_model_is_paired_with_the_natural_model_of_its_architecture_and_recipe(shipped):
    from sem_core.experiments.defenses import PAIRS, Defenses

    assert PAIRS["senn-adv"] == PAIRS["senn-lip"] == PAIRS["senn-madry"] == "senn-k5"
    for robust, natural in PAIRS.items():
        # the models' configs with every default filled in (a card written before a config field existed omits it)
        mine, theirs = (dataclasses.asdict(shipped[m][0].config) for m in (robust, natural))
        assert mine == {**theirs, **{k: mine[k] for k in ("act", "beta")}}
        assert robust in Defenses.models and natural in Defenses.models
    assert "senn" not in Defenses.models                      # the authors' 12-concept senn has no robust twin
    assert sorted(sem_core.list_shipped("senn")) == ["senn", "senn-adv", "senn-k5", "senn-lip", "senn-madry"]
