"""Grid superpixels shared by LIME and Kernel SHAP on 28×28 digits.

Quickshift/SLIC segment natural images; a 28×28 grayscale digit is better served by a fixed
grid of ``cell``×``cell`` squares (cell = 4 -> 7×7 = 49 features), which also makes the two
backends (the authors' packages and captum) explain the same interpretable features.
"""
from __future__ import annotations

import contextlib

import torch

from ..errors import SemError

def grid_segments(height: int, width: int, cell: int, device=None) -> torch.Tensor:
    """Segment id per pixel, row-major over the grid: LongTensor ``[H,W]`` in [0, S)."""
    if cell < 1:
        raise SemError(f"superpixel cell must be >= 1 pixel; got {cell}")
    rows = torch.arange(height, device=device) // cell
    cols = torch.arange(width, device=device) // cell
    per_row = -(-width // cell)  # ceil
    return rows[:, None] * per_row + cols[None, :]


def paint(weights: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Per-superpixel weights ``[B,S]`` -> maps ``[B,1,H,W]`` constant on each superpixel."""
    return weights[:, segments][:, None]


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
    time and reseeded per image (captum loops over examples itself), so a batch gives the one-by-one maps."""
    mask = segments[None, None]  # [1,1,H,W]
    maps = []
    for i in range(x.shape[0]):
        with torch_seed(seed, x.device), torch.no_grad():
            maps.append(attribution.attribute(x[i:i + 1], baselines=0.0, target=target[i:i + 1],
                                              feature_mask=mask, n_samples=samples,
                                              perturbations_per_eval=samples))
    return torch.cat(maps)


def superpixel_attribution(name: str, backends: dict, backend: str, model, x: torch.Tensor, target: torch.Tensor,
                           samples: int, seed: int, cell: int) -> torch.Tensor:
    """Check the settings of a superpixel explainer ``name`` and run its ``backend`` on grid cells of ``cell`` pixels."""
    check_backend(backend, name, tuple(backends))
    if samples < 2:
        raise SemError(f"{name} needs samples >= 2; got {samples}")
    segments = grid_segments(x.shape[2], x.shape[3], cell, device=x.device)
    return backends[backend](model, x.detach(), target, segments, samples, seed)
