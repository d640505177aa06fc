"""The app's views: what each page shows, declared once, and the service jobs it asks for.

A ``View`` names the algorithm a page runs and takes its settings from the algorithm's own declaration
(``sem_core.params``): the page draws one widget per declared setting (the ``main`` ones up front, the rest under
"More settings"), parses the URL with it, and builds its job here, so a setting added to an attack appears on the
page, in its links and in the cache key with no other edit. A view may narrow a setting for the page (a lower end
for a slider, fewer steps to keep a shared server responsive) or give it its own default (the Lipschitz page's
smaller budget); it also declares its own numbers (how many digits) and default choices (model, digits).

The page and ``python -m sem_core precompute`` (``sem_core.serve.precompute``) build the same jobs, so the cache key
of a page's default view is the key ``precompute`` filled, and the first Run shows a stored result.

    CONCEPT.defaults()                               # {"eps": 0.3, "steps": 100, "random_start": False, "lam": 1.0}
    spec = concept_job("senn", x9, 9, x2, **CONCEPT.defaults())
    handle = get_service().submit(session_id, spec)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from ..attacks import ATTACKS
from ..errors import SemError
from ..explain.sanity import SETTINGS as SANITY_SETTINGS
from ..lipschitz.search import ContinuousSearch
from ..metrics.normalize import normalize_map
from ..params import Param, Settings
from ..viz.digits import class_indices
from .jobs import JobSpec


@dataclass(frozen=True)
class View:
    """What a page shows. ``declared``: reads the algorithm's declared settings as the page offers them, at every use
    (so a setting added to the algorithm is there, even one added at run time); ``main``: shown up front (the rest
    under "More settings"); ``fixed``: set by the view itself, not shown; ``own``: the view's own numbers (how many
    digits, which one); ``picks``: its default choices (model, digits as (class, index))."""

    name: str
    declared: Callable[[], Settings]
    main: tuple[str, ...] = ("eps",)
    fixed: tuple[str, ...] = ()
    own: Settings = field(default_factory=Settings)
    picks: Mapping[str, Any] = field(default_factory=dict)
    narrow: Mapping[str, Callable[[Param], Param]] = field(default_factory=dict)   # the view's own bounds

    @property
    def settings(self) -> Settings:
        """The algorithm's settings as the page offers them (its declaration, within the view's bounds)."""
        return self.declared()

    def shown(self) -> list[Param]:
        """The settings the page draws a widget for: all but the fixed ones and those derived when not given."""
        return [p for p in self.settings if p.name not in self.fixed and not (p.optional and p.default is None)]

    def more(self) -> list[Param]:
        """The shown settings that are not ``main`` (under "More settings")."""
        return [p for p in self.shown() if p.name not in self.main]

    def defaults(self) -> dict[str, Any]:
        """{name: default} of the shown settings: the algorithm's config of the page's default view."""
        return {p.name: p.default for p in self.shown()}

    def config(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The algorithm's config from the page's ``values``: every shown setting (its default when not given),
        checked; ``SemError`` for a value out of the view's range or a name it does not show."""
        unknown = sorted(set(values) - {p.name for p in self.shown()})
        if unknown:
            raise SemError(f"the {self.name} view has no setting {', '.join(unknown)}")
        return {p.name: p.check(values[p.name], self.name) if p.name in values else p.default for p in self.shown()}


def page_bounds(settings: Settings, **more: Param) -> Settings:
    """``settings`` as a page offers them: ε from 0.01 (a widget needs a lower end), at most 1,000 steps (a page's
    job shares the server with a class), loss weights (≥ 0) at most 100, plus the view's own changes ``more``."""
    narrowed = [p.but(hi=100.0) for p in settings if p.kind is float and p.lo == 0 and p.hi is None]
    if "eps" in settings:
        narrowed.append(settings["eps"].but(lo=0.01, lo_open=False))
    if "steps" in settings:
        narrowed.append(settings["steps"].but(lo=1, hi=1000))
    return settings + (*narrowed, *more.values())


def attack_view(name: str, attack: str, *, main: tuple[str, ...] = ("eps",), fixed: tuple[str, ...] = (),
                own: tuple[Param, ...] = (), picks: Mapping[str, Any] | None = None,
                **narrow: Callable[[Param], Param]) -> View:
    """The view of the registered ``attack``: its declared settings within the page's bounds (``page_bounds``; a
    setting named in ``narrow`` is further changed by its function, e.g. ``steps=lambda p: p.but(hi=500)``), replay
    frames set by the view; the steps of a one-step attack (``steps_fixed``, the random baselines) are not shown."""
    if getattr(ATTACKS.get(attack), "steps_fixed", False):
        fixed = (*fixed, "steps")

    def declared() -> Settings:
        settings = page_bounds(ATTACKS.get(attack).settings)
        return settings + tuple(change(settings[n]) for n, change in narrow.items())
    return View(name, declared, main, ("snapshot_every", *fixed), Settings(*own), dict(picks or {}), dict(narrow))


DIGITS = Param("n", 5, "Digits", "how many test digits", lo=1, hi=100)

CONCEPT = attack_view("concept", "senn_concept", picks={"model": "senn", "src": (9, 0), "tgt": (2, 0)})
PROTOTYPE = attack_view("prototype", "protodl_prototype",
                        own=(Param("which", 0, "Which digit of each class", lo=0, hi=50),),
                        picks={"model": "protodl", "classes": (0, 2, 4, 6, 8)})
SALIENCY = attack_view("saliency", "saliency_topk", main=("eps", "method"), steps=lambda p: p.but(hi=500),
                       picks={"model": "cnn", "attack": "saliency_topk", "digit": (3, 0)})
INFLUENCE = attack_view("influence", "influence_sign", main=("eps", "steps", "k"), fixed=("data",),
                        steps=lambda p: p.but(hi=200), k=lambda p: p.but(hi=20), picks={"model": "cnn", "digit": (7, 0)})
# 200 random test digits, each imitating a random digit of another class (the senn-distances protocol; a class
# has only 100 digits in the offline subset's test split)
BATCH_OWN = (Param("n", 200, "How many digits", lo=1, hi=1000), Param("source_class", 9, "Class", lo=0, hi=9),
             Param("target_class", 2, "Target class", lo=0, hi=9), Param("seed", 0, "Seed (random picks)", lo=0,
                                                                              hi=10_000))
BATCH = attack_view("batch", "senn_concept", main=("eps", "method"), own=BATCH_OWN,
                    picks={"model": "senn", "how": "random sample"})
DEFENSES = attack_view("defenses", "senn_concept", picks={"models": ("senn-k5", "senn-adv"), "src": (9, 0),
                                                          "tgt": (2, 0)})
# 5 test digits drawn by experiments.sampling.pick_digits(seed 0), four explainers, the ε-ball search with a small
# budget (a classroom's wait), the search's own seed is the job's


def _search_settings() -> Settings:
    """The Lipschitz searches' settings as the pages offer them: a smaller budget (a classroom's wait)."""
    settings = page_bounds(ContinuousSearch.settings)
    return settings + (settings["budget"].but(default=20, hi=500),)


LIPSCHITZ = View("lipschitz", _search_settings, main=("eps", "budget"), fixed=("seed", "batch_size"),
                 own=Settings(DIGITS), picks={"model": "cnn", "explainers": ("saliency", "gradxinput", "ig", "occlusion")})
STABILITY = View("stability", _search_settings, main=("eps", "budget"), fixed=LIPSCHITZ.fixed,
                 picks={"model": "cnn", "explainer": "saliency", "digit": (7, 0)})   # the tour's step 4
# Adebayo et al.'s sanity checks: the mode is the check's one declared setting; 8 test digits drawn as the Lipschitz
# page draws them, four gradient explainers ("self", the model's own explanation, is offered beside them)
SANITY = View("sanity", lambda: SANITY_SETTINGS, main=("mode",),
              own=Settings(Param("n", 8, "Digits", "how many test digits", lo=1, hi=20)),
              picks={"model": "cnn", "explainers": ("saliency", "gradxinput", "ig", "smoothgrad")})


def attack_view_of(view: View, attack: str) -> View:
    """``view`` for another attack (the batch and defenses pages switch attacks): that attack's settings."""
    return attack_view(view.name, attack, main=view.main, fixed=tuple(f for f in view.fixed if f != "snapshot_every"),
                       own=tuple(view.own), picks=view.picks, **view.narrow)


def _labels(y: int | torch.Tensor | None, n: int) -> torch.Tensor | None:
    if y is None:
        return None
    return y.long().reshape(n) if isinstance(y, torch.Tensor) else torch.full((n,), int(y), dtype=torch.long)


# ------------------------------------------------------------------------------------ jobs
def concept_job(model: str, x: torch.Tensor, y, x_t: torch.Tensor, **config: Any) -> JobSpec:
    """The concept page's attack (SENN, eq. 1) with its replay frames (about 15 per run); ``config``: the settings of
    ``CONCEPT`` (defaults for the others)."""
    cfg = CONCEPT.config(config)
    cfg["snapshot_every"] = -(-cfg["steps"] // 15)
    return JobSpec(model, "attack", "senn_concept", x, cfg, y=_labels(y, len(x)), target=x_t)


def prototype_job(model: str, x: torch.Tensor, y, **config: Any) -> JobSpec:
    """The prototype page's attack (PrototypeDL, eq. 3); ``config``: the settings of ``PROTOTYPE``."""
    return JobSpec(model, "attack", "protodl_prototype", x, PROTOTYPE.config(config), y=_labels(y, len(x)))


RANDOM_SALIENCY = "saliency_random"   # the saliency attacks' random-sign baseline (paper 003)


def saliency_job(model: str, attack: str, x: torch.Tensor, y, *, mask: torch.Tensor | None = None,
                 **config: Any) -> JobSpec:
    """A saliency attack (``config``: the settings of ``SALIENCY``); ``mask`` [28,28] bool is the target region of the
    targeted (region) attack."""
    target = None if mask is None else mask.view(1, 1, 28, 28).expand(len(x), 1, 28, 28).clone()
    return JobSpec(model, "attack", attack, x, attack_view_of(SALIENCY, attack).config(config), y=_labels(y, len(x)),
                   target=target)


def saliency_jobs(model: str, attack: str, x: torch.Tensor, y, *, mask: torch.Tensor | None = None,
                  **config: Any) -> dict[str, JobSpec]:
    """The saliency page's attack and, beside it, the random-sign baseline of the same ε on the same digits (what its
    verdict compares with, as the saliency-fragility experiment does): {"attack": job, "random": job}; the baseline
    alone when ``attack`` is the baseline. ``config``: the settings of ``SALIENCY`` for ``attack``."""
    jobs = {"attack": saliency_job(model, attack, x, y, mask=mask, **config)}
    if attack != RANDOM_SALIENCY:
        shown = {p.name for p in attack_view_of(SALIENCY, RANDOM_SALIENCY).shown()}
        jobs["random"] = saliency_job(model, RANDOM_SALIENCY, x, y, **{k: v for k, v in config.items() if k in shown})
    return jobs


def batch_job(model: str, attack: str, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None,
              **config: Any) -> JobSpec:
    """Many digits of ``attack``, no replay frames (the batch page's distributions); ``config``: its settings."""
    return JobSpec(model, "attack", attack, x, attack_view_of(BATCH, attack).config(config), y=_labels(y, len(x)),
                   target=target)


def batch_jobs(model: str, attack: str, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None,
               **config: Any) -> dict[str, JobSpec]:
    """The batch page's jobs: {"attack": ``batch_job``} and, for a saliency attack other than the baseline itself,
    "random": the random-sign step of the same ε (and explainer, k) on the same digits, so that each digit is judged
    as on the saliency page (``viz.verdicts.saliency_verdict``)."""
    jobs = {"attack": batch_job(model, attack, x, y, target, **config)}
    if attack.startswith("saliency_") and attack != RANDOM_SALIENCY:
        shown = {p.name for p in attack_view_of(BATCH, RANDOM_SALIENCY).shown()}
        jobs["random"] = batch_job(model, RANDOM_SALIENCY, x, y, **{k: v for k, v in config.items() if k in shown})
    return jobs


def lipschitz_job(model: str, explainer: str, x: torch.Tensor, *, protocol: str | None = None,
                  source: str = "subset", seed: int = 0, **config: Any) -> JobSpec:
    """One explainer's local Lipschitz estimates on ``x``, equal to ``lipschitz_of`` (and so to one entry of
    ``lipschitz_by_explainer``) with the same arguments: the search "auto" in the ε-ball (``config``: the settings
    of ``LIPSCHITZ``), or ``protocol``'s own neighbourhood and search with ``config["budget"]`` ratio evaluations
    (``source``: the data of its per-pixel std)."""
    if protocol is None:
        return JobSpec(model, "lipschitz", "auto", x, {"explainer": explainer, **LIPSCHITZ.config(config)},
                       seed=int(seed))
    budget = LIPSCHITZ.settings["budget"].check(config.get("budget", LIPSCHITZ.settings["budget"].default))
    return JobSpec(model, "lipschitz_protocol", protocol, x, {"explainer": explainer, "budget": budget,
                                                              "source": source}, seed=int(seed))


def comparison_jobs(models: list[str], attack: str, x: torch.Tensor, y, target: torch.Tensor | None = None,
                    **config: Any) -> dict[str, JobSpec]:
    """The same attack on each model (the Defenses page), as ``attacks.compare_models`` runs it: model -> job."""
    return {m: batch_job(m, attack, x, y, target, **config) for m in models}


def influence_jobs(model: str, x: torch.Tensor, y, *, data: str, **config: Any) -> dict[str, JobSpec]:
    """The Influence page's gradient-sign attack on the influence and its random-sign baseline of the same ε
    (paper 003 Sec. 3): {"sign": job, "random": job}; ``config``: the settings of ``INFLUENCE``."""
    cfg = INFLUENCE.config(config)
    base = {k: v for k, v in cfg.items() if k != "steps"}
    return {"sign": JobSpec(model, "attack", "influence_sign", x, {**cfg, "data": data}, y=_labels(y, len(x))),
            "random": JobSpec(model, "attack", "influence_random", x, {**base, "data": data}, y=_labels(y, len(x)))}


def sanity_job(model: str, x: torch.Tensor, explainers: list[str], y=None, *, seed: int = 0,
               **config: Any) -> JobSpec:
    """Adebayo et al.'s sanity check of ``explainers`` on the digits ``x`` (``sem_core.explain.sanity``); ``config``:
    the settings of ``SANITY`` (``mode``: cascading, independent or labels); ``y``: the class explained (default
    the predictions)."""
    mode = SANITY.config(config)["mode"]
    return JobSpec(model, "sanity", mode, x, {"explainers": list(explainers)}, y=_labels(y, len(x)), seed=int(seed))


# ------------------------------------------------------------------------------ digit choice
def nth_of_class(y_all: torch.Tensor, cls: int, k: int) -> int:
    """The test-split index of the ``k``-th digit of class ``cls`` (the pages' class + index picker)."""
    of_class = class_indices(y_all, cls)
    return int(of_class[min(int(k), len(of_class) - 1)])


def batch_indices(y_all: torch.Tensor, how: str, n: int, *, source_class: int = 0, target_class: int = 1,
                  seed: int = 0, targets: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Which test digits a batch attacks: (indices [n'], target indices [n'] or None).

    how: "class" (the first n of ``source_class``), "random sample" (n drawn with ``seed``), or "class pairs"
    (n digits of ``source_class``, each with a random digit of ``target_class`` as its concept target).
    ``targets``: also draw a target for every digit (one of another class, with ``seed``) when ``how`` is not
    "class pairs" (paper 000 Fig. 2 pairs digits with targets of other classes). n' ≤ n when a class has fewer.
    """
    g = torch.Generator().manual_seed(int(seed))
    if how == "random sample":
        src = torch.randperm(len(y_all), generator=g)[:n]
    else:
        src = torch.nonzero(y_all == source_class).flatten()[:n]
    if how == "class pairs":
        pool = torch.nonzero(y_all == target_class).flatten()
        return src, pool[torch.randint(len(pool), (len(src),), generator=g)]
    if not targets:
        return src, None
    tgt = torch.empty_like(src)
    for c in y_all[src].unique():
        mine = y_all[src] == c
        pool = torch.nonzero(y_all != c).flatten()
        tgt[mine] = pool[torch.randint(len(pool), (int(mine.sum()),), generator=g)]
    return src, tgt


# ------------------------------------------------------------------------- views of several jobs
def explain_jobs(model: str, x: torch.Tensor, target=None, explainers: list[str] | None = None) -> dict[str, JobSpec]:
    """Every explainer (default: all registered) on the images ``x`` [B,1,28,28], as ``explain_all`` runs them,
    one "explain" job each: explainer -> job. ``target``: the class per image (int or [B]; default: predicted)."""
    from ..explain import list_explainers

    names = list(explainers) if explainers is not None else list_explainers()
    return {e: JobSpec(model, "explain", e, x, {}, y=_labels(target, len(x))) for e in names}


def explainer_grid_of(maps: dict[str, torch.Tensor], skipped: dict[str, str] | None = None):
    """The ``ExplainerGrid`` that ``explain_all`` returns, from the ``explain_jobs``' raw maps (explainer ->
    [B,1,28,28]) and the explainers the model refused (explainer -> message): each map normalised to sum 1,
    ``maps[e, b]`` [E,B,28,28] on the CPU, in the order of ``maps``."""
    from ..explain import ExplainerGrid

    names = list(maps)
    stacked = (torch.stack([normalize_map(maps[e]).cpu()[:, 0] for e in names]) if names
               else torch.empty(0, 0, 28, 28))
    return ExplainerGrid(names, stacked, dict(skipped or {}))


def comparison_of(attack: str, results: dict[str, Any]):
    """The ``Comparison`` that ``attacks.compare_models`` returns, from the ``comparison_jobs``' results (model ->
    ``AttackResult``): ``.results`` and ``.table()``, one row per model."""
    from ..attacks.compare import Comparison

    return Comparison(attack, dict(results))
