"""Local Lipschitz estimates of explanations (Alvarez-Melis & Jaakkola 2018, eqs. 1–2; SENN eq. 5).

The estimators take a batched explanation function, not an explainer object, so they work for
any explainer in the zoo, for SENN's θ (with ``denominator_fn`` = its concept encoder h) and for
hand-written test functions.

Example:
    from sem_core.lipschitz import local_lipschitz
    res = local_lipschitz(lambda z: saliency(model, z), x, eps=0.1, budget=100, differentiable=True)
"""
from .discrete import discrete_lipschitz
from .estimate import list_methods, local_lipschitz
from .cost import CostEstimate, estimate_seconds
from .explainers import SELF, LipschitzByExplainer, explanation_fn, lipschitz_by_explainer, list_lipschitz_explainers
from .result import LipschitzResult

__all__ = ["CostEstimate", "LipschitzByExplainer", "LipschitzResult", "SELF", "discrete_lipschitz",
           "estimate_seconds", "explanation_fn", "lipschitz_by_explainer", "list_lipschitz_explainers", "list_methods",
           "local_lipschitz"]
