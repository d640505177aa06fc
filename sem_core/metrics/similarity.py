"""Map-similarity estimators as configured callables that declare their direction.

Experiments compare clean and attacked maps with these; ``higher_is_better`` says whether a
larger value means the explanation survived (Quantus' ScoreDirection idea, in torch).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from ..registry import Registry
from .mass import center_shift
from .rank import spearman, topk_intersection


@dataclass(frozen=True)
class MapSimilarity:
    """``sim(a, b) -> [B]`` comparing two maps ``[B,...]`` with fixed keyword options."""

    name: str
    fn: Callable[..., torch.Tensor]
    higher_is_better: bool  # True: a larger value = the two maps agree more
    options: dict = field(default_factory=dict)

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.fn(a, b, **self.options)


SIMILARITIES: Registry[MapSimilarity] = Registry("metric")
for _sim in (MapSimilarity("spearman", spearman, higher_is_better=True),
             MapSimilarity("topk_intersection", topk_intersection, higher_is_better=True),
             MapSimilarity("center_shift", center_shift, higher_is_better=False)):
    SIMILARITIES.register(_sim.name)(_sim)


def make_similarity(name: str, **options) -> MapSimilarity:
    """The registered similarity with its options fixed, e.g.
    ``make_similarity("topk_intersection", k=100)(I_clean, I_adv)  # [B]``."""
    return replace(SIMILARITIES.get(name), options=dict(options))

