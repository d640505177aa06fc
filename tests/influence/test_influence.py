"""Influence functions against an exact Hessian inverse on a tiny logistic-regression model (the oracle never
touches the cached features: it differentiates the model itself), the HVP, the batched CG, the cache."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sem_core.errors import SemError
from sem_core.explain.influence import InfluenceFunction, batched_cg, influence_for, last_linear


def _oracle(model, x_train, y_train, x_test, damping):
    """Exact I(z_i, x) = −∇θL(z_i)ᵀ (H + λI)⁻¹ ∇θL(x) with θ = the last layer, by explicit Hessian and solve."""
    layer = last_linear(model)
    theta0 = torch.cat([layer.weight.flatten(), layer.bias]).double()
    body = model[:-1]
    out, d = layer.out_features, layer.in_features

    def loss(theta, x, y):
        return F.cross_entropy(body(x).double() @ theta[: out * d].view(out, d).T + theta[out * d:], y)

    h = torch.autograd.functional.hessian(lambda t: loss(t, x_train, y_train), theta0)
    h = h + damping * torch.eye(len(theta0), dtype=h.dtype)
    pred = model(x_test).argmax(1)
    g_test = torch.stack([torch.autograd.functional.jacobian(lambda t: loss(t, x_test[i:i + 1], pred[i:i + 1]), theta0)
                          for i in range(len(x_test))])
    g_train = torch.stack([torch.autograd.functional.jacobian(lambda t: loss(t, x_train[i:i + 1], y_train[i:i + 1]),
                                                              theta0) for i in range(len(x_train))])
    return h, g_train, -(g_train @ torch.linalg.solve(h, g_test.T)).T


@pytest.mark.parametrize("damping", [0.01, 0.001])
def test_cg_influence_matches_the_exact_hessian_inverse(tiny_logreg, test_split, damping):
    model, x_train, y_train = tiny_logreg
    x_test = test_split[0][:4]
    infl = InfluenceFunction(model, x_train, y_train, damping=damping, tol=1e-10)
    h, g_train, exact = _oracle(model, x_train, y_train, x_test, damping)
    assert torch.allclose(infl.grads_train, g_train, atol=1e-7)
    e = infl(x_test)
    assert (e.residual <= 1e-10).all()
    assert torch.allclose(e.scores, exact, rtol=1e-6, atol=1e-9 * exact.abs().max().item())
    assert torch.equal(e.top_idx, exact.topk(5, dim=1, largest=False).indices)     # most negative first
    assert torch.allclose(e.top_scores, exact.gather(1, e.top_idx), rtol=1e-6)
    assert torch.allclose(infl.dense_hessian(), h, atol=1e-10)


def test_hvp_is_the_hessian_times_the_vector(tiny_logreg):
    model, x_train, y_train = tiny_logreg
    infl = InfluenceFunction(model, x_train, y_train, damping=0.0)
    h = infl.dense_hessian()
    v = torch.randn(3, infl.n_params, dtype=torch.float64)
    assert torch.allclose(infl.hvp(v), v @ h, atol=1e-10)
    assert torch.allclose(h, h.T, atol=1e-12)
    assert torch.linalg.eigvalsh(h).min() > -1e-10                      # cross-entropy: positive semi-definite
    damped = InfluenceFunction(model, x_train, y_train, damping=0.5)
    assert torch.allclose(damped.hvp(v), v @ h + 0.5 * v, atol=1e-10)


def test_batched_cg_solves_each_row_as_if_alone():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(30, 30, generator=gen, dtype=torch.float64)
    a = q @ q.T + 0.1 * torch.eye(30, dtype=torch.float64)
    b = torch.randn(4, 30, generator=gen, dtype=torch.float64)
    s, res, it = batched_cg(lambda v: v @ a, b, tol=1e-12, max_iter=500)
    assert torch.allclose(s, torch.linalg.solve(a, b.T).T, atol=1e-8) and (res <= 1e-12).all() and it <= 500
    single, _, _ = batched_cg(lambda v: v @ a, b[2:3], tol=1e-12, max_iter=500)
    assert torch.allclose(single, s[2:3], atol=1e-12)
    warm, _, it_warm = batched_cg(lambda v: v @ a, b, s, tol=1e-12, max_iter=500)
    assert it_warm == 0 and torch.equal(warm, s)                          # a solved start needs no iteration


def test_the_shipped_cnn_is_explained_mostly_by_training_digits_of_the_same_class(shipped, test_split):
    """Known answer: the most influential training digits of a test digit are mostly of its class (measured on
    the first 100 test digits: 71 % of the top 5, chance 10 %); the solve converges."""
    model = shipped["cnn"][0]
    infl = influence_for(model, "subset")
    assert influence_for(model, "subset") is infl                         # built once per model
    assert infl.n_params == 1290 and infl.n_train == 4000
    x, y, _ = test_split
    e = infl(x[:20])
    assert (e.residual <= infl.tol).all()
    assert (infl.y_train[e.top_idx] == y[:20, None]).float().mean() >= 0.5


def test_bad_inputs_are_clear_errors(tiny_logreg):
    model, x_train, y_train = tiny_logreg
    with pytest.raises(SemError, match="linear layer with 10 outputs"):
        InfluenceFunction(nn.Sequential(nn.Flatten(), nn.Linear(784, 3)), x_train, y_train)
    with pytest.raises(SemError, match="damping"):
        InfluenceFunction(model, x_train, y_train, damping=-1.0)
    with pytest.raises(SemError, match=r"cannot take images of shape \[1, 1, 5, 28\]"):
        InfluenceFunction(model, x_train[:, :, :5], y_train)
    infl = InfluenceFunction(model, x_train, y_train)
    with pytest.raises(SemError, match=r"\[B,C,H,W\]"):
        infl(x_train.view(-1, 784))
    with pytest.raises(SemError, match=r"built on training images \[1, 28, 28\]"):
        infl(torch.zeros(1, 1, 28, 20))
    with pytest.raises(SemError, match="k must be between 1 and 120"):
        infl(x_train[:1], k=121)


def test_the_cache_is_rebuilt_when_the_weights_change(tiny_logreg):
    import copy

    model = copy.deepcopy(tiny_logreg[0])
    first = influence_for(model, "subset")
    with torch.no_grad():
        model[-1].bias.add_(1.0)
    second = influence_for(model, "subset")
    assert second is not first and not torch.equal(second.theta, first.theta)


def test_the_cache_lets_a_model_go(tiny_logreg):
    """The cache holds its models weakly: a model nobody uses any more is freed with its training gradients."""
    import copy
    import gc
    import weakref

    model = copy.deepcopy(tiny_logreg[0])
    infl = weakref.ref(influence_for(model, "subset"))
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None and infl() is None
