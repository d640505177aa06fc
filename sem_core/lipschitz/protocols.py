"""Lipschitz protocols as data: the neighbourhood, the search, the explainers' settings and SENN's ratio.

Two registered protocols (``list_protocols()``, ``get_protocol(name)``):
    authors  what the authors' code ran (github dmelis/robust_interpret, reconstructed; see ``AUTHORS.notes``)
    strict   the clean comparison: an L∞ ball in pixel units, one search and one budget for every explainer,
             every seed fixed
Both keep inputs in [0,1] at this API. The authors scaled MNIST to [−1,1] (``scripts/main_mnist.py``,
``load_mnist_data``: x_s = 2x − 1). Their box_std box x_s ± ε·std(x_s) is x ± ε·std(x) in [0,1] units (std
scales with the data), so ε means the same number under both scalings; ratios here are in [0,1] units. In their
units ‖x_s − x_s'‖ is 2‖x − x'‖ and a gradient w.r.t. x_s is half the gradient w.r.t. x, so their saliency ratio
is ¼ of ours and their LIME (probabilities) and SENN θ ratios ½ of ours; rankings that mix the two kinds of
map can differ by that factor of 2.

Example:
    >>> p = get_protocol("authors")
    >>> res = protocol_lipschitz(cnn, "lime", x[:2], p, std=pixel_std("subset"), calls=10)
    >>> res.values, res.config["norm"]          # box
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..errors import SemError
from ..models.base import ExplanationFunction, SemModel
from ..registry import Registry
from .core import SELF, Progress, explanation_function
from .result import LipschitzResult
from .search import create_search

#: the authors' floor on the per-pixel std ("gp can't have lower bound equal upper bound", explainers.py)
MIN_STD = 0.001
#: SENN's explanation θ_ŷ (relevances of the predicted class) over the input change, the authors' ratio
THETA_PRED = "theta_pred"
BLACK_BOX = ("lime", "shap")
AUTHORS_CODE = "github dmelis/robust_interpret: robust_interpret/explainers.py, scripts/main_mnist.py"


@dataclass(frozen=True)
class Protocol:
    """How a Lipschitz experiment is run.

    neighbourhood: "box_std" (x ± eps·max(std, 0.001) per pixel, std over the training digits, clipped to the
    data range [0,1]) or "linf" (x ± eps, clipped to [0,1]); eps: its scale; search: the registered search used
    for every explainer; calls / calls_blackbox: ratio evaluations per digit (LIME and SHAP take the second);
    explainers: the line-up ("senn:NAME" = the SENN model's explanation NAME, else an explainer of the CNN);
    explainer_config: hyperparameters per explainer; senn_self: what "self" means for SENN ("theta_pred":
    ‖θ_ŷ(x) − θ_ŷ(x')‖/‖x − x'‖, or "eq5": ‖θ(x) − θ(x')‖/‖h(x) − h(x')‖); fresh_lime_masks: LIME draws new
    masks at every call (seeded stream) instead of one fixed seed; recompute_reference: E(x) is explained again
    at every evaluation; notes: how it differs from the other protocol and from the paper, with citations.
    """

    name: str
    summary: str
    neighbourhood: str
    eps: float
    search: str
    calls: int
    calls_blackbox: int
    explainers: tuple[str, ...]
    explainer_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    senn_self: str = "eq5"
    fresh_lime_masks: bool = False
    recompute_reference: bool = False
    notes: tuple[str, ...] = ()
    citations: tuple[str, ...] = ()

    def calls_for(self, explainer: str) -> int:
        """Ratio evaluations per digit for ``explainer`` ("cnn:lime" and "lime" alike)."""
        return self.calls_blackbox if explainer.split(":")[-1] in BLACK_BOX else self.calls

    def to_dict(self) -> dict[str, Any]:
        """The protocol's settings as a JSON-ready dict (for results and manifests)."""
        d = asdict(self)
        d["explainers"], d["notes"], d["citations"] = list(self.explainers), list(self.notes), list(self.citations)
        return d


PROTOCOLS: Registry[Protocol] = Registry("Lipschitz protocol")


def register_protocol(p: Protocol) -> Protocol:
    """Register ``protocol`` under its name (duplicates raise)."""
    return PROTOCOLS.register(p.name)(p)


def get_protocol(name: str) -> Protocol:
    """The registered protocol ``name``; unknown names list the registered ones."""
    return PROTOCOLS.get(name)


def list_protocols() -> list[str]:
    """The registered protocols' names."""
    return PROTOCOLS.names()


AUTHORS = register_protocol(Protocol(
    name="authors",
    summary="what the authors' code ran: box_std neighbourhood, skopt gp_minimize for every explainer, "
            "quickshift LIME on probabilities, SENN θ_ŷ over ‖Δx‖",
    neighbourhood="box_std", eps=0.1, search="gp_minimize", calls=200, calls_blackbox=40,
    explainers=("saliency", "gradxinput", "ig", "lrp", "occlusion", "lime", "senn:self"),
    explainer_config={"ig": {"steps": 100}, "occlusion": {"window": 1, "stride": 1},
                      "lrp": {"epsilon": 1e-4},
                      "lime": {"samples": 1000, "segmentation": "quickshift", "features": 10, "output": "probs",
                               "hide": "mean"}},
    senn_self=THETA_PRED, fresh_lime_masks=True, recompute_reference=True,
    notes=(
        "Neighbourhood: explainers.py, explainer_wrapper.local_lipschitz_estimate(bound_type='box_std'): "
        "x ± eps·max(std, 0.001) per pixel, std = x_train.std(0), clipped to [x_train.min(), x_train.max()] "
        "(= [0,1] here); pixels that never vary in the training digits (the border) move by eps·0.001 only.",
        "eps = 0.1 as paper 002 §3 states; scripts/main_mnist.py's own default was --lip_eps 1.0.",
        "Search: skopt gp_minimize(f, bounds, n_calls) for every explainer (local_lipschitz_estimate, optim='gp'), "
        "f = −lipschitz_ratio, which explains x again at every call. Budget: paper 002 §3 says 200 calls (40 for "
        "LIME/SHAP); scripts/main_mnist.py's default --lip_calls was 10 (all ten are skopt's random initial "
        "points). Here random_state is fixed per digit (theirs was unset) and n_jobs = 1 (theirs −1).",
        "Inputs: scripts/main_mnist.py load_mnist_data scales to [−1,1]; here inputs stay in [0,1] and ratios are "
        "in [0,1] units (their saliency ratio would be ¼ of ours, LIME's and SENN's ½; see the module docstring).",
        "LIME: scripts/main_mnist.py builds lime_wrapper(model.predict, num_samples=1000, num_features=10) with "
        "SegmentationAlgorithm('quickshift', kernel_size=1, max_dist=200, ratio=0.1); model.predict returns "
        "softmax probabilities; LimeImageExplainer has no random_state (fresh masks every call: here a seeded "
        "stream) and hide_color None (a hidden segment takes its mean); explainers.py lime_wrapper."
        "get_img_weight_matrix_ paints the 10 largest |w|, the rest 0.",
        "Explained class: the max logit (deepexplain_wrapper.__call__: tf.reduce_max of the pre-softmax layer; "
        "lime_wrapper: top_labels=1), at x and at every x' separately; maps are raw (no normalisation).",
        "Gradient explainers: DeepExplain's defaults as far as the script shows (IG 100 steps, occlusion one pixel "
        "at a time, ε-LRP ε = 1e-4); their zero baseline / occlusion fill is 0 in [−1,1] units (grey), ours is "
        "black: not emulated. The line-up is main_mnist.py's (Saliency, Grad*Input, Int.Grad., e-LRP, Occlusion, "
        "LIME) plus SENN.",
        "SENN: explainers.py gsenn_wrapper.__call__ returns θ of the predicted class (bias column skipped) and "
        "lipschitz_ratio divides by ‖x − x'‖: ‖θ_ŷ(x) − θ_ŷ(x')‖ / ‖x − x'‖, not paper 001 eq. 5 over ‖Δh‖.",
    ),
    citations=(AUTHORS_CODE, "paper 002 §3 (eps = 0.1, 200 / 40 calls)", "paper 001 Fig. 5C"),
))

STRICT = register_protocol(Protocol(
    name="strict",
    summary="the clean comparison: L∞ ball of eps in pixel units, one search (batched BO) and one budget for "
            "every explainer, seeds fixed",
    neighbourhood="linf", eps=0.1, search="bayesopt", calls=40, calls_blackbox=40,
    explainers=("saliency", "gradxinput", "ig", "deeplift", "smoothgrad", "lrp", "occlusion", "lime", "shap",
                "senn:self", f"senn:{THETA_PRED}"),
    senn_self="eq5",
    notes=(
        "Neighbourhood: the L∞ ball of radius eps = 0.1 in pixel units, clipped to [0,1] (paper 002 eq. 1 with "
        "the norm made explicit); every pixel may move by eps, the border included.",
        "Search: the same batched Bayesian optimisation over 7×7 blocks (sem_core/lipschitz/bayesopt.py) with the "
        "same budget for every explainer, so the ranking compares explainers, not searches.",
        "Explainers at the project's settings (LIME and SHAP on 49 grid cells, logits, fixed seed; IG 32 steps); "
        "maps raw.",
        "SENN: senn:self is paper 001 eq. 5 (‖Δθ‖ over ‖Δh‖, all k×10 relevances); senn:theta_pred is the "
        "authors' θ_ŷ over ‖Δx‖, in the same units as the post-hoc maps.",
    ),
    citations=("paper 002 eq. 1", "paper 001 eq. 5"),
))


@functools.lru_cache(maxsize=4)
def pixel_std(source: str) -> torch.Tensor:
    """Per-pixel standard deviation [1,28,28] of the training digits of ``source`` (numpy's ``std(0)``, ddof 0,
    as the authors' ``x_stats['std']``)."""
    from ..batching import run_beside
    from ..data import load_split

    x, _, _ = run_beside(load_split, "train", source)   # seconds the first time: the service serves others meanwhile
    return x.double().std(0, unbiased=False).float()


def radius(protocol: Protocol, std: torch.Tensor | None) -> torch.Tensor | None:
    """The per-pixel half-width [C,H,W] of a box_std protocol (eps·max(std, 0.001)); None for linf."""
    if protocol.neighbourhood == "linf":
        return None
    if std is None:
        raise SemError("a box_std protocol needs the per-pixel std of the training data (pixel_std(source))")
    return protocol.eps * std.clamp_min(MIN_STD)


def neighbourhood_bounds(x: torch.Tensor, protocol: Protocol,
                         std: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper) [B,C,H,W] of the protocol's neighbourhood of ``x``, clipped to the data range [0,1]."""
    r = radius(protocol, std)
    half = protocol.eps if r is None else r.to(x.device, x.dtype)[None]
    return (x - half).clamp(0.0, 1.0), (x + half).clamp(0.0, 1.0)


def theta_pred_explanation(model: SemModel) -> ExplanationFunction:
    """SENN's θ_ŷ(x) [B,k]: the relevances of the class predicted at each point, over the input (D = None).

    The authors' SENN ratio (robust_interpret explainers.py, gsenn_wrapper.__call__ + lipschitz_ratio)."""
    if not hasattr(model, "relevances"):
        raise SemError(f"{type(model).__name__} has no relevances θ; '{THETA_PRED}' is SENN's explanation")

    def fn(z: torch.Tensor) -> torch.Tensor:
        theta = model.relevances(z)                                   # [B,k,C]
        pred = model(z).argmax(1)
        return theta.gather(2, pred.view(-1, 1, 1).expand(-1, theta.shape[1], 1)).squeeze(2)

    return ExplanationFunction(fn, True, None, THETA_PRED)


def _fresh_seed(explanation: ExplanationFunction, model, name: str, config: dict[str, Any]) -> ExplanationFunction:
    """``explanation`` with a new seed at every call (seed, seed+1, ...): lime's unseeded explainer, repeatable."""
    counter = itertools.count(int(config.get("seed", 0)))

    def fn(z: torch.Tensor) -> torch.Tensor:
        return explanation_function(model, name, **{**config, "seed": next(counter)}).fn(z)

    return ExplanationFunction(fn, explanation.differentiable, explanation.denominator, name)


def protocol_explanation(model, name: str, protocol: Protocol) -> ExplanationFunction:
    """The ``ExplanationFunction`` of ``name`` on ``model`` under ``protocol`` ("self" on SENN follows
    ``protocol.senn_self``; "theta_pred" is always the authors' θ_ŷ)."""
    if name == THETA_PRED or (name == SELF and protocol.senn_self == THETA_PRED and hasattr(model, "relevances")):
        return theta_pred_explanation(model)
    config = dict(protocol.explainer_config.get(name, {}))
    explanation = explanation_function(model, name, **config)
    if name == "lime" and protocol.fresh_lime_masks:
        return _fresh_seed(explanation, model, name, config)
    return explanation


def noise_floor(model, name: str, x: torch.Tensor, protocol: Protocol, *, seed: int = 0) -> torch.Tensor | None:
    """An explainer's own noise at each point, scale-free: ‖E_s(x) − E_s+1(x)‖ / ‖E_s(x)‖ for two seeds s, s+1 of
    its random draws (LIME's masks, SHAP's coalitions, SmoothGrad's noise) under ``protocol``'s settings; None for
    an explainer that draws nothing (its floor is 0). A Lipschitz-type change no larger than this is the explainer's
    sampling, not the input's change. -> [B] (CPU)."""
    if name in (SELF, THETA_PRED):
        return None
    config = dict(protocol.explainer_config.get(name, {}))
    from ..explain import create_explainer

    if create_explainer(model, name, **config).draws_nothing:
        return None
    with torch.no_grad():
        maps = [explanation_function(model, name, **{**config, "seed": seed + k}).fn(x).flatten(1).double().cpu()
                for k in (0, 1)]
    norm = maps[0].norm(dim=1)
    return (maps[0] - maps[1]).norm(dim=1) / norm.where(norm > 0, torch.tensor(float("nan"), dtype=norm.dtype))


def protocol_lipschitz(model, name: str, x: torch.Tensor, protocol: Protocol, *, std: torch.Tensor | None = None,
                       seed: int = 0, calls: int | None = None, search: str | None = None,
                       on_step: Progress | None = None) -> LipschitzResult:
    """Local Lipschitz estimates of ``name`` on ``model`` at the digits ``x`` [B,1,28,28] under ``protocol``.

    calls: ratio evaluations per digit (default the protocol's, ``calls_for(name)``); search: another search
    over the same neighbourhood (e.g. "bayesopt", the fast batched one, to compare with "gp_minimize").
    The result's config names the protocol.
    """
    explanation = protocol_explanation(model, name, protocol)
    search = search or protocol.search
    n = calls if calls is not None else protocol.calls_for(name)
    extra = {"recompute_reference": protocol.recompute_reference} if search == "gp_minimize" else {}
    s = create_search(search, explanation, eps=protocol.eps, budget=n + 1, seed=seed, radius=radius(protocol, std),
                      **extra)
    res = s(x, on_step=on_step)
    config = {**res.config, "protocol": protocol.name, "neighbourhood": protocol.neighbourhood, "ratio_calls": n}
    return LipschitzResult(values=res.values, x=res.x, x_prime=res.x_prime, expl=res.expl, expl_prime=res.expl_prime,
                           calls=res.calls, search=res.search, history=res.history, config=config)


def split_name(entry: str) -> tuple[str, str]:
    """"senn:self" -> ("senn", "self"); "lime" -> ("cnn", "lime")."""
    return tuple(entry.split(":", 1)) if ":" in entry else ("cnn", entry)  # type: ignore[return-value]


__all__ = ["AUTHORS", "MIN_STD", "PROTOCOLS", "Protocol", "STRICT", "THETA_PRED", "get_protocol", "list_protocols",
           "neighbourhood_bounds", "noise_floor", "pixel_std", "protocol_explanation", "protocol_lipschitz", "radius",
           "register_protocol", "split_name", "theta_pred_explanation"]
