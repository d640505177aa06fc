"""The attack registry: ``ATTACKS.get(name)(model, **params)``."""
from ..registry import Registry

ATTACKS = Registry("attack")
