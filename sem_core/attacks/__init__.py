"""Explanation attacks: one small file per attack; the loop lives in ``base``."""
from .base import Attack, AttackResult, StepOut, project
from .protodl_prototype import ProtoDLAttack, class_distances, d_and_r
from .registry import ATTACKS
from .saliency import (SALIENCY_ATTACKS, SALIENCY_METHODS, CenterAttack, RandomSignAttack, RegionAttack,
                       SaliencyAttack, TopKAttack, saliency_attack)
from .senn_concept import SennConceptAttack

__all__ = ["Attack", "AttackResult", "StepOut", "project", "ProtoDLAttack", "class_distances", "d_and_r",
           "ATTACKS", "SennConceptAttack", "SALIENCY_ATTACKS", "SALIENCY_METHODS", "CenterAttack",
           "RandomSignAttack", "RegionAttack", "SaliencyAttack", "TopKAttack", "saliency_attack"]
