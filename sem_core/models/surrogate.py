"""The smooth surrogate of any network (ReLU → softplus(β)), and a probe of the nonlinearities it calls.

A ReLU network's saliency map is piecewise constant in x: its second derivative is zero, so an attack
that differentiates the map gets no gradient (paper 003 Sec. 4 replaces ReLU by softplus(β) for the
gradient and judges every iterate on the real network). ``smooth_surrogate`` builds that twin for any
``nn.Module``:

- a model with an injected activation (``model.config.act``, the shipped CNN): the same class rebuilt with
  ``act="softplus"`` (``with_activation``), exactly as before;
- any other module: a copy whose ``nn.ReLU``/``nn.LeakyReLU`` modules become softplus modules, run under a
  ``TorchFunctionMode`` that replaces the *functional* calls too (``F.relu``, ``torch.relu``,
  ``x.relu()``, ``F.leaky_relu``), so ``F.relu`` in a researcher's ``forward`` is smoothed as well.

``functional_nonlinearities`` runs one forward and counts the nonlinear calls that happen outside
activation *modules* (DeepLIFT's rescale rule can only see modules).

Example:
    smooth = smooth_surrogate(my_cnn, beta=10.0)      # same weights, softplus(10) wherever ReLU was
    smooth.replaced                                   # how many ReLU calls the last forward smoothed
"""
from __future__ import annotations

import copy
import weakref
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .registry import with_activation

#: the piecewise-linear activations the surrogate smooths (their second derivative is zero)
RELU_FUNCTIONS = (F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_)
LEAKY_FUNCTIONS = (F.leaky_relu, F.leaky_relu_)
#: nonlinear functional calls an activation module makes (used to find calls made outside modules)
NONLINEAR_FUNCTIONS = (*RELU_FUNCTIONS, *LEAKY_FUNCTIONS, F.elu, F.celu, F.selu, F.gelu, F.silu, F.softplus,
                       torch.sigmoid, torch.tanh, torch.Tensor.sigmoid, torch.Tensor.tanh, F.max_pool2d,
                       F.max_pool2d_with_indices, F.hardtanh, F.relu6, F.mish, F.hardswish)


#: every activation and pooling module type of torch.nn: calls made inside them are not "functional"
ACTIVATION_MODULES = tuple(c for mod in (nn.modules.activation, nn.modules.pooling) for c in vars(mod).values()
                           if isinstance(c, type) and issubclass(c, nn.Module) and c is not nn.Module)


class SoftplusMode(TorchFunctionMode):
    """Inside this mode ReLU is softplus(β) and leaky ReLU is a·x + (1 − a)·softplus(β)(x); counts the calls."""

    def __init__(self, beta: float):
        super().__init__()
        self.beta, self.replaced = float(beta), 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in RELU_FUNCTIONS:
            self.replaced += 1
            return F.softplus(args[0], beta=self.beta)
        if func in LEAKY_FUNCTIONS:
            self.replaced += 1
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            return slope * args[0] + (1 - slope) * F.softplus(args[0], beta=self.beta)
        return func(*args, **kwargs)


class SmoothSurrogate(nn.Module):
    """``model``'s twin with every ReLU (module or functional call) replaced by softplus(β); same weights.

    ``replaced``: the number of ReLU calls the last forward smoothed (0: nothing to smooth was found).
    """

    def __init__(self, model: nn.Module, beta: float):
        super().__init__()
        self.model, self.beta, self.replaced = _smooth_modules(model, beta), float(beta), 0
        if hasattr(model, "input_range"):
            self.input_range = model.input_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with SoftplusMode(self.beta) as mode:
            out = self.model(x)
        self.replaced = mode.replaced
        return out


def _smooth_modules(model: nn.Module, beta: float) -> nn.Module:
    """A deep copy of ``model`` whose ReLU modules are ``nn.Softplus(β)`` (DeepLIFT sees modules, not calls)."""
    twin = copy.deepcopy(model)
    for parent in twin.modules():
        for name, child in parent.named_children():
            if type(child) is nn.ReLU:
                setattr(parent, name, nn.Softplus(beta=beta))
    return twin.eval().requires_grad_(False)


def smooth_surrogate(model: nn.Module, beta: float) -> nn.Module:
    """The network an attack differentiates instead of ``model`` (see the module docstring); never modifies it.

    A model whose injected activation is already smooth (``config.act`` other than relu, e.g. cnn-smooth) is
    its own surrogate.
    """
    config = getattr(model, "config", None)
    act = getattr(config, "act", None)
    if isinstance(act, str) and hasattr(model, "state_dict"):
        return model if act != "relu" else with_activation(model, "softplus", beta)
    return SmoothSurrogate(model, beta)


class _NonlinearityProbe(TorchFunctionMode):
    """Counts nonlinear calls made while no activation module is running."""

    def __init__(self):
        super().__init__()
        self.depth, self.outside = 0, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.depth == 0 and func in NONLINEAR_FUNCTIONS:
            self.outside.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


#: per model (held weakly) and module types, what its probe found: a model's forward calls are probed once
_PROBED: "weakref.WeakKeyDictionary[nn.Module, dict[tuple[type, ...], list[str]]]" = weakref.WeakKeyDictionary()


def functional_nonlinearities(model: nn.Module, x: torch.Tensor, modules: tuple[type, ...]) -> list[str]:
    """The names of the nonlinear functions ``model(x)`` calls outside any module of the types ``modules``; one
    forward of one image, once per model and ``modules`` (the explainers that check it run at every iterate)."""
    seen = _PROBED.setdefault(model, {})
    if modules not in seen:
        seen[modules] = _probe(model, x[:1].detach(), modules)
    return seen[modules]


def _probe(model: nn.Module, x: torch.Tensor, modules: tuple[type, ...]) -> list[str]:
    probe = _NonlinearityProbe()

    def enter(module: nn.Module, args: Any) -> None:
        probe.depth += 1

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        probe.depth -= 1

    handles = [h for m in model.modules() if isinstance(m, modules)
               for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    was_training = model.training
    model.eval()   # a probe must not update batch-norm statistics
    try:
        with torch.no_grad(), probe:
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return probe.outside
