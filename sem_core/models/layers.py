"""Shared building blocks: the injectable activation (ReLU <-> softplus surrogate)."""
from __future__ import annotations

import torch.nn as nn

ACTIVATIONS = ("relu", "softplus")


def make_activation(kind: str = "relu", beta: float = 10.0) -> nn.Module:
    """A fresh activation module. ``softplus`` with large ``beta`` is the smooth surrogate of ReLU
    used by the saliency attacks (Ghorbani et al., paper 003, Sec. 4)."""
    if kind == "relu":
        return nn.ReLU()
    if kind == "softplus":
        return nn.Softplus(beta=beta)
    raise ValueError(f"unknown activation '{kind}'; available: {', '.join(ACTIVATIONS)}")
