"""Hand-written gradient explainers: known answers, captum as the oracle, axioms, 2nd order."""
from __future__ import annotations

import pytest
import torch
from captum.attr import DeepLift, InputXGradient, IntegratedGradients, Saliency

from sem_core.explain import explain

GRADIENT = ["saliency", "gradxinput", "ig", "deeplift", "smoothgrad"]
TARGET = torch.tensor([2, 5, 9])


def logit(model, x, target=TARGET):
    return model(x).gather(1, target[:, None]).squeeze(1)


def test_linear_saliency_is_abs_weights_and_gradxinput_is_weights_times_input(linear, digits):
    w = linear[1].weight[TARGET].detach().view(3, 1, 28, 28)
    torch.testing.assert_close(explain(linear, "saliency", digits, y=TARGET), w.abs())
    torch.testing.assert_close(explain(linear, "gradxinput", digits, y=TARGET), w * digits)


@pytest.mark.parametrize("method", ["ig", "deeplift"])
def test_linear_ig_and_deeplift_equal_gradxinput(linear, digits, method):
    # black baseline + linear model: every path method is exactly W ⊙ x
    torch.testing.assert_close(explain(linear, method, digits, y=TARGET),
                               explain(linear, "gradxinput", digits, y=TARGET))


def test_smoothgrad_without_noise_is_saliency(models, digits):
    model = models["softplus_pool"]
    torch.testing.assert_close(explain(model, "smoothgrad", digits, y=TARGET, noise=0.0),
                               explain(model, "saliency", digits, y=TARGET))


def test_smoothgrad_is_deterministic_per_seed(models, digits):
    model = models["relu_pool"]
    a = explain(model, "smoothgrad", digits, samples=4, seed=1)
    torch.testing.assert_close(a, explain(model, "smoothgrad", digits, samples=4, seed=1), rtol=0, atol=0)
    assert not torch.allclose(a, explain(model, "smoothgrad", digits, samples=4, seed=2))


@pytest.mark.filterwarnings("ignore::UserWarning")  # captum's "did not require gradients"
@pytest.mark.parametrize("name", ["relu_pool", "softplus_pool", "relu_strided"])
@pytest.mark.parametrize("method, oracle", [
    ("saliency", lambda m, x, t: Saliency(m).attribute(x, target=t, abs=True)),
    ("gradxinput", lambda m, x, t: InputXGradient(m).attribute(x, target=t)),
    ("ig", lambda m, x, t: IntegratedGradients(m).attribute(
        x, target=t, n_steps=16, method="riemann_right", internal_batch_size=None)),
])
def test_matches_captum(models, digits, name, method, oracle):
    model = models[name]
    ours = explain(model, method, digits, y=TARGET, **({"steps": 16} if method == "ig" else {}))
    torch.testing.assert_close(ours, oracle(model, digits, TARGET).detach(), rtol=1e-9, atol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")  # captum's hook notices
@pytest.mark.parametrize("name", ["relu_pool_negbias", "relu_strided", "softplus_strided"])
def test_deeplift_matches_captum(models, digits, name):
    """captum 0.9's max-pool rule agrees with ours only when the baseline's pooled activations
    are 0 (negative conv biases); with pooling and positive biases it credits the whole pooled
    difference to x's argmax and breaks summation-to-delta (captum issue #1276), ours does not."""
    model = models[name]
    ours = explain(model, "deeplift", digits, y=TARGET)
    theirs = DeepLift(model).attribute(digits, baselines=torch.zeros_like(digits), target=TARGET)
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["relu_pool", "softplus_pool", "relu_strided", "relu_pool_negbias"])
def test_deeplift_summation_to_delta(models, digits, name):
    model = models[name]
    attr = explain(model, "deeplift", digits, y=TARGET)
    delta = logit(model, digits) - logit(model, torch.zeros_like(digits))
    torch.testing.assert_close(attr.sum((1, 2, 3)), delta.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["relu_pool", "softplus_pool"])
def test_ig_completeness(models, digits, name):
    model = models[name]
    attr = explain(model, "ig", digits, y=TARGET, steps=256)
    delta = (logit(model, digits) - logit(model, torch.zeros_like(digits))).detach()
    assert (attr.sum((1, 2, 3)) - delta).abs().max() < 0.02 * delta.abs().max()


def test_deeplift_does_not_modify_the_model(models, digits):
    model = models["relu_pool"]
    model[1].inplace = True  # the copy must cope with in-place activations too
    before = {k: v.clone() for k, v in model.state_dict().items()}
    types = [type(m) for m in model.modules()]
    try:
        explain(model, "deeplift", digits, y=TARGET)
        explain(model, "deeplift", digits.clone().requires_grad_(True), y=TARGET, create_graph=True)
        assert [type(m) for m in model.modules()] == types
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
                   for m in model.modules())
        assert model[1].inplace
    finally:
        model[1].inplace = False


@pytest.mark.parametrize("method", GRADIENT)
def test_second_order_gradient_is_nonzero_for_softplus(models, digits, method):
    x = digits.clone().requires_grad_(True)
    maps = explain(models["softplus_pool"], method, x, y=TARGET, create_graph=True)
    assert maps.requires_grad
    (grad,) = torch.autograd.grad(maps.sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("method", GRADIENT)
def test_second_order_gradient_matches_finite_differences(models, digits, method):
    """create_graph=True keeps the graph: d/dt Σ map(x + t·v) by autograd = central difference.

    On the strided softplus net: max-pooling ties in the black border make maps jump under
    any perturbation, which finite differences cannot follow."""
    model = models["softplus_strided"]
    kw = {"ig": {"steps": 8}, "smoothgrad": {"samples": 4}}.get(method, {})
    x = digits.clone().requires_grad_(True)
    total = explain(model, method, x, y=TARGET, create_graph=True, **kw).sum()
    (grad,) = torch.autograd.grad(total, x)
    assert grad.abs().sum() > 0
    v = torch.randn_like(digits)
    h = 1e-5
    plus = explain(model, method, digits + h * v, y=TARGET, **kw).sum()
    minus = explain(model, method, digits - h * v, y=TARGET, **kw).sum()
    torch.testing.assert_close((grad * v).sum(), (plus - minus) / (2 * h), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("method", GRADIENT)
def test_float32_maps_stay_float32_and_on_the_input_device(models, digits, method):
    model = models["relu_pool"].float()
    try:
        maps = explain(model, method, digits.float(), y=TARGET)
        assert maps.dtype == torch.float32 and maps.device == digits.device
        torch.testing.assert_close(maps.double(), explain(models["relu_pool"].double(), method, digits,
                                                          y=TARGET), rtol=1e-3, atol=1e-5)
    finally:
        models["relu_pool"].double()
