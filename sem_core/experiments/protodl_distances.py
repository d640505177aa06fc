"""Paper 000, Fig. 3 and Table 1: PrototypeDL's distances, natural vs adversarial.

Reports, over the correctly classified digits: nearest-prototype consistency (the nearest
prototype's class is the label) and D-consistency (D(x, y) < min over y' ≠ y of D(x, y')), before
and after the untargeted attack (eq. 3), and the medians of D(x, y) and min D(x, y').
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..attacks.base import AttackResult
from ..attacks.protodl_prototype import ProtoDLAttack
from .sampling import pick_digits


@dataclass(frozen=True)
class ProtoDistancesResult:
    idx: torch.Tensor          # [n] indices into the split
    correct: torch.Tensor      # [n] bool: natural prediction == label
    attack: AttackResult       # the per-image attack result (x, x_adv, metrics ...)
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        m, c = self.attack.metrics, self.correct
        med = lambda k: m[k][c].median().item()  # noqa: E731
        mean = lambda k: m[k][c].mean().item()   # noqa: E731
        return {
            "n": len(self.idx), "n_correct": int(c.sum()),
            "label_kept_rate": self.attack.label_kept.float().mean().item(),
            "natural_consistency": mean("nearest_consistent_nat"),
            "adversarial_consistency": mean("nearest_consistent_adv"),
            "natural_d_consistency": mean("d_consistent_nat"),
            "adversarial_d_consistency": mean("d_consistent_adv"),
            "D_true_natural_median": med("D_true_nat"), "D_other_natural_median": med("D_other_nat"),
            "D_true_adv_median": med("D_true_adv"), "D_other_adv_median": med("D_other_adv"),
            "linf_max": self.attack.linf.max().item(), "seconds": self.seconds,
        }


def protodl_distances(model, images: torch.Tensor, labels: torch.Tensor, *, n: int = 100, eps: float = 0.3,
                      steps: int = 100, lam: float = 1.0, xi: float = 0.3, alpha: float = 0.0, seed: int = 0,
                      idx: torch.Tensor | None = None, on_step: Callable[[int, int], None] | None = None) -> ProtoDistancesResult:
    start = time.perf_counter()
    idx = pick_digits(labels, n, seed) if idx is None else idx
    n = len(idx)
    attack = ProtoDLAttack(model, eps=eps, steps=steps, lam=lam, xi=xi, alpha=alpha)
    res = attack(images[idx], labels[idx], seed=seed, on_step=on_step)
    correct = res.pred_before == labels[idx]
    return ProtoDistancesResult(idx=idx, correct=correct, attack=res, seconds=time.perf_counter() - start,
                                config={"n": n, "eps": eps, "steps": steps, "lam": lam, "xi": xi, "alpha": alpha, "seed": seed})
