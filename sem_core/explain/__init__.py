"""Explainers: registered ``Explainer`` classes giving raw attribution maps ``[B,1,28,28]``.

Importing this package registers every explainer family (one file each).

Example:
    from sem_core.explain import create_explainer, explain, list_explainers, normalize_map
    maps = create_explainer("ig", model, steps=64)(x)     # the class: configured, then called
    I = normalize_map(explain(model, x, "saliency"))     # the same in one call; Ghorbani et al.'s I(x)
"""
from ..metrics.normalize import normalize_map
from . import deeplift, gradient, integrated, kernel_shap, lime_explainer, lrp, occlusion  # noqa: F401
from .base import EXPLAINERS, Explainer, create_explainer, explain, list_explainers, register_explainer
from .compare import ExplainerGrid, explain_all
from .sanity import SanityResult, label_randomisation_check, load_label_control, randomisation_check

__all__ = ["EXPLAINERS", "Explainer", "ExplainerGrid", "create_explainer", "explain", "explain_all", "list_explainers",
           "normalize_map", "register_explainer", "SanityResult", "label_randomisation_check", "load_label_control",
           "randomisation_check"]
