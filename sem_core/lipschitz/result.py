"""The result of a local Lipschitz estimate: per-image values, maximisers and their explanations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..metrics.stats import median


@dataclass(frozen=True)
class LipschitzResult:
    """Per-image local Lipschitz estimates (all tensors on the CPU).

    values [B] the estimate L̂(x_i); x [B,1,28,28] the points; x_prime [B,1,28,28] the maximising x'
    found (in the ε-ball and in [0,1] for the continuous methods, a sample point for ``discrete``);
    expl / expl_prime [B,...] E(x) and E(x'); calls: explainer evaluations (images explained) spent
    per image, E(x) included; search: "gradient", "random", "bayesopt" or "discrete";
    history [n_rounds,B]: best value so far after each round; config: the settings used.
    """

    values: torch.Tensor
    x: torch.Tensor
    x_prime: torch.Tensor
    expl: torch.Tensor
    expl_prime: torch.Tensor
    calls: int
    search: str
    history: torch.Tensor
    config: dict[str, Any]

    def relative(self) -> dict[str, torch.Tensor]:
        """Scale-free readings of the maximiser, per image (issue 28: explainers of different size and units are
        compared on these, never on the raw ratio): ``change`` = ‖E(x) − E(x')‖ / ‖E(x)‖, ``step`` =
        ‖x − x'‖ / ‖x‖, and ``elasticity`` = change / step (the relative change of the explanation per relative
        change of the input: unchanged when E or x is rescaled). Zero-norm E(x) or x gives NaN."""
        e, e2 = self.expl.flatten(1).double(), self.expl_prime.flatten(1).double()
        x, x2 = self.x.flatten(1).double(), self.x_prime.flatten(1).double()
        change = (e - e2).norm(dim=1) / e.norm(dim=1).where(e.norm(dim=1) > 0, torch.tensor(float("nan")))
        step = (x - x2).norm(dim=1) / x.norm(dim=1).where(x.norm(dim=1) > 0, torch.tensor(float("nan")))
        return {"change": change, "step": step,
                "elasticity": change / step.where(step > 0, torch.tensor(float("nan")))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-image values, their median, the calls spent, the search and the config."""
        return {"values": self.values.tolist(), "median": median(self.values),
                "calls": self.calls, "search": self.search, "config": dict(self.config)}
