"""The explainer registry, the one entry point ``explain`` and the batched target gradient.

Every explainer maps a batch ``x`` ``[B,1,28,28]`` in [0,1] and a class per image to a raw
attribution map of the same shape. Normalisation (|m| / Σ|m|) lives in ``normalize_map``.

Example:
    maps = explain(model, x, "ig", steps=64)          # [B,1,28,28], detached
    maps = explain(model, x_adv, "saliency", target=y, create_graph=True)  # differentiable
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from ..errors import SemError
from ..registry import Registry

# fn(model, x, target, *, create_graph, **hyperparameters) -> [B,1,28,28]
ExplainFn = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class ExplainerSpec:
    """One registered explainer.

    ``differentiable``: the map keeps the autograd graph to ``x`` when ``create_graph=True``,
    so attacks (Ghorbani et al. 2019, Algorithm 1) can take gradients through it.
    """

    name: str
    fn: ExplainFn
    differentiable: bool
    summary: str


EXPLAINERS: Registry[ExplainerSpec] = Registry("explainer")


def register_explainer(name: str, *, differentiable: bool, summary: str):
    """Decorator: register ``fn(model, x, target, *, create_graph, **kw)`` under ``name``."""

    def deco(fn: ExplainFn) -> ExplainFn:
        EXPLAINERS.register(name)(ExplainerSpec(name, fn, differentiable, summary))
        return fn

    return deco


def list_explainers(differentiable: bool | None = None) -> list[str]:
    """Registered explainer names; ``differentiable=True`` keeps only those attacks can use."""
    names = EXPLAINERS.names()
    if differentiable is None:
        return names
    return [n for n in names if EXPLAINERS.get(n).differentiable == differentiable]


def resolve_target(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """The class to explain per image: ``target`` (int or LongTensor [B]) or the prediction."""
    if target is None:
        with torch.no_grad():
            return model(x).argmax(dim=1)
    target = torch.as_tensor(target, device=x.device).long()
    if target.dim() == 0:
        target = target.expand(x.shape[0])
    if target.shape != (x.shape[0],):
        raise SemError(f"target must be one class per image, shape [{x.shape[0]}]; got {tuple(target.shape)}")
    return target


def grad_leaf(x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """The tensor to differentiate w.r.t.: ``x`` itself if it is in a graph we must keep,
    else a fresh detached leaf (so the caller's tensor is never touched)."""
    if create_graph and x.requires_grad:
        return x
    return x.detach().requires_grad_(True)


def target_gradient(model: nn.Module, inp: torch.Tensor, target: torch.Tensor,
                    create_graph: bool) -> torch.Tensor:
    """∇_inp S_t(inp) for the whole batch with ONE backward of Σ_b S_{t_b}(inp_b).

    Images do not interact in eval mode, so the gradient of the sum is the per-image gradient.
    Args: inp ``[N,...]`` requiring grad; target LongTensor ``[N]``. Returns ``[N,...]``.
    """
    logits = model(inp)  # [N,10]
    selected = logits.gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(selected, inp, create_graph=create_graph)
    return grad


def explain(model: nn.Module, x: torch.Tensor, method: str, *, target=None,
            create_graph: bool = False, **kwargs) -> torch.Tensor:
    """Raw attribution maps of ``method`` for the batch ``x``.

    Args:
        model: ``nn.Module`` mapping ``[B,1,28,28]`` in [0,1] to logits ``[B,10]``; never modified.
            Put it in eval mode first (explainers do not change its mode).
        x: ``[B,1,28,28]`` pixel intensities in [0,1].
        method: a name from ``list_explainers()``; unknown names raise ``UnknownNameError``.
        target: class per image (int or LongTensor ``[B]``); default: the predicted class.
        create_graph: keep the graph so the map can be differentiated w.r.t. ``x`` (second
            order); only for explainers with ``differentiable=True``.
        **kwargs: the explainer's hyperparameters (e.g. ``steps`` for IG, ``samples``, ``seed``).
    Returns:
        ``[B,1,28,28]`` raw (signed or absolute, per method) attributions on ``x.device``;
        detached unless ``create_graph=True``.
    """
    spec = EXPLAINERS.get(method)
    if x.dim() != 4:
        raise SemError(f"explain expects a batch [B,C,H,W]; got shape {tuple(x.shape)}")
    if create_graph and not spec.differentiable:
        raise SemError(f"explainer '{method}' is not differentiable; differentiable explainers: "
                       f"{', '.join(list_explainers(differentiable=True))}")
    target = resolve_target(model, x, target)
    with torch.enable_grad():
        maps = spec.fn(model, x, target, create_graph=create_graph, **kwargs)
    assert maps.shape == x.shape, f"{method} returned {tuple(maps.shape)} for input {tuple(x.shape)}"
    maps = maps.to(device=x.device, dtype=x.dtype)
    return maps if create_graph else maps.detach()
