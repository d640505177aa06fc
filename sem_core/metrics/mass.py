"""Center of mass of an importance map and its shift (Ghorbani et al. 2019, Algorithm 1 & App. E)."""
from __future__ import annotations

import torch

from .normalize import normalize_map


def center_of_mass(m: torch.Tensor) -> torch.Tensor:
    """C = Σ_ij I_ij [i, j]ᵀ with I = |m| / Σ|m| (Ghorbani et al. 2019, footnote a of Alg. 1).

    Args: m ``[B,H,W]`` or ``[B,C,H,W]`` (channels are summed after |·|). Returns ``[B,2]``
    (row, col) in pixel units, 0-based (the top-left pixel is (0, 0)). Differentiable in m,
    which the mass-center attack needs. An all-zero map has no mass: it gets the image center
    ((H−1)/2, (W−1)/2).
    Example: ``center_of_mass(explain(model, x, "saliency"))  # [B,2]``
    """
    w = normalize_map(m)
    if w.dim() == 4:
        w = w.sum(dim=1)  # [B,H,W]
    h, wd = w.shape[-2:]
    empty = (w.flatten(1).sum(1) == 0)[:, None, None]
    w = torch.where(empty, torch.full_like(w, 1.0 / (h * wd)), w)
    rows = torch.arange(h, dtype=w.dtype, device=w.device)
    cols = torch.arange(wd, dtype=w.dtype, device=w.device)
    return torch.stack([(w.sum(2) * rows).sum(1), (w.sum(1) * cols).sum(1)], dim=1)


def center_shift(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """‖C(a) − C(b)‖₂ in pixels per image: ``[B,...]`` twice -> ``[B]``.

    The mass-center attack's objective D (Ghorbani et al. 2019, Alg. 1). Differentiable; at
    zero shift the gradient is 0 (not NaN), so an attack can start from the clean image.
    """
    d = center_of_mass(a) - center_of_mass(b)
    sq = (d ** 2).sum(dim=1)
    safe = torch.where(sq > 0, sq, torch.ones_like(sq))
    return torch.where(sq > 0, safe.sqrt(), torch.zeros_like(sq))
