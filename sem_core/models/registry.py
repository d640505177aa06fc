"""The model registry: ``create_model(name, **config)``, ``list_models()``, ``with_activation``."""
from __future__ import annotations

import dataclasses
from typing import Any

import torch.nn as nn

from ..registry import Registry

MODELS: Registry[type[nn.Module]] = Registry("model")


def list_models() -> list[str]:
    """The registered model architectures (cnn, senn, protodl), sorted."""
    return MODELS.names()


def config_from_dict(cls: type, values: dict[str, Any]):
    """Build a config dataclass from JSON values (lists become tuples); unknown keys raise."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - fields
    if unknown:
        raise ValueError(f"unknown config keys for {cls.__name__}: {', '.join(sorted(unknown))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def create_model(name: str, **config: Any) -> nn.Module:
    """A freshly initialised model. Example: ``create_model("senn", n_concepts=12)``."""
    cls = MODELS.get(name)
    return cls(config_from_dict(cls.Config, config))


def model_name(model: nn.Module) -> str:
    """The registry name of ``model``'s class; ValueError for an unregistered class."""
    for name in MODELS.names():
        if type(model) is MODELS.get(name):
            return name
    raise ValueError(f"{type(model).__name__} is not a registered model")


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
