import pytest
import torch
import torch.nn as nn

from sem_core.attacks import saliency_attack
from sem_core.errors import AttackError


@pytest.fixture(scope="module")
def cnn_digits(shipped, test_split):
    x, y, _ = test_split
    return shipped["cnn"][0], x[:6], y[:6]


@pytest.mark.parametrize("kind", ["topk", "center", "region", "random"])
def test_contract_ball_box_label(kind, cnn_digits):
    model, x, y = cnn_digits
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., :10, :10] = 1
    res = saliency_attack(model, kind, eps=0.1, steps=8)(x, y, target=mask if kind == "region" else None)
    assert (res.x_adv - res.x).abs().max() <= 0.1 + 1e-6
    assert 0 <= res.x_adv.min() and res.x_adv.max() <= 1
    fresh = model(res.x_adv).argmax(1)
    assert torch.equal(res.label_kept, fresh == res.pred_before) and res.label_kept.all()
    assert not any(isinstance(m, nn.Softplus) for m in model.modules()), "the shared model was modified"


@pytest.mark.parametrize("method", ["saliency", "gradxinput", "deeplift"])
def test_topk_attack_beats_natural_and_is_judged_on_the_real_net(method, cnn_digits):
    model, x, y = cnn_digits
    res = saliency_attack(model, "topk", method=method, eps=0.1, steps=15, k=50)(x, y)
    assert res.metrics["topk_intersection"].mean() < 0.9
    # the reported score equals the metric recomputed on the real network's maps
    best = res.objective.gather(0, res.best_step.view(1, -1)).squeeze(0)
    assert torch.allclose(best, res.metrics["topk_intersection"], atol=1e-6)


def test_region_attack_pulls_mass_into_the_region(cnn_digits):
    model, x, y = cnn_digits
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., 18:28, 0:10] = 1
    res = saliency_attack(model, "region", eps=0.1, steps=15)(x, y, target=mask)
    m = res.metrics
    assert (m["region_mass_after"] > m["region_mass_before"]).all()


def test_center_attack_moves_the_centre(cnn_digits):
    model, x, y = cnn_digits
    res = saliency_attack(model, "center", eps=0.1, steps=15)(x, y)
    assert (res.metrics["center_shift"] > 0.3).float().mean() >= 0.8


def test_random_baseline_is_seeded(cnn_digits):
    model, x, y = cnn_digits
    a = saliency_attack(model, "random", eps=0.1)(x, y, seed=1)
    b = saliency_attack(model, "random", eps=0.1)(x, y, seed=1)
    c = saliency_attack(model, "random", eps=0.1)(x, y, seed=2)
    assert torch.equal(a.x_adv, b.x_adv) and not torch.equal(a.x_adv, c.x_adv)
    assert torch.allclose((a.x_adv - a.x).abs()[a.improved].amax((1, 2, 3)), torch.tensor(0.1), atol=1e-6) or not a.improved.any()


def test_identical_maps_have_perfect_metrics(cnn_digits):
    """A zero-step attack returns x itself: intersection 1, Spearman 1, shift 0."""
    model, x, y = cnn_digits
    res = saliency_attack(model, "topk", eps=0.1, steps=0)(x, y)
    assert torch.allclose(res.metrics["topk_intersection"], torch.ones(6))
    assert torch.allclose(res.metrics["spearman"], torch.ones(6), atol=1e-6)
    assert torch.allclose(res.metrics["center_shift"], torch.zeros(6), atol=1e-5)


def test_saliency_attack_on_senn_runs_through_its_surrogate(shipped, test_split):
    model, _ = shipped["senn"]
    x, y, _ = test_split
    res = saliency_attack(model, "topk", method="gradxinput", eps=0.1, steps=5)(x[:3], y[:3])
    assert res.label_kept.all() and res.metrics["topk_intersection"].shape == (3,)


def test_bad_saliency_parameters(cnn_digits):
    model, x, y = cnn_digits
    with pytest.raises(AttackError, match="available: topk, center, region, random"):
        saliency_attack(model, "bottomk")
    with pytest.raises(AttackError, match="available: saliency"):
        saliency_attack(model, "topk", method="lime")
    with pytest.raises(AttackError, match="k must be"):
        saliency_attack(model, "topk", k=0)
    with pytest.raises(AttackError, match="empty"):
        saliency_attack(model, "region", steps=1)(x, y, target=torch.zeros(1, 1, 28, 28))
