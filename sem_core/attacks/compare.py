"""The same attack on several models (e.g. a natural SEM and its robust version), side by side.

Example:
    cmp = compare_models({"senn": senn, "senn-adv": senn_adv}, "senn_concept", x9, target=x2, eps=0.3)
    cmp.table()          # one row per model: label kept and the attack's headline metrics
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from .base import AttackResult
from .registry import ATTACKS, create_attack


@dataclass(frozen=True)
class Comparison:
    """``results[name]``: the attack's result on model ``name``; ``attack``: the registry name; ``seconds[name]``:
    the wall seconds of that model's run."""

    attack: str
    results: dict[str, AttackResult]
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """One row per model: label kept, linf and the attack's ``headline`` metrics (means over the batch)."""
        keys = ATTACKS.get(self.attack).headline
        return [{"model": name, "label kept": float(r.label_kept.float().mean()), "‖x* − x‖∞": float(r.linf.max()),
                 **{k: float(r.metrics[k].float().mean()) for k in keys}} for name, r in self.results.items()]


def compare_models(models: Mapping[str, nn.Module], attack: str, x: torch.Tensor, y: torch.Tensor | None = None, *,
                   target: Any = None, seed: int = 0, on_step: Callable[[int, int], None] | None = None,
                   **config: Any) -> Comparison:
    """Run the registered ``attack`` with the same ``config``, digits, target and seed on every model.
    ``on_step(done, total)`` counts steps over all models."""
    results, seconds, names = {}, {}, list(models)
    for j, name in enumerate(names):
        atk = create_attack(models[name], attack, **config)

        def inner(done: int, total: int, j: int = j) -> None:
            if on_step:
                on_step(j * total + done, total * len(names))

        t0 = time.perf_counter()
        results[name] = atk(x, y, target=target, seed=seed, on_step=inner)
        seconds[name] = time.perf_counter() - t0
    return Comparison(attack, results, seconds)
