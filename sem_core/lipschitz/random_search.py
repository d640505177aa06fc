"""Batched random search for the Lipschitz ratio (the baseline for paper 002 eq. 1).

Works for any explainer (no gradients). Half the points are corners of the ball (x + eps·s with a
random sign s per pixel, which usually maximise the numerator for ReLU-like networks), half are
uniform in the ball; all are projected into [0,1]. Points are explained in chunks of batch_size.
"""
from __future__ import annotations

import torch

from .core import BestTracker, ExplainFn, SearchSpec, draw, explain_batched, project, ratio
from .search import ContinuousSearch, register_search


def random_search(explain_fn: ExplainFn, x: torch.Tensor, e_x: torch.Tensor, d_x: torch.Tensor,
                  denominator_fn: ExplainFn, gens: list[torch.Generator],
                  spec: SearchSpec) -> tuple:
    """Evaluate budget − 1 random points per image in B∞(x, eps) ∩ [0,1]ⁿ and keep the best ratio.

    A round draws ceil(batch_size / B) points per image (at least one), so one round is about one
    explainer call. Returns (values [B], x_prime, expl_prime, history [rounds,B], calls, config).
    """
    b, shape, eps, batch_size = x.shape[0], tuple(x.shape[1:]), spec.eps, spec.batch_size
    total = spec.budget - 1
    per_round = max(1, -(-batch_size // b))
    rounds = -(-total // per_round)
    best, done = BestTracker(x), 0
    for k in range(rounds):
        m = min(per_round, total - done)
        u = draw(gens, m, shape, x.device)                                  # [B,m,C,H,W] in [0,1)
        idx = torch.arange(done, done + m, device=x.device).view(1, m, *([1] * len(shape)))
        corner = torch.where(u < 0.5, -1.0, 1.0)
        delta = eps * torch.where(idx % 2 == 0, corner, 2.0 * u - 1.0)      # even points: corners
        x_rep = x.unsqueeze(1).expand(b, m, *shape)
        x_p = project(x_rep + delta, x_rep, eps, *spec.domain).flatten(0, 1)              # [B·m,C,H,W]
        e_p = explain_batched(explain_fn, x_p, batch_size)
        with torch.no_grad():
            r = ratio(e_x.repeat_interleave(m, 0), e_p, d_x.repeat_interleave(m, 0),
                      denominator_fn(x_p)).view(b, m)
        best.update(r, x_p, e_p)
        done += m
        if spec.on_step is not None:
            spec.on_step(k + 1, rounds)
    config = {"points": total, "rounds": rounds}
    return best.value, best.x_prime, best.expl_prime, best.history, 1 + total, config



@register_search
class RandomSearch(ContinuousSearch):
    """Random points of the ball, half at its corners (any explainer)."""

    name, summary, search = "random", "random points of the ε-ball, half at its corners (any explainer)", staticmethod(random_search)
