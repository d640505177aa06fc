"""SEM Explorer's engine: data, models, explainers, explanation attacks and metrics.

Every algorithm has one shape — a registered class, configured in the constructor, data in the
call, a small frozen result out — plus a by-name helper that dispatches through its registry:

    from sem_core import load_model, load_split, attack, explain, explanation_function, local_lipschitz
    x, y, source = load_split("test")
    cnn = load_model("cnn")
    res = attack(cnn, "saliency_topk", x[:8], method="ig", eps=0.1)          # AttackResult
    maps = explain(cnn, "ig", x[:8], steps=64)                               # [8,1,28,28]
    lip = local_lipschitz(explanation_function(cnn, "lime"), x[:2], budget=20)   # LipschitzResult
"""
import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Names load on first use (PEP 562): ``import sem_core`` costs next to nothing, so the app's first page draws
# before torch, scipy and scikit-learn are needed (issue 29, point 8). ``from sem_core import X`` works as before.
_WHERE = {
    ".models.hub": ("list_shipped", "load_model", "load_model_with_card", "model_card"),
    ".data": ("Split", "load_split"),
    ".device": ("describe_device", "model_device", "resolve_device"),
    ".errors": ("AttackError", "CheckpointError", "DataError", "SemError", "UnknownNameError"),
    ".models": ("create_model", "list_models", "load_plugin", "register_architecture", "with_activation"),
    ".models.base": ("ExplanationFunction", "SemModel"),
    ".explain": ("EXPLAINERS", "Explainer", "create_explainer", "explain", "list_explainers", "normalize_map"),
    ".attacks": ("ATTACKS", "Attack", "AttackResult", "CenterAttack", "ProtoDLAttack", "RandomSignAttack",
                 "RegionAttack", "SennConceptAttack", "TopKAttack", "attack", "create_attack", "list_attacks"),
    ".lipschitz": ("LIPSCHITZ_SEARCHES", "BayesOptSearch", "DiscreteSearch", "GradientSearch", "LipschitzResult",
                   "RandomSearch", "create_search", "explanation_function", "list_searches", "local_lipschitz"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

if TYPE_CHECKING:  # what static tools and IDEs see
    from .attacks import (ATTACKS, Attack, AttackResult, CenterAttack, ProtoDLAttack, RandomSignAttack,  # noqa: F401
                          RegionAttack, SennConceptAttack, TopKAttack, attack, create_attack, list_attacks)
    from .data import Split, load_split  # noqa: F401
    from .device import describe_device, model_device, resolve_device  # noqa: F401
    from .errors import AttackError, CheckpointError, DataError, SemError, UnknownNameError  # noqa: F401
    from .explain import (EXPLAINERS, Explainer, create_explainer, explain, list_explainers,  # noqa: F401
                          normalize_map)
    from .lipschitz import (LIPSCHITZ_SEARCHES, BayesOptSearch, DiscreteSearch, GradientSearch,  # noqa: F401
                            LipschitzResult, RandomSearch, create_search, explanation_function, list_searches,
                            local_lipschitz)
    from .models import create_model, list_models, load_plugin, register_architecture, with_activation  # noqa: F401
    from .models.base import ExplanationFunction, SemModel  # noqa: F401
    from .models.hub import list_shipped, load_model, load_model_with_card, model_card  # noqa: F401


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached here); or a subpackage (``sem_core.viz``)."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


class _Package(types.ModuleType):
    """``sem_core.explain`` is the function (as it always was), not the subpackage of the same name: importing a
    submodule (``sem_core.explain.integrated``) makes the import system bind the subpackage here, which would
    shadow the lazily loaded function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _MODULE_OF and isinstance(value, types.ModuleType):
            return   # the subpackage stays reachable as sys.modules["sem_core.explain"] and by import statements
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "list_shipped", "load_model", "load_model_with_card", "model_card", "Split", "load_split", "describe_device", "model_device",
    "resolve_device", "AttackError", "CheckpointError", "DataError", "SemError", "UnknownNameError",
    "create_model", "list_models", "with_activation", "register_architecture", "load_plugin", "ExplanationFunction",
    "SemModel",
    "EXPLAINERS", "Explainer", "create_explainer", "explain", "list_explainers", "normalize_map",
    "ATTACKS", "Attack", "AttackResult", "CenterAttack", "ProtoDLAttack", "RandomSignAttack", "RegionAttack",
    "SennConceptAttack", "TopKAttack", "attack", "create_attack", "list_attacks",
    "LIPSCHITZ_SEARCHES", "BayesOptSearch", "DiscreteSearch", "GradientSearch", "LipschitzResult", "RandomSearch",
    "create_search", "explanation_function", "list_searches", "local_lipschitz",
]
