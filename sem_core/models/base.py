"""What every model of the zoo owns: its training loss, what training adds to its card, and the
explanation of its own that the Lipschitz estimates measure.

Training and the Lipschitz code ask the model (``model.training_loss(...)``,
``model.self_explanation()``) instead of switching on its type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import SemError

TensorFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ExplanationFunction:
    """A batched explanation E, [N,C,H,W] → [N,d], as the Lipschitz searches take it.

    ``differentiable``: E stays connected to the autograd graph of its input (so gradient ascent
    can be used); ``denominator``: D for the ratio ‖E(x) − E(x')‖ / ‖D(x) − D(x')‖ (None: D(x) = x,
    paper 002 eq. 1; SENN's concepts h for paper 001 eq. 5); ``name`` for reports; ``domain``: the input
    range (lo, hi) of the model behind E (``capabilities.input_domain``), where the searches' points stay.
    """

    fn: TensorFn
    differentiable: bool = False
    denominator: TensorFn | None = None
    name: str = "custom"
    domain: tuple[float, float] = (0.0, 1.0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class SemModel(nn.Module):
    """Base of the registered models: [B,1,28,28] in [0,1] → logits [B,10].

    A subclass sets ``Config`` (its config dataclass) and may override the three hooks below.
    """

    Config: type

    def training_loss(self, x: torch.Tensor, y: torch.Tensor, cfg: Any) -> dict[str, torch.Tensor]:
        """The training loss, term by term (key ``loss`` is the total); ``cfg`` a TrainConfig."""
        ce = F.cross_entropy(self(x), y)
        return {"loss": ce, "ce": ce}

    def after_training(self, x_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor) -> dict[str, Any]:
        """Post-training bookkeeping (e.g. SENN's grounding); returns extra fields for the card."""
        return {}

    def self_explanation(self) -> ExplanationFunction:
        """The model's own explanation, for the Lipschitz estimates (``explainer="self"``)."""
        raise SemError(f"{type(self).__name__} has no explanation of its own; "
                       "'self' explanations exist only for SENN and PrototypeDL")

    @property
    def has_self_explanation(self) -> bool:
        """Whether the model has an explanation of its own (``self_explanation``)."""
        return type(self).self_explanation is not SemModel.self_explanation
