"""Sanity checks for explanations (Adebayo et al. 2018, "Sanity checks for saliency maps", Sec. 3-4).

An explanation that explains the *model* must change when the model does. Two tests, one result shape:

- **model parameter randomisation** (``randomisation_check``): the parameterised layers (Linear, Conv, …) are
  re-initialised one at a time from the output (top) to the input, on a copy of the model. ``"cascading"``: each
  step keeps the layers randomised before it, so the last step is a fully random network; ``"independent"``: each
  step randomises that one layer of the trained model. At every step each explainer's maps of the same digits, for
  the same class, are compared with the trained model's (Spearman rank correlation of |map| and of the signed map,
  SSIM of the |map| scaled to [0, 1]): a method that passes decorrelates; one whose maps survive a random network
  reflects the input (edges, strokes), not what the model learnt.
- **data (label) randomisation** (``label_randomisation_check``): the explanations of the real model against those
  of the same architecture trained on permuted labels (``load_label_control``): similar maps fail the test.

Layers are found on the model's backward pass (``parameterised_layers``): a module with parameters of its own,
ordered by when the gradient from the logits reaches them (output first). Parameters the logits do not depend on
(an autoencoder's decoder) are not randomised and are listed as ``unused_layers``.

Re-initialisation: each module's own ``reset_parameters()`` (PyTorch's default init, e.g. Kaiming-uniform for Linear
and Conv) under ``torch.manual_seed(layer_seed(seed, i))`` for the i-th layer from the top, the caller's random
state forked and put back; a module without ``reset_parameters`` (parameters held by the model itself, e.g.
prototypes) gets N(0, σ²) with σ the standard deviation of its trained values. Layer i gets the same weights in
both modes. The caller's model is never touched (a deep copy is randomised).

Example:
    res = randomisation_check(load_model("cnn"), x[:8], explainers=("saliency", "gradxinput"))
    res.layers, res.similarity["saliency"]["spearman_abs"]     # [8, L+1]: column 0 the trained model (1.0)
    res.verdict("saliency")                                     # one sentence, from the numbers
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch
import torch.nn as nn

from ..batching import checkpoint
from ..errors import SemError
from ..metrics.normalize import pixel_map
from ..metrics.rank import spearman
from ..models.capabilities import ConceptModel, PrototypeModel, check_batch, has_capability
from ..params import Param, Settings
from .base import EXPLAINERS, create_explainer, resolve_target

#: the two parameter-randomisation modes (Adebayo et al. Sec. 3) and the label-randomisation control (Sec. 4)
MODES = ("cascading", "independent", "labels")
#: the similarity measures per step: Spearman of |map|, Spearman of the signed map, SSIM of |map| (image maps only)
MEASURES = ("spearman_abs", "spearman", "ssim")
#: the model's own explanations, by capability: SENN's relevances θ at the explained class and concepts h,
#: PrototypeDL's prototype distances; ``SELF`` asks for whichever the model has
SELF_EXPLANATIONS = ("relevances", "concepts", "prototypes")
SELF = "self"
DEFAULT_EXPLAINERS = ("saliency", "gradxinput", "ig", "smoothgrad", SELF)
#: a method passes when the median Spearman (|map|) of its maps falls below this: a rule of thumb (the paper judges
#: by eye and by the trend); 0.5 is about where a map's strongest pixels stop being the trained model's
PASS_BELOW = 0.5
#: the label-randomisation control (``scripts/train_label_control.py``): the shipped CNN's architecture trained on
#: permuted labels; kept out of ``assets/models`` (it is not a model to explain, only a control)
LABEL_CONTROL = Path(__file__).resolve().parents[2] / "assets" / "controls" / "cnn-shuffled-labels.json"

SETTINGS = Settings(
    Param("mode", "cascading", "Randomisation",
          "cascading: randomise the layers one after another from the output down; independent: one layer at a time "
          "of the trained model; labels: compare with the CNN trained on shuffled labels", choices=MODES),
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SanityResult:
    """What a sanity check found, per explainer and step (step 0: the trained model; step i: layer i randomised, or
    the label-randomised control). Tensors on the CPU, the digits in dim 0 (so the service cuts one digit's rows).

    Fields: ``mode`` ("cascading", "independent", "labels"); ``layers`` the labels of steps 1..L, top to input
    (e.g. "head.2 (Linear)"); ``explainers`` those that ran; ``similarity[e][m]`` [B, L+1] for each measure of
    ``MEASURES`` (``None`` for "ssim" of a vector explanation: SSIM compares pictures); ``maps[e]`` [B, L+1, ...]
    the raw explanation at every step; ``kinds[e]`` "image" or "vector"; ``y`` [B] the class explained (the same
    at every step); ``skipped`` explainer → why it could not run on this model; ``unused_layers`` parameterised
    modules the logits do not depend on (not randomised); ``seed``.
    """

    mode: str
    layers: tuple[str, ...]
    explainers: tuple[str, ...]
    similarity: dict[str, dict[str, torch.Tensor | None]]
    maps: dict[str, torch.Tensor]
    kinds: dict[str, str]
    y: torch.Tensor
    skipped: dict[str, str] = field(default_factory=dict)
    unused_layers: tuple[str, ...] = ()
    seed: int = 0

    @property
    def steps(self) -> tuple[str, ...]:
        """The label of every step: "trained model", then each randomised layer (or the control)."""
        return ("trained model", *self.layers)

    def medians(self, explainer: str, measure: str = "spearman_abs") -> list[float]:
        """The median over digits of ``measure`` at every step (NaN-free digits; NaN where none is)."""
        values = self.similarity[explainer][measure]
        if values is None:
            raise SemError(f"{explainer} has no {measure}: its explanation is a vector (SSIM compares images)")
        return [float(v) for v in torch.nanquantile(values.double(), 0.5, dim=0)]   # the two middle values' mean

    def verdict(self, explainer: str) -> tuple[bool, str]:
        """(passes, one sentence) for ``explainer``, from the median Spearman of |map| (``PASS_BELOW``): cascading
        and labels judge the last step (fully random network, or the control); independent the layer whose
        randomisation changes the maps least."""
        med, label = self.medians(explainer), explainer_label(explainer)
        what = "maps" if self.kinds.get(explainer) == "image" else "values"
        at = self._judged_step(med)
        value = med[at]
        if self.mode == "independent":
            where = f"when only {self.layers[at - 1]} is randomised"
        elif self.mode == "labels":
            where = "on the model trained on shuffled labels"
        else:
            where = "once every layer is randomised"
        if math.isnan(value):
            return True, f"{label} passes: its {what} become constant {where} (no ranking left)."
        if value < PASS_BELOW:
            return True, f"{label} passes: its {what} decorrelate (Spearman {value:.2f} {where})."
        signed = self.medians(explainer, "spearman")[at]
        but = (f", though their signs do not (signed Spearman {signed:.2f}): the input's shape, not the model, "
               f"keeps them alike" if signed < PASS_BELOW else "")
        return False, f"{label} fails: its {what} stay similar (Spearman {value:.2f} {where}){but}."

    def _judged_step(self, medians: list[float]) -> int:
        """The step a verdict reads: the last (cascading, labels), or the layer that changes the maps least."""
        if self.mode != "independent":
            return len(medians) - 1
        return 1 + max(range(len(medians) - 1), key=lambda i: -math.inf if math.isnan(medians[i + 1]) else medians[i + 1])

    def to_dict(self) -> dict[str, Any]:
        """JSON: the settings, per explainer and measure the per-digit values [B][L+1] and the medians per step;
        the maps are left out (``maps`` holds them)."""
        def rows(t):
            return None if t is None else [[None if math.isnan(v) else round(v, 6) for v in r] for r in t.tolist()]

        return {"mode": self.mode, "seed": self.seed, "steps": list(self.steps), "explainers": list(self.explainers),
                "y": self.y.tolist(), "skipped": dict(self.skipped), "unused_layers": list(self.unused_layers),
                "kinds": dict(self.kinds),
                "similarity": {e: {m: rows(v) for m, v in ms.items()} for e, ms in self.similarity.items()},
                "medians": {e: {m: (None if v is None else [None if math.isnan(x) else round(x, 6)
                                                             for x in self.medians(e, m)]) for m, v in ms.items()}
                            for e, ms in self.similarity.items()},
                "verdicts": {e: self.verdict(e)[1] for e in self.explainers}}


# ------------------------------------------------------------------------------------------ layers
@dataclass(frozen=True)
class Layer:
    """A parameterised module: ``name`` its qualified name in the model ("" for the model itself), ``label`` what a
    page shows ("head.2 (Linear)", "prototypes (PrototypeDL)")."""

    name: str
    label: str


def _label(name: str, module: nn.Module) -> str:
    own = ", ".join(n for n, _ in module.named_parameters(recurse=False))
    return f"{name or own} ({type(module).__name__})"


def parameterised_layers(model: nn.Module, x: torch.Tensor) -> tuple[list[Layer], list[Layer]]:
    """(layers, unused): the modules with parameters of their own, ordered from the output to the input by the
    backward pass of ``model(x).sum()`` (when the gradient reaches each module's parameters), and those it never
    reaches (e.g. a decoder the logits do not use). ``x``: one or more digits [B,C,H,W] the model takes.
    Found on a copy; the model is not touched."""
    probe = copy.deepcopy(model)
    modules = {name: m for name, m in probe.named_modules() if any(True for _ in m.parameters(recurse=False))}
    order: list[str] = []
    hooks = []
    for name, module in modules.items():
        for p in module.parameters(recurse=False):
            if p.is_floating_point():
                p.requires_grad_(True)
                hooks.append(p.register_hook(lambda g, n=name: order.append(n) if n not in order else None))
    try:
        with torch.enable_grad():
            out = probe(x[:1].detach())
            if isinstance(out, torch.Tensor) and out.requires_grad:
                out.sum().backward()
    finally:
        for h in hooks:
            h.remove()
    layers = [Layer(n, _label(n, modules[n])) for n in order]
    unused = [Layer(n, _label(n, m)) for n, m in modules.items() if n not in order]
    return layers, unused


def layer_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th layer from the top: distinct per layer, the same in both modes."""
    return (int(seed) * 1_000_003 + index + 1) % (2**63)


def reinitialise(module: nn.Module, seed: int) -> None:
    """Re-initialise ``module``'s own parameters: its ``reset_parameters()`` (PyTorch's default init) under
    ``torch.manual_seed(seed)``, else N(0, σ²) per parameter with σ its current standard deviation (1e-2 for a
    constant one). The caller's random state is put back afterwards."""
    own = list(module.parameters(recurse=False))
    cuda = sorted({p.device.index or 0 for p in own if p.is_cuda})
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.manual_seed(seed)
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()
            return
        for p in own:
            sigma = float(p.std()) if p.numel() > 1 else 0.0
            p.normal_(0.0, sigma if sigma > 0 and math.isfinite(sigma) else 1e-2)


def randomised_models(model: nn.Module, layers: Sequence[str], *, mode: str = "cascading",
                      seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """For each module name of ``layers`` (top first): (name, a copy of ``model`` with that layer re-initialised
    (``reinitialise`` with ``layer_seed(seed, i)``), and in ``"cascading"`` mode every layer before it too). The
    cascading copy is one model changed in place step by step: use it before asking for the next."""
    if mode not in ("cascading", "independent"):
        raise SemError(f"mode must be 'cascading' or 'independent', got {mode!r}")
    cascade = copy.deepcopy(model)
    for i, name in enumerate(layers):
        current = cascade if mode == "cascading" else copy.deepcopy(model)
        reinitialise(current.get_submodule(name), layer_seed(seed, i))
        yield name, current


# ------------------------------------------------------------------------------------ explanations
def explainer_label(name: str) -> str:
    """The explainer's name as a page shows it ("Grad × input", "SENN relevances θ")."""
    labels = {"saliency": "Saliency", "gradxinput": "Grad × input", "ig": "Integrated gradients",
              "smoothgrad": "SmoothGrad", "deeplift": "DeepLIFT", "lrp": "LRP", "lime": "LIME", "shap": "SHAP",
              "occlusion": "Occlusion", "relevances": "Relevances θ (own)", "concepts": "Concepts h (own)",
              "prototypes": "Prototype distances (own)"}
    return labels.get(name, name)


def _self_names(model: nn.Module) -> list[str]:
    if has_capability(model, ConceptModel):
        return ["relevances", "concepts"]
    return ["prototypes"] if has_capability(model, PrototypeModel) else []


def check_explainers(names: Iterable[str]) -> tuple[tuple[str, ...], bool]:
    """(``names`` as a tuple, whether none of them draws at random), checked before any model runs: each a
    registered explainer, one of ``SELF_EXPLANATIONS`` or "self"; an unknown one raises ``UnknownNameError``, an
    empty list ``SemError``. Explainers that draw (SmoothGrad, LIME, SHAP) make a batch's result depend on its digits."""
    if isinstance(names, str):
        names = [names]
    names = tuple(names)
    if not names:
        raise SemError("the sanity check needs at least one explainer")
    own = {SELF, *SELF_EXPLANATIONS}
    draws = [e for e in names if e not in own and "seed" in EXPLAINERS.get(e).hyperparameters]
    return names, not draws


def _resolve_explainers(model: nn.Module, explainers: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """(names to run, skipped): "self" expands to the model's own explanations; unknown names raise."""
    names, skipped = [], {}
    for e in explainers:
        if e == SELF:
            own = _self_names(model)
            if not own:
                skipped[SELF] = (f"{type(model).__name__} has no explanation of its own (neither a concept model with "
                                 f"concepts and relevances nor a prototype model with prototype distances)")
            names += [n for n in own if n not in names]
        elif e in SELF_EXPLANATIONS:
            if e not in _self_names(model):
                need = "a concept model (SENN-like)" if e != "prototypes" else "a prototype model (PrototypeDL-like)"
                skipped[e] = f"{type(model).__name__} is not {need}"
            elif e not in names:
                names.append(e)
        else:
            EXPLAINERS.get(e)   # an unknown name: UnknownNameError listing the registered ones
            if e not in names:
                names.append(e)
    return names, skipped


def _explanation(model: nn.Module, name: str, x: torch.Tensor, y: torch.Tensor, seed: int,
                 config: dict[str, Any]) -> torch.Tensor:
    """One explanation of ``x`` for classes ``y``, detached on the CPU: a map [B,C,H,W] or a vector [B,k]."""
    if name in SELF_EXPLANATIONS:
        with torch.no_grad():
            if name == "relevances":   # θ [B,k,K] at the explained class: [B,k]
                theta = model.relevances(x)
                return theta.gather(2, y.view(-1, 1, 1).expand(-1, theta.shape[1], 1))[..., 0].float().cpu()
            if name == "concepts":
                return model.concepts(x).float().cpu()
            return model.prototype_distances(x).float().cpu()
    return create_explainer(model, name, **config.get(name, {}))(x, y, seed=seed).float().cpu()


#: what an explainer may raise when it cannot run on a model (kept as the reason it was skipped)
CANNOT_RUN = (SemError, RuntimeError, ValueError, NotImplementedError)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:300]
    return text if isinstance(exc, SemError) else f"{type(exc).__name__}: {text}"


# ------------------------------------------------------------------------------------ similarities
def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """SSIM per digit of two maps [B,C,H,W] (scikit-image's ``structural_similarity``, Gaussian-free 7×7 windows, or
    the largest odd window that fits): each map as |m| summed over channels, scaled to [0, 1] by its maximum (an
    all-zero map stays zero), data range 1. None when the maps are smaller than 3×3. Returns [B] float64."""
    from skimage.metrics import structural_similarity

    side = min(a.shape[-2:])
    win = min(7, side if side % 2 else side - 1)
    if a.dim() != 4 or win < 3:
        return None

    def scaled(m):
        p = pixel_map(m).double()[:, 0]
        top = p.flatten(1).amax(1).view(-1, 1, 1)
        return (p / torch.where(top > 0, top, torch.ones_like(top))).numpy()

    pa, pb = scaled(a), scaled(b)
    return torch.tensor([structural_similarity(pa[i], pb[i], data_range=1.0, win_size=win)
                         for i in range(len(pa))], dtype=torch.float64)


def _similarities(maps: torch.Tensor, kind: str) -> dict[str, torch.Tensor | None]:
    """Each measure of every step's maps [B, S, ...] against step 0: {measure: [B, S]}."""
    ref = maps[:, 0]
    out: dict[str, list] = {"spearman_abs": [], "spearman": [], "ssim": []}
    for s in range(maps.shape[1]):
        cur = maps[:, s]
        out["spearman_abs"].append(spearman(ref.abs().double(), cur.abs().double()))
        out["spearman"].append(spearman(ref.double(), cur.double()))
        out["ssim"].append(ssim(ref, cur) if kind == "image" else None)
    return {m: (None if any(v is None for v in vals) else torch.stack(vals, 1).double()) for m, vals in out.items()}


# ------------------------------------------------------------------------------------ the checks
def _compare(model: nn.Module, variants: Iterator[tuple[str, nn.Module]], labels: list[str], x: torch.Tensor,
             y, explainers: Iterable[str], *, mode: str, seed: int, config: dict[str, Any] | None,
             on_step: Progress | None, unused: tuple[str, ...] = ()) -> SanityResult:
    """The explanations of ``model`` and of each variant, compared: the shared body of both checks."""
    x, _ = check_batch(model, x, who="the sanity check")
    names, skipped = _resolve_explainers(model, explainers)
    y = resolve_target(model, x, y)   # the same class at every step: only the weights change
    config = dict(config or {})
    steps: dict[str, list[torch.Tensor]] = {}
    for e in names:
        try:
            steps[e] = [_explanation(model, e, x, y, seed, config)]
        except CANNOT_RUN as exc:
            skipped[e] = _reason(exc)
    for i, (label, (_, variant)) in enumerate(zip(labels, variants)):
        for e in list(steps):
            try:
                steps[e].append(_explanation(variant, e, x, y, seed, config))
            except CANNOT_RUN as exc:
                skipped[e] = f"failed once {label} was randomised: {_reason(exc)}"
                del steps[e]
            checkpoint()
        if on_step is not None:
            on_step(i + 1, len(labels))
    maps = {e: torch.stack(v, 1) for e, v in steps.items()}            # [B, L+1, ...]
    kinds = {e: "image" if m.dim() == x.dim() + 1 else "vector" for e, m in maps.items()}
    return SanityResult(mode=mode, layers=tuple(labels), explainers=tuple(maps),
                        similarity={e: _similarities(m, kinds[e]) for e, m in maps.items()}, maps=maps, kinds=kinds,
                        y=y.cpu(), skipped=skipped, unused_layers=unused, seed=int(seed))


def randomisation_check(model: nn.Module, x: torch.Tensor, y=None, *, explainers: Iterable[str] = DEFAULT_EXPLAINERS,
                        mode: str = "cascading", seed: int = 0, layers: Sequence[str] | None = None,
                        config: dict[str, dict[str, Any]] | None = None,
                        on_step: Progress | None = None) -> SanityResult:
    """Adebayo et al.'s model parameter randomisation test, layer by layer from the output to the input.

    Args:
        model: a classifier ``[B,C,H,W]`` → logits ``[B,K]`` (any ``nn.Module``); never modified.
        x: the digits ``[B,C,H,W]`` in the model's input domain (default [0, 1]).
        y: the class explained per digit (int or ``[B]``); default the trained model's prediction, kept at every step.
        explainers: registered explainer names and/or the model's own explanations ("relevances", "concepts",
            "prototypes", or "self" for whichever it has). One that cannot run on this model is in ``skipped``.
        mode: "cascading" (each step keeps the earlier layers randomised) or "independent" (one layer at a time).
        seed: the re-initialisation (``layer_seed``) and the draws of SmoothGrad, LIME and SHAP (the same at every
            step, so only the weights change).
        layers: module names to randomise, top first (default: every parameterised layer, ``parameterised_layers``).
        config: explainer → its hyperparameters (e.g. ``{"ig": {"steps": 32}}``).
        on_step: ``on_step(done, total)`` after each layer.
    Returns:
        ``SanityResult`` (similarities [B, L+1] per explainer and measure, the maps, the skipped explainers).
    Raises ``SemError`` for a model without a parameterised layer reached from its output, an unknown layer or mode.
    """
    if mode not in ("cascading", "independent"):
        raise SemError(f"mode must be 'cascading' or 'independent', got {mode!r} (label randomisation: "
                       f"label_randomisation_check)")
    xs, _ = check_batch(model, x, who="the sanity check")
    found, unused = parameterised_layers(model, xs)
    if not found:
        raise SemError(f"{type(model).__name__} has no parameterised layer (Linear, Conv, …) that its output depends "
                       f"on, so there is nothing to randomise" + (f" (not reached: {', '.join(u.label for u in unused)})"
                                                                   if unused else ""))
    if layers is not None:
        by_name = {l.name: l for l in found + unused}
        missing = [n for n in layers if n not in by_name]
        if missing:
            raise SemError(f"no parameterised layer {', '.join(map(repr, missing))}; the model's: "
                           f"{', '.join(repr(l.name) for l in found)}")
        found = [by_name[n] for n in layers]
    variants = randomised_models(model, [l.name for l in found], mode=mode, seed=seed)
    return _compare(model, variants, [l.label for l in found], x, y, explainers, mode=mode, seed=seed, config=config,
                    on_step=on_step, unused=tuple(u.label for u in unused))


def label_randomisation_check(model: nn.Module, control: nn.Module, x: torch.Tensor, y=None, *,
                              explainers: Iterable[str] = DEFAULT_EXPLAINERS, seed: int = 0,
                              config: dict[str, dict[str, Any]] | None = None,
                              on_step: Progress | None = None) -> SanityResult:
    """Adebayo et al.'s data randomisation test: ``model``'s explanations against those of ``control``, the same
    architecture trained on permuted labels (``load_label_control``), for the same class per digit (``y``, default
    ``model``'s prediction). Arguments as ``randomisation_check``; the result has one step ("control"), mode
    "labels". A method whose maps stay similar (Spearman ≥ ``PASS_BELOW``) fails: its maps do not depend on what
    the model learnt."""
    if type(control) is not type(model):
        raise SemError(f"the control must have the model's architecture: got {type(control).__name__} for a "
                       f"{type(model).__name__}")
    name = getattr(control, "control_name", "the control")
    return _compare(model, iter([(name, control)]), [f"trained on shuffled labels ({name})"], x, y, explainers,
                    mode="labels", seed=seed, config=config, on_step=on_step)


def load_label_control(device: str | torch.device | None = None) -> nn.Module:
    """The label-randomisation control (``LABEL_CONTROL``, trained by ``scripts/train_label_control.py``): the CNN
    trained on permuted training labels, in eval mode, its card verified (``load_model_with_card``)."""
    from ..models.hub import load_model_with_card

    if not LABEL_CONTROL.is_file():
        raise SemError(f"the label-randomisation control is missing ({LABEL_CONTROL}); train it with "
                       f"`python scripts/train_label_control.py`")
    control, _ = load_model_with_card(LABEL_CONTROL, device)
    control.control_name = LABEL_CONTROL.stem
    return control


def summary_table(result: SanityResult, measure: str = "spearman_abs") -> dict[str, list[float]]:
    """explainer → the median ``measure`` at every step (the line chart's numbers)."""
    return {e: result.medians(e, measure) for e in result.explainers
            if result.similarity[e].get(measure) is not None}


__all__ = ["DEFAULT_EXPLAINERS", "LABEL_CONTROL", "MEASURES", "MODES", "PASS_BELOW", "SETTINGS", "Layer",
           "SanityResult", "check_explainers", "explainer_label", "label_randomisation_check", "layer_seed", "load_label_control",
           "parameterised_layers", "randomisation_check", "randomised_models", "reinitialise", "ssim",
           "summary_table"]
