"""A tiny name -> object registry (one per family: models, explainers, attacks)."""
from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .errors import SemDeprecationWarning, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; unknown names raise an error listing what exists.

    Example:
        MODELS = Registry("model")
        @MODELS.register("cnn")
        class CNN(nn.Module): ...
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register an object under ``name``; a name registered twice raises ValueError."""
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """The object registered as ``name``; UnknownNameError listing the names otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} '{name}'; available: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


def model_first(model: object, name: object, helper: str) -> tuple[object, str]:
    """``(model, name)`` for the by-name helpers' one argument order (``create_attack(model, name)``,
    ``create_explainer(model, name)``, ``explain(model, name, x)``): the old order, the name first, still works for
    one release with a ``DeprecationWarning``."""
    if isinstance(model, str) and not isinstance(name, str):
        import warnings

        warnings.warn(f"{helper}(name, model) is deprecated: use {helper}(model, name)", SemDeprecationWarning,
                      stacklevel=3)
        model, name = name, model
    return model, name  # type: ignore[return-value]
