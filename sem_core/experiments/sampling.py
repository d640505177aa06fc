"""Seeded choices of digits and targets from a split."""
from __future__ import annotations

import torch

from ..errors import AttackError


def pick_digits(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` distinct indices into ``labels``, a seeded random draw (the same seed, the same digits)."""
    if not 1 <= n <= len(labels):
        raise AttackError(f"n must be between 1 and {len(labels)} (the digits in the split), got {n}")
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(len(labels), generator=gen)[:n].sort().values


def pick_other_class_targets(labels: torch.Tensor, idx: torch.Tensor, per_digit: int, seed: int = 0) -> torch.Tensor:
    """For each digit ``idx[i]``, ``per_digit`` random indices of digits with another label, [n, per_digit].

    Each digit's draw depends only on (seed, its index), so chunked and whole runs agree."""
    return _pick_targets(labels, idx, per_digit, seed, same_class=False)


def pick_same_class_targets(labels: torch.Tensor, idx: torch.Tensor, per_digit: int, seed: int = 0) -> torch.Tensor:
    """For each digit ``idx[i]``, ``per_digit`` random indices of other digits with its own label, [n, per_digit]
    (the adversarial in-class control of senn-distances); seeded per digit like ``pick_other_class_targets``."""
    return _pick_targets(labels, idx, per_digit, seed, same_class=True)


def _pick_targets(labels: torch.Tensor, idx: torch.Tensor, per_digit: int, seed: int, same_class: bool) -> torch.Tensor:
    out = []
    for i in idx.tolist():
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i + 1)
        pool = labels == labels[i] if same_class else labels != labels[i]
        pool[i] = False                                     # never the digit itself
        others = torch.nonzero(pool).flatten()
        if per_digit > len(others):
            kind = "same-class" if same_class else "other-class"
            raise AttackError(f"targets per digit must be at most {len(others)} (the {kind} digits of digit {i}), "
                              f"got {per_digit}")
        out.append(others[torch.randperm(len(others), generator=gen)[:per_digit]])
    return torch.stack(out)
