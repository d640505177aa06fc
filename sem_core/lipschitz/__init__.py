"""Local Lipschitz estimates of explanations (Alvarez-Melis & Jaakkola 2018, eqs. 1–2; SENN eq. 5).

A search is a registered class configured with an ``ExplanationFunction`` (any explainer of the
zoo, a model's own explanation, or a hand-written function) and called on points:

Example:
    from sem_core.lipschitz import GradientSearch, explanation_function, local_lipschitz
    res = GradientSearch(explanation_function(cnn, "saliency"), eps=0.1, budget=100)(x)
    res = local_lipschitz(explanation_function(senn, "self"), x, search="auto", eps=0.1)   # by name
"""
from ..models.base import ExplanationFunction
from .search import (LIPSCHITZ_SEARCHES, ContinuousSearch, LipschitzSearch, create_search, list_searches,
                     local_lipschitz, register_search)
from .bayesopt import BayesOptSearch
from .discrete import DiscreteSearch
from .gradient import GradientSearch
from .gp_search import GpMinimizeSearch
from .random_search import RandomSearch
from .explainers import (SELF, LipschitzByExplainer, explanation_function, lipschitz_by_explainer, lipschitz_of,
                         list_lipschitz_explainers)
from .result import LipschitzResult
from .protocols import (PROTOCOLS, Protocol, get_protocol, list_protocols, neighbourhood_bounds, pixel_std,
                        protocol_explanation, protocol_lipschitz, theta_pred_explanation)

__all__ = ["BayesOptSearch", "ContinuousSearch", "DiscreteSearch", "ExplanationFunction",
           "GpMinimizeSearch", "GradientSearch", "LIPSCHITZ_SEARCHES", "LipschitzByExplainer", "LipschitzResult", "LipschitzSearch", "PROTOCOLS", "Protocol",
           "RandomSearch", "SELF", "create_search", "explanation_function",
           "lipschitz_by_explainer", "lipschitz_of", "list_lipschitz_explainers", "list_searches", "local_lipschitz",
           "register_search", "get_protocol", "list_protocols", "neighbourhood_bounds", "pixel_std",
           "protocol_explanation", "protocol_lipschitz", "theta_pred_explanation"]
