"""Explainers: raw attribution maps ``[B,1,28,28]`` through one entry point, ``explain``.

Importing this package registers every explainer family (one file each).

Example:
    from sem_core.explain import explain, list_explainers, normalize_map
    I = normalize_map(explain(model, x, "saliency"))   # Ghorbani et al.'s I(x), sums to 1
"""
from ..metrics.normalize import normalize_map
from . import deeplift, gradient, integrated, kernel_shap, lime_explainer, lrp, occlusion  # noqa: F401
from .base import EXPLAINERS, ExplainerSpec, explain, list_explainers, register_explainer
from .compare import ExplainerGrid, explain_all

__all__ = ["EXPLAINERS", "ExplainerGrid", "ExplainerSpec", "explain", "explain_all", "list_explainers",
           "normalize_map", "register_explainer"]
