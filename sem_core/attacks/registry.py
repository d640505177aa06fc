"""The attack registry: every attack is a registered ``Attack`` subclass, found by name.

    create_attack(cnn, "saliency_topk", method="ig", eps=0.1)(x)     # the class, configured
    attack(cnn, "saliency_topk", x, method="ig", eps=0.1)             # the same in one call
    list_attacks(family="saliency")                                   # drives CLI choices and app menus
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn as nn

from ..registry import Registry, model_first

if TYPE_CHECKING:
    from .base import Attack, AttackResult

ATTACKS: Registry[type["Attack"]] = Registry("attack")


def register_attack(cls: type["Attack"]) -> type["Attack"]:
    """Class decorator: register ``cls`` under ``cls.name``."""
    return ATTACKS.register(cls.name)(cls)


def list_attacks(family: str | None = None, *, targeted: bool | None = None) -> list[str]:
    """Registered attack names, optionally of one model ``family`` ("senn", "protodl", "saliency")."""
    return [n for n in ATTACKS.names()
            if (family is None or ATTACKS.get(n).family == family)
            and (targeted is None or ATTACKS.get(n).targeted == targeted)]


def create_attack(model: nn.Module, name: str, **config: Any) -> "Attack":
    """The attack ``name`` configured for ``model``; unknown names list the registered ones. The helpers' one
    argument order is model, name (``create_attack(name, model)`` still works, deprecated)."""
    model, name = model_first(model, name, "create_attack")
    return ATTACKS.get(name)(model, **config)


def attack(model: nn.Module, name: str, x: torch.Tensor, y: torch.Tensor | None = None, *, target: Any = None,
           seed: int = 0, on_step: Callable[[int, int], None] | None = None, **config: Any) -> "AttackResult":
    """Run the registered attack ``name`` on the batch ``x`` [B,C,H,W] in the model's input domain (default [0,1]).

    ``config``: the attack's hyperparameters (eps, steps, ...); ``target`` as the attack needs it.
    Example: ``res = attack(cnn, "saliency_topk", x, method="ig", eps=0.1); res.metrics["topk_intersection"]``
    """
    return create_attack(model, name, **config)(x, y, target=target, seed=seed, on_step=on_step)
