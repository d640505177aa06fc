"""The gradient-sign attack on influence functions (Ghorbani, Abid & Zou, paper 003 Sec. 3, Fig. 4, Appendix G).

The interpretation attacked is the set of training digits with the most influence on the test digit's loss,
I(z, x) = −∇θL(z)ᵀ H⁻¹ ∇θL(x) on the last layer (``sem_core.explain.influence``). Linearised around x, the influence of
the natural top training digits z₍₁₎…z₍ₜ₎ changes along ∇ₓ Σᵢ ∇θL(x)ᵀ H⁻¹ ∇θL(z₍ᵢ₎), whose right factor does not
depend on x; the attack steps against it (paper 003 eq. 1 and footnote 1: t = 3, "decrease the influence of the 3
most influential training images"):

    x ← clip_[0,1] clip_{x₀±ε}( x − α · sign ∇ₓ [∇θL(x)ᵀ u] ),   u = H⁻¹ Σᵢ ∇θL(z₍ᵢ₎)  (one solve per digit)

Paper 003 takes one step of size ε (its footnote 1; the authors' notebook, ``find_gradient_and_makeplot``, makes the
step in feature space and back-propagates it to the image, ``ImageLoader.pgti``); here the same direction is
followed for ``steps`` PGD steps through the whole network, and every iterate is judged on the real influence
(one CG solve each): the kept iterate is the one with the lowest top-k intersection with the natural top-k
(ties: the lowest Spearman correlation) whose predicted label is unchanged, the natural digit included.
``influence_random`` is the paper's baseline, one random-sign step of the same ε.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import AttackError
from ..explain.influence import DAMPING, InfluenceExplanation, influence_for, most_influential
from ..metrics import spearman, topk_intersection
from ..params import Param
from .base import Attack, RandomSignStep, StepOut
from .registry import register_attack


@register_attack
class InfluenceAttack(Attack):
    """Gradient-sign attack on the most influential training digits (registered as ``influence_sign``).

    Args (beyond ``Attack``): k: size of the influential set the metrics compare (paper 003 Fig. 4c: 5);
    top: how many natural top digits the objective pushes down (paper: 3); damping: λ of H + λI;
    data: the data source of the model's training split ("subset" for the shipped models).
    Example:
        res = InfluenceAttack(cnn, eps=0.1, steps=10)(x)
        res.metrics["topk_intersection"]                      # [B], 1 = the same 5 most influential digits
        res.explanations["natural"].top_idx                    # [B, 5] training indices before; "adversarial": after
    """

    name = "influence_sign"
    family = "influence"
    summary = "change which training digits are most influential (paper 003 Sec. 3, gradient sign)"
    headline = ("topk_intersection", "spearman")
    label = "gradient sign"
    needs_direction = True   # False for the random baseline: no u = H⁻¹ Σ ∇θL(z₍ᵢ₎) to solve for

    settings = Attack.settings + (
        Param("eps", 0.1, "ε (L∞ radius, pixel units)", "every pixel moves by at most ε", lo=0.0, hi=1.0,
              lo_open=True, step=0.01),
        Param("steps", 10, "Sign steps", "the random baseline always takes 1", lo=1, hi=10_000),
        Param("k", 5, "k (most influential digits compared)", "size of the influential set (paper 003 Fig. 4c: 5)",
              lo=1, hi=1000),
        Param("top", 3, "Top (natural top digits pushed down)", "paper 003: 3", lo=1, hi=1000),
        Param("damping", DAMPING, "Damping λ of H + λI", lo=0.0, hi=1e6, step=0.01),
        Param("data", "subset", "Training data", "the data source of the model's training split",
              choices=("subset", "mnist")),
    )

    def __init__(self, model, **config):
        super().__init__(model, **config)
        k, top = self.k, self.top
        self.influence = influence_for(model, self.data, damping=self.damping)
        n = self.influence.n_train
        if not 1 <= k <= n:
            raise AttackError(f"k must be between 1 and {n} training digits, got {k}")
        if not 1 <= top <= n:
            raise AttackError(f"top must be between 1 and {n} training digits, got {top}")

    # --- the explanation and its comparison ---------------------------------------------------------------
    def explain_images(self, x, pred, ctx) -> InfluenceExplanation:
        memo = ctx.get("memo", ())
        for seen, expl in memo:
            if seen is x:
                return expl
        expl = self.influence(x, pred, k=self.k)
        if "memo" in ctx:
            ctx["memo"].append((x, expl))
        return expl

    def compare(self, e0: InfluenceExplanation, scores: torch.Tensor) -> dict[str, torch.Tensor]:
        """Top-k intersection of the most influential sets and Spearman correlation of all scores, [B] each."""
        return {"topk_intersection": topk_intersection(-e0.scores, -scores, self.k),
                "spearman": spearman(e0.scores, scores)}

    def score(self, e0: InfluenceExplanation, scores: torch.Tensor) -> torch.Tensor:
        """Lower is better: the top-k intersection, ties broken by Spearman (the term is < 1/k, one set member)."""
        m = self.compare(e0, scores)
        return m["topk_intersection"] + (1 + m["spearman"].nan_to_num(1.0)) / (2 * (self.k + 1))

    # --- the attack ---------------------------------------------------------------------------------------
    def prepare(self, x, pred, target) -> dict[str, Any]:
        s, res, labels, logits = self.influence.solved(x, pred)
        e0, _ = self.influence.explain_solved(s, res, labels, logits, k=self.k)
        ctx: dict[str, Any] = {"E0": e0, "s": s, "memo": [(x, e0)]}
        if self.needs_direction:
            top = most_influential(e0.scores, self.top)                       # [B, top]
            ctx["u"], _ = self.influence.solve(self.influence.grads_train[top].sum(1))   # H⁻¹ Σ ∇θL(z₍ᵢ₎), [B, P]
        return ctx

    def step(self, x_adv, pred, ctx) -> StepOut:
        g, logits = self.influence.test_gradients(x_adv, pred, create_graph=True)
        loss = (g * ctx["u"]).sum(1)    # Σᵢ ∇θL(x)ᵀ H⁻¹ ∇θL(z₍ᵢ₎) = −Σᵢ I(z₍ᵢ₎, x): lowered, the top digits help less
        return StepOut(loss=loss.float(), score=self._judge(x_adv, pred, ctx), logits=logits.detach())

    def _judge(self, x_adv, pred, ctx) -> torch.Tensor:
        """The score of an iterate on its real influence (a CG solve warm-started at the previous iterate's)."""
        s, res, labels, logits = self.influence.solved(x_adv, pred, ctx["s"])
        ctx["s"] = s
        return self.score(ctx["E0"], self.influence.influence_of(s)).to(x_adv.device)

    def natural_explanation(self, x, pred, ctx) -> InfluenceExplanation:
        return ctx["E0"]                                          # prepare() computed it

    def metrics(self, x, x_adv, pred, ctx, explanations) -> dict[str, torch.Tensor]:
        return self.compare(explanations["natural"], explanations["adversarial"].scores)


@register_attack
class InfluenceRandomAttack(RandomSignStep, InfluenceAttack):
    """The baseline: one step x + ε·sign(N(0,1)) (kept if the label holds, else x), judged the same way."""

    name = "influence_random"
    summary = "the baseline: one random-sign step of size ε, its influential digits compared (paper 003 Fig. 4)"
    label = "random sign (baseline)"
    needs_direction = False

    def step(self, x_adv, pred, ctx) -> StepOut:
        return StepOut(loss=(x_adv * 0).flatten(1).sum(1), score=self._judge(x_adv, pred, ctx))
