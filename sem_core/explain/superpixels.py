"""Grid superpixels shared by LIME and Kernel SHAP on images ``[B,C,H,W]``.

Quickshift/SLIC segment natural images; a 28×28 grayscale digit is better served by a fixed
grid of ``cell``×``cell`` squares (cell = 4 -> 7×7 = 49 features), which also makes the two
backends (the authors' packages and captum) explain the same interpretable features.

Sizes scale with the image: ``cell`` (and occlusion's window and stride) are given in pixels of a
28×28 image and become ``⌈cell·H/28⌉`` rows × ``⌈cell·W/28⌉`` columns on an H×W image
(``scale_to_image``), so every image gets about the same 7×7 grid (49 features) and the same
sample budget fits every size; on 28×28 the sizes are exactly the given ones. One segment mask
covers all C channels.
"""
from __future__ import annotations

import contextlib

import torch

from ..errors import SemError

REFERENCE_SIDE = 28  # the image side (MNIST) at which the explainers' pixel sizes are given as they are


def scale_to_image(pixels: int, side: int) -> int:
    """A size of ``pixels`` on a 28-pixel side, on a ``side``-pixel side: ``⌈pixels·side/28⌉`` (integer arithmetic, so
    exactly ``pixels`` when side = 28; at least 1 when pixels >= 1). Example: ``scale_to_image(4, 64) == 10``."""
    return -(-pixels * side // REFERENCE_SIDE)


def grid_segments(height: int, width: int, cell: int, device=None, *, cell_w: int | None = None) -> torch.Tensor:
    """Segment id per pixel, row-major over a grid of ``cell`` rows × ``cell_w`` columns (default ``cell``: squares)
    per superpixel, in pixels (no scaling): LongTensor ``[H,W]`` in [0, S); the last row/column of cells may be
    narrower. Example: ``grid_segments(28, 28, 4)`` -> 7×7 = 49 squares of 4×4 pixels."""
    cell_w = cell if cell_w is None else cell_w
    if cell < 1 or cell_w < 1:
        raise SemError(f"superpixel cell must be >= 1 pixel; got {cell}" + ("" if cell_w == cell else f"×{cell_w}"))
    rows = torch.arange(height, device=device) // cell
    cols = torch.arange(width, device=device) // cell_w
    per_row = -(-width // cell_w)  # ceil
    return rows[:, None] * per_row + cols[None, :]


def image_segments(name: str, shape: torch.Size, cell: int, device=None) -> torch.Tensor:
    """The grid superpixels of explainer ``name`` on images of ``shape`` [B,C,H,W]: cells of ``cell`` pixels at 28×28,
    scaled per axis (``scale_to_image``) -> LongTensor ``[H,W]``. A grid of fewer than 2 superpixels (a tiny image or
    a cell wider than 28) raises ``SemError`` naming the shape."""
    height, width = shape[-2:]
    if cell < 1:
        raise SemError(f"superpixel cell must be >= 1 pixel; got {cell}")
    rows, cols = scale_to_image(cell, height), scale_to_image(cell, width)
    if -(-height // rows) * -(-width // cols) < 2:
        raise SemError(f"{name} needs at least 2 superpixels; an image of shape {tuple(shape)} with cell {cell} "
                       f"({rows}×{cols} px there) has 1")
    return grid_segments(height, width, rows, device=device, cell_w=cols)


def paint(weights: torch.Tensor, segments: torch.Tensor, channels: int = 1) -> torch.Tensor:
    """Per-superpixel weights ``[B,S]`` -> maps ``[B,C,H,W]`` constant on each superpixel, the same in every channel."""
    return weights[:, segments][:, None].repeat(1, channels, 1, 1)


def check_backend(backend: str, method: str, available: tuple[str, ...]) -> None:
    """The backend name if it is one of ``backends``, else a ``SemError`` listing them."""
    if backend not in available:
        raise SemError(f"unknown {method} backend '{backend}'; available: {', '.join(available)}")


@contextlib.contextmanager
def torch_seed(seed: int, device: torch.device):
    """Seed torch's RNG inside the block and restore the caller's RNG state afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def captum_per_image(attribution, x: torch.Tensor, target: torch.Tensor, segments: torch.Tensor, samples: int,
                     seed: int) -> torch.Tensor:
    """A captum perturbation attribution (Lime, KernelShap) over the grid ``segments``, one image at a
    time and reseeded per image (captum loops over examples itself), so a batch gives the one-by-one maps.
    ``x`` [B,C,H,W]; the mask covers every channel, so the maps are [B,C,H,W], the same in every channel."""
    mask = segments[None, None]  # [1,1,H,W], broadcast over the C channels
    maps = []
    for i in range(x.shape[0]):
        with torch_seed(seed, x.device), torch.no_grad():
            maps.append(attribution.attribute(x[i:i + 1], baselines=0.0, target=target[i:i + 1],
                                              feature_mask=mask, n_samples=samples,
                                              perturbations_per_eval=samples))
    return torch.cat(maps)


def superpixel_attribution(name: str, backends: dict, backend: str, model, x: torch.Tensor, target: torch.Tensor,
                           samples: int, seed: int, cell: int) -> torch.Tensor:
    """Check the settings of a superpixel explainer ``name`` and run its ``backend`` on grid cells of ``cell`` pixels
    at 28×28 (scaled to the image, ``image_segments``). ``x`` [B,C,H,W] -> maps [B,C,H,W]."""
    check_backend(backend, name, tuple(backends))
    if samples < 2:
        raise SemError(f"{name} needs samples >= 2; got {samples}")
    segments = image_segments(name, x.shape, cell, device=x.device)
    return backends[backend](model, x.detach(), target, segments, samples, seed)
