"""Explanation attacks: one small file per attack, registered by name; the loop lives in ``base``.

Example:
    from sem_core.attacks import attack, list_attacks
    res = attack(cnn, "saliency_topk", x, method="ig", eps=0.1)     # AttackResult
"""
from .base import Attack, AttackResult, Snapshot, StepOut, project, to_cpu
from .compare import Comparison, compare_models
from .influence import InfluenceAttack, InfluenceRandomAttack
from .protodl_prototype import ProtoDLAttack, class_distances, d_and_r
from .registry import ATTACKS, attack, create_attack, list_attacks, register_attack
from .saliency import (SALIENCY_METHODS, CenterAttack, RandomSignAttack, RegionAttack, SaliencyAttack, TopKAttack,
                       region_mask)
from .senn_concept import SennConceptAttack

__all__ = ["Comparison", "compare_models", "Attack", "AttackResult", "Snapshot", "StepOut", "project", "to_cpu", "ProtoDLAttack", "class_distances",
           "d_and_r", "ATTACKS", "attack", "create_attack", "list_attacks", "register_attack", "SennConceptAttack",
           "SALIENCY_METHODS", "CenterAttack", "RandomSignAttack", "RegionAttack", "SaliencyAttack", "TopKAttack",
           "region_mask", "InfluenceAttack", "InfluenceRandomAttack"]
