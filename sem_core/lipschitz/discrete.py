"""The discrete, sample-based local Lipschitz estimate (paper 002 eq. 2; paper 001 §(5), discrete form)."""
from __future__ import annotations

import torch

from ..errors import AttackError
from ..models.base import ExplanationFunction
from .core import MIN_DENOMINATOR, ExplainFn, check_points, explain_batched, identity
from .result import LipschitzResult
from .search import LipschitzSearch, register_search

_EXACT = "donot_use_mm_for_euclid_dist"  # exact distances: the mm trick is inaccurate for near pairs


@register_search
class DiscreteSearch(LipschitzSearch):
    """L̃(x_i) = max over x_j ∈ N_ε(x_i) ⊂ sample, x_j ≠ x_i, of ‖E(x_i) − E(x_j)‖₂ / ‖x_i − x_j‖₂.

    Paper 002 eq. 2 (Alvarez-Melis & Jaakkola 2018): N_ε(x_i) = {x_j ∈ X : ‖x_i − x_j‖₂ ≤ ε}, with the
    L2 norm in pixel space as in the paper (so eps here is an L2 radius, unlike the L∞ eps of the
    continuous searches). ``eps=None`` uses the whole sample. With a denominator D (e.g. SENN's
    concept encoder h) the denominator is ‖D(x_i) − D(x_j)‖₂ (paper 001 eq. 5), clamped at 1e-12;
    the neighbourhood is still taken in pixel space. Points identical to x_i are skipped. An x_i
    with no neighbour gets value 0, x_prime = x_i and expl_prime = E(x_i).

    Args:
        explanation: the E (and D) to estimate.
        sample: [N,1,28,28] the finite set X (e.g. other test digits); may contain the x_i.
        eps: L2 neighbourhood radius in pixel units, or None for all of the sample.
        batch_size: sample images explained per call (and per pairwise-distance chunk).

    Returns (from the call): LipschitzResult with search "discrete", history [chunks,B] and
    calls = N + 1 (E(x_i) and E on every sample point; shared by the whole batch).

    Example:
        >>> res = DiscreteSearch(ExplanationFunction(lambda z: z.flatten(1) @ A.T), sample=test[:500], eps=5.0)(x)
    """

    name = "discrete"
    summary = "the sample-based estimate over a finite set of digits (paper 002 eq. 2)"

    def __init__(self, explanation: ExplanationFunction, *, sample: torch.Tensor, eps: float | None = None,
                 batch_size: int = 256):
        super().__init__(explanation)
        sample = check_points(sample, explanation.domain)
        if eps is not None and not eps > 0:
            raise AttackError(f"eps must be a positive L2 radius or None, got {eps}")
        if batch_size < 1:
            raise AttackError(f"batch_size must be at least 1, got {batch_size}")
        self.sample, self.eps, self.batch_size = sample, eps, int(batch_size)

    def __call__(self, x: torch.Tensor, *, on_step=None) -> LipschitzResult:
        x = check_points(x, self.explanation.domain)
        return _discrete(self.explanation.fn, x, self.sample, eps=self.eps, denominator_fn=self.explanation.denominator,
                         batch_size=self.batch_size, on_step=on_step)


def _discrete(explain_fn: ExplainFn, x: torch.Tensor, sample: torch.Tensor, *, eps: float | None,
              denominator_fn: ExplainFn | None, batch_size: int, on_step) -> LipschitzResult:
    if sample.shape[1:] != x.shape[1:]:
        raise AttackError(f"sample images {tuple(sample.shape[1:])} differ from x's {tuple(x.shape[1:])}")
    denominator_fn = denominator_fn or identity
    e_x = explain_batched(explain_fn, x, batch_size)
    with torch.no_grad():
        d_x = denominator_fn(x).flatten(1)
    b = x.shape[0]
    best = torch.full((b,), -1.0, device=x.device)
    best_x, best_e, history = x.detach().clone(), e_x.clone(), []
    chunks = sample.to(x.device).split(batch_size)
    for k, chunk in enumerate(chunks):
        e_s = explain_batched(explain_fn, chunk, batch_size)
        with torch.no_grad():
            num = torch.cdist(e_x.flatten(1), e_s.flatten(1), compute_mode=_EXACT)        # [B,n]
            den = torch.cdist(d_x, denominator_fn(chunk).flatten(1), compute_mode=_EXACT)
            dist = torch.cdist(x.flatten(1), chunk.flatten(1), compute_mode=_EXACT)
        valid = dist > 0 if eps is None else (dist > 0) & (dist <= eps)
        r = torch.where(valid, num / den.clamp_min(MIN_DENOMINATOR), torch.full_like(num, -1.0))
        val, arg = r.max(1)
        better = val > best
        best = torch.where(better, val, best)
        best_x[better], best_e[better] = chunk[arg][better], e_s[arg][better]
        history.append(best.clamp_min(0.0))
        if on_step is not None:
            on_step(k + 1, len(chunks))
    config = {"eps": eps, "norm": "l2", "sample_size": int(sample.shape[0]),
              "denominator": "custom" if denominator_fn is not identity else "input", "batch_size": batch_size}
    return LipschitzResult(values=best.clamp_min(0.0).cpu(), x=x.detach().cpu(), x_prime=best_x.cpu(),
                           expl=e_x.cpu(), expl_prime=best_e.cpu(), calls=int(sample.shape[0]) + 1,
                           search="discrete", history=torch.stack(history).cpu(), config=config)
