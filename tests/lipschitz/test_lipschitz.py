"""Local Lipschitz estimates: known answers, the ball, determinism, batching, and search quality."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from sem_core.errors import AttackError, UnknownNameError
from sem_core.lipschitz import DiscreteSearch, ExplanationFunction, list_searches, local_lipschitz

SEARCHES = ["gradient", "random", "bayesopt"]
BUDGET = {"gradient": 41, "random": 41, "bayesopt": 13}  # bayesopt fits GPs: keep the tests quick


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The explainers here are tiny: one intra-op thread is much faster on shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(fn, x, search, denominator_fn=None, on_step=None, **kw):
    kw.setdefault("budget", BUDGET[search])
    explanation = ExplanationFunction(fn, differentiable=search == "gradient", denominator=denominator_fn)
    return local_lipschitz(explanation, x, search=search, on_step=on_step, **kw)


def discrete_lipschitz(fn, x, sample, **kw):
    return DiscreteSearch(ExplanationFunction(fn), sample=sample, **kw)(x)


@pytest.fixture(scope="module")
def linear():
    """E(x) = A·x with a fixed A [10,784]: the local constant is the operator norm ‖A‖₂ everywhere."""
    a = torch.randn(10, 784, generator=torch.Generator().manual_seed(1)) / 28
    return a, (lambda z: z.flatten(1) @ a.T)


@pytest.fixture(scope="module")
def smooth_net():
    """A softplus MLP 784→32→10 with fixed weights (frozen)."""
    gen = torch.Generator().manual_seed(2)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Softplus(beta=5), nn.Linear(32, 10))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)
            p.requires_grad_(False)
    return net


def saliency(net, create_graph=True):
    """E(x) = ∇_x of the top logit (graph kept when create_graph: a differentiable explainer)."""
    def explain(z):
        with torch.enable_grad():
            z = z if z.requires_grad else z.clone().requires_grad_(True)
            out = net(z)
            top = out.gather(1, out.argmax(1, keepdim=True)).sum()
            (grad,) = torch.autograd.grad(top, z, create_graph=create_graph)
        return grad if create_graph else grad.detach()
    return explain


@pytest.fixture(scope="module")
def digits(test_split):
    return test_split.images[:8]


def interior(n=4):
    """Points whose whole ε-ball (eps ≤ 0.2) lies inside [0,1]: every direction is reachable."""
    return 0.3 + 0.4 * torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(3))


def test_linear_gradient_approaches_but_never_exceeds_operator_norm(linear):
    a, fn = linear
    bound = torch.linalg.matrix_norm(a, 2).item()
    res = _run(fn, interior(), "gradient", budget=101)
    assert (res.values <= bound * (1 + 1e-5)).all(), (res.values, bound)
    assert (res.values >= 0.9 * bound).all(), (res.values, bound)  # measured ≈ 0.95


@pytest.mark.parametrize("search", SEARCHES)
def test_no_method_exceeds_the_operator_norm(linear, search):
    a, fn = linear
    res = _run(fn, interior(), search)
    assert (res.values <= torch.linalg.matrix_norm(a, 2) * (1 + 1e-5)).all()
    assert (res.values > 0).all()


@pytest.mark.parametrize("search", SEARCHES)
def test_constant_explainer_has_zero_constant(search):
    const = torch.arange(10.0)
    res = _run(lambda z: const + 0.0 * z.flatten(1)[:, :10], interior(), search)  # graph-connected
    assert torch.equal(res.values, torch.zeros(4))


@pytest.mark.parametrize("search", SEARCHES)
def test_x_prime_in_ball_and_box_and_value_is_its_ratio(smooth_net, digits, search):
    fn, eps = saliency(smooth_net), 0.15
    x = digits[:4]
    res = _run(fn, x, search, eps=eps)
    assert (res.x_prime - x).abs().amax() <= eps + 1e-6
    assert res.x_prime.min() >= 0.0 and res.x_prime.max() <= 1.0
    e, e_prime = fn(x).detach(), fn(res.x_prime).detach()
    torch.testing.assert_close(res.expl_prime, e_prime, rtol=1e-4, atol=1e-6)
    recomputed = (e - e_prime).flatten(1).norm(dim=1) / (x - res.x_prime).flatten(1).norm(dim=1)
    torch.testing.assert_close(res.values, recomputed, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("search", SEARCHES)
def test_same_seed_same_values_other_seed_other_points(smooth_net, digits, search):
    fn = saliency(smooth_net)
    first, again = _run(fn, digits[:2], search, seed=5), _run(fn, digits[:2], search, seed=5)
    assert torch.equal(first.values, again.values) and torch.equal(first.x_prime, again.x_prime)
    other = _run(fn, digits[:2], search, seed=6)
    assert not torch.equal(first.x_prime, other.x_prime)


@pytest.mark.parametrize("search", SEARCHES)
def test_batch_equals_one_by_one(smooth_net, digits, search):
    fn = saliency(smooth_net)
    batch = _run(fn, digits[:3], search, batch_size=7)
    single = torch.cat([_run(fn, digits[i:i + 1], search, batch_size=7).values for i in range(3)])
    torch.testing.assert_close(batch.values, single, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("budget", [2, 7, 30])
def test_calls_within_budget_history_monotone_progress_reported(linear, search, budget):
    steps = []
    res = _run(linear[1], interior(2), search, budget=budget, restarts=4,
               on_step=lambda done, total: steps.append((done, total)))
    assert 2 <= res.calls <= budget
    assert res.history.shape == (len(steps), 2) and steps[-1][0] == steps[-1][1]
    assert (res.history.diff(dim=0) >= 0).all()
    assert torch.equal(res.history[-1], res.values)
    json.dumps(res.to_dict())


@pytest.mark.parametrize("search", ["gradient", "random"])
def test_denominator_fn_scales_the_estimate(linear, search):
    """D(x) = 2x doubles every denominator: the same search, half the values (paper 001 eq. 5)."""
    plain = _run(linear[1], interior(), search)
    halved = _run(linear[1], interior(), search, denominator_fn=lambda z: 2.0 * z)
    torch.testing.assert_close(halved.values, plain.values / 2, rtol=1e-5, atol=0)


def test_gradient_beats_random_search_on_a_differentiable_explainer(smooth_net, digits):
    grad = _run(saliency(smooth_net), digits, "gradient", budget=61)
    rand = _run(saliency(smooth_net), digits, "random", budget=61)
    assert grad.calls == rand.calls == 61
    assert grad.values.median() >= 2 * rand.values.median()  # measured ≈ 6× on 32 digits
    assert (grad.values >= rand.values).sum() >= 7, (grad.values, rand.values)


def test_bayesopt_beats_random_search_on_a_black_box_explainer(smooth_net, digits):
    black_box = saliency(smooth_net, create_graph=False)
    bo = _run(black_box, digits, "bayesopt", budget=60)
    rand = _run(black_box, digits, "random", budget=60)
    assert bo.calls == rand.calls == 60
    assert bo.values.median() >= rand.values.median()  # measured ≈ 1.25× on 32 digits
    assert (bo.values >= rand.values).sum() >= 6, (bo.values, rand.values)  # measured 7/8 (30/32)


def test_errors_are_actionable(linear, smooth_net):
    fn = ExplanationFunction(linear[1])
    with pytest.raises(AttackError, match="differentiable explanation"):
        local_lipschitz(fn, interior(), search="gradient")
    with pytest.raises(AttackError, match="autograd graph"):
        local_lipschitz(ExplanationFunction(saliency(smooth_net, create_graph=False), differentiable=True),
                        interior(), search="gradient", budget=3)
    with pytest.raises(UnknownNameError, match="bayesopt"):
        local_lipschitz(fn, interior(), search="annealing")
    for bad in [{"eps": 0.0}, {"budget": 1}, {"restarts": 0}]:
        with pytest.raises(AttackError):
            local_lipschitz(fn, interior(), search="random", **bad)
    with pytest.raises(AttackError, match=r"input domain \[0, 1\]"):
        local_lipschitz(fn, interior() + 1.0, search="random")
    with pytest.raises(AttackError, match="ExplanationFunction"):
        local_lipschitz(linear[1], interior(), search="random")  # a bare function says what to wrap it in
    assert list_searches() == ["bayesopt", "discrete", "gp_minimize", "gradient", "random"]


def _pixel_explainer(z):
    """E(x) = 10 · x[0,0]: only pixel (0,0) matters."""
    return 10.0 * z[:, :, 0, :1].flatten(1)


def test_discrete_picks_the_true_maximiser_on_three_points():
    x = torch.full((1, 1, 28, 28), 0.2)
    one_pixel = x.clone()
    one_pixel[..., 0, 0] += 0.5                 # ratio 10·0.5 / 0.5 = 10
    two_pixels = one_pixel.clone()
    two_pixels[..., 5, 5] += 0.5                # ratio 5 / 0.707 ≈ 7.07
    sample = torch.cat([two_pixels, one_pixel, x])  # x itself is skipped (x_j ≠ x_i)
    res = discrete_lipschitz(_pixel_explainer, x, sample)
    assert res.values.item() == pytest.approx(10.0, rel=1e-5)
    assert torch.equal(res.x_prime, one_pixel) and res.search == "discrete"
    near = discrete_lipschitz(_pixel_explainer, x, torch.cat([two_pixels, x]), eps=0.6)
    assert near.values.item() == 0.0 and torch.equal(near.x_prime, x)  # no neighbour within 0.6


def test_discrete_matches_a_brute_force_loop(smooth_net, digits, test_split):
    fn, sample = saliency(smooth_net, create_graph=False), test_split.images[:20]
    res = discrete_lipschitz(fn, digits[:4], sample, eps=9.0, batch_size=6)
    e_x, e_s = fn(digits[:4]), fn(sample)
    for i in range(4):
        best = 0.0
        for j in range(len(sample)):
            dist = (digits[i] - sample[j]).norm().item()
            if 0 < dist <= 9.0:
                best = max(best, (e_x[i] - e_s[j]).norm().item() / dist)
        assert res.values[i].item() == pytest.approx(best, rel=1e-4)


def test_the_authors_gp_search_reports_every_evaluation_so_a_job_stops_within_one(shipped, test_split):
    """The attack service cancels a job by raising from its progress callback: the gp_minimize search calls it
    after every evaluation (not only between digits), so a cancelled job stops within one evaluation."""
    from sem_core import explanation_function, local_lipschitz

    class Stop(Exception):
        pass

    seen = []

    def on_step(done, total):
        seen.append((done, total))
        if done == 3:
            raise Stop

    with pytest.raises(Stop):
        local_lipschitz(explanation_function(shipped["cnn"][0], "saliency"), test_split.images[:2],
                        search="gp_minimize", budget=30, on_step=on_step)
    assert seen == [(1, 58), (2, 58), (3, 58)]
