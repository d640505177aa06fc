"""Explanation functions to estimate: any explainer of the zoo on any model, and the SEMs' own.

``explanation_fn(model, name)`` returns (E, differentiable, D) for ``local_lipschitz``:
    * an explainer name from ``sem_core.explain.list_explainers()``: E(x) = its raw map, D = None
      (the denominator is ‖x − x'‖, paper 002 eq. 1). Differentiable explainers on a ReLU model
      are differentiated through as they are (piecewise-constant gradients are fine for ascent).
    * "self" on SENN: E(x) = θ(x) (all k×10 relevances), D(x) = h(x) (paper 001 eq. 5).
    * "self" on PrototypeDL: E(x) = the prototype distances h(x), D = None (θ is constant, so its
      eq.-5 estimate is 0 by construction; the distances are what can move).
The class explained by a map is the prediction at each evaluated point.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..errors import SemError
from ..explain import EXPLAINERS, explain, list_explainers
from .estimate import local_lipschitz
from .result import LipschitzResult

SELF = "self"


def list_lipschitz_explainers(model) -> list[str]:
    names = list_explainers()
    if hasattr(model, "relevances") or hasattr(model, "prototype_distances"):
        names = [SELF, *names]
    return names


def explanation_fn(model, name: str, **kwargs) -> tuple[Callable, bool, Callable | None]:
    if name == SELF:
        if hasattr(model, "relevances"):
            return (lambda z: model.relevances(z).flatten(1)), True, model.concepts
        if hasattr(model, "prototype_distances"):
            return model.prototype_distances, True, None
        raise SemError("'self' explanations exist only for SENN and PrototypeDL")
    spec = EXPLAINERS.get(name)

    def fn(z: torch.Tensor) -> torch.Tensor:
        return explain(model, z, name, create_graph=spec.differentiable and z.requires_grad, **kwargs).flatten(1)

    return fn, spec.differentiable, None


@dataclass
class LipschitzByExplainer:
    """``results[name]`` per explainer the model could use; ``skipped[name]`` the reason for the others."""

    results: dict[str, LipschitzResult]
    skipped: dict[str, str] = field(default_factory=dict)


def lipschitz_by_explainer(model, explainers: Sequence[str], x: torch.Tensor, *, eps: float = 0.1,
                           budget: int = 20, seed: int = 0,
                           on_progress: Callable[[float, str], None] | None = None) -> LipschitzByExplainer:
    """``local_lipschitz`` of each named explainer (or "self") of ``model`` on the digits ``x``.

    Each explainer uses its default search (gradient ascent when differentiable, Bayesian
    optimisation otherwise). An explainer the model cannot use (a ``SemError``, e.g. LRP on SENN's
    softplus layers) is skipped with its message and the others still run. ``on_progress(fraction,
    text)`` follows the whole loop.

    Example:
        >>> out = lipschitz_by_explainer(cnn, ["saliency", "lime"], x[:5], eps=0.1, budget=20)
        >>> {e: r.values.median().item() for e, r in out.results.items()}
    """
    explainers = list(explainers)
    out = LipschitzByExplainer({})
    for j, name in enumerate(explainers):
        def on_step(done: int, total: int, j: int = j, name: str = name) -> None:
            if on_progress:
                on_progress(min(1.0, (j + done / max(total, 1)) / len(explainers)), f"{name}: {done}/{total}")

        try:
            fn, differentiable, denom = explanation_fn(model, name)
            out.results[name] = local_lipschitz(fn, x, eps=eps, budget=budget, differentiable=differentiable,
                                                denominator_fn=denom, seed=seed, on_step=on_step)
        except SemError as exc:
            out.skipped[name] = str(exc)
    return out
