"""The papers' normalisation of a feature-importance map (Ghorbani et al. 2019, §Methods)."""
from __future__ import annotations

import torch


def normalize_map(m: torch.Tensor) -> torch.Tensor:
    """I = |m| / Σ|m| per image: non-negative, sums to 1 over all non-batch dims.

    Ghorbani et al. normalise "by the sum of the feature importance scores" so attacks change
    relative, not absolute, importance. An all-zero map stays all zeros (no importance anywhere;
    a uniform map would invent some). Differentiable. Shapes: ``[B,...]`` -> ``[B,...]``.
    Example: ``I = normalize_map(explain(model, x, "saliency")); I.sum((1,2,3))  # ones``
    """
    a = m.abs()
    total = a.flatten(1).sum(dim=1).view(-1, *([1] * (m.dim() - 1)))
    return a / torch.where(total > 0, total, torch.ones_like(total))


def pixel_map(m: torch.Tensor) -> torch.Tensor:
    """|m| summed over the channels, [B,C,H,W] -> [B,1,H,W]: one importance per pixel, as the authors' code of
    paper 003 builds it before normalising (InterpretationFragility ``SimpleGraient_Notebook.ipynb``:
    ``saliency_unnormalized = tf.reduce_sum(tf.abs(gradient), -1)``). For one channel it is |m|. Differentiable."""
    return m.abs().sum(dim=1, keepdim=True)
