"""Plain-gradient explainers: saliency, gradient ⊙ input, SmoothGrad.

Hand-written with ``torch.autograd.grad(..., create_graph=...)`` so attacks can differentiate
through them (captum's versions drop the graph); tested against captum as the oracle.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import SemError
from .base import grad_leaf, register_explainer, target_gradient


@register_explainer("saliency", differentiable=True, summary="|∇ₓ S_t(x)| (Simonyan et al. 2014)")
def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
             create_graph: bool = False) -> torch.Tensor:
    """Simple-gradient saliency, Ghorbani et al. 2019 §Methods: I(x) = |∇ₓ S_t(x)|.

    S_t is the pre-softmax logit of class t. Shapes: x ``[B,1,28,28]`` -> ``[B,1,28,28]`` ≥ 0
    (logit units per pixel-intensity unit). Example: ``explain(model, x, "saliency")``.
    """
    inp = grad_leaf(x, create_graph)
    return target_gradient(model, inp, target, create_graph).abs()


@register_explainer("gradxinput", differentiable=True, summary="∇ₓ S_t(x) ⊙ x (Shrikumar et al. 2016)")
def gradxinput(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
               create_graph: bool = False) -> torch.Tensor:
    """Gradient ⊙ input: ∇ₓ S_t(x) ⊙ x, signed, in logit units.

    Equals DeepLIFT/IG with a black baseline for a linear model. ``[B,1,28,28]`` -> same.
    """
    inp = grad_leaf(x, create_graph)
    return target_gradient(model, inp, target, create_graph) * inp


@register_explainer("smoothgrad", differentiable=True,
                    summary="mean |∇| over Gaussian-noised copies (Smilkov et al. 2017)")
def smoothgrad(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
               create_graph: bool = False, samples: int = 16, noise: float = 0.15,
               seed: int = 0, absolute: bool = True) -> torch.Tensor:
    """SmoothGrad (Smilkov et al. 2017): (1/N) Σₙ g(x + εₙ), εₙ ~ N(0, noise²).

    g = |∇ₓ S_t| (``absolute=True``, the mean of saliency maps) or the signed gradient.
    Args: samples N (default 16); noise σ in pixel-intensity units (default 0.15; the noisy
    copies are not clipped to [0,1]); seed: the same N noise images are used for every image of
    the batch, so a batch gives exactly the one-by-one maps. One backward for all B·N copies
    (memory scales with B·N). Shapes: ``[B,1,28,28]`` -> ``[B,1,28,28]``.
    """
    if samples < 1 or noise < 0:
        raise SemError(f"smoothgrad needs samples >= 1 and noise >= 0; got {samples}, {noise}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    eps = torch.randn((samples, 1, *x.shape[1:]), generator=gen, dtype=torch.float64) * noise
    eps = eps.to(device=x.device, dtype=x.dtype)  # [N,1,C,H,W], shared by the batch; same on any device/dtype
    base = x if (create_graph and x.requires_grad) else x.detach()
    noisy = (base[None] + eps).reshape(-1, *x.shape[1:])  # [N*B,C,H,W], sample-major
    inp = noisy if noisy.requires_grad else noisy.requires_grad_(True)
    grads = target_gradient(model, inp, target.repeat(samples), create_graph)
    grads = grads.abs() if absolute else grads
    return grads.reshape(samples, *x.shape).mean(dim=0)
