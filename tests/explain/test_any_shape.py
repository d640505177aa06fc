"""LIME, Kernel SHAP and occlusion on images of any channel count and size [B,C,H,W]."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from sem_core.errors import SemError
from sem_core.explain import explain
from sem_core.explain.lime_explainer import quickshift_segments
from sem_core.explain.superpixels import grid_segments, image_segments, scale_to_image

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 20, 24), (3, 64, 64)]
# (explainer, hyperparameters): small sample counts, enough for shap's regression over ~49 superpixels
CONFIGS = {
    "lime": ("lime", dict(samples=60, seed=1, backend="lime")),
    "lime-captum": ("lime", dict(samples=60, seed=1, backend="captum")),
    "shap": ("shap", dict(samples=100, seed=1, backend="shap")),
    "shap-captum": ("shap", dict(samples=60, seed=1, backend="captum")),
    "occlusion": ("occlusion", {}),
}
# what the code gave before it took any shape, on digits[:2] with the relu_pool model, targets 2 and 5:
# (Σ maps, Σ maps · linspace(0, 1) over the 784 pixels)
DIGIT_NUMBERS = {
    "lime": (0.09040670166560535, 0.024866903622650354),
    "lime-captum": (0.07822834036414861, -0.04911990663868272),
    "shap": (0.08338998278791648, 0.005745706483232768),
    "shap-captum": (0.08338977506173251, 0.17626065759679715),
    "occlusion": (0.10945346794869693, 0.004948959518695079),
}


def any_size_cnn(channels: int) -> nn.Module:
    """conv-ReLU-adaptive pool -> logits: takes [B,C,H,W] of any H, W; float64, eval mode."""
    torch.manual_seed(channels)
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(64, 10)).double().eval()


def images(shape: tuple[int, int, int], n: int = 2) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_maps_have_the_input_shape_and_are_the_same_in_every_channel(shape, config):
    method, kwargs = CONFIGS[config]
    x = images(shape)
    maps = explain(any_size_cnn(shape[0]), method, x, y=torch.tensor([2, 5]), **kwargs)
    assert maps.shape == x.shape
    assert maps.isfinite().all()
    assert (maps.flatten(1).abs().sum(1) > 0).all()
    if method != "occlusion":  # one superpixel covers every channel
        assert (maps == maps[:, :1]).all()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_digits_give_the_numbers_they_gave_before(models, digits, config):
    method, kwargs = CONFIGS[config]
    maps = explain(models["relu_pool"], method, digits[:2], y=torch.tensor([2, 5]), **kwargs)
    pos = torch.linspace(0, 1, 784, dtype=torch.float64).view(1, 1, 28, 28)
    got = torch.tensor([maps.sum().item(), (maps * pos).sum().item()], dtype=torch.float64)
    torch.testing.assert_close(got, torch.tensor(DIGIT_NUMBERS[config], dtype=torch.float64), rtol=1e-9, atol=1e-12)


def test_sizes_scale_with_the_image_and_are_unchanged_at_28():
    assert [scale_to_image(p, 28) for p in (1, 2, 4, 7)] == [1, 2, 4, 7]
    assert [scale_to_image(4, s) for s in (20, 24, 32, 64)] == [3, 4, 5, 10]
    assert torch.equal(image_segments("lime", (2, 1, 28, 28), 4), grid_segments(28, 28, 4))
    seg = image_segments("lime", (2, 1, 20, 24), 4)  # 3×4-pixel cells: a 7×6 grid
    assert seg.max() == 41 and seg[2, 3] == 0 and seg[3, 0] == 6 and seg[0, 4] == 1
    assert image_segments("shap", (1, 3, 64, 64), 4).max() == 48  # 10-pixel cells: 7×7


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 20, 24)], ids=lambda s: "x".join(map(str, s)))
def test_kernel_shap_of_a_linear_colour_model_sums_each_superpixel_over_all_channels(shape):
    # v(z) = b + Σ_s z_s φ_s with φ_s = Σ_{i in s, all channels} W[t,i]·x_i: shap's regression recovers it
    torch.manual_seed(4)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], 10)).double().eval()
    x, target = images(shape), torch.tensor([2, 5])
    maps = explain(linear, "shap", x, y=target, samples=120, seed=0, backend="shap")
    seg = image_segments("shap", x.shape, 4)
    contrib = (linear[1].weight[target].detach().view(-1, *shape) * x).sum(1).flatten(1)  # [B,H·W]
    phi = torch.zeros(2, int(seg.max()) + 1, dtype=torch.float64).index_add_(1, seg.flatten(), contrib)
    torch.testing.assert_close(maps[:, 0], phi[:, seg], rtol=0, atol=1e-9)


def test_a_window_over_the_whole_image_darkens_every_channel():
    # window 28 of a 28-pixel side covers any image: every pixel gets S_t(x) − S_t(0)
    model, x, target = any_size_cnn(3), images((3, 20, 24)), torch.tensor([2, 5])
    maps = explain(model, "occlusion", x, y=target, window=28, stride=28)
    with torch.no_grad():
        drop = model(x)[[0, 1], target] - model(torch.zeros_like(x))[[0, 1], target]
    torch.testing.assert_close(maps, drop.view(2, 1, 1, 1).expand_as(x))


def test_lime_hides_superpixels_by_their_mean_on_any_channel_count():
    x = images((4, 10, 13))
    maps = explain(any_size_cnn(4), "lime", x, samples=40, hide="mean", features=5)
    assert maps.shape == x.shape and maps.isfinite().all() and (maps.flatten(1) != 0).sum(1).min() > 0


@pytest.mark.parametrize("method, shape, kwargs, message", [
    ("lime", (3, 1, 1), {"samples": 20}, r"lime needs at least 2 superpixels; an image of shape \(2, 3, 1, 1\)"),
    ("shap", (1, 1, 1), {"samples": 20}, r"shap needs at least 2 superpixels; an image of shape \(2, 1, 1, 1\)"),
    ("lime", (1, 28, 28), {"cell": 29, "samples": 20}, r"shape \(2, 1, 28, 28\) with cell 29"),
    ("occlusion", (3, 5, 6), {"window": 29}, r"window 29 \(6×7 px\) does not fit images of shape \(2, 3, 5, 6\)"),
])
def test_shapes_that_cannot_work_raise_sem_error(method, shape, kwargs, message):
    with pytest.raises(SemError, match=message):
        explain(any_size_cnn(shape[0]), method, images(shape), y=0, **kwargs)


def test_quickshift_needs_one_or_three_channels():
    assert len(quickshift_segments(images((3, 16, 16), n=1))) == 1
    with pytest.raises(SemError, match=r"1 or 3 channels; got images of shape \(1, 2, 16, 16\)"):
        quickshift_segments(images((2, 16, 16), n=1))
