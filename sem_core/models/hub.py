"""The public entry points for loading the shipped models, the cards of ``$SEM_MODELS_DIR``, or a card by path.

``$SEM_MODELS_DIR``: one or more folders of cards (``NAME.json`` beside ``NAME.safetensors``, as
``save_checkpoint`` writes them), separated by ``os.pathsep``; their models are listed and loaded by name beside
the shipped ones (a shipped name wins over a card of the same name). Before a model is listed or loaded, the
configured plug-ins are imported (``plugins.ensure_plugins``), so cards of plug-in architectures work by name.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..device import resolve_device
from ..errors import CheckpointError, UnknownNameError
from .checkpoint import SHIPPED_DIR, load_checkpoint, read_card, require_usable, write_card
from .plugins import ensure_plugins
from .registry import is_plugin_architecture, list_models

MODELS_DIR_ENV = "SEM_MODELS_DIR"
UPLOADS_DIR_ENV = "SEM_UPLOADS_DIR"
#: the largest weights file the app accepts as an upload (the shipped models are under 2 MB)
MAX_UPLOAD_BYTES = 50_000_000
log = logging.getLogger(__name__)
_WARNED: set[tuple[str, str]] = set()   # (card, reason) already logged: a page lists the models at every run


def model_dirs() -> list[Path]:
    """Where cards are listed from: the shipped ``assets/models``, each folder of ``$SEM_MODELS_DIR``, then the
    folder of models uploaded in the app (``uploads_dir``)."""
    extra = [Path(p) for p in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if p.strip()]
    return [SHIPPED_DIR, *extra, uploads_dir()]


def uploads_dir() -> Path:
    """The folder of the models uploaded in the app: ``$SEM_UPLOADS_DIR``, default
    ``~/.cache/sem_explorer/uploaded-models`` (listed by every session of the server that reads it)."""
    default = Path.home() / ".cache" / "sem_explorer" / "uploaded-models"
    return Path(os.environ.get(UPLOADS_DIR_ENV) or default)


def accept_upload(card_bytes: bytes, weights_bytes: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Check an uploaded card and its safetensors weights and add them to ``uploads_dir()``; returns the name the
    model is listed under (``upload-`` + the first 10 hex digits of its weights' SHA-256).

    Weights only, never code: the card's architecture must already be registered (shipped, or a plug-in the server
    imported), the weights must hash to the card's SHA-256 and hold exactly its tensors, finite; the weights file is
    at most ``max_bytes`` and the card a few MB. Anything else is a one-line ``CheckpointError``; nothing is kept.
    """
    import hashlib
    import json
    import tempfile

    if len(weights_bytes) > max_bytes:
        raise CheckpointError(f"the weights file is too large ({len(weights_bytes) / 1e6:.1f} MB); the limit is "
                              f"{max_bytes / 1e6:.0f} MB")
    try:
        card = json.loads(card_bytes.decode("utf-8")) if len(card_bytes) < 5_000_000 else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        card = None
    if not isinstance(card, dict) or not isinstance(card.get("weights_file"), str):
        raise CheckpointError("the card is not a SEM Explorer card (a JSON object written by save_checkpoint)")
    sha = hashlib.sha256(weights_bytes).hexdigest()
    name = f"upload-{sha[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "card.json"
        staged.write_bytes(card_bytes)
        if Path(card["weights_file"]).name != card["weights_file"] or card["weights_file"] in ("", ".", ".."):
            raise CheckpointError("the card's weights_file must be a plain file name")
        (Path(tmp) / card["weights_file"]).write_bytes(weights_bytes)
        model, checked = load_checkpoint(staged)   # the card's seal, the hash, the tensors, the architecture
        require_usable(checked, "the uploaded card")
        _check_finite(model)
        folder = uploads_dir()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.safetensors"            # the weights first: a listed card always has its weights
        target.with_name(target.name + ".tmp").write_bytes(weights_bytes)
        target.with_name(target.name + ".tmp").replace(target)
        write_card(folder / f"{name}.json", {**checked, "weights_file": target.name})   # renamed: sealed again
    return name


def _check_finite(model: nn.Module) -> None:
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"the weights hold NaN or Inf values ({', '.join(bad[:3])})")


def _warn_once(card: Path, reason: str) -> None:
    if (str(card), reason) not in _WARNED:
        _WARNED.add((str(card), reason))
        log.warning("%s: %s is not listed: %s", MODELS_DIR_ENV, card, reason)


def _listing(family: str | None = None) -> dict[str, Path]:
    """name -> card of every usable card of ``model_dirs()`` (first folder wins a name), optionally of one family."""
    ensure_plugins()
    seen: dict[str, tuple[Path, str]] = {}   # name -> (card, architecture), every family
    for i, folder in enumerate(model_dirs()):
        for card in sorted(folder.glob("*.json"), key=lambda p: p.stem) if folder.is_dir() else []:
            try:
                arch = require_usable(read_card(card), card.name)["model"]
            except CheckpointError as exc:
                if i:
                    _warn_once(card, str(exc))
                continue
            if card.stem in seen:
                _warn_once(card, f"the name '{card.stem}' is taken by {seen[card.stem][0]}")
            else:
                seen[card.stem] = (card, arch)
    return {name: card for name, (card, arch) in seen.items() if family is None or arch == family}


def list_shipped(family: str | None = None) -> list[str]:
    """Names of the shipped checkpoints (``assets/models/NAME.json``) and of the cards in ``$SEM_MODELS_DIR``,
    optionally only those whose architecture is ``family`` ("cnn", "senn", "protodl", or a plug-in's): e.g.
    ``list_shipped("senn")`` → ["senn", "senn-adv", "senn-k5", "senn-lip", "senn-madry"] (the 5-concept senn-k5 and the robust
    variants share the class). A card in ``$SEM_MODELS_DIR`` that cannot be used is left out with a logged warning."""
    return sorted(_listing(family))


def _card_path(name: str | Path) -> Path:
    """A listed model's card (shipped or ``$SEM_MODELS_DIR``), or the card at a ``.json`` path; a clear error when
    there is none."""
    path = Path(name)
    if path.suffix == ".json":
        if not path.is_file():
            raise CheckpointError(f"no card at {path} (a checkpoint card is the .json file written by "
                                  f"`python -m sem_core train ... --out DIR` or save_checkpoint)")
        return path
    listed = _listing()
    if str(name) in listed:
        return listed[str(name)]
    if str(name) not in list_models() or is_plugin_architecture(str(name)):
        raise UnknownNameError(f"unknown model '{name}'; available: {', '.join(sorted(listed))} "
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
    ``name``: a listed name (``list_shipped``) or a card's path; a card of a plug-in architecture needs its
    plug-in loaded (``--plugin``, ``$SEM_PLUGINS``, an entry point, or ``load_plugin``).
    """
    ensure_plugins()
    path = _card_path(name)
    require_usable(read_card(path), path.name)        # before any weights are read
    model, card = load_checkpoint(path, resolve_device(device))
    return model.requires_grad_(False), card


def model_card(name: str | Path) -> dict[str, Any]:
    """The validated JSON card of a listed model (or of the card at a path), weights not loaded."""
    ensure_plugins()
    path = _card_path(name)
    return require_usable(read_card(path), path.name)
