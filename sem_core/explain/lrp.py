"""ε-LRP (Bach et al. 2015) through captum's ``LRP`` with the epsilon rule everywhere."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..errors import SemError
from ..models.surrogate import ACTIVATION_MODULES, functional_nonlinearities
from .base import register_explainer

# layers that get the ε rule; captum passes relevance unchanged through ReLU/Tanh/Dropout
_EPSILON_LAYERS = (nn.Conv2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                   nn.BatchNorm2d, nn.Flatten)
_PASS_THROUGH = (nn.ReLU, nn.Tanh, nn.Dropout, nn.Identity)
# functional calls whose autograd backward *is* their rule above (pass-through, or the ε rule of a max-pool)
_SAME_AS_RULE = {"relu", "relu_", "tanh", "max_pool2d", "max_pool2d_with_indices"}


@register_explainer("lrp", differentiable=False, summary="ε-LRP (Bach et al. 2015), captum")
def lrp(model: nn.Module, x: torch.Tensor, target: torch.Tensor, *,
        create_graph: bool = False, epsilon: float = 1e-4) -> torch.Tensor:
    """ε-LRP: R_i = Σ_j z_ij / (z_j + ε·sign(z_j)) · R_j, starting from R = S_t(x) at the output.

    As in Alvarez-Melis & Jaakkola 2018 (via DeepExplain, whose default ε = 1e-4). For a ReLU
    network ε → 0 gives gradient ⊙ input (Ancona et al. 2018). captum attaches rules and hooks
    to the modules, so it runs on a ``copy.deepcopy``; the caller's model is untouched. Only
    ReLU/Tanh activations have an LRP rule in captum: other activations (e.g. the softplus
    surrogate) raise ``SemError``, and so do functional calls without a rule (``F.softplus`` in ``forward``).
    Batched (one captum call). ``[B,C,H,W]`` -> same, signed.
    """
    from captum.attr import LRP
    from captum.attr._utils.lrp_rules import EpsilonRule

    unseen = sorted(set(functional_nonlinearities(model, x, ACTIVATION_MODULES))
                    - _SAME_AS_RULE)
    if unseen:
        raise SemError(f"lrp has no rule for the functional calls {', '.join(unseen)} in the model's forward "
                       f"(they would silently pass the gradient); use modules, or another explainer")
    net = copy.deepcopy(model)
    for name, module in net.named_modules():
        if list(module.children()):
            continue
        if isinstance(module, _EPSILON_LAYERS):
            module.rule = EpsilonRule(epsilon=epsilon)
        elif not isinstance(module, _PASS_THROUGH):
            raise SemError(f"lrp has no rule for layer '{name}' ({type(module).__name__}); it supports "
                           f"{', '.join(t.__name__ for t in _EPSILON_LAYERS + _PASS_THROUGH)}")
    return LRP(net).attribute(x.detach().requires_grad_(True), target=target)  # no captum warning
