"""Shared pieces of the estimators: the ratio of eq. 1, the ε-ball projection, per-image RNGs.

Per-image generators are seeded from ``seed`` and the image's bytes (CRC32), so an image's estimate
does not depend on which other images share its batch (batch == one-by-one), and a seed fixes it.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import torch

from ..attacks.base import project  # noqa: F401  (the same ε-ball as the attacks)
from ..errors import AttackError, SemError
from ..explain import create_explainer, list_explainers
from ..models.base import ExplanationFunction, SemModel
from ..models.capabilities import check_batch, input_domain

ExplainFn = Callable[[torch.Tensor], torch.Tensor]
Progress = Callable[[int, int], None]
#: Smallest denominator ‖x − x'‖₂ (or ‖D(x) − D(x')‖₂): guards 0/0 when x' = x or D(x') = D(x).
MIN_DENOMINATOR = 1e-12


@dataclass(frozen=True)
class SearchSpec:
    """Settings shared by the continuous searches (validated by ``ContinuousSearch``).

    eps: L∞ radius in pixel units (or per-pixel half-widths [1,C,H,W] of a box); budget: explainer calls per
    image, E(x) included; restarts and
    step_size: gradient ascent only; batch_size: images per explainer call (random, bayesopt).
    """

    eps: float | torch.Tensor
    budget: int
    restarts: int
    step_size: float | None
    batch_size: int
    on_step: Progress | None
    domain: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class _Domain:
    input_range: tuple[float, float]


def check_points(x: torch.Tensor, domain: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """The points checked at the door (``capabilities.check_batch``: a non-empty float batch [B,C,H,W] of finite
    values in ``domain``; ``AttackError`` otherwise), detached and as float32."""
    return check_batch(_Domain(tuple(domain)), x, who="the Lipschitz search", error=AttackError)[0]


def ratio(e: torch.Tensor, e_prime: torch.Tensor, d: torch.Tensor,
          d_prime: torch.Tensor) -> torch.Tensor:
    """‖E(x) − E(x')‖₂ / max(‖D(x) − D(x')‖₂, 1e-12), per row (everything flattened per image) → [N].

    The numerator is written as sqrt(Σ(·)² + 0) through ``vector_norm``, whose gradient at a zero
    difference is 0 (not NaN), so constant explainers are safe under gradient ascent.
    """
    num = torch.linalg.vector_norm((e - e_prime).flatten(1), dim=1)
    den = torch.linalg.vector_norm((d - d_prime).flatten(1), dim=1)
    return num / den.clamp_min(MIN_DENOMINATOR)


def image_generators(x: torch.Tensor, seed: int) -> list[torch.Generator]:
    """One CPU generator per image, seeded by (seed, CRC32 of the image's bytes)."""
    flat = x.detach().to("cpu", torch.float32).contiguous()
    return [torch.Generator().manual_seed((int(seed) * 1_000_003 + zlib.crc32(img.numpy().tobytes()))
                                          % 2**63) for img in flat]


def draw(gens: list[torch.Generator], n: int, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """n uniform [0,1) draws of ``shape`` per image → [B, n, *shape] on ``device``.

    Drawn one point at a time, so the stream an image sees does not depend on how its points are
    grouped into rounds (which depends on the batch size B).
    """
    return torch.stack([torch.stack([torch.rand(shape, generator=g) for _ in range(n)])
                        for g in gens]).to(device)


def explain_batched(fn: ExplainFn, xs: torch.Tensor, batch_size: int) -> torch.Tensor:
    """E on ``xs`` in chunks of ``batch_size`` images, outputs detached → [N,...].

    Not under ``torch.no_grad``: gradient explainers use autograd internally even as black boxes.
    """
    return torch.cat([fn(chunk).detach() for chunk in xs.split(batch_size)])


def identity(x: torch.Tensor) -> torch.Tensor:
    """The denominator D(x) = x (the input-space ratio of paper 002 eq. 1)."""
    return x


class BestTracker:
    """Keeps, per image, the best ratio seen so far, its x' and E(x'), and the per-round history."""

    def __init__(self, x: torch.Tensor):
        self.value = torch.full((x.shape[0],), -1.0, device=x.device)
        self.x_prime = x.detach().clone()
        self.expl_prime: torch.Tensor | None = None
        self.rounds: list[torch.Tensor] = []

    def update(self, r: torch.Tensor, x_p: torch.Tensor, e_p: torch.Tensor) -> None:
        """r [B,m] ratios of m points per image; x_p [B·m,...] and e_p [B·m,...] image-major."""
        b, m = r.shape
        val, arg = r.detach().max(1)
        pick = arg + torch.arange(b, device=r.device) * m
        better = val > self.value
        self.value = torch.where(better, val, self.value)
        self.x_prime[better] = x_p.detach()[pick][better]
        if self.expl_prime is None:
            self.expl_prime = e_p.detach()[pick].clone()
        self.expl_prime[better] = e_p.detach()[pick][better]
        self.rounds.append(self.value.clone())

    @property
    def history(self) -> torch.Tensor:
        """The best ratio per image after each round, [rounds, B]."""
        return torch.stack(self.rounds)


# --- what the searches estimate: any explainer of the zoo, or the model's own explanation
SELF = "self"


def list_lipschitz_explainers(model) -> list[str]:
    """What the Lipschitz page and CLI offer for ``model``: "self" when it has its own explanation."""
    names = list_explainers()
    if isinstance(model, SemModel) and model.has_self_explanation:
        names = [SELF, *names]
    return names


def explanation_function(model, name: str, **config) -> ExplanationFunction:
    """The ``ExplanationFunction`` of explainer ``name`` (or "self") on ``model``; ``config``: the
    explainer's hyperparameters. Example: ``explanation_function(cnn, "ig", steps=32)``."""
    if name == SELF:
        if not isinstance(model, SemModel):
            raise SemError("'self' explanations exist only for SENN and PrototypeDL")
        return model.self_explanation()
    explainer = create_explainer(model, name, **config)

    def fn(z: torch.Tensor) -> torch.Tensor:
        return explainer(z, create_graph=explainer.differentiable and z.requires_grad).flatten(1)

    return ExplanationFunction(fn, explainer.differentiable, None, name, input_domain(model))
