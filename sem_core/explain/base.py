"""The explainer registry, the one entry point ``explain`` and the batched target gradient.

Every explainer maps a batch ``x`` ``[B,1,28,28]`` in [0,1] and a class per image to a raw
attribution map of the same shape. Normalisation (|m| / Σ|m|) lives in ``normalize_map``.

Example:
    maps = explain(model, "ig", x)                    # [B,C,H,W], detached, IG with its default IG_STEPS
    maps = explain(model, "saliency", x_adv, y, create_graph=True)  # differentiable, for the classes y
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch
import torch.nn as nn

from ..errors import SemDeprecationWarning, SemError
from ..models.capabilities import check_batch, check_labels, forward_checked
from ..params import Param, Settings
from ..registry import Registry, model_first

# fn(model, x, target, *, create_graph, **hyperparameters) -> [B,1,28,28]
ExplainFn = Callable[..., torch.Tensor]


class Explainer:
    """Base of the registered explainers: model and hyperparameters in the constructor, data in the call.

    Class attributes: ``name`` (registry name), ``differentiable`` (the map keeps the autograd graph
    to ``x`` when ``create_graph=True``, so attacks — Ghorbani et al. 2019, Algorithm 1 — can take
    gradients through it), ``summary`` (one line with the citation), ``hyperparameters`` (their
    defaults). Unknown hyperparameters raise ``SemError`` listing the known ones.

    Example:
        ig = create_explainer(cnn, "ig", steps=64)
        maps = ig(x)                                  # [B,C,H,W], detached, for the predicted class
        maps = ig(x, y, create_graph=True)            # differentiable, for the classes y
    """

    name: str = ""
    differentiable: bool = False
    summary: str = ""
    hyperparameters: dict[str, Any] = {}
    settings: Settings = Settings()   # the hyperparameters declared (default, type): read by the CLI, pages, cache

    @property
    def draws_nothing(self) -> bool:
        """No random draws (no ``seed`` hyperparameter): any batching of the images gives the same maps (the attack
        service coalesces such jobs)."""
        return "seed" not in self.hyperparameters

    def __init__(self, model: nn.Module, **config: Any):
        unknown = set(config) - set(self.hyperparameters)
        if unknown:
            known = ", ".join(sorted(self.hyperparameters)) or "none"
            raise SemError(f"explainer '{self.name}' has no hyperparameter {', '.join(sorted(unknown))}; known: {known}")
        self.model, self.config = model, {**self.hyperparameters, **config}

    def attribute(self, x: torch.Tensor, target: torch.Tensor, create_graph: bool, seed: int | None = None
                  ) -> torch.Tensor:
        """The raw maps for classes ``target`` [B] (``seed``: this call's draws, None: the configured); what a
        subclass implements."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, y=None, *, create_graph: bool = False, seed: int | None = None,
                 target=None) -> torch.Tensor:
        """Raw attribution maps [B,C,H,W] (float32, on ``x``'s device) for images ``x`` [B,C,H,W] in the model's
        input domain (default [0,1]; checked at the door, ``capabilities.check_batch``).

        ``y``: the class to explain per image (int or LongTensor [B]); default: the predicted class (``target=``
        is its deprecated old name). ``create_graph``: keep the graph for second-order gradients (differentiable
        explainers only). ``seed``: the random draws of this call (explainers that draw: LIME, SHAP, SmoothGrad);
        default the constructor's; deterministic explainers have nothing to seed and ignore it.
        """
        y = _renamed_target(y, target)
        device = x.device if isinstance(x, torch.Tensor) else None
        x, _ = check_batch(self.model, x, who=f"explainer '{self.name}'", keep_graph=create_graph)
        if create_graph and not self.differentiable:
            raise SemError(f"explainer '{self.name}' is not differentiable; differentiable explainers: "
                           f"{', '.join(list_explainers(differentiable=True))}")
        target = resolve_target(self.model, x, y)
        if target.min() < 0:
            raise SemError(f"explainer '{self.name}': target classes must be >= 0, got {target.min().item()}")
        try:
            with torch.enable_grad():
                maps = self.attribute(x, target, create_graph, seed)
        except (IndexError, RuntimeError) as exc:   # a target class the model does not have (gather, captum)
            if "out of bounds" not in str(exc) and "out of range" not in str(exc):
                raise
            raise SemError(f"explainer '{self.name}': a target class is outside the model's classes "
                           f"(got {target.min().item()}..{target.max().item()})") from exc
        assert maps.shape == x.shape, f"{self.name} returned {tuple(maps.shape)} for input {tuple(x.shape)}"
        maps = maps.to(device=device, dtype=x.dtype)
        return maps if create_graph else maps.detach()


EXPLAINERS: Registry[type[Explainer]] = Registry("explainer")


def register_explainer(name: str, *, differentiable: bool, summary: str):
    """Decorator: register ``fn(model, x, target, *, create_graph, **hyperparameters)`` as the
    ``Explainer`` subclass ``name`` (its keyword defaults become the class's ``hyperparameters``).
    Returns ``fn`` unchanged (it stays importable and testable on its own)."""

    def deco(fn: ExplainFn) -> ExplainFn:
        params = inspect.signature(fn).parameters.values()
        defaults = {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name != "create_graph"}

        def attribute(self, x, target, create_graph, seed=None):
            config = self.config if seed is None or "seed" not in self.config else {**self.config, "seed": int(seed)}
            return fn(self.model, x, target, create_graph=create_graph, **config)

        settings = Settings(*(Param(k, v, k.replace("_", " ").capitalize(), value_type=None if v is not None else float, optional=v is None)
                              for k, v in defaults.items()))
        cls = type(fn.__name__, (Explainer,), {"name": name, "differentiable": differentiable, "summary": summary,
                                               "hyperparameters": defaults, "settings": settings, "attribute": attribute,
                                               "__doc__": fn.__doc__, "__module__": fn.__module__})
        EXPLAINERS.register(name)(cls)
        return fn

    return deco


def create_explainer(model: nn.Module, name: str, **config: Any) -> Explainer:
    """The registered explainer ``name`` for ``model`` with hyperparameters ``config`` (the helpers' one argument
    order, model then name; ``create_explainer(name, model)`` still works, deprecated)."""
    model, name = model_first(model, name, "create_explainer")
    return EXPLAINERS.get(name)(model, **config)


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
            return forward_checked(model, x, who="explain").argmax(dim=1)
    return check_labels(target, x.shape[0], x.device, who="explain", name="target")


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


def explain(model: nn.Module, name: str, x: torch.Tensor, y=None, *, create_graph: bool = False, target=None,
            **config) -> torch.Tensor:
    """``create_explainer(model, name, **config)(x, y, create_graph=create_graph)`` in one call.

    Args:
        model: ``nn.Module`` mapping images ``[B,C,H,W]`` in its input domain (default [0,1]) to logits ``[B,K]``;
            never modified. Put it in eval mode first (explainers do not change its mode).
        name: a name from ``list_explainers()``; unknown names raise ``UnknownNameError``.
        x: the images ``[B,C,H,W]`` (checked at the door: ``models.capabilities.check_batch``).
        y: the class to explain per image (int or LongTensor ``[B]``); default: the predicted class. ``target=`` is
            its deprecated old name.
        create_graph: keep the graph so the map can be differentiated w.r.t. ``x`` (second
            order); only for explainers with ``differentiable=True``.
        **config: the explainer's hyperparameters (e.g. ``steps`` for IG, ``samples``, ``seed``).
    Returns:
        ``[B,C,H,W]`` raw (signed or absolute, per explainer) attributions on ``x.device``, float32;
        detached unless ``create_graph=True``.
    The old order ``explain(model, x, name)`` still works for one release (``DeprecationWarning``).
    """
    if isinstance(name, torch.Tensor) and isinstance(x, str):
        import warnings

        warnings.warn("explain(model, x, name) is deprecated: use explain(model, name, x)", SemDeprecationWarning,
                      stacklevel=2)
        name, x = x, name
    return create_explainer(model, name, **config)(x, _renamed_target(y, target), create_graph=create_graph)


def _renamed_target(y, target):
    """``y``, or the deprecated keyword ``target=`` (the class to explain) with a ``DeprecationWarning``."""
    if target is None:
        return y
    if y is not None:
        raise SemError("pass the class to explain once: y (target= is its deprecated old name)")
    import warnings

    warnings.warn("target= (the class to explain) is deprecated: pass it as y", SemDeprecationWarning, stacklevel=3)
    return target
