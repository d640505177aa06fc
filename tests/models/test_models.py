import dataclasses

import pytest
import torch
import torch.nn as nn

from sem_core.errors import UnknownNameError
from sem_core.models import SENN, PrototypeDL, create_model, list_models, with_activation


@pytest.mark.parametrize("name", list_models())
def test_contract_logits_shape_and_batch_independence(name):
    model = create_model(name).eval()
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    # a batch gives the same logits as the images one by one
    one_by_one = torch.cat([model(x[i : i + 1]) for i in range(4)])
    assert torch.allclose(out, one_by_one, atol=1e-5)


def test_unknown_model_lists_available():
    with pytest.raises(UnknownNameError, match="available: cnn, protodl, senn"):
        create_model("resnet")


@pytest.mark.parametrize("name", list_models())
def test_with_activation_keeps_weights_and_leaves_original_alone(name):
    model = create_model(name).eval()
    x = torch.rand(3, 1, 28, 28)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    smooth = with_activation(model, "softplus", beta=50.0)
    relu_twin = with_activation(model, "relu")
    assert any(isinstance(m, nn.Softplus) for m in smooth.modules())
    assert not any(isinstance(m, nn.Softplus) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.allclose(relu_twin(x), model(x), atol=1e-6)
    # softplus(beta) -> relu as beta grows: the surrogate is close to the real network
    assert (smooth(x) - model(x)).abs().max() < 0.5


def test_senn_interface_and_sum_aggregation():
    model = create_model("senn", n_concepts=7).eval()
    x = torch.rand(5, 1, 28, 28)
    h, theta = model.concepts(x), model.relevances(x)
    assert h.shape == (5, 7) and theta.shape == (5, 7, 10)
    manual = (theta * h.unsqueeze(2)).sum(1)
    assert torch.allclose(model(x), manual, atol=1e-5)
    e = model.explain(x)
    assert torch.equal(e.predicted, model(x).argmax(1))
    assert torch.allclose(e.relevances, theta[torch.arange(5), :, e.predicted], atol=1e-6)
    assert torch.allclose(e.contributions.sum(1), model(x).max(1).values, atol=1e-5)
    assert model.reconstruct(h).shape == (5, 1, 28, 28)


def test_senn_grounding_picks_top_activating_digits():
    model = create_model("senn", n_concepts=3, n_grounding=4).eval()
    images = torch.rand(50, 1, 28, 28)
    idx = model.compute_grounding(images, batch_size=16)
    acts = model.concepts(images).detach()
    assert idx.shape == (3, 4)
    for i in range(3):
        assert set(idx[i].tolist()) == set(acts[:, i].topk(4).indices.tolist())
    assert torch.equal(model.grounding, idx)


class _ConstTheta(nn.Module):
    """theta(x) = a constant k x 10 matrix, whatever x is."""

    def __init__(self, k):
        super().__init__()
        self.w = nn.Parameter(torch.randn(k * 10))

    def forward(self, x):
        return self.w.expand(x.shape[0], -1)


def test_stability_penalty_zero_for_constant_theta_and_linear_h():
    model = create_model("senn", n_concepts=4).double()
    model.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 4)).double()
    model.parameterizer = _ConstTheta(4).double()
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    pen = model.stability_penalty(x)
    assert pen.shape == (6,)
    assert pen.max() < 1e-10


def test_stability_penalty_positive_when_theta_varies_and_trainable():
    model = create_model("senn", n_concepts=4)
    x = torch.rand(6, 1, 28, 28)
    pen = model.stability_penalty(x)
    assert (pen > 1e-4).all()
    # it is a differentiable training loss: gradients reach the parameterizer
    pen.sum().backward()
    g = model.parameterizer[-1].weight.grad
    assert g is not None and g.abs().sum() > 0


def test_stability_penalty_equals_h_times_theta_jacobian():
    """grad f_c - theta_c^T J_h = h^T J_theta_c: check against that identity with autograd."""
    model = create_model("senn", n_concepts=3).double()
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    c = model(x).argmax(1).item()
    h = model.concepts(x).detach()
    theta_c = lambda inp: model.relevances(inp)[:, :, c]  # noqa: E731
    (expected,) = torch.autograd.grad((theta_c(x) * h).sum(), x)
    assert torch.allclose(model.stability_penalty(x), expected.flatten(1).norm(dim=1), rtol=1e-8)


def test_protodl_interface():
    model = create_model("protodl", class_init=True).eval()
    x = torch.rand(3, 1, 28, 28)
    d = model.prototype_distances(x)
    assert d.shape == (3, 15) and (d >= 0).all()
    z = model.encode(x)
    assert torch.allclose(d, torch.cdist(z, model.prototypes).pow(2), atol=1e-4)
    imgs = model.prototype_images()
    assert imgs.shape == (15, 1, 28, 28) and 0 <= imgs.min() and imgs.max() <= 1
    classes = model.prototype_classes()
    assert classes.shape == (15,) and set(classes.tolist()) == set(range(10))
    e = model.explain(x)
    assert torch.equal(e.nearest, d.argmin(1)) and torch.equal(e.nearest_class, classes[e.nearest])


@pytest.mark.slow
def test_same_seed_same_weights():
    from sem_core.models.train import train_model

    a = train_model("cnn", epochs=1, seed=3, data="subset", device="cpu", limit=128)
    b = train_model("cnn", epochs=1, seed=3, data="subset", device="cpu", limit=128)
    c = train_model("cnn", epochs=1, seed=4, data="subset", device="cpu", limit=128)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_a_training_limit_draws_every_class_not_the_first_digits(monkeypatch):
    """The splits are sorted by label: the first 1,000 training digits are three classes (a senn-lambda run on
    them scored 30 % on the test split). ``limit`` draws a seeded random subset, recorded on the card."""
    from sem_core.models import train as train_mod

    seen = {}

    def fit(model, xtr, ytr, cfg, gen, on_step):
        seen.setdefault("labels", []).append(ytr.clone())
        return []

    monkeypatch.setattr(train_mod, "_fit", fit)
    monkeypatch.setattr(train_mod, "accuracy", lambda *a: 0.0)
    res = train_mod.train_model("cnn", epochs=1, seed=3, data="subset", device="cpu", limit=200)
    again = train_mod.train_model("cnn", epochs=1, seed=3, data="subset", device="cpu", limit=200)
    first, second = seen["labels"]
    assert len(first) == 200 and set(first.tolist()) == set(range(10)) and torch.equal(first, second)
    assert res.card["data"]["n_train"] == 200 and "random" in res.card["data"]["selection"]
    assert again.card["data"] == res.card["data"]


@pytest.mark.parametrize("name", ["senn", "protodl"])
@pytest.mark.slow
def test_training_step_lowers_the_loss(name):
    from sem_core.data import load_split
    from sem_core.models.train import TrainConfig

    x, y, _ = load_split("train", "subset")
    x, y = x[:64], y[:64]
    model = create_model(name)
    cfg = TrainConfig()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = model.training_loss(x, y, cfg)
    assert set(first) >= {"loss", "ce", "rec"}
    for _ in range(15):
        opt.zero_grad()
        model.training_loss(x, y, cfg)["loss"].backward()
        opt.step()
    assert model.training_loss(x, y, cfg)["loss"] < first["loss"]


def test_configs_are_frozen_dataclasses():
    for cls in (SENN, PrototypeDL):
        assert dataclasses.is_dataclass(cls.Config)
