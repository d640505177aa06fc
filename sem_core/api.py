"""The public entry points for loading the shipped models."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .device import resolve_device
from .errors import CheckpointError, UnknownNameError
from .models.checkpoint import SHIPPED_DIR, load_checkpoint, read_card
from .models.registry import list_models


def _card_path(name: str | Path) -> Path:
    path = Path(name)
    if path.suffix == ".json":
        return path
    if str(name) not in list_models():
        raise UnknownNameError(f"unknown model '{name}'; available: {', '.join(list_models())}")
    return SHIPPED_DIR / f"{name}.json"


def load_model(name: str | Path, device: str | torch.device | None = None) -> nn.Module:
    """The shipped (or a given card's) model in eval mode on ``device`` (default: best available).

    Example: ``model = load_model("senn"); logits = model(x)``   # x [B,1,28,28] in [0,1]
    """
    model, _ = load_model_with_card(name, device)
    return model


def load_model_with_card(name: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, dict[str, Any]]:
    path = _card_path(name)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint for '{name}' at {path}; train one with "
            f"`python -m sem_core train --model {Path(name).stem} --out {path.parent}`"
        )
    model, card = load_checkpoint(path, resolve_device(device))
    return model.requires_grad_(False), card


def model_card(name: str | Path) -> dict[str, Any]:
    """The JSON card of a shipped model (or of the card at a path)."""
    return read_card(_card_path(name))
