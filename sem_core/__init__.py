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
from .models.hub import list_shipped, load_model, load_model_with_card, model_card
from .data import Split, load_split
from .device import describe_device, model_device, resolve_device
from .errors import AttackError, CheckpointError, DataError, SemError, UnknownNameError
from .models import create_model, list_models, load_plugin, register_architecture, with_activation
from .models.base import ExplanationFunction, SemModel
from .explain import EXPLAINERS, Explainer, create_explainer, explain, list_explainers, normalize_map
from .attacks import (ATTACKS, Attack, AttackResult, CenterAttack, ProtoDLAttack, RandomSignAttack, RegionAttack,
                      SennConceptAttack, TopKAttack, attack, create_attack, list_attacks)
from .lipschitz import (LIPSCHITZ_SEARCHES, BayesOptSearch, DiscreteSearch, GradientSearch, LipschitzResult,
                        RandomSearch, create_search, explanation_function, list_searches, local_lipschitz)

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
