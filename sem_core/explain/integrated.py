"""Integrated gradients (Sundararajan et al. 2017) with a black baseline, right Riemann sum."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import SemError
from .base import grad_leaf, register_explainer, target_gradient

#: the one default number of integration steps M: the explainer, the saliency attacks' ``ig_steps`` and the pages
IG_STEPS = 32


@register_explainer("ig", differentiable=True,
                    summary="integrated gradients, black baseline, right Riemann sum")
def integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
                         create_graph: bool = False, steps: int = IG_STEPS) -> torch.Tensor:
    """IG as in Ghorbani et al. 2019 (before their |·|): (Δx / M) Σ_{k=1..M} ∇S_t(x⁰ + (k/M) Δx).

    x⁰ = 0 (black image), Δx = x − x⁰. The right Riemann sum (α_k = k/M, k = 1..M) is captum's
    ``method="riemann_right"``. Completeness: Σ IG → S_t(x) − S_t(x⁰) as M grows.
    Args: steps M (default ``IG_STEPS`` = 32); all B·M path points go through one forward/backward
    (memory scales with B·M). Shapes: ``[B,C,H,W]`` -> ``[B,C,H,W]`` signed, logit units.
    """
    if steps < 1:
        raise SemError(f"ig needs steps >= 1; got {steps}")
    inp = grad_leaf(x, create_graph)
    alphas = torch.arange(1, steps + 1, device=x.device, dtype=x.dtype) / steps  # [M]
    alphas = alphas.view(steps, 1, *([1] * (x.dim() - 1)))
    path = (alphas * inp[None]).reshape(-1, *x.shape[1:])  # [M*B,C,H,W]; x⁰ = 0
    # gradient at the path points (not d/dx of S(αx), which would carry an extra α)
    grads = target_gradient(model, path, target.repeat(steps), create_graph)
    return inp * grads.reshape(steps, *x.shape).mean(dim=0)
