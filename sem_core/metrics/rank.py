"""Rank-based similarity of two importance maps (Ghorbani et al. 2019, §Metrics).

All functions take maps ``[B,...]`` (any trailing shape, compared per image over the flattened
trailing dims), typically normalised ones (``normalize_map``), and return ``[B]`` on the device.
"""
from __future__ import annotations

import torch

from ..errors import SemError


def average_ranks(v: torch.Tensor) -> torch.Tensor:
    """1-based ranks per row of ``[B,N]``, ties get their average rank (scipy's 'average')."""
    ordered, _ = v.sort(dim=1)
    below = torch.searchsorted(ordered, v, right=False)  # how many are smaller
    upto = torch.searchsorted(ordered, v, right=True)    # how many are smaller or equal
    return (below + upto + 1).to(torch.float64) / 2


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation per image: Pearson correlation of the average ranks.

    Ghorbani et al. 2019 use it to compare feature rankings of the original and perturbed maps;
    1 = same order, −1 = reversed. NaN where either map is constant (like ``scipy.stats.spearmanr``).
    Shapes: ``[B,...]`` twice -> ``[B]`` (float32, or a's dtype if floating). Not differentiable.
    """
    if a.shape != b.shape:
        raise SemError(f"spearman needs maps of the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    ra = average_ranks(a.detach().flatten(1))
    rb = average_ranks(b.detach().flatten(1))
    ra = ra - ra.mean(dim=1, keepdim=True)
    rb = rb - rb.mean(dim=1, keepdim=True)
    rho = (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1))  # 0/0 -> NaN for constant maps
    return rho.to(a.dtype if a.is_floating_point() else torch.float32)


def _check_k(k: int, n: int) -> None:
    if not 1 <= k <= n:
        raise SemError(f"k must be between 1 and the number of pixels ({n}); got {k}")


def topk_mask(m: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask ``[B,...]`` of the k largest entries of each map (ties broken by torch.topk).

    The top-k attack (Ghorbani et al. 2019, Algorithm 1) lowers the importance inside this mask.
    """
    flat = m.detach().flatten(1)
    _check_k(k, flat.shape[1])
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, flat.topk(k, dim=1).indices, True)
    return mask.view(m.shape)


def topk_intersection(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of the k most important pixels of ``a`` that are also among the k of ``b``.

    Ghorbani et al. 2019's top-k intersection (they use k = 1000 of 224², we suggest ~100 of
    28²). In [0,1]; 1 = same top-k set. Shapes: ``[B,...]`` twice -> ``[B]`` float32.
    """
    if a.shape != b.shape:
        raise SemError("topk_intersection needs maps of the same shape; "
                       f"got {tuple(a.shape)} and {tuple(b.shape)}")
    both = topk_mask(a, k) & topk_mask(b, k)
    return both.flatten(1).sum(1).float() / k


def masked_spearman(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation per image over the pixels where ``mask`` is true only.

    For maps whose zero background ties hundreds of pixels (MNIST: the black border), the rank correlation on the
    foreground (e.g. pixels nonzero in x or in x*) is the one that says whether the ordering of the pixels that
    matter changed. Shapes: ``[B,...]`` three times -> ``[B]``; NaN where the mask keeps < 2 pixels or a map is
    constant there. Not differentiable.
    """
    if not a.shape == b.shape == mask.shape:
        raise SemError(f"masked_spearman needs maps and mask of one shape; got {tuple(a.shape)}, {tuple(b.shape)}, "
                       f"{tuple(mask.shape)}")
    keep = mask.detach().flatten(1).bool()
    out = torch.full((a.shape[0],), float("nan"), dtype=a.dtype if a.is_floating_point() else torch.float32,
                     device=a.device)
    for i in range(a.shape[0]):
        if int(keep[i].sum()) >= 2:
            out[i] = spearman(a[i].flatten()[keep[i]][None], b[i].flatten()[keep[i]][None])[0]
    return out
