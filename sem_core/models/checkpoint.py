"""Checkpoints: weights in ``NAME.safetensors`` plus a JSON card ``NAME.json`` (never a pickle).

The card records the architecture (its registry name and ``module:QualName``) and config, hyperparameters, data
source and counts, test accuracy, seed, training seconds, library versions, and the name, shape and dtype of every
tensor plus the SHA-256 of the weights file, so loading can say exactly what does not match.
A researcher's own architecture (``register_architecture``, usually in a plug-in) is saved the same way: its
config is the constructor's keyword arguments (``save_checkpoint(..., config={...})`` or ``model.init_kwargs``).
Loading never imports code: a card whose architecture is not registered is refused, naming what to register.
Cards are untrusted input: ``read_card`` checks their shape (the hash is required, the weights
file must be a plain name in the card's folder, the config must build the listed tensors) before
any weights are read, and every problem is a ``CheckpointError`` that says what to fix.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import math
import platform
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from ..errors import CheckpointError
from .registry import (MODELS, build_architecture, create_model, import_path, is_plugin_architecture, model_name,
                       uses_config_dataclass)

CARD_FORMAT = "sem-explorer-checkpoint/1"
TRAINED_SOURCES = ("mnist", "subset", "fashion-mnist", "cifar10")   # what a card's data.source may be ("auto" is resolved before training)
MAX_CARD_BYTES = 10_000_000             # a card is a few kB; refuse to parse anything near this
MAX_WEIGHTS_BYTES = 500_000_000         # the shipped weights are < 5 MB; refuse to read and hash huge files
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]{0,199}:[A-Za-z_][\w.]{0,199}")
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"


def library_versions() -> dict[str, str]:
    """The versions of Python and the libraries that shape a checkpoint, for its card."""
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


def save_checkpoint(model: nn.Module, out_dir: str | Path, card: dict[str, Any], name: str | None = None, *,
                    config: dict[str, Any] | None = None) -> Path:
    """Write ``<out_dir>/<name>.safetensors`` and ``<name>.json``; returns the card's path.

    ``model``: an instance of a registered architecture (shipped, or ``register_architecture``: its plug-in).
    ``card`` carries the training facts (hparams, data, test_accuracy, seed, train_seconds...; the app and the
    CLI need ``data`` and ``test_accuracy``); format, model name, architecture (``module:QualName``), config,
    tensors, sha256 and versions are filled in here, and ``input_shape`` / ``n_classes`` from the model's
    attributes of those names when it has them and ``card`` does not. ``config``: the constructor's keyword
    arguments (JSON) of an architecture without a ``Config`` dataclass; default ``model.init_kwargs``, or ``{}``
    for a constructor without parameters. The config must rebuild the model's tensors (checked here).
    Example: ``save_checkpoint(SmallCNN(width=8), "runs", {"test_accuracy": 0.9, "data": {...}}, "small")``
    (``SmallCNN`` keeps ``self.init_kwargs = {"width": width}``; or pass ``config={"width": 8}``)
    """
    try:
        arch = model_name(model)
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    config = _saved_config(model, config)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _check_rebuilds(arch, type(model), config, state)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or arch
    weights = out_dir / f"{name}.safetensors"
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp), metadata={"format": CARD_FORMAT, "model": arch})
    tmp.replace(weights)
    full = {
        "format": CARD_FORMAT,
        "model": arch,
        "architecture": import_path(type(model)),
        "config": config,
        **_shape_facts(model, card),
        **card,
        "tensors": _specs(state),
        "weights_file": weights.name,
        "sha256": _sha256(weights),
        "versions": library_versions(),
    }
    card_path = out_dir / f"{name}.json"
    write_card(card_path, full)
    return card_path


def card_digest(card: dict[str, Any]) -> str:
    """SHA-256 of the card's canonical JSON (sorted keys, no spaces) without its own ``card_sha256``: the card's
    every field — architecture, config, data, accuracy, the weights' ``sha256`` — is inside the seal."""
    body = {k: v for k, v in card.items() if k != "card_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(card: dict[str, Any]) -> dict[str, Any]:
    """``card`` with its ``card_sha256`` (re)computed; for a card you edited on purpose (``write_card`` seals)."""
    return {**card, "card_sha256": card_digest(card)}


def write_card(path: str | Path, card: dict[str, Any]) -> Path:
    """Write ``card`` sealed (``seal``) to ``path`` atomically, as indented JSON; returns the path."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(seal(card), indent=2) + "\n")
    tmp.replace(path)
    return path


def _check_seal(name: str, card: dict[str, Any]) -> None:
    try:
        expected = card_digest(card)
    except (TypeError, ValueError, RecursionError):
        raise CheckpointError(f"{name} holds values a card cannot hold (not plain JSON)") from None
    if "card_sha256" not in card:
        raise CheckpointError(f"{name} is not sealed (no card_sha256: saved by an older version or written by hand); "
                              f"re-save it with save_checkpoint, or seal it: sem_core.models.checkpoint.write_card")
    if card["card_sha256"] != expected:
        raise CheckpointError(f"{name} was edited after it was saved (its card_sha256 does not match its fields): "
                              f"its numbers cannot be trusted; re-save the model, or seal a deliberate edit with "
                              f"sem_core.models.checkpoint.write_card")


def _saved_config(model: nn.Module, config: dict[str, Any] | None) -> dict[str, Any]:
    """The config the card records, as JSON values: the Config dataclass of a shipped-style model; otherwise
    ``config``, ``model.init_kwargs`` or (a constructor without parameters) ``{}``."""
    cls = type(model)
    if config is None and uses_config_dataclass(cls):
        config = dataclasses.asdict(model.config)
    if config is None:
        config = getattr(model, "init_kwargs", None)
    if config is None and not _named_parameters(cls):
        config = {}
    if config is None:
        raise CheckpointError(f"save_checkpoint needs the keyword arguments {cls.__name__} was built with: pass "
                              f"config={{...}} or keep them in self.init_kwargs in its constructor")
    if not isinstance(config, dict):
        raise CheckpointError(f"the config of {cls.__name__} must be a dict of keyword arguments, got {_short(config)}")
    try:
        return json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"the config of {cls.__name__} must be JSON (numbers, strings, booleans, lists, "
                              f"objects): {exc}") from None


def _check_rebuilds(arch: str, cls: type, config: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    """Before anything is written: ``config`` passes the load-time checks and builds ``state``'s tensors."""
    _check_config(f"save_checkpoint({arch})", arch, config)
    try:
        built = _architecture(cls, json.dumps(config, sort_keys=True))
    except Exception as exc:  # the architecture's own constructor, on the config given: any error, in one line
        raise CheckpointError(f"the config {_short(config)} does not build a {arch}: {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())}") from None
    problems = _compare(built, _specs(state), what="the model", have="what the config builds")
    if problems:
        raise CheckpointError(f"the config {_short(config)} does not rebuild this {arch}: " + "; ".join(problems)
                              + " (pass the constructor's keyword arguments as config= or keep them in "
                                "self.init_kwargs)")


def _named_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The constructor's parameters that can be given by keyword (``self``, ``*args``, ``**kwargs`` left out)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _shape_facts(model: nn.Module, card: dict[str, Any]) -> dict[str, Any]:
    """``input_shape`` and ``n_classes`` from the model's attributes, when it has them and ``card`` does not."""
    facts = {}
    for key in ("input_shape", "n_classes"):
        value = getattr(model, key, None)
        if key not in card and value is not None:
            facts[key] = list(value) if key == "input_shape" else value
    return facts


def read_card(card_path: str | Path) -> dict[str, Any]:
    """Parse a card (``.json``) and check its shape; returns it as a dict.

    Checked here, before any weights are touched: the format tag; ``model`` is a registered name;
    ``config`` has only that model's fields, with values of the right types; ``tensors`` lists the
    shapes and dtypes the config builds; ``weights_file`` is a plain file name in the card's folder;
    ``sha256`` is a SHA-256 hex digest (required: it is what ties the card's numbers to the weights);
    ``data`` and ``test_accuracy``, when present, are well formed (``require_usable``: present).
    Example: ``card = read_card("assets/models/senn.json"); card["config"]["n_concepts"]``
    """
    card_path = Path(card_path)
    if not card_path.is_file():
        raise CheckpointError(f"no checkpoint card at {card_path} (file not found)")
    if card_path.stat().st_size > MAX_CARD_BYTES:
        raise CheckpointError(f"{card_path.name} is too large for a card ({card_path.stat().st_size / 1e6:.1f} MB)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{card_path.name} is not a valid JSON card: {exc}") from None
    name = card_path.name
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise CheckpointError(f"{name} is not a SEM Explorer card (format must be '{CARD_FORMAT}')")
    _check_seal(name, card)
    for key in ("model", "config", "tensors", "weights_file"):
        if key not in card:
            raise CheckpointError(f"{name} lacks the field '{key}'")
    _check_model(name, card)
    _check_config(name, card["model"], card["config"])
    _check_tensors(name, card["tensors"])
    _check_architecture(name, card)
    _check_weights_file(name, card["weights_file"])
    sha = card.get("sha256")
    if sha is None:
        raise CheckpointError(
            f"card {name} has no weights hash ('sha256'), so its weights cannot be checked against it: re-save the "
            f"model with sem_core.models.checkpoint.save_checkpoint" + ("" if is_plugin_architecture(card["model"]) else
            f", or retrain it with `python -m sem_core train --model {card['model']} --out {card_path.parent}`"))
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        raise CheckpointError(f"{name}: 'sha256' must be 64 hexadecimal digits, got {_short(sha)}")
    if "data" in card:
        _check_data(name, card["data"])
    if "test_accuracy" in card:
        _check_accuracy(name, card["test_accuracy"])
    _check_shape_facts(name, card)
    return card


def require_usable(card: dict[str, Any], name: str) -> dict[str, Any]:
    """A card the app and CLI can use: it also says what data the model was trained and tested on
    (``data``: source, n_train, n_test, description) and its ``test_accuracy``. Returns the card."""
    retrain = (f"retrain it with `python -m sem_core train --model {card['model']} --out DIR`"
               if not is_plugin_architecture(card["model"]) else
               "re-save it with save_checkpoint(model, out_dir, {\"data\": {...}, \"test_accuracy\": ...}) "
               "(docs/models.md)")
    if "data" not in card:
        raise CheckpointError(f"card {name} has no data section, so the data its model was trained and tested "
                              f"on is unknown; {retrain}")
    if "test_accuracy" not in card:
        raise CheckpointError(f"card {name} has no test_accuracy; {retrain}")
    return card


def load_checkpoint(card_path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a card describes, load and verify its weights; returns (model in eval mode, card).

    The weights file must lie in the card's folder, hash to the card's SHA-256 and hold exactly the
    card's tensors (which ``read_card`` has checked against the architecture the config builds).
    """
    card_path = Path(card_path)
    card = read_card(card_path)
    folder = card_path.parent.resolve()
    weights = folder / card["weights_file"]
    if not weights.is_file():
        raise CheckpointError(f"weights file not found: {weights} (named by {card_path.name})")
    if weights.resolve().parent != folder:
        raise CheckpointError(f"{card_path.name}: the weights file {weights.name} links outside the card's folder")
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{weights.name} is too large ({weights.stat().st_size / 1e9:.1f} GB)")
    blob = weights.read_bytes()  # hash exactly the bytes that are parsed
    if hashlib.sha256(blob).hexdigest() != card["sha256"].lower():
        raise CheckpointError(f"{weights.name} does not match its card (SHA-256 differs): the weights were changed or replaced")
    try:
        state = load_safetensors(blob)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights.name} is not a readable safetensors file: {exc}") from exc
    problems = _compare(state, card["tensors"])             # read_card checked the card against the architecture
    if problems:
        raise CheckpointError(f"{weights.name} does not match: " + "; ".join(problems))
    model = create_model(card["model"], **card["config"])
    model.load_state_dict(state)
    return model.to(device).eval(), card


def _spec(t: torch.Tensor) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}


def _specs(state: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    return {k: _spec(v) for k, v in state.items()}


def _short(value: Any) -> str:
    """``value`` for a one-line message: ``ascii`` (control and non-ASCII characters escaped, never echoed raw to
    a terminal), at most 60 characters."""
    text = ascii(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_model(name: str, card: dict[str, Any]) -> None:
    """``model`` is a registered architecture, the one the card's ``architecture`` (``module:QualName``) names when
    it is a plug-in's. Nothing is imported here: an unregistered plug-in architecture is refused, saying so."""
    model, arch = card["model"], card.get("architecture")
    if arch is not None and not (isinstance(arch, str) and _IMPORT_PATH.fullmatch(arch)):
        raise CheckpointError(f"{name}: 'architecture' must be an import path module:QualName, got {_short(arch)}")
    if not isinstance(model, str) or model not in MODELS:
        if isinstance(model, str) and arch is not None and not arch.startswith("sem_core."):
            module = arch.partition(":")[0]
            raise CheckpointError(
                f"{name}: architecture '{arch}' (model {_short(model)}) is not registered: pass --plugin FILE "
                f"(the file or module that registers it, e.g. --plugin {module.replace('.', '/')}.py) or set "
                f"SEM_PLUGINS; in Python, sem_core.models.load_plugin(FILE) or register_architecture(cls)")
        raise CheckpointError(f"{name} names an unknown model {_short(model)}; available: {', '.join(MODELS.names())}")
    registered = import_path(MODELS.get(model))
    if arch is not None and is_plugin_architecture(model) and arch != registered:
        raise CheckpointError(f"{name} was saved from architecture '{arch}', but model '{model}' is registered as "
                              f"'{registered}' (if the class was moved or renamed, edit the card's 'architecture')")


def _check_config(name: str, model: str, config: Any) -> None:
    """The config's keys are the model's config fields (or constructor arguments); each value has its default's type."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{name}: 'config' must be an object, got {_short(config)}")
    if not uses_config_dataclass(MODELS.get(model)):
        _check_kwargs(name, model, config)
        return
    fields = {f.name: f for f in dataclasses.fields(MODELS.get(model).Config)}
    unknown = sorted(set(config) - set(fields), key=str)
    if unknown:
        raise CheckpointError(f"{name}: unknown config keys for model '{model}': {', '.join(map(str, unknown))}; "
                              f"known keys: {', '.join(fields)}")
    for key, value in config.items():
        default = fields[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = _is_int(value)
        elif isinstance(default, float):
            ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, tuple):
            ok = isinstance(value, list) and len(value) == len(default) and all(_is_int(v) for v in value)
        else:  # a field type this check does not know: the model's constructor judges it
            ok = True
        if not ok:
            raise CheckpointError(f"{name}: config '{key}' = {_short(value)} does not have the type of its "
                                  f"default ({default!r})")


def _check_kwargs(name: str, model: str, config: dict[str, Any]) -> None:
    """A keyword-argument architecture: known argument names (unless it takes ``**kwargs``), every required one
    given, and each value of its default's type where the default is a number, string or boolean."""
    cls = MODELS.get(model)
    open_ended = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())
    named = _named_parameters(cls)
    unknown = sorted(set(config) - set(named), key=str)
    if unknown and not open_ended:
        raise CheckpointError(f"{name}: unknown config keys for model '{model}': {', '.join(map(str, unknown))}; "
                              f"known keys: {', '.join(named) or '(none)'}")
    missing = [k for k, p in named.items() if p.default is p.empty and k not in config]
    if missing:
        raise CheckpointError(f"{name}: config lacks the required argument(s) {', '.join(missing)} of model '{model}'")
    for key, value in config.items():
        default = named[key].default if key in named else None
        if isinstance(default, (bool, int, float, str)) and not _fits(value, default):
            raise CheckpointError(f"{name}: config '{key}' = {_short(value)} does not have the type of its "
                                  f"default ({default!r})")


def _fits(value: Any, default: bool | int | float | str) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return _is_int(value)
    if isinstance(default, float):
        return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
    return isinstance(value, str)


def _check_shape_facts(name: str, card: dict[str, Any]) -> None:
    """``input_shape`` (a list of positive ints) and ``n_classes`` (a positive int), when present."""
    if "input_shape" in card:
        shape = card["input_shape"]
        if not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(_is_int(n) and n > 0 for n in shape)):
            raise CheckpointError(f"{name}: 'input_shape' must be a list of positive integers like [1, 28, 28], "
                                  f"got {_short(shape)}")
    if "n_classes" in card and not (_is_int(card["n_classes"]) and card["n_classes"] > 0):
        raise CheckpointError(f"{name}: 'n_classes' must be a positive integer, got {_short(card['n_classes'])}")


def _check_architecture(name: str, card: dict[str, Any]) -> None:
    """The config builds a model whose tensors are the card's. Built on the ``meta`` device: no memory
    is allocated, so a hostile config (a width of 10⁹) costs nothing before it is refused."""
    try:
        shapes = _architecture(MODELS.get(card["model"]), json.dumps(card["config"], sort_keys=True))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{name}: bad config: {exc}") from None
    except Exception as exc:  # a plug-in's constructor may raise anything on a hostile config
        raise CheckpointError(f"{name}: bad config: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    problems = _compare(shapes, card["tensors"], have="the architecture")
    if problems:
        raise CheckpointError(f"{name}: the config does not match the card's tensors: " + "; ".join(problems))


@functools.lru_cache(maxsize=64)
def _architecture(cls: type, config_json: str) -> dict[str, torch.Tensor]:
    """The tensors (on ``meta``: shapes and dtypes only) that the architecture ``cls`` builds from a config (as
    sorted JSON). Cached: every page run lists the shipped models, and building each skeleton cost ≈ 10 ms of
    Python. Keyed by the class (not its name), so a name registered again by another plug-in is never confused."""
    with torch.device("meta"):
        return dict(build_architecture(cls, json.loads(config_json)).state_dict())


def _check_tensors(name: str, tensors: Any) -> None:
    ok = isinstance(tensors, dict) and all(
        isinstance(spec, dict) and isinstance(spec.get("dtype"), str) and isinstance(spec.get("shape"), list)
        and all(_is_int(n) and n >= 0 for n in spec["shape"])
        for spec in tensors.values())
    if not ok:
        raise CheckpointError(f"{name}: 'tensors' must map each tensor name to {{\"shape\": [ints], \"dtype\": str}}")


def _check_weights_file(name: str, weights_file: Any) -> None:
    """A plain file name in the card's folder: no folders, no '..', no absolute path, no control characters or
    surrounding spaces (a trailing newline would otherwise read as "not found" for a file that exists)."""
    plain = (isinstance(weights_file, str) and weights_file not in ("", ".", "..")
             and not any(c in weights_file for c in "/\\\0:") and Path(weights_file).name == weights_file
             and weights_file == weights_file.strip() and not any(ord(c) < 32 or ord(c) == 127 for c in weights_file))
    if not plain:
        raise CheckpointError(f"{name}: 'weights_file' must be a plain file name in the card's folder "
                              f"(no folders, no '..', no control characters or surrounding spaces), got "
                              f"{_short(weights_file)}")


def _check_data(name: str, data: Any) -> None:
    ok = (isinstance(data, dict) and data.get("source") in TRAINED_SOURCES
          and _is_int(data.get("n_train")) and data["n_train"] >= 0
          and _is_int(data.get("n_test")) and data["n_test"] >= 0
          and isinstance(data.get("description"), str))
    if not ok:
        raise CheckpointError(
            f"card {name} has a malformed data section {_short(data)}: it needs 'source' (one of "
            f"{', '.join(TRAINED_SOURCES)}), 'n_train' and 'n_test' (counts) and 'description' (text)")


def _check_accuracy(name: str, acc: Any) -> None:
    if not ((_is_int(acc) or isinstance(acc, float)) and 0.0 <= acc <= 1.0):
        raise CheckpointError(f"card {name}: 'test_accuracy' must be a number in [0, 1], got {_short(acc)}")


def _compare(state: dict[str, torch.Tensor], spec: dict[str, Any], what: str = "the card",
             have: str = "the file") -> list[str]:
    """What differs between real tensors (``have``) and a {name: {shape, dtype}} spec (``what``)."""
    problems = []
    missing = sorted(set(spec) - set(state))
    extra = sorted(set(state) - set(spec))
    if missing:
        problems.append(f"tensors in {what} but not in {have}: {', '.join(missing)}")
    if extra:
        problems.append(f"tensors in {have} but not in {what}: {', '.join(extra)}")
    for k in sorted(set(spec) & set(state)):
        shape, dtype = list(state[k].shape), str(state[k].dtype).removeprefix("torch.")
        if shape != list(spec[k]["shape"]) or dtype != spec[k]["dtype"]:
            problems.append(f"'{k}' is {dtype}{shape} in {have} but {spec[k]['dtype']}{spec[k]['shape']} in {what}")
    return problems
