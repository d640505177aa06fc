"""Bayesian optimisation of the Lipschitz ratio for black-box explainers (paper 002, §2–3).

Paper 002 maximises eq. 1 for LIME/SHAP/occlusion with Bayesian optimisation (skopt) under a small
evaluation budget. Here: a scikit-learn GaussianProcessRegressor (Matern ν=5/2 with a fitted length
scale, unit amplitude on standardised ratios, fixed 1e-3 jitter) and expected improvement maximised
over random candidate sets (local moves around the best points, uniform points, corners), in a
low-dimensional parametrisation

    x' = clip_[0,1]( x + eps · upsample_nearest(u) ),   u ∈ [−1,1]^(C·7·7)

(7×7 blocks of 4×4 pixels on MNIST: 49 dims; a GP over 784 raw pixels with ~100 evaluations learns
nothing). u is used as is (no tanh): |eps·u| ≤ eps, so x' is in the L∞ ball and in [0,1] by
construction. One GP per image (a Python loop over images, acceptable: the GPs are tiny); the
PROPOSALS points of every image in a round are explained together in batched calls.
"""
from __future__ import annotations

import warnings

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # scipy.stats and scikit-learn load on the first search (0.7 s): not when the app starts
    from sklearn.gaussian_process.kernels import Kernel

from ..batching import checkpoint
from .core import BestTracker, ExplainFn, SearchSpec, draw, explain_batched, project, ratio
from .search import ContinuousSearch, register_search

GRID = 7            # u is GRID×GRID per channel, nearest-upsampled to H×W
PROPOSALS = 4       # points proposed per image per round (fixed, so results do not depend on B)
CANDIDATES = 2048   # random candidates over which expected improvement is maximised
XI = 0.01           # EI exploration margin, in units of the standardised ratio
REFIT_EVERY = 4     # GP hyperparameters are re-optimised every this many rounds, reused in between


def _significant(y: np.ndarray, digits: int = 5) -> np.ndarray:
    """y rounded to ``digits`` significant digits: float noise from how images were batched into
    explainer calls then (almost always) cannot steer the GP, so batch == one-by-one holds."""
    return np.array([float(f"{v:.{digits}g}") for v in y])


def decode(u: torch.Tensor, x: torch.Tensor, eps: float, domain: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """u [N, C·G·G] in [−1,1] and x [N,C,H,W] → x' [N,C,H,W] in B∞(x, eps) ∩ domain (default [0,1])."""
    n, c, h, w = x.shape
    delta = F.interpolate(u.view(n, c, GRID, GRID).to(x.dtype), size=(h, w), mode="nearest")
    return project(x + eps * delta, x, eps, *domain)


def _candidates(u_obs: np.ndarray, y_obs: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """CANDIDATES points in [−1,1]^dim: half local moves around the 3 best observed points
    (σ ∈ {0.05, 0.2, 0.5}), a quarter uniform, a quarter corners (±1)."""
    dim = u_obs.shape[1]
    n_local, n_far = CANDIDATES // 2, CANDIDATES // 4
    top = torch.from_numpy(u_obs[np.argsort(-y_obs, kind="stable")[:3]]).float()
    base = top[torch.randint(len(top), (n_local,), generator=gen)]
    sigma = torch.tensor([0.05, 0.2, 0.5])[torch.randint(3, (n_local, 1), generator=gen)]
    local = (base + sigma * torch.randn((n_local, dim), generator=gen)).clamp(-1.0, 1.0)
    uniform = 2.0 * torch.rand((n_far, dim), generator=gen) - 1.0
    corners = torch.where(torch.rand((n_far, dim), generator=gen) < 0.5, -1.0, 1.0)
    return torch.cat([local, uniform, corners]).double().numpy()


def propose(u_obs: np.ndarray, y_obs: np.ndarray, gen: torch.Generator, q: int,
            kernel: Kernel | None) -> tuple[np.ndarray, Kernel]:
    """Fit a GP to the observed (u, ratio) pairs, return the q candidates of highest EI [q, dim] and
    the fitted kernel. A given ``kernel`` is reused as is (no hyperparameter optimisation)."""
    from scipy.stats import norm
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    dim = u_obs.shape[1]
    fresh = (ConstantKernel(1.0, "fixed") * Matern(np.sqrt(dim), (1e-2, 1e3), nu=2.5)
             + WhiteKernel(1e-3, "fixed"))
    gp = GaussianProcessRegressor(kernel=kernel or fresh, normalize_y=True, random_state=0,
                                  optimizer=None if kernel is not None else "fmin_l_bfgs_b")
    with warnings.catch_warnings():  # hyperparameters at their bounds are expected with few points
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(u_obs, y_obs)
    cand = _candidates(u_obs, y_obs, gen)
    mu, sd = gp.predict(cand, return_std=True)
    scale = y_obs.std() if y_obs.std() > 0 else 1.0
    gain = mu - y_obs.max() - XI * scale
    z = gain / np.maximum(sd, 1e-12)
    ei = gain * norm.cdf(z) + sd * norm.pdf(z)
    return cand[np.argsort(-ei, kind="stable")[:q]], gp.kernel_


def bayesopt_search(explain_fn: ExplainFn, x: torch.Tensor, e_x: torch.Tensor, d_x: torch.Tensor,
                    denominator_fn: ExplainFn, gens: list[torch.Generator],
                    spec: SearchSpec) -> tuple:
    """Maximise eq. 1 by BO over u: n_init = max(4, (budget−1)//5) random u (half corners), then
    rounds of PROPOSALS EI-maximising points per image until budget − 1 evaluations are spent.

    Returns (values [B], x_prime, expl_prime, history [rounds,B], calls, config).
    """
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    b, c, eps = x.shape[0], x.shape[1], spec.eps
    dim, total = c * GRID * GRID, spec.budget - 1
    n_init = min(total, max(PROPOSALS, total // 5))
    u0 = draw(gens, n_init, (dim,), torch.device("cpu")).double()           # [B,n_init,dim]
    even = (torch.arange(n_init) % 2 == 0).view(1, n_init, 1)
    u_new = torch.where(even, torch.where(u0 < 0.5, -1.0, 1.0), 2.0 * u0 - 1.0).double()
    u_obs, y_obs = [np.empty((0, dim))] * b, [np.empty(0)] * b
    proposals: list[np.ndarray] = [np.empty(0)] * b
    kernels: list[Kernel | None] = [None] * b
    best, done = BestTracker(x), 0
    rounds = 1 + -(-(total - n_init) // PROPOSALS)
    while True:
        m = u_new.shape[1]
        x_rep = x.repeat_interleave(m, 0)
        x_p = decode(u_new.flatten(0, 1).to(x.device), x_rep, eps, spec.domain)          # [B·m,C,H,W]
        e_p = explain_batched(explain_fn, x_p, spec.batch_size)
        with torch.no_grad():
            r = ratio(e_x.repeat_interleave(m, 0), e_p, d_x.repeat_interleave(m, 0),
                      denominator_fn(x_p)).view(b, m)
        for i in range(b):
            u_obs[i] = np.concatenate([u_obs[i], u_new[i].numpy()])
            y_obs[i] = np.concatenate([y_obs[i], _significant(r[i].double().cpu().numpy())])
        best.update(r, x_p, e_p)
        done += m
        if spec.on_step is not None:
            spec.on_step(len(best.rounds), rounds)
        if done >= total:
            break
        q = min(PROPOSALS, total - done)
        refit = (len(best.rounds) - 1) % REFIT_EVERY == 0
        with threadpool_limits(limits=1):  # GPs of ≤ a few hundred points: BLAS threads only cost
            for i in range(b):
                checkpoint()   # the attack service may serve other sessions here (one GP fit per image)
                proposals[i], kernels[i] = propose(u_obs[i], y_obs[i], gens[i], q,
                                                   None if refit else kernels[i])
        u_new = torch.from_numpy(np.stack(proposals))
    config = {"grid": GRID, "init_points": n_init, "proposals_per_round": PROPOSALS, "rounds": rounds,
              "refit_every": REFIT_EVERY}
    return best.value, best.x_prime, best.expl_prime, best.history, 1 + total, config



@register_search
class BayesOptSearch(ContinuousSearch):
    """Bayesian optimisation over a 7×7-block perturbation (black-box explainers, paper 002)."""

    name, summary, search = "bayesopt", "Gaussian-process Bayesian optimisation over 7×7 blocks (black boxes, paper 002)", staticmethod(bayesopt_search)
