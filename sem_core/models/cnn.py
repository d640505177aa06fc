"""A plain black-box CNN for the post-hoc explainers (saliency, IG, DeepLIFT, LIME, SHAP...)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .layers import make_activation
from .base import SemModel
from .registry import MODELS


@dataclass(frozen=True)
class CNNConfig:
    """The CNN's architecture (saved in its card)."""
    channels: tuple[int, int] = (32, 64)  # two conv blocks, each conv3x3 -> act -> maxpool2
    hidden: int = 128                     # width of the dense layer before the logits
    act: str = "relu"                     # "relu" (trained) or "softplus" (smooth surrogate)
    beta: float = 10.0                    # softplus sharpness when act == "softplus"


@MODELS.register("cnn")
class CNN(SemModel):
    """conv-act-pool x2 -> dense-act -> logits. Input [B,1,28,28] in [0,1], output logits [B,10].

    The activation is a constructor argument, so ``with_activation(model, "softplus", beta)``
    (in ``registry``) gives the smooth surrogate with the same weights, without retraining.
    """

    Config = CNNConfig

    def __init__(self, config: CNNConfig = CNNConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        act = lambda: make_activation(config.act, config.beta)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), act(), nn.MaxPool2d(2),   # [B,c1,14,14]
            nn.Conv2d(c1, c2, 3, padding=1), act(), nn.MaxPool2d(2),  # [B,c2,7,7]
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(c2 * 49, config.hidden), act(), nn.Linear(config.hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
