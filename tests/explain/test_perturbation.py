"""LIME, Kernel SHAP, occlusion and ε-LRP: known answers on hand-made models, both backends."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sem_core.errors import SemError
from sem_core.explain import explain
from sem_core.explain.superpixels import grid_segments

TARGET = torch.tensor([2, 5])
BACKENDS = [("lime", "captum"), ("lime", "lime"), ("shap", "captum"), ("shap", "shap")]


def per_superpixel(maps: torch.Tensor, cell: int = 4) -> torch.Tensor:
    """[B,1,28,28] -> [B,7,7,cell*cell] pixel values grouped by grid superpixel."""
    b = maps.shape[0]
    return maps.view(b, 7, cell, 7, cell).permute(0, 1, 3, 2, 4).reshape(b, 7, 7, cell * cell)


def test_grid_segments_are_4x4_squares():
    seg = grid_segments(28, 28, 4)
    assert seg.unique().tolist() == list(range(49))
    assert (seg.flatten().bincount() == 16).all()
    assert seg[0, 0] == seg[3, 3] == 0 and seg[0, 4] == 1 and seg[4, 0] == 7 and seg[27, 27] == 48


@pytest.mark.parametrize("method, backend", BACKENDS)
def test_maps_are_constant_within_each_superpixel_and_seeded(models, digits, method, backend):
    model, x = models["relu_pool"], digits[:2]
    maps = explain(model, method, x, y=TARGET, samples=80, seed=5, backend=backend)
    grouped = per_superpixel(maps)
    assert (grouped == grouped[..., :1]).all()
    assert grouped[..., 0].flatten(1).abs().sum(1).min() > 0
    again = explain(model, method, x, y=TARGET, samples=80, seed=5, backend=backend)
    torch.testing.assert_close(maps, again, rtol=0, atol=0)


def linear_superpixel_contributions(linear, x, target):
    """Exact Shapley values of a linear game: Σ_{i in s} W[t,i]·x_i per superpixel."""
    contrib = linear[1].weight[target].detach().view(-1, 1, 28, 28) * x
    return per_superpixel(contrib).sum(-1).flatten(1)  # [B,49]


@pytest.mark.parametrize("backend, atol", [("captum", 1e-3), ("shap", 1e-9)])
def test_kernel_shap_recovers_the_shapley_values_of_a_linear_model(linear, digits, backend, atol):
    # v(z) = b + Σ_s z_s φ_s is linear, so the weighted regression recovers φ (shap exactly;
    # captum only softly enforces v(1) and v(0) with large weights, in float32)
    x = digits[:2]
    maps = explain(linear, "shap", x, y=TARGET, samples=120, seed=0, backend=backend)
    phi = per_superpixel(maps)[..., 0].flatten(1)
    torch.testing.assert_close(phi, linear_superpixel_contributions(linear, x, TARGET), rtol=0, atol=atol)


def test_lime_backends_agree_on_the_top_superpixel_of_a_linear_model(linear, digits):
    x = digits[:2]
    model = copy.deepcopy(linear)
    with torch.no_grad():  # make superpixels 17 (class 2) and 30 (class 5) clearly the most important
        w = model[1].weight.view(10, 28, 28)
        w[2, 8:12, 12:16] += 0.2
        w[5, 16:20, 8:12] += 0.2
    truth = linear_superpixel_contributions(model, x, TARGET).argmax(1)
    assert truth.tolist() == [17, 30]
    for backend in ("captum", "lime"):
        maps = explain(model, "lime", x, y=TARGET, samples=200, seed=0, backend=backend)
        assert per_superpixel(maps)[..., 0].flatten(1).argmax(1).tolist() == [17, 30], backend


def test_occlusion_of_single_pixels_on_a_linear_model_is_gradxinput(linear, digits):
    maps = explain(linear, "occlusion", digits, y=torch.tensor([2, 5, 9]), window=1, stride=1)
    torch.testing.assert_close(maps, explain(linear, "gradxinput", digits, y=torch.tensor([2, 5, 9])))


def test_occlusion_default_window_averages_the_logit_drop(linear, digits):
    # each pixel gets the mean drop over the 4x4 windows (stride 2) that cover it
    t = torch.tensor([2, 5, 9])
    maps = explain(linear, "occlusion", digits, y=t)
    contrib = explain(linear, "gradxinput", digits, y=t)[:, 0]
    drop = contrib.unfold(1, 4, 2).unfold(2, 4, 2).sum((-1, -2))  # [B,13,13] windows
    # pixel (5,5) is covered by windows starting at rows/cols 2 and 4
    expected = drop[:, 1:3, 1:3].mean((1, 2))
    torch.testing.assert_close(maps[:, 0, 5, 5], expected)


def test_epsilon_lrp_of_a_relu_net_is_gradxinput(models, digits):
    # Ancona et al. 2018: ε-LRP -> gradient ⊙ input for ReLU networks as ε -> 0
    model = models["relu_pool"]
    t = torch.tensor([2, 5, 9])
    lrp = explain(model, "lrp", digits, y=t, epsilon=1e-12)
    torch.testing.assert_close(lrp, explain(model, "gradxinput", digits, y=t), rtol=1e-5, atol=1e-9)
    assert all(not hasattr(m, "rule") and not m._forward_hooks for m in model.modules())


def test_lrp_refuses_activations_without_a_rule(models, digits):
    with pytest.raises(SemError, match="no rule for layer '1' \\(Softplus\\)"):
        explain(models["softplus_pool"], "lrp", digits)


def test_quiet_lime_draws_the_same_masks_as_lime_itself(linear, digits):
    from lime.lime_image import LimeImageExplainer

    from sem_core.explain.lime_explainer import KERNEL_WIDTH, _quiet_lime_class

    seg = grid_segments(28, 28, 4).numpy()
    image = digits[0, 0].numpy()

    def classify(imgs):
        with torch.no_grad():
            return linear(torch.as_tensor(imgs[..., 0])[:, None]).numpy()

    def weights(cls):
        e = cls(kernel_width=KERNEL_WIDTH, random_state=3).explain_instance(
            image, classify, labels=(2,), top_labels=None, hide_color=0, num_samples=60,
            batch_size=7, segmentation_fn=lambda im: seg, random_seed=3)
        return sorted(e.local_exp[2])

    np.testing.assert_allclose(weights(_quiet_lime_class()), weights(LimeImageExplainer), rtol=1e-12)
