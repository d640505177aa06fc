"""Map metrics: known answers on hand-made maps, scipy as the Spearman oracle."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import rankdata, spearmanr

from sem_core.errors import SemError, UnknownNameError
from sem_core.metrics import (SIMILARITIES, average_ranks, center_of_mass, center_shift,
                              make_similarity, normalize_map, spearman, topk_intersection,
                              topk_mask)


@pytest.fixture
def maps() -> torch.Tensor:
    return torch.rand(4, 1, 28, 28)


def test_identical_maps_agree_perfectly(maps):
    torch.testing.assert_close(spearman(maps, maps), torch.ones(4))
    torch.testing.assert_close(topk_intersection(maps, maps, k=50), torch.ones(4))
    torch.testing.assert_close(center_shift(maps, maps), torch.zeros(4))


def test_reversed_ranking_has_spearman_minus_one(maps):
    torch.testing.assert_close(spearman(maps, -maps), -torch.ones(4))
    assert (topk_intersection(maps, -maps, k=100) == 0).all()


@pytest.mark.parametrize("levels", [None, 5, 2])  # continuous, many ties, binary
def test_spearman_matches_scipy_including_ties(levels):
    g = torch.Generator().manual_seed(levels or 0)
    a, b = torch.rand(6, 1, 28, 28, generator=g), torch.rand(6, 1, 28, 28, generator=g)
    if levels:
        a, b = (a * levels).floor(), (b * levels).floor()
    b = b + 0.5 * a  # correlated
    expected = [spearmanr(a[i].flatten().numpy(), b[i].flatten().numpy()).statistic for i in range(6)]
    torch.testing.assert_close(spearman(a, b), torch.tensor(expected, dtype=torch.float32))


def test_spearman_of_a_constant_map_is_nan_like_scipy(maps):
    rho = spearman(torch.zeros_like(maps), maps)
    assert torch.isnan(rho).all()


def test_topk_intersection_counts_the_shared_fraction():
    a = torch.arange(16.0).view(1, 4, 4)          # top-4: 12..15
    b = a.clone()
    b[0, 3, 0], b[0, 0, 0] = -1.0, 100.0           # drops 12, adds 0 to b's top-4
    torch.testing.assert_close(topk_intersection(a, b, k=4), torch.tensor([0.75]))
    torch.testing.assert_close(topk_intersection(a, b, k=16), torch.tensor([1.0]))


def test_topk_mask_marks_exactly_the_k_largest(maps):
    mask = topk_mask(maps, 10)
    assert mask.shape == maps.shape and mask.dtype == torch.bool
    assert (mask.flatten(1).sum(1) == 10).all()
    smallest_in = torch.where(mask, maps, torch.inf).flatten(1).min(1).values
    largest_out = torch.where(mask, -torch.inf, maps).flatten(1).max(1).values
    assert (smallest_in > largest_out).all()


@pytest.mark.parametrize("k", [0, 785])
def test_k_out_of_range_is_refused(maps, k):
    with pytest.raises(SemError, match="k must be between 1 and the number of pixels"):
        topk_intersection(maps, maps, k)


def test_all_mass_on_one_pixel_puts_the_center_there():
    m = torch.zeros(2, 1, 28, 28)
    m[0, 0, 3, 20] = 5.0
    m[1, 0, 27, 0] = -2.0  # |m| is what counts
    torch.testing.assert_close(center_of_mass(m), torch.tensor([[3.0, 20.0], [27.0, 0.0]]))


def test_center_of_two_equal_masses_is_their_midpoint_and_empty_maps_get_the_image_center():
    m = torch.zeros(2, 28, 28)
    m[0, 2, 2] = m[0, 10, 20] = 1.0
    torch.testing.assert_close(center_of_mass(m), torch.tensor([[6.0, 11.0], [13.5, 13.5]]))


def test_translating_a_map_by_2_3_shifts_its_center_by_sqrt13():
    m = torch.zeros(3, 1, 28, 28)
    m[:, :, 8:16, 6:14] = torch.rand(3, 1, 8, 8)
    moved = torch.roll(m, shifts=(2, 3), dims=(2, 3))
    torch.testing.assert_close(center_shift(m, moved), torch.full((3,), math.sqrt(13.0)))


def test_center_shift_is_differentiable_with_finite_gradient_at_zero_shift(maps):
    a = maps.clone().requires_grad_(True)
    (g0,) = torch.autograd.grad(center_shift(a, maps).sum(), a)
    assert torch.isfinite(g0).all()
    other = torch.roll(maps, 1, dims=3)
    (g1,) = torch.autograd.grad(center_shift(a, other).sum(), a)
    assert torch.isfinite(g1).all() and g1.abs().sum() > 0


def test_normalize_map_sums_to_one_and_keeps_zero_maps_zero():
    m = torch.randn(3, 1, 28, 28)
    m[2] = 0
    n = normalize_map(m)
    assert n.shape == m.shape and (n >= 0).all()
    torch.testing.assert_close(n.sum((1, 2, 3)), torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(n[0], m[0].abs() / m[0].abs().sum())


def test_metrics_keep_the_batch_on_the_input_device_and_shape(maps):
    for value in (spearman(maps, maps), topk_intersection(maps, maps, 5), center_shift(maps, maps)):
        assert value.shape == (4,) and value.device == maps.device


def test_similarity_registry_declares_direction_and_fixes_options(maps):
    assert SIMILARITIES.names() == ["center_shift", "spearman", "topk_intersection"]
    top = make_similarity("topk_intersection", k=20)
    assert top.higher_is_better and not make_similarity("center_shift").higher_is_better
    torch.testing.assert_close(top(maps, maps), torch.ones(4))
    with pytest.raises(UnknownNameError, match="unknown metric 'ssim'; available: center_shift"):
        make_similarity("ssim")


def test_average_ranks_matches_scipy_rankdata():
    v = torch.tensor([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0]])
    np.testing.assert_allclose(average_ranks(v)[0].numpy(), rankdata(v[0].numpy()))
