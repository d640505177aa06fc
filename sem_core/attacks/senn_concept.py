"""Targeted concept attack on SENN (Zheng et al., paper 000, Sec. 3.1, eq. 1).

    x* = argmin_{x* ∈ B_ε(x)}  ||h(x*) − h(x_t)||²  +  λ · CE(f(x*), y)

x_t is a natural image of another label; y is the prediction on x. The attack makes a 9's
concepts look like a 2's while the model still says 9.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..errors import AttackError
from ..models.capabilities import ConceptModel, require
from ..models.senn import SennExplanation, concept_explanation
from ..params import Param
from .base import Attack, StepOut
from .registry import register_attack


@register_attack
class SennConceptAttack(Attack):
    """PGD on eq. 1. Targeted: ``target`` is the target images x_t [B,C,H,W] (one per image). Any concept model
    (``capabilities.ConceptModel``: ``concepts``, ``relevances``, ``aggregate``), not only the shipped SENN.

    Args (beyond ``Attack``): lam: λ, the weight of the cross-entropy that keeps the label.
    Example:
        res = SennConceptAttack(senn, eps=0.3, steps=100)(x9, target=x2)
        res.metrics["concept_distance_adv"]   # ||h(x*) − h(x_t)||, [B]
    """

    name = "senn_concept"
    targeted = True
    family = "senn"
    headline = ("concept_distance_nat", "concept_distance_adv", "concept_change")
    summary = "make a digit's SENN concepts imitate another digit's, label kept (paper 000 eq. 1)"
    per_image = True   # h, θ and the loss of each image depend on it alone: images may join a running batch

    settings = Attack.settings + (
        Param("lam", 1.0, "λ (weight of the label-keeping loss)", "weight of the cross-entropy that keeps the label",
              lo=0.0, step=0.5),
    )

    def __init__(self, model, **config):
        super().__init__(model, **config)
        require(model, ConceptModel, "the concept attack", AttackError)

    def prepare(self, x, pred, target) -> dict[str, Any]:
        if not isinstance(target, torch.Tensor) or target.shape != x.shape:
            raise AttackError(f"the concept attack needs target images shaped like x {list(x.shape)}")
        x_t = target.detach().to(x.device, x.dtype)
        with torch.no_grad():
            natural = concept_explanation(self.model, x)
            return {"x_t": x_t, "h_t": self.model.concepts(x_t), "natural": natural}

    def step(self, x_adv, pred, ctx) -> StepOut:
        h = self.model.concepts(x_adv)
        logits = self.model.aggregate(h, self.model.relevances(x_adv))
        dist2 = (h - ctx["h_t"]).pow(2).sum(1)
        loss = dist2 + self.lam * F.cross_entropy(logits, pred, reduction="none")
        return StepOut(loss=loss, score=dist2.detach().sqrt(), logits=logits.detach())

    def metrics(self, x, x_adv, pred, ctx, explanations) -> dict[str, torch.Tensor]:
        nat, adv = explanations["natural"], explanations["adversarial"]
        return {
            "concept_distance_adv": (adv.concepts - ctx["h_t"]).norm(dim=1),
            "concept_distance_nat": (nat.concepts - ctx["h_t"]).norm(dim=1),
            "concept_change": (adv.concepts - nat.concepts).norm(dim=1),
            "relevance_change": (adv.relevances - nat.relevances).norm(dim=1),
        }

    def explain_images(self, x, pred, ctx) -> SennExplanation:
        return concept_explanation(self.model, x)

    def natural_explanation(self, x, pred, ctx) -> SennExplanation:
        return ctx["natural"]

    def target_explanation(self, ctx) -> dict[str, SennExplanation]:
        return {"target": concept_explanation(self.model, ctx["x_t"])}

    def extras(self, ctx) -> dict[str, torch.Tensor]:
        return {"x_target": ctx["x_t"].cpu()}

    def example_target(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each image's target is the next image of the batch (wrapping around)."""
        return x.roll(1, 0)
