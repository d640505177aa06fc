"""SEM Explorer's engine: data, models, explainers, explanation attacks and metrics.

Example:
    from sem_core import load_model, load_split
    x, y, source = load_split("test")
    model = load_model("senn")
"""
from .api import load_model, load_model_with_card, model_card
from .data import Split, load_split
from .device import describe_device, resolve_device
from .errors import AttackError, CheckpointError, DataError, SemError, UnknownNameError
from .models import create_model, list_models, with_activation
from .explain import explain, list_explainers, normalize_map
from .attacks import (ATTACKS, AttackResult, ProtoDLAttack, SennConceptAttack, saliency_attack)
from .lipschitz import discrete_lipschitz, local_lipschitz

__all__ = [
    "load_model", "load_model_with_card", "model_card", "Split", "load_split", "describe_device",
    "resolve_device", "AttackError", "CheckpointError", "DataError", "SemError", "UnknownNameError",
    "create_model", "list_models", "with_activation", "explain", "list_explainers", "normalize_map", "ATTACKS",
    "AttackResult", "ProtoDLAttack", "SennConceptAttack", "saliency_attack", "discrete_lipschitz", "local_lipschitz",
]
