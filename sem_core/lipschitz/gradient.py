"""Projected gradient ascent on the Lipschitz ratio (paper 002 eq. 1; paper 001 eq. 5 for SENN).

For explainers that are differentiable end to end (gradient maps built with ``create_graph=True``,
SENN's θ). All restarts of all images run as one batch of B·R images; each step is one forward +
backward of the explainer per restart, counted as one call.
"""
from __future__ import annotations

import torch

from ..errors import AttackError
from .core import BestTracker, ExplainFn, SearchSpec, draw, project, ratio
from .search import ContinuousSearch, register_search


def gradient_search(explain_fn: ExplainFn, x: torch.Tensor, e_x: torch.Tensor, d_x: torch.Tensor,
                    denominator_fn: ExplainFn, gens: list[torch.Generator],
                    spec: SearchSpec) -> tuple:
    """Maximise ‖E(x) − E(x')‖ / ‖D(x) − D(x')‖ over x' ∈ B∞(x, eps) ∩ [0,1]ⁿ by sign-gradient
    ascent.

    x'₀ is uniform in the ball (R = ``restarts`` starts per image), then
    x'_{t+1} = proj(x'_t + α · sign ∇_{x'} ratio(x'_t)); the ratio is evaluated at every iterate
    and the best iterate over steps and restarts is kept. E(x) costs one call, so the number of
    steps is (budget − 1) // R (R is lowered to budget − 1 if needed).

    Returns (values [B], x_prime, expl_prime, history [steps,B], calls, config).
    """
    b, eps, budget, step_size, on_step = x.shape[0], spec.eps, spec.budget, spec.step_size, spec.on_step
    n_restarts = max(1, min(spec.restarts, budget - 1))
    steps = (budget - 1) // n_restarts
    alpha = float(step_size) if step_size is not None else eps / 4.0
    if not 0.0 < alpha <= 1.0:
        raise AttackError(f"step_size must be in (0, 1] (pixel units), got {step_size}")
    x_rep = x.repeat_interleave(n_restarts, 0)                                   # [B·R,C,H,W]
    e_rep, d_rep = e_x.repeat_interleave(n_restarts, 0), d_x.repeat_interleave(n_restarts, 0)
    start = draw(gens, n_restarts, tuple(x.shape[1:]), x.device).flatten(0, 1)   # [B·R,C,H,W]
    x_p = project(x_rep + eps * (2.0 * start - 1.0), x_rep, eps, *spec.domain)
    best = BestTracker(x)
    for t in range(steps):
        x_p = x_p.detach().requires_grad_(True)
        with torch.enable_grad():
            e_p = explain_fn(x_p)
            if not e_p.requires_grad:
                raise AttackError("method 'gradient' needs an explainer whose output stays connected to "
                                  "the autograd graph of its input; use 'bayesopt' or 'random' for "
                                  "black-box explainers")
            r = ratio(e_rep, e_p, d_rep, denominator_fn(x_p))
            (grad,) = torch.autograd.grad(r.sum(), x_p)
        best.update(r.view(b, n_restarts), x_p, e_p)
        if t + 1 < steps:  # the last step's point would never be evaluated
            x_p = project(x_p.detach() + alpha * grad.sign(), x_rep, eps, *spec.domain)
        if on_step is not None:
            on_step(t + 1, steps)
    config = {"restarts": n_restarts, "steps": steps, "step_size": alpha}
    return best.value, best.x_prime, best.expl_prime, best.history, 1 + steps * n_restarts, config


@register_search
class GradientSearch(ContinuousSearch):
    """Projected sign-gradient ascent with random restarts; needs a differentiable explanation."""

    name = "gradient"
    summary = "projected sign-gradient ascent (differentiable explainers)"

    def __init__(self, explanation, **config):
        super().__init__(explanation, **config)
        if self.radius is not None:
            raise AttackError("search 'gradient' takes an L∞ eps, not a per-pixel radius; use 'bayesopt' or 'gp_minimize'")
        if not explanation.differentiable:
            raise AttackError("search 'gradient' needs a differentiable explanation; use 'bayesopt' or 'random' "
                              "for black-box explainers")

    search = staticmethod(gradient_search)
