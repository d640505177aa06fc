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
    if backend not in available:
        raise SemError(f"unknown {method} backend '{backend}'; available: {', '.join(available)}")


@contextlib.contextmanager
def torch_seed(seed: int, device: torch.device):
    """Seed torch's RNG inside the block and restore the caller's RNG state afterwards."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
