"""The pages' digit arithmetic, so that no page imports torch: which test digit a class + index picker means, a
random digit, a target region's mask, a stack of images to draw, and each model's class probabilities of a digit.

Pure functions of tensors (the test split's labels ``y`` [N] long, images [B,1,28,28] in [0,1]); nothing here
renders or keeps state.

Example:
    i = int(class_indices(y_test, 9)[0])              # the first 9 of the test split
    cls, k = random_digit(y_test, avoid=2)            # a random digit of any class but 2: class, index within it
    mask = box_mask((0, 10), (0, 10))                 # [28,28] bool, the top-left 10×10 pixels
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn

from ..device import model_device
from .maps import mask_from_points

SIDE = 28  # a digit's height and width in pixels


def class_indices(y: torch.Tensor, cls: int) -> torch.Tensor:
    """The indices [n_cls] (ascending) of the digits of class ``cls`` in labels ``y`` [N]; the pages' "Index (of
    n)" control counts within this list."""
    return torch.nonzero(y == int(cls)).flatten()


def class_position(y: torch.Tensor, i: int) -> tuple[int, int]:
    """(class, index within its class) of digit ``i``: the inverse of ``class_indices(y, cls)[k]``."""
    cls = int(y[int(i)])
    return cls, int((class_indices(y, cls) < int(i)).sum())


def random_digit(y: torch.Tensor, avoid: int | None = None,
                 generator: torch.Generator | None = None) -> tuple[int, int]:
    """A uniformly random digit of labels ``y`` [N], never of class ``avoid`` (when given), as (class, index within
    its class). ``generator``: for a reproducible draw (default: torch's global one)."""
    allowed = torch.ones(len(y), dtype=torch.bool) if avoid is None else y != int(avoid)
    pool = torch.nonzero(allowed).flatten()
    if len(pool) == 0:
        raise ValueError(f"no digit of a class other than {avoid}")
    i = int(pool[int(torch.randint(len(pool), (1,), generator=generator))])
    return class_position(y, i)


def empty_mask() -> torch.Tensor:
    """A target region with no pixel: [28,28] bool, all False."""
    return torch.zeros(SIDE, SIDE, dtype=torch.bool)


def box_mask(rows: Sequence[int], cols: Sequence[int]) -> torch.Tensor:
    """The rectangle of rows ``rows[0]:rows[1]`` and columns ``cols[0]:cols[1]`` (ends excluded) as a [28,28] bool
    mask; an empty range gives an empty mask."""
    mask = empty_mask()
    mask[int(rows[0]):int(rows[1]), int(cols[0]):int(cols[1])] = True
    return mask


def points_mask(points: Sequence[dict]) -> torch.Tensor:
    """The pixels selected on a digit's chart (plotly's selection points: ``x`` the column, ``y`` the row) as a
    [28,28] bool mask; points outside the digit are ignored."""
    return torch.from_numpy(mask_from_points(points, (SIDE, SIDE)))


def stack_images(*images: torch.Tensor) -> torch.Tensor:
    """The image batches ``images`` (each [b,1,28,28], any device) one after the other, on the CPU: [Σb,1,28,28]."""
    return torch.cat([im.detach().cpu() for im in images])


def class_probabilities(models: Mapping[str, nn.Module], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each model's softmax class probabilities [10] (on the CPU) for the one digit ``x`` [1,1,28,28], without
    gradients: name -> probabilities, in the order of ``models``."""
    out = {}
    with torch.no_grad():
        for name, model in models.items():
            out[name] = torch.softmax(model(x.to(model_device(model))), 1)[0].cpu()
    return out
