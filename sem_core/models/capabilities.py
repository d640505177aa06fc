"""Capabilities, not classes: what an algorithm needs from a model, and one check of the input at the door.

Every attack, explainer and Lipschitz search asks for a *capability* (PEP 544 protocols), never for one of
the shipped classes, so a researcher's own module that has the methods works:

- ``Classifier``: ``model(x)`` maps images [B,C,H,W] to logits [B,K]. Every ``nn.Module`` that does so.
- ``ConceptModel`` (SENN, paper 001): ``concepts(x)`` h [B,k], ``relevances(x)`` θ [B,k,K] and
  ``aggregate(h, θ)`` → logits [B,K] (SENN: logits_c = Σᵢ θᵢ,c hᵢ).
- ``PrototypeModel`` (PrototypeDL, Li et al.): ``prototype_distances(x)`` h [B,m] (squared latent distances),
  ``prototype_classes()`` [m] (the class of each prototype) and ``classifier(h)`` → logits [B,K].

A model may declare its **input domain**: ``model.input_range = (lo, hi)`` (default (0.0, 1.0): pixel
intensities). ε is measured in those units, iterates are clipped to it and inputs outside it are refused.

Example:
    require(my_model, ConceptModel, "the concept attack")   # AttackError naming the missing methods
    x, y = check_batch(my_model, x, y, who="attack 'saliency_topk'")
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn

from ..device import model_device
from ..errors import SemError

#: the input domain of a model that declares none: pixel intensities in [0, 1]
DEFAULT_RANGE = (0.0, 1.0)
#: how far outside the domain a value may be and still count as inside (float rounding of a normalisation)
RANGE_TOLERANCE = 1e-4


@runtime_checkable
class Classifier(Protocol):
    """Images [B,C,H,W] in the model's domain → logits [B,K]."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [B,K] of images ``x`` [B,C,H,W]."""


@runtime_checkable
class ConceptModel(Protocol):
    """A self-explaining concept model (SENN): logits = aggregate(h(x), θ(x))."""

    def concepts(self, x: torch.Tensor) -> torch.Tensor:
        """The concepts h(x), [B,k]."""

    def relevances(self, x: torch.Tensor) -> torch.Tensor:
        """The relevances θ(x), [B,k,K] (one per concept and class)."""

    def aggregate(self, h: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The logits [B,K] from h [B,k] and θ [B,k,K] (SENN: Σᵢ θᵢ,c hᵢ)."""


@runtime_checkable
class PrototypeModel(Protocol):
    """A prototype model (PrototypeDL): logits = classifier(prototype_distances(x))."""

    def prototype_distances(self, x: torch.Tensor) -> torch.Tensor:
        """The squared latent distances to the m prototypes, [B,m]."""

    def prototype_classes(self) -> torch.Tensor:
        """The class of each prototype, [m]."""

    def classifier(self, h: torch.Tensor) -> torch.Tensor:
        """The logits [B,K] from the prototype distances [B,m]."""


#: what each capability is called in messages, and what it needs
CAPABILITY_NAMES = {ConceptModel: "a concept model (SENN-like)", PrototypeModel: "a prototype model (PrototypeDL-like)",
                    Classifier: "a classifier"}


def missing_members(model: Any, capability: type) -> list[str]:
    """The methods of ``capability`` that ``model`` lacks (or has but cannot call), e.g. ``["relevances(x)"]``."""
    if capability is Classifier:
        return [] if callable(model) else ["__call__(x)"]
    members = sorted(n for n, v in vars(capability).items() if not n.startswith("_") and callable(v))
    args = {"prototype_classes": "()", "aggregate": "(h, theta)", "classifier": "(h)"}
    return [f"{m}{args.get(m, '(x)')}" for m in members if not callable(getattr(model, m, None))]


def has_capability(model: Any, capability: type) -> bool:
    """Whether ``model`` has every method of ``capability``."""
    return not missing_members(model, capability)


def require(model: Any, capability: type, who: str, error: type[SemError] = SemError) -> None:
    """Raise ``error`` naming what ``model`` lacks for ``capability`` (nothing when it has it all)."""
    missing = missing_members(model, capability)
    if missing:
        raise error(f"{who} needs {CAPABILITY_NAMES[capability]}: {type(model).__name__} has no "
                    f"{', '.join(missing)}")


def input_domain(model: Any) -> tuple[float, float]:
    """The model's declared input range ``model.input_range`` (lo, hi), default (0, 1); a bad declaration raises."""
    declared = getattr(model, "input_range", None)
    if declared is None:
        return DEFAULT_RANGE
    try:
        lo, hi = (float(v) for v in declared)
    except (TypeError, ValueError):
        raise SemError(f"{type(model).__name__}.input_range must be two numbers (lo, hi), got {declared!r}") from None
    if not lo < hi:
        raise SemError(f"{type(model).__name__}.input_range must have lo < hi, got {declared!r}")
    return lo, hi


def check_batch(model: Any, x: Any, y: Any = None, *, who: str, error: type[SemError] = SemError,
                y_name: str = "y", keep_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The one check at the door of every attack, explainer and search; returns ``(x, y)`` ready to use.

    Refused with one line: not a tensor, not 4-D [B,C,H,W], an empty batch, integer or bool images (uint8:
    ``x.float() / 255``), NaN/Inf, values outside the model's domain (``input_domain``: images ×255 or
    standardised), labels that are not one integer per image. Converted (documented): floating images to
    the model's parameter dtype (float64 → float32), images and labels to the model's device. ``keep_graph``:
    the images stay in their autograd graph (an explainer called inside an attack), else they are detached.
    """
    if not isinstance(x, torch.Tensor):
        raise error(f"{who} takes a torch.Tensor of images [B,C,H,W]; got {type(x).__name__} "
                    "(torch.as_tensor(x) first)")
    if x.dim() != 4:
        hint = " (one image: add the batch axis, x[None])" if x.dim() == 3 else ""
        raise error(f"{who} takes images [B,C,H,W]; got shape {list(x.shape)}{hint}")
    if x.shape[0] == 0:
        raise error(f"{who} got an empty batch (shape {list(x.shape)})")
    if not x.is_floating_point():
        raise error(f"{who} takes float images in the model's input domain; got {str(x.dtype).replace('torch.', '')}"
                    f" (uint8 pixels: x.float() / 255)")
    x = (x if keep_graph else x.detach()).to(model_device(model) if isinstance(model, nn.Module) else x.device,
                                             _param_dtype(model))
    if not torch.isfinite(x).all():
        raise error(f"{who}: the images hold NaN or Inf values")
    lo, hi = input_domain(model)
    seen_lo, seen_hi = x.min().item(), x.max().item()
    if seen_lo < lo - RANGE_TOLERANCE or seen_hi > hi + RANGE_TOLERANCE:
        raise error(f"{who}: pixel values span [{seen_lo:.3g}, {seen_hi:.3g}], outside the model's input domain "
                    f"[{lo:g}, {hi:g}] (0–255 pixels: divide by 255; standardised images: undo the normalisation, "
                    f"or declare the model's domain as model.input_range = (lo, hi))")
    return x, (None if y is None else check_labels(y, len(x), x.device, who=who, error=error, name=y_name))


def check_labels(y: Any, n: int, device: torch.device, *, who: str, error: type[SemError] = SemError,
                 name: str = "y") -> torch.Tensor:
    """One integer class per image: an int (broadcast) or an integer tensor/list of length ``n`` → LongTensor [n]."""
    try:
        y = torch.as_tensor(y, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise error(f"{who}: {name} must be one integer class per image, got {type(y).__name__}") from None
    if y.is_floating_point() or y.dtype == torch.bool or y.is_complex():
        raise error(f"{who}: {name} must hold integer classes, got {str(y.dtype).replace('torch.', '')}")
    if y.dim() == 0:
        y = y.expand(n)
    if y.shape != (n,):
        raise error(f"{who}: {name} must be one class per image, shape [{n}]; got {list(y.shape)}")
    return y.long()


def check_logits(logits: Any, n: int, labels: torch.Tensor | None, *, who: str,
                 error: type[SemError] = SemError) -> torch.Tensor:
    """The model's output must be logits [n,K], K ≥ 2, and every label a valid class index."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != n or logits.shape[1] < 2:
        shape = list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise error(f"{who} needs a classifier that maps a batch of {n} images to logits [{n},K]; the model "
                    f"returned {shape}")
    if labels is not None and len(labels) and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise error(f"{who}: a label is outside the model's {logits.shape[1]} classes "
                    f"(got {labels.min().item()}..{labels.max().item()})")
    return logits


def forward_checked(model: Any, x: torch.Tensor, labels: torch.Tensor | None = None, *, who: str,
                    error: type[SemError] = SemError) -> torch.Tensor:
    """``model(x)`` with one clear message when the model cannot take these images (wrong channels or size)."""
    try:
        logits = model(x)
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise error(f"{who}: the model cannot take images of shape {list(x.shape)}: {first}") from exc
    return check_logits(logits, len(x), labels, who=who, error=error)


def _param_dtype(model: Any) -> torch.dtype:
    """The floating dtype of the model's parameters (float32 for a model without any)."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            if p.is_floating_point():
                return p.dtype
    return torch.float32
