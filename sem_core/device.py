"""Device choice: CUDA, then MPS, then CPU; ``SEM_DEVICE`` overrides."""
from __future__ import annotations

import itertools
import os

import torch
import torch.nn as nn

from .errors import SemError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to run on.

    Args:
        device: explicit choice ("cpu", "cuda", "cuda:1", "mps"); ``None`` reads ``SEM_DEVICE``
            and otherwise picks CUDA when available, then MPS, then CPU.
    """
    choice = device if device is not None else os.environ.get("SEM_DEVICE") or None
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise SemError(f"unknown device '{choice}' (use cpu, cuda, cuda:N or mps)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SemError(f"device '{choice}' was asked for but CUDA is not available on this machine")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise SemError(f"device '{choice}' was asked for but MPS is not available on this machine")
    return dev


def describe_device(device: torch.device) -> str:
    """Human-readable name: the GPU's name, or 'CPU'."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"


def model_device(model: nn.Module) -> torch.device:
    """The device a model's parameters (else buffers) live on; the CPU for a model with neither."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if tensor is None else tensor.device
