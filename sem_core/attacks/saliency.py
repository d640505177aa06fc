"""Attacks on feature-importance maps (Ghorbani, Abid & Zou, paper 003, Algorithm 1).

The map I(x) = |m(x)| / Σ|m(x)| of an explainer m (|m| summed over the colour channels first, one value per
pixel, as the authors' code does) (saliency, gradient×input, integrated
gradients, DeepLIFT) is pushed away from I(x) while the prediction stays:
    top-k        minimise Σ_{i ∈ B} I(x_t)_i, B = the top-k pixels of I(x)
    center       maximise ||C(I(x_t)) − C(I(x))||₂, C the center of mass (pixels)
    region       maximise Σ_{i ∈ M} I(x_t)_i for a user-given mask M (targeted)
    random       one random-sign step x + ε·sign(N(0,1)) (the paper's baseline)
Gradients go through a smooth surrogate (ReLU → softplus(β), paper 003 Sec. 4, because a ReLU
network's saliency has zero second derivative), built for any network — ReLU modules and functional
``F.relu`` calls alike (``models.surrogate``); an image whose attack loss still has no gradient ends
with status "no-gradient", never as "the map held"; every iterate is *judged* on the real network:
its label and its map. The score that picks the best iterate is the dissimilarity on the real
network (top-k intersection, −center shift, −mass in the region).

Measured on the shipped CNN, 100 offline test digits, ε 0.1, 50 steps, k 50, β 10, IG with 16 steps (the
attack's default then; one IG default, 32, since)
(``python -m sem_core attack saliency --method M --kind K --n 100 --json``), every returned image
keeping its label; top-k intersection (random-sign baseline → top-k attack), center shift in pixels
(random → mass-center attack):
    saliency     0.637 → 0.339   shift 0.53 → 2.66
    gradxinput   0.813 → 0.618   shift 0.37 → 2.00
    ig           0.836 → 0.669   shift 0.30 → 1.69
    deeplift     0.839 → 0.676   shift 0.30 → 1.70
Integrated gradients and DeepLIFT are the hardest to move, as the paper found for IG.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import AttackError
from ..explain import create_explainer, list_explainers
from ..explain.integrated import IG_STEPS
from ..metrics import center_of_mass, center_shift, normalize_map, pixel_map, spearman, topk_intersection, topk_mask
from ..models.surrogate import smooth_surrogate
from ..params import Param
from .base import Attack, RandomSignStep, StepOut
from .registry import register_attack

#: explainers the saliency attacks can differentiate through (paper 003's four)
SALIENCY_METHODS = ("saliency", "gradxinput", "ig", "deeplift")


class SaliencyAttack(Attack):
    """Base of the saliency attacks (registered as ``saliency_<kind>``).

    Args (beyond ``Attack``): method: the explainer attacked (one of ``SALIENCY_METHODS``); k: top-k
    size (pixels); beta: softplus sharpness of the surrogate; ig_steps: integration steps for ``ig``
    inside the attack.
    Example:
        res = TopKAttack(cnn, method="saliency", eps=0.1, steps=50, k=50)(x)
        res.metrics["topk_intersection"]   # [B], 1 = unchanged top-k
        res.explanations["natural"], res.explanations["adversarial"]   # real maps I(x), I(x*), [B,1,H,W]
    """

    kind = ""
    family = "saliency"
    headline = ("topk_intersection", "spearman", "center_shift")
    label = ""            # for menus (e.g. "top-k")
    objective_tex = ""    # the dissimilarity D of paper 003's Algorithm 1, as LaTeX (x_t: the natural digit)
    sentence = ""         # what the attack does, in one plain sentence
    steps_fixed = False   # True when the attack ignores ``steps`` (the one-step baseline)

    settings = Attack.settings + (
        Param("eps", 0.1, "ε (L∞ radius, pixel units)", "every pixel moves by at most ε", lo=0.0, hi=1.0,
              lo_open=True, step=0.01),
        Param("steps", 50, "PGD steps", lo=0, hi=10_000),
        Param("method", "saliency", "Explainer attacked", "the map the attack moves", choices=SALIENCY_METHODS),
        Param("k", 50, "k (top-k pixels)", "size of the top-k set compared, in pixels (at most H·W)", lo=1,
              hi=1_000_000),
        Param("beta", 10.0, "β (softplus sharpness of the surrogate)", "ReLU → softplus(β) for the gradient",
              lo=0.0, hi=1e6, lo_open=True, step=1.0),
        Param("ig_steps", IG_STEPS, "IG steps inside the attack", "integration steps when method is ig (the one "
              "IG default, explain.integrated.IG_STEPS)", lo=1, hi=1000),
    )

    def __init__(self, model, **config):
        super().__init__(model, **config)
        self.surrogate = smooth_surrogate(model, self.beta)
        # built once, called at every iterate: the real network's map (judging) and the surrogate's (the gradient)
        self._real_explainer = create_explainer(model, self.method, **self._kw())
        self._surrogate_explainer = create_explainer(self.surrogate, self.method, **self._kw())

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.name = f"saliency_{cls.kind}"

    def config(self) -> dict[str, Any]:
        return {**super().config(), "kind": self.kind}

    def _kw(self) -> dict[str, Any]:
        return {"steps": self.ig_steps} if self.method == "ig" else {}

    def real_map(self, x: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """The real network's normalised map I(x) [B,1,H,W] for class ``pred``."""
        return normalize_map(pixel_map(self._real_explainer(x, pred)))

    def real_map_and_logits(self, x: torch.Tensor, pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(I(x) [B,1,H,W], the real network's logits [B,K] on ``x`` when the explainer computed them: saliency
        and gradient×input run the network once, on ``x`` itself, so its output is the label check's forward
        pass and the loop need not repeat it; None for explainers that run it on other points (IG's path))."""
        seen: list[torch.Tensor] = []

        def keep(module, args, output):
            if args and args[0].shape == x.shape and torch.equal(args[0], x):
                seen.append(output.detach())

        handle = self.model.register_forward_hook(keep)
        try:
            i_real = self.real_map(x, pred)
        finally:
            handle.remove()
        return i_real, (seen[0] if len(seen) == 1 else None)

    def explain_images(self, x, pred, ctx) -> torch.Tensor:
        return self.real_map(x, pred)

    def natural_explanation(self, x, pred, ctx) -> torch.Tensor:
        return ctx["I0"]

    def prepare(self, x, pred, target) -> dict[str, Any]:
        if self.k > x.shape[-2] * x.shape[-1]:
            raise AttackError(f"k = {self.k} is more than the {x.shape[-2] * x.shape[-1]} pixels of "
                              f"{x.shape[-2]}×{x.shape[-1]} images")
        i0 = self.real_map(x, pred)
        return {"I0": i0, "topk": topk_mask(i0, self.k), "C0": center_of_mass(i0)}

    def dissimilarity(self, i_s: torch.Tensor, ctx) -> torch.Tensor:
        """Differentiable objective on the surrogate's map (lower is better), [B]."""
        raise NotImplementedError

    def score(self, i_real: torch.Tensor, ctx) -> torch.Tensor:
        """Judged on the real network's map (lower is better), [B]."""
        raise NotImplementedError

    def step(self, x_adv, pred, ctx) -> StepOut:
        i_s = normalize_map(pixel_map(self._surrogate_explainer(x_adv, pred, create_graph=True)))
        loss = self.dissimilarity(i_s, ctx)
        i_real, logits = self.real_map_and_logits(x_adv.detach(), pred)
        return StepOut(loss=loss, score=self.score(i_real, ctx), logits=logits)

    def metrics(self, x, x_adv, pred, ctx, explanations) -> dict[str, torch.Tensor]:
        i0, i1 = explanations["natural"], explanations["adversarial"]
        out = {"topk_intersection": topk_intersection(i0, i1, self.k), "spearman": spearman(i0, i1),
               "center_shift": center_shift(i0, i1)}
        if "mask" in ctx:
            out["region_mass_before"] = (i0 * ctx["mask"]).flatten(1).sum(1)
            out["region_mass_after"] = (i1 * ctx["mask"]).flatten(1).sum(1)
        return out


@register_attack
class TopKAttack(SaliencyAttack):
    """Top-k attack (paper 003 Alg. 1): push the map's mass out of its natural top-k pixels."""

    kind, label = "topk", "top-k"
    summary = "move the map's mass out of its top-k pixels (paper 003 Alg. 1)"
    objective_tex = r"D(x_t, x) = -\sum_{i \in B} I(x)_i, \quad B = \text{the } k \text{ largest entries of } I(x_t)"
    sentence = "The top-k attack takes mass away from the k pixels that were most important on the natural digit."

    def dissimilarity(self, i_s, ctx):
        return (i_s * ctx["topk"]).flatten(1).sum(1)

    def score(self, i_real, ctx):
        return topk_intersection(ctx["I0"], i_real, self.k)


@register_attack
class CenterAttack(SaliencyAttack):
    """Mass-center attack (paper 003 Sec. 3): move the map's center of mass as far as possible."""

    kind, label = "center", "mass-center"
    summary = "move the map's center of mass (paper 003 Sec. 3)"
    objective_tex = r"D(x_t, x) = \big\| C(x) - C(x_t) \big\|_2, \quad C(x) = \sum_{i,j} I(x)_{ij}\,[i, j]^\top"
    sentence = "The mass-center attack drags the center of the importance mass (the × on the maps) as far as it can."

    def dissimilarity(self, i_s, ctx):
        shift = center_of_mass(i_s) - ctx["C0"]                  # [B,2]
        dist = shift.norm(dim=1)
        # ‖·‖ has a zero gradient at a zero shift: a smooth model is its own surrogate, so its first iterate is the
        # natural map and the plain objective would never move (status "no-gradient"). There the tie is broken by
        # pushing the center away from the image's middle (first order along that direction).
        h, w = i_s.shape[-2:]
        away = ctx["C0"] - torch.tensor([(h - 1) / 2, (w - 1) / 2], device=i_s.device, dtype=i_s.dtype)
        away = torch.where(away.norm(dim=1, keepdim=True) > 1e-6, away, torch.ones_like(away))
        along = (shift * away / away.norm(dim=1, keepdim=True)).sum(1)
        return -torch.where(dist > 1e-6, dist, along)

    def score(self, i_real, ctx):
        return -center_shift(ctx["I0"], i_real)


@register_attack
class RegionAttack(SaliencyAttack):
    """Targeted region attack (paper 003 Sec. 3): pull the map's mass into ``target``, a bool/0-1
    mask [B or 1,1,H,W] or [H,W] of the images' size."""

    kind, label = "region", "targeted region"
    targeted = True
    summary = "pull the map's mass into a chosen region (paper 003 Sec. 3)"
    objective_tex = r"D(x_t, x) = \sum_{i \in A} I(x)_i, \quad A = \text{the target region}"
    sentence = "The targeted attack pulls importance into a region you choose, whatever the digit looks like there."

    def prepare(self, x, pred, target) -> dict[str, Any]:
        h, w = x.shape[-2:]
        if not isinstance(target, torch.Tensor) or target.shape[-2:] != (h, w) or target.dim() not in (2, 4) or (
                target.dim() == 4 and (target.shape[1] != 1 or target.shape[0] not in (1, len(x)))):
            raise AttackError(f"the region attack needs a mask of shape [B,1,{h},{w}] or [{h},{w}] (the target region)")
        mask = target.to(x.device, torch.float32).expand(len(x), 1, h, w)
        if mask.flatten(1).sum(1).min() == 0:
            raise AttackError("the target region is empty: select at least one pixel")
        return {**super().prepare(x, pred, target), "mask": mask}

    def example_target(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The top-left 10×10 box (the CLI's default ``--region 0,0,10,10``)."""
        return region_mask(0, 0, 10, 10, size=tuple(x.shape[-2:])).expand(len(x), 1, *x.shape[-2:])

    def dissimilarity(self, i_s, ctx):
        return -(i_s * ctx["mask"]).flatten(1).sum(1)

    def score(self, i_real, ctx):
        return -(i_real * ctx["mask"]).flatten(1).sum(1)


@register_attack
class RandomSignAttack(RandomSignStep, SaliencyAttack):
    """The baseline: one step x + ε·sign(N(0,1)) (kept if the label holds, else x)."""

    kind, label = "random", "random sign (baseline)"
    summary = "the baseline: one random-sign step of size ε (paper 003)"
    objective_tex = r"x = x_t + \varepsilon \cdot \operatorname{sign}(\mathcal{N}(0, I))"
    sentence = "The baseline adds random ±ε noise once: how fragile is the map without any optimisation?"

    def step(self, x_adv, pred, ctx) -> StepOut:
        i_real, logits = self.real_map_and_logits(x_adv.detach(), pred)
        return StepOut(loss=(x_adv * 0).flatten(1).sum(1), score=self.score(i_real, ctx), logits=logits)

    def score(self, i_real, ctx):
        return topk_intersection(ctx["I0"], i_real, self.k)


def region_mask(r0: int, c0: int, r1: int, c1: int, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """A [1,1,H,W] 0/1 mask of the box rows r0..r1-1, columns c0..c1-1 of an image of ``size`` (H, W)."""
    h, w = size
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise AttackError(f"a region needs 0 <= r0 < r1 <= {h} and 0 <= c0 < c1 <= {w}, got {r0},{c0},{r1},{c1}")
    mask = torch.zeros(1, 1, h, w)
    mask[..., r0:r1, c0:c1] = 1
    return mask


SLIC_SEGMENTS = 32        # SLIC superpixels per image (about 5-12 of them on an MNIST digit's strokes)
SLIC_COMPACTNESS = 1.0    # on [0,1] grayscale: segments follow the strokes yet stay compact
ON_OBJECT = 0.25          # a superpixel is "on the digit" when its mean intensity is above this
MIN_REGION = 8            # pixels: smaller superpixels are not candidate regions


def quiet_superpixels(x: torch.Tensor, natural_map: torch.Tensor) -> torch.Tensor:
    """The targeted attack's region as paper 003 chose it, made reproducible: per image, a SLIC superpixel
    (Achanta et al. 2012, the paper's Fig. 5 "captured using SLIC superpixel segmentation"; scikit-image's
    ``slic`` on the channel mean) that lies on the object (mean intensity > ``ON_OBJECT``, at least ``MIN_REGION``
    pixels) and that the natural map looks at least (the lowest mean mass per pixel of ``natural_map``): a part of
    the object the explanation ignores, where gradient×input and DeepLIFT can put mass (they multiply by x, so
    empty background cannot receive any). -> 0/1 masks [B,1,H,W]. An image with no such superpixel raises
    ``AttackError``."""
    from skimage.segmentation import slic

    gray = x.detach().float().mean(1).cpu().numpy().astype("float64")
    mass = natural_map.detach().float().sum(1).cpu()
    masks = torch.zeros(x.shape[0], 1, *x.shape[-2:])
    for b in range(x.shape[0]):
        seg = torch.from_numpy(slic(gray[b], n_segments=SLIC_SEGMENTS, compactness=SLIC_COMPACTNESS,
                                    channel_axis=None, start_label=0))
        best, best_mass = None, float("inf")
        for s in seg.unique().tolist():
            inside = seg == s
            if int(inside.sum()) < MIN_REGION or float(gray[b][inside.numpy()].mean()) <= ON_OBJECT:
                continue
            per_pixel = float(mass[b][inside].mean())
            if per_pixel < best_mass:
                best, best_mass = inside, per_pixel
        if best is None:
            raise AttackError(f"image {b} has no SLIC superpixel on the object (mean intensity > {ON_OBJECT}, "
                              f">= {MIN_REGION} pixels) to target")
        masks[b, 0] = best.float()
    return masks



assert set(SALIENCY_METHODS) <= set(list_explainers(differentiable=True))
