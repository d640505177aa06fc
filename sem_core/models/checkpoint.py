"""Checkpoints: weights in ``NAME.safetensors`` plus a JSON card ``NAME.json`` (never a pickle).

The card records the architecture config, hyperparameters, data source and counts, test
accuracy, seed, training seconds, library versions, and the name, shape and dtype of every
tensor plus the SHA-256 of the weights file, so loading can say exactly what does not match.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError
from .registry import MODELS, create_model, model_name

CARD_FORMAT = "sem-explorer-checkpoint/1"
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"


def library_versions() -> dict[str, str]:
    import numpy
    import safetensors

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_checkpoint(model: nn.Module, out_dir: str | Path, card: dict[str, Any], name: str | None = None) -> Path:
    """Write ``<out_dir>/<name>.safetensors`` and ``<name>.json``; returns the card's path.

    ``card`` carries the training facts (hparams, data, test_accuracy, seed, train_seconds...);
    format, model name, config, tensors, sha256 and versions are filled in here.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    arch = model_name(model)
    name = name or arch
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = out_dir / f"{name}.safetensors"
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp), metadata={"format": CARD_FORMAT, "model": arch})
    tmp.replace(weights)
    full = {
        "format": CARD_FORMAT,
        "model": arch,
        "config": dataclasses.asdict(model.config),
        **card,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")} for k, v in state.items()},
        "weights_file": weights.name,
        "sha256": _sha256(weights),
        "versions": library_versions(),
    }
    card_path = out_dir / f"{name}.json"
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(full, indent=2) + "\n")
    tmp_card.replace(card_path)
    return card_path


def read_card(card_path: str | Path) -> dict[str, Any]:
    """Parse and sanity-check a card (``.json``)."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise CheckpointError(f"checkpoint card not found: {card_path}")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{card_path.name} is not a valid JSON card: {exc}") from exc
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise CheckpointError(f"{card_path.name} is not a SEM Explorer card (format must be '{CARD_FORMAT}')")
    for key in ("model", "config", "tensors", "weights_file"):
        if key not in card:
            raise CheckpointError(f"{card_path.name} lacks the field '{key}'")
    if card["model"] not in MODELS:
        raise CheckpointError(f"{card_path.name} names an unknown model '{card['model']}'; available: {', '.join(MODELS.names())}")
    return card


def load_checkpoint(card_path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a card describes, load and verify its weights; returns (model in eval mode, card)."""
    card_path = Path(card_path)
    card = read_card(card_path)
    weights = card_path.parent / card["weights_file"]
    if not weights.is_file():
        raise CheckpointError(f"weights file not found: {weights}")
    if "sha256" in card and _sha256(weights) != card["sha256"]:
        raise CheckpointError(f"{weights.name} does not match its card (SHA-256 differs): the weights were changed or replaced")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights.name} is not a readable safetensors file: {exc}") from exc
    problems = _compare(state, card["tensors"])
    try:
        model = create_model(card["model"], **card["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{card_path.name}: bad config: {exc}") from exc
    expected = model.state_dict()
    problems += _compare(state, {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")} for k, v in expected.items()}, what="the architecture")
    if problems:
        raise CheckpointError(f"{weights.name} does not match: " + "; ".join(problems))
    model.load_state_dict(state)
    return model.to(device).eval(), card


def _compare(state: dict[str, torch.Tensor], spec: dict[str, Any], what: str = "the card") -> list[str]:
    problems = []
    missing = sorted(set(spec) - set(state))
    extra = sorted(set(state) - set(spec))
    if missing:
        problems.append(f"tensors in {what} but not in the file: {', '.join(missing)}")
    if extra:
        problems.append(f"tensors in the file but not in {what}: {', '.join(extra)}")
    for k in sorted(set(spec) & set(state)):
        shape, dtype = list(state[k].shape), str(state[k].dtype).removeprefix("torch.")
        if shape != list(spec[k]["shape"]) or dtype != spec[k]["dtype"]:
            problems.append(f"'{k}' is {dtype}{shape} in the file but {spec[k]['dtype']}{spec[k]['shape']} in {what}")
    return problems


def shipped_card_path(name: str) -> Path:
    return SHIPPED_DIR / f"{name}.json"
