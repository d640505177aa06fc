"""scikit-optimize's ``gp_minimize`` over every pixel, as the authors ran their Lipschitz estimates.

robust_interpret ``robust_interpret/explainers.py``, ``explainer_wrapper.local_lipschitz_estimate`` (optim='gp'):
one ``gp_minimize(f, bounds, n_calls=n_calls)`` per point with f(z) = −‖E(x) − E(z)‖ / ‖x − z‖
(``lipschitz_ratio``, which explains x again at every evaluation) and one (lower, upper) bound per pixel; every
other skopt setting is its default (a Matern GP, n_initial_points = 10 random points, acq_func "gp_hedge",
acquisition optimised by L-BFGS). Here: random_state fixed per image (the authors left it unset), n_jobs = 1
(they used all cores), n_initial_points = min(10, n_calls) (skopt needs n_calls ≥ n_initial_points; the authors'
MNIST script ran n_calls = 10, so all of its points were skopt's random initial points).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ..batching import pausing
from .core import ExplainFn, SearchSpec, ratio
from .search import ContinuousSearch, register_search
from .skopt_process import GpProcess

#: skopt's default number of random points before the GP proposes any
SKOPT_INITIAL_POINTS = 10


def pixel_bounds(x: torch.Tensor, half_width, domain: tuple[float, float] = (0.0, 1.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper) [B,C,H,W] of the box x ± half_width clipped to ``domain`` (default [0,1]; half_width: a
    float or [1,C,H,W])."""
    return (x - half_width).clamp(*domain), (x + half_width).clamp(*domain)


def gp_minimize_search(explain_fn: ExplainFn, x: torch.Tensor, e_x: torch.Tensor, d_x: torch.Tensor,
                       denominator_fn: ExplainFn, gens: list[torch.Generator], spec: SearchSpec,
                       recompute_reference: bool = False) -> tuple:
    """One ``skopt.gp_minimize`` per image over its pixel box, budget − 1 evaluations of the ratio.

    ``recompute_reference``: explain x again at every evaluation, as the authors' ``lipschitz_ratio`` did (it
    matters only for a random explainer such as LIME with fresh masks); each evaluation then costs two calls.
    ``spec.on_step(done, total)`` after every evaluation (total = B · (budget − 1)), so a job is cancellable
    within one evaluation (the attack service raises from it), not only between digits.
    Returns (values [B], x_prime, expl_prime, history [evaluations,B], calls, config).
    """
    b, shape = x.shape[0], tuple(x.shape[1:])
    n_calls = spec.budget - 1
    n_init = min(SKOPT_INITIAL_POINTS, n_calls)
    lo, hi = pixel_bounds(x, spec.eps, spec.domain)
    values, x_best, e_best, histories = [], [], [], []
    # in the attack service the GP refits (seconds each) run in a low-priority helper process while the worker
    # serves other sessions; the objective (the explainer) stays here. Elsewhere skopt runs in this process.
    helper = GpProcess() if pausing() else None
    try:
        for i in range(b):
            bounds = list(zip(lo[i].flatten().double().tolist(), hi[i].flatten().double().tolist()))
            points: list[tuple[torch.Tensor, torch.Tensor]] = []

            def objective(z, i=i, points=points) -> float:
                zt = torch.tensor(np.asarray(z), dtype=x.dtype, device=x.device).view(1, *shape)
                e_z = explain_fn(zt).detach()
                e_ref = explain_fn(x[i:i + 1]).detach() if recompute_reference else e_x[i:i + 1]
                with torch.no_grad():
                    r = ratio(e_ref, e_z, d_x[i:i + 1], denominator_fn(zt)).item()
                points.append((zt, e_z))
                if spec.on_step is not None:
                    spec.on_step(i * n_calls + len(points), b * n_calls)
                return -r

            kwargs = {"n_calls": n_calls, "n_initial_points": n_init,
                      "random_state": int(gens[i].initial_seed() % 2**31), "n_jobs": 1}
            if helper is not None:
                func_vals = np.asarray(helper.minimise(objective, bounds, **kwargs))
            else:
                with warnings.catch_warnings():  # skopt warns when it re-evaluates a point; the value is kept
                    warnings.simplefilter("ignore")
                    func_vals = _gp_minimize(objective, bounds, **kwargs).func_vals
            j = int(np.argmin(func_vals))
            values.append(-float(func_vals[j]))
            x_best.append(points[j][0])
            e_best.append(points[j][1])
            histories.append(torch.tensor(-np.minimum.accumulate(func_vals), dtype=torch.float32))
    finally:
        if helper is not None:
            helper.close()
    per_eval = 2 if recompute_reference else 1
    config = {"optimizer": "skopt.gp_minimize", "n_calls": n_calls, "n_initial_points": n_init,
              "acq_func": "gp_hedge", "recompute_reference": recompute_reference}
    return (torch.tensor(values, device=x.device), torch.cat(x_best), torch.cat(e_best),
            torch.stack(histories, 1), 1 + per_eval * n_calls, config)


def _gp_minimize(*args, **kwargs):
    """skopt's ``gp_minimize`` (imported on first use: a second)."""
    from skopt import gp_minimize

    return gp_minimize(*args, **kwargs)


@register_search
class GpMinimizeSearch(ContinuousSearch):
    """skopt ``gp_minimize`` over all pixels, one image at a time (the authors' search, robust_interpret)."""

    name = "gp_minimize"
    summary = "scikit-optimize gp_minimize over every pixel, one digit at a time (the authors' search, paper 002)"

    def __init__(self, explanation, *, recompute_reference: bool = False, **config):
        super().__init__(explanation, **config)
        self.recompute_reference = bool(recompute_reference)

    def search(self, explain_fn, x, e_x, d_x, denominator_fn, gens, spec):
        return gp_minimize_search(explain_fn, x, e_x, d_x, denominator_fn, gens, spec,
                                  recompute_reference=self.recompute_reference)


__all__ = ["GpMinimizeSearch", "gp_minimize_search", "pixel_bounds"]
