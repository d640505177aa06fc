"""``local_lipschitz``: the continuous local Lipschitz estimate of an explainer (paper 002 eq. 1)."""
from __future__ import annotations

from typing import Callable

import torch

from ..errors import AttackError, UnknownNameError
from .bayesopt import bayesopt_search
from .core import ExplainFn, Progress, SearchSpec, check_points, explain_batched, identity, image_generators
from .gradient import gradient_search
from .random_search import random_search
from .result import LipschitzResult

#: name -> search(explain_fn, x, E(x), D(x), D, generators, spec) -> (values, x', E(x'), history, calls, config)
SEARCHES: dict[str, Callable[..., tuple]] = {
    "gradient": gradient_search, "random": random_search, "bayesopt": bayesopt_search,
}


def list_methods() -> list[str]:
    """The names ``local_lipschitz`` accepts for ``method`` (plus "auto")."""
    return sorted(SEARCHES)


def local_lipschitz(explain_fn: ExplainFn, x: torch.Tensor, *, eps: float = 0.1, budget: int = 100,
                    method: str = "auto", differentiable: bool = False, restarts: int = 4,
                    step_size: float | None = None, seed: int = 0, denominator_fn: ExplainFn | None = None,
                    batch_size: int = 64, on_step: Progress | None = None) -> LipschitzResult:
    """Estimate L̂(x) = max over x' ∈ B∞(x,ε) ∩ [0,1]ⁿ of ‖E(x) − E(x')‖₂ / ‖x − x'‖₂, per image.

    Paper 002 eq. 1 (Alvarez-Melis & Jaakkola 2018, ε-ball taken in L∞ as for attacks); with
    ``denominator_fn`` D the denominator is ‖D(x) − D(x')‖₂, e.g. SENN's concepts h (paper 001
    eq. 5). Denominators are clamped at 1e-12. Every estimate is a lower bound of the true local
    constant: the value of a point x' that was actually evaluated.

    Methods: "gradient" (projected sign-gradient ascent, needs ``differentiable=True``),
    "random" (random search, half at the ball's corners), "bayesopt" (GP + expected improvement over
    a 7×7-block perturbation, for black boxes), "auto" (gradient if differentiable else bayesopt).

    Args:
        explain_fn: batched and pure, [N,1,28,28] → [N,...]; with ``differentiable=True`` it is
            called on inputs with requires_grad and must return a graph-connected output.
        x: [B,1,28,28] points in [0,1].
        eps: L∞ radius of the ball, in pixel units (default 0.1, as in paper 002).
        budget: explainer evaluations (images explained) per image, E(x) included (≥ 2); a
            gradient step costs one call per restart (one forward + backward).
        method: see above.
        differentiable: whether gradients flow through ``explain_fn``.
        restarts: random starts per image for "gradient".
        step_size: sign-gradient step in pixel units (default eps / 4).
        seed: fixes the result; each image's randomness comes from (seed, the image's bytes).
        denominator_fn: batched D, [N,1,28,28] → [N,...]; None means D(x) = x.
        batch_size: images per explainer call for "random" and "bayesopt".
        on_step: progress callback ``on_step(done, total)`` called after every round.

    Returns:
        LipschitzResult (tensors on the CPU).

    Example:
        >>> res = local_lipschitz(saliency_fn, x, eps=0.1, budget=100, differentiable=True)
        >>> res.values.median(), res.x_prime  # [B,1,28,28], within 0.1 of x in L∞
    """
    check_points(x)
    if not 0.0 < eps <= 1.0:
        raise AttackError(f"eps must be in (0, 1] (pixel units), got {eps}")
    if int(budget) != budget or budget < 2:
        raise AttackError(f"budget must be an integer ≥ 2 (E(x) is one call), got {budget}")
    if int(restarts) != restarts or restarts < 1 or int(batch_size) != batch_size or batch_size < 1:
        raise AttackError(f"restarts and batch_size must be positive integers, got {restarts}, {batch_size}")
    name = ("gradient" if differentiable else "bayesopt") if method == "auto" else method
    if name not in SEARCHES:
        raise UnknownNameError(f"unknown Lipschitz method '{method}'; known: auto, {', '.join(list_methods())}")
    if name == "gradient" and not differentiable:
        raise AttackError("method 'gradient' needs differentiable=True; use 'bayesopt' or 'random' "
                          "for black-box explainers")
    x = x.detach()
    denominator_fn = denominator_fn or identity
    e_x = explain_batched(explain_fn, x, batch_size)
    with torch.no_grad():
        d_x = denominator_fn(x)
    spec = SearchSpec(eps=float(eps), budget=int(budget), restarts=int(restarts), step_size=step_size,
                      batch_size=int(batch_size), on_step=on_step)
    values, x_prime, expl_prime, history, calls, extra = SEARCHES[name](
        explain_fn, x, e_x, d_x, denominator_fn, image_generators(x, seed), spec)
    config = {"eps": float(eps), "norm": "linf", "budget": int(budget), "seed": int(seed),
              "denominator": "custom" if denominator_fn is not identity else "input",
              "batch_size": int(batch_size), **extra}
    return LipschitzResult(values=values.cpu(), x=x.cpu(), x_prime=x_prime.detach().cpu(), expl=e_x.cpu(),
                           expl_prime=expl_prime.cpu(), calls=int(calls), method=name,
                           history=history.cpu(), config=config)
