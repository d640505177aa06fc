"""The public entry points for loading the shipped models (or a card given by path)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..device import resolve_device
from ..errors import CheckpointError, UnknownNameError
from .checkpoint import SHIPPED_DIR, load_checkpoint, read_card, require_usable
from .registry import list_models


def list_shipped(family: str | None = None) -> list[str]:
    """Names of the shipped checkpoints (``assets/models/NAME.json``), optionally only those whose
    architecture is ``family`` ("cnn", "senn", "protodl"): e.g. ``list_shipped("senn")`` →
    ["senn", "senn-adv", "senn-k5", "senn-lip"] (the 5-concept senn-k5 and the robust variants share the class)."""
    names = []
    for card in sorted(SHIPPED_DIR.glob("*.json"), key=lambda p: p.stem):
        try:
            arch = read_card(card).get("model")
        except CheckpointError:
            continue
        if arch in list_models() and (family is None or arch == family):
            names.append(card.stem)
    return names


def _card_path(name: str | Path) -> Path:
    """A shipped model's card, or the card at a ``.json`` path; a clear error when there is none."""
    path = Path(name)
    if path.suffix == ".json":
        if not path.is_file():
            raise CheckpointError(f"no card at {path} (a checkpoint card is the .json file written by "
                                  f"`python -m sem_core train ... --out DIR`)")
        return path
    if str(name) not in list_models() and str(name) not in list_shipped():
        raise UnknownNameError(f"unknown model '{name}'; available: {', '.join(list_shipped())} "
                               f"(or the path of a card .json)")
    path = SHIPPED_DIR / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"the shipped '{name}' model is missing ({path}); train it with "
                              f"`python -m sem_core train --model {name} --data subset --seed 0 --out {SHIPPED_DIR}`")
    return path


def load_model(name: str | Path, device: str | torch.device | None = None) -> nn.Module:
    """The shipped (or a given card's) model in eval mode on ``device`` (default: best available).

    Example: ``model = load_model("senn"); logits = model(x)``   # x [B,1,28,28] in [0,1]
    """
    model, _ = load_model_with_card(name, device)
    return model


def load_model_with_card(name: str | Path, device: str | torch.device | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """(model in eval mode without gradients, its card). The card is validated: besides the checks of
    ``read_card``, it always has ``card["data"]`` (source, n_train, n_test, description) and
    ``card["test_accuracy"]``, so callers can read them without guarding. Raises ``CheckpointError``.
    """
    path = _card_path(name)
    require_usable(read_card(path), path.name)        # before any weights are read
    model, card = load_checkpoint(path, resolve_device(device))
    return model.requires_grad_(False), card


def model_card(name: str | Path) -> dict[str, Any]:
    """The validated JSON card of a shipped model (or of the card at a path), weights not loaded."""
    path = _card_path(name)
    return require_usable(read_card(path), path.name)
