"""Every explainer on the same digits: the grid that shows whether an attack on one explainer fools the rest.

Example:
    >>> grid = explain_all(model, torch.cat([x, x_adv]), target=y.repeat(2))
    >>> grid.names, grid.maps.shape  # [E, B, 28, 28], each map normalised to sum 1
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..errors import SemError
from ..metrics.normalize import normalize_map
from .base import explain, list_explainers

Progress = Callable[[int, int], None]  # on_step(done, total), as everywhere in sem_core


@dataclass
class ExplainerGrid:
    """``maps[e, b]`` is explainer ``names[e]`` on image b (normalised, on the CPU); ``skipped``
    maps an explainer the model cannot use (e.g. LRP on SENN's softplus layers) to the reason."""

    names: list[str]
    maps: torch.Tensor
    skipped: dict[str, str] = field(default_factory=dict)


def explain_all(model, x: torch.Tensor, *, target=None, explainers: Sequence[str] | None = None,
                on_step: Progress | None = None) -> ExplainerGrid:
    """Normalised maps of each explainer (default: all) for the batch ``x`` [B,1,28,28].

    ``target`` as in ``explain`` (default: the predicted class). An explainer that raises a
    ``SemError`` for this model is skipped with its message; the others still run.
    ``on_step(done, total)`` after each explainer (done explainers of total).
    """
    explainers = list(explainers) if explainers is not None else list_explainers()
    names, maps, skipped = [], [], {}
    for j, name in enumerate(explainers):
        try:
            maps.append(normalize_map(explain(model, name, x, y=target)).cpu()[:, 0])
            names.append(name)
        except SemError as exc:
            skipped[name] = str(exc)
        if on_step:
            on_step(j + 1, len(explainers))
    stacked = torch.stack(maps) if maps else torch.empty(0, x.shape[0], *x.shape[2:])
    return ExplainerGrid(names, stacked, skipped)
