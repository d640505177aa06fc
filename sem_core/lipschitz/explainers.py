"""Explanation functions to estimate: any explainer of the zoo on any model, and the SEMs' own.

``explanation_fn(model, name)`` returns (E, differentiable, D) for ``local_lipschitz``:
    * an explainer name from ``sem_core.explain.list_explainers()``: E(x) = its raw map, D = None
      (the denominator is ‖x − x'‖, paper 002 eq. 1). Differentiable explainers on a ReLU model
      are differentiated through as they are (piecewise-constant gradients are fine for ascent).
    * "self" on SENN: E(x) = θ(x) (all k×10 relevances), D(x) = h(x) (paper 001 eq. 5).
    * "self" on PrototypeDL: E(x) = the prototype distances h(x), D = None (θ is constant, so its
      eq.-5 estimate is 0 by construction; the distances are what can move).
The class explained by a map is the prediction at each evaluated point.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..errors import SemError
from ..explain import EXPLAINERS, explain, list_explainers

SELF = "self"


def list_lipschitz_explainers(model) -> list[str]:
    names = list_explainers()
    if hasattr(model, "relevances") or hasattr(model, "prototype_distances"):
        names = [SELF, *names]
    return names


def explanation_fn(model, name: str, **kwargs) -> tuple[Callable, bool, Callable | None]:
    if name == SELF:
        if hasattr(model, "relevances"):
            return (lambda z: model.relevances(z).flatten(1)), True, model.concepts
        if hasattr(model, "prototype_distances"):
            return model.prototype_distances, True, None
        raise SemError("'self' explanations exist only for SENN and PrototypeDL")
    spec = EXPLAINERS.get(name)

    def fn(z: torch.Tensor) -> torch.Tensor:
        return explain(model, z, name, create_graph=spec.differentiable and z.requires_grad, **kwargs).flatten(1)

    return fn, spec.differentiable, None
