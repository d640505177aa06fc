"""Lipschitz searches: registered classes, configured in the constructor, points in the call.

    search = GradientSearch(explanation, eps=0.1, budget=100)     # explanation: an ExplanationFunction
    res = search(x)                                               # LipschitzResult, per-image values

Continuous searches estimate paper 002 eq. 1 over the L∞ ball B∞(x, ε) ∩ [0,1]ⁿ:
    L̂(x) = max_{x'} ‖E(x) − E(x')‖₂ / ‖D(x) − D(x')‖₂      (D = identity, or SENN's h: paper 001 eq. 5)
Every estimate is a lower bound of the true local constant: the value of a point x' that was
actually evaluated. Denominators are clamped at 1e-12.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import AttackError
from ..models.base import ExplanationFunction
from ..params import Param, Settings
from ..registry import Registry
from .core import Progress, SearchSpec, check_points, explain_batched, identity, image_generators
from .result import LipschitzResult


class LipschitzSearch:
    """Base: ``name`` (registry name), ``summary``; ``__call__(x, *, on_step=None) -> LipschitzResult``."""

    name = ""
    summary = ""

    def __init__(self, explanation: ExplanationFunction):
        if not isinstance(explanation, ExplanationFunction):
            raise AttackError("a Lipschitz search takes an ExplanationFunction "
                              "(sem_core.lipschitz.explanation_function(model, name), or ExplanationFunction(fn))")
        self.explanation = explanation

    def __call__(self, x: torch.Tensor, *, on_step: Progress | None = None) -> LipschitzResult:
        raise NotImplementedError


LIPSCHITZ_SEARCHES: Registry[type[LipschitzSearch]] = Registry("Lipschitz search")


def register_search(cls: type[LipschitzSearch]) -> type[LipschitzSearch]:
    """Class decorator: register the search ``cls`` under ``cls.name``."""
    return LIPSCHITZ_SEARCHES.register(cls.name)(cls)


class ContinuousSearch(LipschitzSearch):
    """A search over the L∞ ball (gradient, random, bayesopt).

    Args:
        explanation: the E (and D) to estimate.
        **config: the settings declared in ``settings``: eps (L∞ radius, pixel units, default 0.1 as in paper 002),
            budget (explainer evaluations per image, E(x) included; a gradient step costs one call per restart),
            restarts / step_size (gradient ascent only; α default ε/4), seed (per image, so batch == one-by-one),
            batch_size (images per explainer call).
        radius: per-pixel half-widths [C,H,W] of a box neighbourhood (e.g. ε·std of the data,
            ``sem_core.lipschitz.protocols``), used instead of eps (kept as the scale it was made with);
            points are still clipped to [0,1]. Random, bayesopt and gp_minimize only.
    """

    settings = Settings(
        Param("eps", 0.1, "ε (L∞ radius, pixel units)", "the neighbourhood searched (paper 002: 0.1)", lo=0.0, hi=1.0,
              lo_open=True, step=0.01),
        Param("budget", 100, "Budget (explainer calls per digit)", "E(x) is one call", lo=2, hi=100_000),
        Param("restarts", 4, "Restarts", "random starts per digit (gradient ascent only)", lo=1, hi=1000),
        Param("step_size", None, "Step size α", "ε/4 when not given (gradient ascent only)", lo=0.0, hi=1.0,
              lo_open=True, value_type=float, optional=True),
        Param("seed", 0, "Seed", "fixes the random draws, per image", lo=0, hi=2**63 - 1),
        Param("batch_size", 64, "Images per explainer call", lo=1, hi=100_000),
    )

    def __init__(self, explanation: ExplanationFunction, *, radius: torch.Tensor | None = None, **config: Any):
        super().__init__(explanation)
        self.settings.configure(self, config, f"search '{self.name}'", AttackError)
        if radius is not None and (radius.dim() != 3 or not bool((radius > 0).all())):
            raise AttackError(f"radius must be a [C,H,W] tensor of positive half-widths, got shape {tuple(radius.shape)}")
        self.radius = radius

    def ball(self, x: torch.Tensor) -> float | torch.Tensor:
        """The half-width the search uses around ``x``: eps, or the per-pixel radius [1,C,H,W] on x's device."""
        return self.eps if self.radius is None else self.radius.to(x.device, x.dtype)[None]

    def search(self, explain_fn, x, e_x, d_x, denominator_fn, gens, spec: SearchSpec) -> tuple:
        """(values [B], x_prime, expl_prime, history [rounds,B], calls, config)."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, *, on_step: Progress | None = None) -> LipschitzResult:
        """Per-image estimates for the points ``x`` [B,C,H,W] in the explanation's domain (default [0,1]);
        ``on_step(done, total)``."""
        x = check_points(x, self.explanation.domain)
        explain_fn = self.explanation.fn
        denominator_fn = self.explanation.denominator or identity
        e_x = explain_batched(explain_fn, x, self.batch_size)
        with torch.no_grad():
            d_x = denominator_fn(x)
        spec = SearchSpec(eps=self.ball(x), budget=self.budget, restarts=self.restarts, step_size=self.step_size,
                          batch_size=self.batch_size, on_step=on_step, domain=self.explanation.domain)
        values, x_prime, expl_prime, history, calls, extra = self.search(
            explain_fn, x, e_x, d_x, denominator_fn, image_generators(x, self.seed), spec)
        config = {"eps": self.eps, "norm": "linf" if self.radius is None else "box", "budget": self.budget, "seed": self.seed,
                  "denominator": "custom" if self.explanation.denominator is not None else "input",
                  "batch_size": self.batch_size, **extra}
        return LipschitzResult(values=values.cpu(), x=x.cpu(), x_prime=x_prime.detach().cpu(), expl=e_x.cpu(),
                               expl_prime=expl_prime.cpu(), calls=int(calls), search=self.name,
                               history=history.cpu(), config=config)


def list_searches() -> list[str]:
    """Registered Lipschitz searches (``local_lipschitz`` also takes "auto")."""
    return LIPSCHITZ_SEARCHES.names()


def create_search(name: str, explanation: ExplanationFunction, **config: Any) -> LipschitzSearch:
    """The search ``name`` ("auto": gradient for a differentiable explanation, else bayesopt)."""
    if name == "auto":
        name = "gradient" if explanation.differentiable else "bayesopt"
    return LIPSCHITZ_SEARCHES.get(name)(explanation, **config)


def local_lipschitz(explanation: ExplanationFunction, x: torch.Tensor, *, search: str = "auto",
                    on_step: Progress | None = None, **config: Any) -> LipschitzResult:
    """``create_search(search, explanation, **config)(x, on_step=on_step)`` in one call.

    Example:
        >>> res = local_lipschitz(explanation_function(cnn, "saliency"), x, eps=0.1, budget=100)
        >>> res.values.median(), res.x_prime  # [B,1,28,28], within 0.1 of x in L∞
    """
    return create_search(search, explanation, **config)(x, on_step=on_step)
