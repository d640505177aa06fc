"""What a reader sees instead of the attacks' internal names: one label per metric, per result field and per attack.

The attacks report their metrics under machine names (``concept_distance_adv``, ``nearest_consistent_adv``); the
CLI, the JSON and CSV downloads and the experiments keep those. Every table, caption and figure of the app shows the
label here instead, so the mapping lives in this one place (``tests/attacks/test_metric_labels.py`` checks that every
metric a registered attack reports has one).

Example:
    metric_label("concept_distance_adv")    # 'Concept distance to target (after)'
    attack_label("senn_concept")            # 'Concept attack'
"""
from __future__ import annotations

from .registry import ATTACKS

#: metric (``AttackResult.metrics``) or result field -> its label in tables, captions and figures
METRIC_LABELS = {
    # the concept attack (SENN, paper 000 eq. 1)
    "concept_distance_nat": "Concept distance to target (before)",
    "concept_distance_adv": "Concept distance to target (after)",
    "concept_change": "Concept change",
    "relevance_change": "Relevance change",
    # the prototype attack (PrototypeDL, paper 000 eqs. 2-3)
    "D_true_nat": "D(x, y) before",
    "D_true_adv": "D(x, y) after",
    "D_other_nat": "Nearest other class's D before",
    "D_other_adv": "Nearest other class's D after",
    "R_nat": "R(x, y) before",
    "R_adv": "R(x, y) after",
    "nearest_consistent_nat": "Nearest prototype has the right class (before)",
    "nearest_consistent_adv": "Nearest prototype has the right class (after)",
    "d_consistent_nat": "Own class's prototypes nearest (before)",
    "d_consistent_adv": "Own class's prototypes nearest (after)",
    # the saliency and influence attacks (paper 003)
    "topk_intersection": "Top-k intersection",
    "spearman": "Spearman rank correlation",
    "center_shift": "Center shift (pixels)",
    "region_mass_before": "Mass in region (before)",
    "region_mass_after": "Mass in region (after)",
    # the result's own fields
    "label_kept": "Label kept",
    "pred_before": "Prediction before",
    "pred_after": "Prediction after",
    "linf": "‖x* − x‖∞",
    "improved": "Improved on the natural digit",
}

#: attacks without a menu label of their own (``label`` class attribute): registry name -> label
ATTACK_LABELS = {"senn_concept": "Concept attack", "protodl_prototype": "Prototype attack"}


def metric_label(name: str) -> str:
    """The label of the metric or result field ``name``; an unknown name comes back with its underscores as
    spaces (never shown raw)."""
    return METRIC_LABELS.get(name, name.replace("_", " "))


def attack_label(name: str) -> str:
    """The attack ``name`` as a sentence starts it: "Concept attack", "Top-k attack", "Random sign (baseline)"."""
    if name in ATTACK_LABELS:
        return ATTACK_LABELS[name]
    label = getattr(ATTACKS.get(name), "label", "") or name.replace("_", " ")
    label = label if label.endswith(")") else f"{label} attack"
    return label[0].upper() + label[1:]
