"""The model registry: ``create_model(name, **config)``, ``list_models()``, ``with_activation``, and
``register_architecture`` for a researcher's own ``nn.Module`` (docs/models.md, "Your own architecture").

An architecture is built one of two ways, told apart by its class:
- *config dataclass* (the shipped SENN, PrototypeDL, CNN): ``cls.Config`` is a dataclass and the constructor
  takes one instance of it; ``create_model("senn", n_concepts=12)`` builds ``SENN(SENNConfig(n_concepts=12))``;
- *keyword arguments* (any other registered ``nn.Module``): ``create_model("SmallCNN", width=8)`` calls
  ``SmallCNN(width=8)``; the arguments must be JSON (numbers, strings, booleans, lists, objects).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

import torch.nn as nn

from ..registry import Registry

MODELS: Registry[type[nn.Module]] = Registry("model")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")


def list_models() -> list[str]:
    """The registered model architectures (cnn, senn, protodl, and those of loaded plug-ins), sorted."""
    return MODELS.names()


def import_path(cls: type) -> str:
    """Where a class lives, as ``module:QualName`` (e.g. ``"sem_core.models.cnn:CNN"``, ``"my_models:SmallCNN"``)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def is_plugin_architecture(name: str) -> bool:
    """Whether the registered architecture ``name`` comes from outside sem_core (a plug-in or the user's code)."""
    return not MODELS.get(name).__module__.startswith("sem_core.")


def uses_config_dataclass(cls: type) -> bool:
    """Whether ``cls`` is built from one config dataclass (``cls.Config``), as the shipped models are; otherwise its
    constructor takes keyword arguments."""
    return dataclasses.is_dataclass(getattr(cls, "Config", None))


def register_architecture(cls: type[nn.Module], name: str | None = None) -> type[nn.Module]:
    """Make a researcher's ``nn.Module`` subclass a model architecture that ``create_model``, ``save_checkpoint``
    and ``load_model`` know, under ``name`` (default: the class name, e.g. ``"SmallCNN"``). Returns the class, so
    ``@register_architecture`` also works as a decorator (default name).

    The constructor takes JSON keyword arguments (or, as the shipped models, one ``Config`` dataclass); input
    ``[B,1,28,28]`` in [0, 1], output logits ``[B,10]``. Registering the same class twice under one name is a
    no-op; another class under a taken name raises ValueError.
    Example: ``register_architecture(SmallCNN)``; ``create_model("SmallCNN", width=8)``
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"register_architecture takes an nn.Module subclass, got {cls!r}")
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"architecture name must be letters, digits, _ . - (at most 100), got {name!r}")
    if name in MODELS:
        if MODELS.get(name) is cls:
            return cls
        raise ValueError(f"model '{name}' is already registered ({import_path(MODELS.get(name))}); "
                         f"register {import_path(cls)} under another name: register_architecture(cls, name=...)")
    return MODELS.register(name)(cls)


def config_from_dict(cls: type, values: dict[str, Any]):
    """Build a config dataclass from JSON values (lists become tuples); unknown keys raise."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - fields
    if unknown:
        raise ValueError(f"unknown config keys for {cls.__name__}: {', '.join(sorted(unknown))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def create_model(name: str, **config: Any) -> nn.Module:
    """A freshly initialised model. Example: ``create_model("senn", n_concepts=12)``.

    ``config``: the fields of the architecture's ``Config`` dataclass, or the constructor's keyword arguments for an
    architecture without one (see the module docstring)."""
    return build_architecture(MODELS.get(name), config)


def build_architecture(cls: type[nn.Module], config: dict[str, Any]) -> nn.Module:
    """``cls`` built from JSON ``config``: ``cls(cls.Config(**config))`` for a config-dataclass architecture,
    ``cls(**config)`` otherwise."""
    if uses_config_dataclass(cls):
        return cls(config_from_dict(cls.Config, config))
    return cls(**config)


def model_name(model: nn.Module) -> str:
    """The registry name of ``model``'s class; ValueError for an unregistered class."""
    for name in MODELS.names():
        if type(model) is MODELS.get(name):
            return name
    raise ValueError(f"{type(model).__name__} is not a registered model: register its class first with "
                     f"sem_core.models.register_architecture({type(model).__name__}) or in a plug-in "
                     f"(docs/models.md, 'Your own architecture')")


def with_activation(model: nn.Module, act: str, beta: float = 10.0) -> nn.Module:
    """A copy of ``model`` with its activations swapped (same weights, same device, eval mode).

    The shared model is never modified, so this is safe on models cached across app sessions.
    Example: ``smooth = with_activation(cnn, "softplus", beta=10.0)``
    """
    config = dataclasses.replace(model.config, act=act, beta=beta)
    twin = type(model)(config)
    twin.load_state_dict(model.state_dict())
    param = next(model.parameters())
    return twin.to(param.device).eval().requires_grad_(False)
