import pytest
import torch

from sem_core.attacks import create_attack
from sem_core.errors import AttackError


@pytest.fixture(scope="module")
def cnn_digits(shipped, test_split):
    x, y, _ = test_split
    return shipped["cnn"][0], x[:6], y[:6]


@pytest.mark.parametrize("method", ["saliency", "gradxinput", "deeplift"])
def test_topk_attack_beats_natural_and_is_judged_on_the_real_net(method, cnn_digits):
    model, x, y = cnn_digits
    res = create_attack(model, "saliency_topk", method=method, eps=0.1, steps=15, k=50)(x, y)
    assert res.metrics["topk_intersection"].mean() < 0.9
    # the reported score equals the metric recomputed on the real network's maps
    best = res.objective.gather(0, res.best_step.view(1, -1)).squeeze(0)
    assert torch.allclose(best, res.metrics["topk_intersection"], atol=1e-6)


def test_region_attack_pulls_mass_into_the_region(cnn_digits):
    model, x, y = cnn_digits
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., 18:28, 0:10] = 1
    res = create_attack(model, "saliency_region", eps=0.1, steps=15)(x, y, target=mask)
    m = res.metrics
    assert (m["region_mass_after"] > m["region_mass_before"]).all()


def test_center_attack_moves_the_center(cnn_digits):
    model, x, y = cnn_digits
    res = create_attack(model, "saliency_center", eps=0.1, steps=15)(x, y)
    assert (res.metrics["center_shift"] > 0.3).float().mean() >= 0.8


def test_random_baseline_is_seeded(cnn_digits):
    model, x, y = cnn_digits
    a = create_attack(model, "saliency_random", eps=0.1)(x, y, seed=1)
    b = create_attack(model, "saliency_random", eps=0.1)(x, y, seed=1)
    c = create_attack(model, "saliency_random", eps=0.1)(x, y, seed=2)
    assert torch.equal(a.x_adv, b.x_adv) and not torch.equal(a.x_adv, c.x_adv)
    assert torch.allclose((a.x_adv - a.x).abs()[a.improved].amax((1, 2, 3)), torch.tensor(0.1), atol=1e-6) or not a.improved.any()


def test_identical_maps_have_perfect_metrics(cnn_digits):
    """A zero-step attack returns x itself: intersection 1, Spearman 1, shift 0."""
    model, x, y = cnn_digits
    res = create_attack(model, "saliency_topk", eps=0.1, steps=0)(x, y)
    assert torch.allclose(res.metrics["topk_intersection"], torch.ones(6))
    assert torch.allclose(res.metrics["spearman"], torch.ones(6), atol=1e-6)
    assert torch.allclose(res.metrics["center_shift"], torch.zeros(6), atol=1e-5)


def test_saliency_attack_on_senn_runs_through_its_surrogate(shipped, test_split):
    model, _ = shipped["senn"]
    x, y, _ = test_split
    res = create_attack(model, "saliency_topk", method="gradxinput", eps=0.1, steps=5)(x[:3], y[:3])
    assert res.label_kept.all() and res.metrics["topk_intersection"].shape == (3,)


def test_bad_saliency_parameters(cnn_digits):
    model, x, y = cnn_digits
    with pytest.raises(AttackError, match="method must be one of saliency"):
        create_attack(model, "saliency_topk", method="lime")
    with pytest.raises(AttackError, match="k must be"):
        create_attack(model, "saliency_topk", k=0)
    with pytest.raises(AttackError, match="empty"):
        create_attack(model, "saliency_region", steps=1)(x, y, target=torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize("method, shares", [("saliency", True), ("gradxinput", True), ("ig", False)])
def test_the_step_reuses_the_real_maps_forward_pass_as_its_label_check(method, shares, cnn_digits):
    """Saliency and gradient×input run the real network once, on the iterate itself: those logits are its label
    check (no second forward); IG runs it on its path only, so the loop does its own forward pass."""
    model, x, _ = cnn_digits
    atk = create_attack(model, "saliency_topk", method=method, ig_steps=4)
    with torch.no_grad():
        logits = model(x)
    i_real, seen = atk.real_map_and_logits(x, logits.argmax(1))
    assert torch.equal(i_real, atk.real_map(x, logits.argmax(1)))
    assert torch.equal(seen, logits) if shares else seen is None


def test_metrics_are_read_from_the_explanations_the_result_carries(cnn_digits):
    from sem_core.metrics import center_shift, topk_intersection

    model, x, y = cnn_digits
    res = create_attack(model, "saliency_topk", eps=0.1, steps=3, k=50)(x, y)
    natural, adversarial = res.explanations["natural"], res.explanations["adversarial"]
    assert torch.equal(res.metrics["topk_intersection"], topk_intersection(natural, adversarial, 50))
    assert torch.equal(res.metrics["center_shift"], center_shift(natural, adversarial))
