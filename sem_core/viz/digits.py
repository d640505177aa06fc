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


MASK_HEX = SIDE * SIDE // 4  # a region in a link: 784 bits as 196 hexadecimal digits


def mask_to_text(mask: torch.Tensor) -> str:
    """A target region [28,28] bool as text for a link: its 784 pixels, row by row, as 196 hexadecimal digits.
    Example: ``mask_to_text(box_mask((0, 1), (0, 4)))`` → ``"f000…0"``."""
    bits = "".join("1" if b else "0" for b in mask.reshape(-1).tolist())
    return "".join(f"{int(bits[i: i + 4], 2):x}" for i in range(0, len(bits), 4))


def mask_from_text(text: object) -> torch.Tensor | None:
    """The region ``mask_to_text`` wrote, or None for anything else (a missing, cut or hand-edited value)."""
    if not isinstance(text, str) or len(text) != MASK_HEX or any(c not in "0123456789abcdef" for c in text):
        return None
    bits = [int(b) for c in text for b in f"{int(c, 16):04b}"]
    return torch.tensor(bits, dtype=torch.bool).reshape(SIDE, SIDE)


def closest_digit(x: torch.Tensor, x_all: torch.Tensor) -> int:
    """The index of the digit of ``x_all`` [N,1,28,28] nearest to ``x`` [1,1,28,28] in pixel (L2) distance: the test
    digit a page offers in place of an uploaded or drawn one, which cannot travel in a link."""
    d = (x_all.reshape(len(x_all), -1).float() - x.reshape(1, -1).float().to(x_all.device)).square().sum(1)  # [N]
    return int(d.argmin())


def stack_images(*images: torch.Tensor) -> torch.Tensor:
    """The image batches ``images`` (each [b,1,28,28], any device) one after the other, on the CPU: [Σb,1,28,28]."""
    return torch.cat([im.detach().cpu() for im in images])


def nearest_prototypes(res, prototypes: torch.Tensor, names: Sequence[str] | None = None
                       ) -> tuple[torch.Tensor, list[str]]:
    """What PrototypeDL points to before and after a prototype attack, four images a digit: the digit, its nearest
    prototype, the changed digit, its nearest prototype then; and their short titles ("the 4", "P3: 4", "changed",
    "P12: 9": a prototype's number and the class it votes for, as ``prototype_titles`` writes them).

    ``res``: a ``protodl_prototype`` AttackResult (its natural and adversarial ``ProtoExplanation``);
    ``prototypes`` [m,1,28,28] the decoded prototypes; ``names``: each digit's name in the titles (default: its
    label). Returns (images [4B,1,28,28] on the CPU, 4B titles), to draw ``cols=4``."""
    nat, adv = res.explanations["natural"], res.explanations["adversarial"]
    classes, protos = nat.prototype_classes, prototypes.detach().cpu()
    images, titles = [], []
    for i in range(len(res.x)):
        j0, j1 = int(nat.distances[i].argmin()), int(adv.distances[i].argmin())
        name = names[i] if names is not None else str(int(res.y[i]))
        images += [res.x[i: i + 1], protos[j0: j0 + 1], res.x_adv[i: i + 1], protos[j1: j1 + 1]]
        titles += [f"the {name}", f"P{j0 + 1}: {int(classes[j0])}", "changed", f"P{j1 + 1}: {int(classes[j1])}"]
    return stack_images(*images), titles


def class_probabilities(models: Mapping[str, nn.Module], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each model's softmax class probabilities [10] (on the CPU) for the one digit ``x`` [1,1,28,28], without
    gradients: name -> probabilities, in the order of ``models``."""
    out = {}
    with torch.no_grad():
        for name, model in models.items():
            out[name] = torch.softmax(model(x.to(model_device(model))), 1)[0].cpu()
    return out
