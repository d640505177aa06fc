"""Explanations to estimate: any explainer of the zoo on any model, and the SEMs' own.

``explanation_function(model, name)`` returns the ``ExplanationFunction`` the searches take:
    * an explainer name from ``sem_core.explain.list_explainers()``: E(x) = its raw map, D = None
      (the denominator is ‖x − x'‖, paper 002 eq. 1). Differentiable explainers on a ReLU model
      are differentiated through as they are (piecewise-constant gradients are fine for ascent).
    * "self": the model's own explanation (``SemModel.self_explanation``): SENN's θ(x) over h(x)
      (paper 001 eq. 5), PrototypeDL's prototype distances over x.
The class explained by a map is the prediction at each evaluated point.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..errors import SemError
from .core import SELF, explanation_function, list_lipschitz_explainers  # noqa: F401 (re-exported)
from .result import LipschitzResult
from .search import local_lipschitz

@dataclass
class LipschitzByExplainer:
    """``results[name]`` per explainer the model could use; ``skipped[name]`` the reason for the others;
    ``seconds[name]`` the wall seconds each explainer's search took (the time estimates learn from them)."""

    results: dict[str, LipschitzResult]
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def lipschitz_by_explainer(model, explainers: Sequence[str], x: torch.Tensor, *, eps: float = 0.1,
                           budget: int = 20, seed: int = 0,
                           on_step: Callable[[int, int], None] | None = None, protocol: str | None = None,
                           source: str = "subset") -> LipschitzByExplainer:
    """``local_lipschitz`` of each named explainer (or "self") of ``model`` on the digits ``x``.

    Each explainer uses its default search (gradient ascent when differentiable, Bayesian
    optimisation otherwise). An explainer the model cannot use (a ``SemError``, e.g. LRP on SENN's
    softplus layers) is skipped with its message and the others still run. ``on_step(done, total)``
    follows the whole loop in per-mille (done of 1000), so a page can draw one bar over every explainer.
    ``protocol`` ("authors", "strict"; ``sem_core.lipschitz.protocols``): run each explainer under that protocol
    instead (its neighbourhood, eps, search and settings; ``budget`` = ratio evaluations per digit; ``source``:
    the data whose per-pixel std a box_std protocol needs).

    Example:
        >>> out = lipschitz_by_explainer(cnn, ["saliency", "lime"], x[:5], eps=0.1, budget=20)
        >>> {e: r.values.median().item() for e, r in out.results.items()}
    """
    explainers = list(explainers)
    out = LipschitzByExplainer({})
    for j, name in enumerate(explainers):
        def inner(done: int, total: int, j: int = j) -> None:
            if on_step:
                on_step(min(1000, (1000 * j + 1000 * done // max(total, 1)) // len(explainers)), 1000)

        t0 = time.perf_counter()
        try:
            out.results[name] = lipschitz_of(model, name, x, eps=eps, budget=budget, seed=seed, on_step=inner,
                                             protocol=protocol, source=source)
            out.seconds[name] = time.perf_counter() - t0
        except SemError as exc:
            out.skipped[name] = str(exc)
    return out


def lipschitz_of(model, name: str, x: torch.Tensor, *, eps: float = 0.1, budget: int = 20, seed: int = 0,
                 on_step: Callable[[int, int], None] | None = None, protocol: str | None = None,
                 source: str = "subset") -> LipschitzResult:
    """One explainer's estimates, as ``lipschitz_by_explainer`` computes them (the attack service's Lipschitz
    jobs call this too, so a page's cached result equals a direct computation). Raises ``SemError`` when the
    model cannot use the explainer."""
    if protocol is not None:
        from .protocols import get_protocol, pixel_std, protocol_lipschitz

        p = get_protocol(protocol)
        std = pixel_std(source) if p.neighbourhood == "box_std" else None
        return protocol_lipschitz(model, name, x, p, std=std, seed=seed, calls=budget, on_step=on_step)
    return local_lipschitz(explanation_function(model, name), x, eps=eps, budget=budget, seed=seed, on_step=on_step)
