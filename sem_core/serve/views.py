"""The app's attack views as service jobs, their default settings, and precomputing them.

A page builds its job here (``concept_job``, ``prototype_job``, ``saliency_job``, ``batch_job``, ``lipschitz_job``,
``comparison_jobs``, ``influence_jobs``) so that
the page and ``python -m sem_core precompute`` ask for exactly the same thing: the cache key of a
page's default view is the key ``precompute`` filled, and the first Run shows a stored result.

    spec = concept_job("senn", x9, 9, x2, eps=0.3, steps=100, lam=1.0)
    handle = get_service().submit(session_id, spec)
    precompute(get_service())                  # every default view, through the same queue
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import torch

from ..errors import SemError
from .service import PROTOCOL_SEARCH, AttackService, JobSpec

log = logging.getLogger(__name__)
PRECOMPUTE_SESSION = "precompute"

# The pages' default controls (app_pages/*.py pass these same numbers to their widgets).
CONCEPT_DEFAULTS = {"model": "senn", "src": (9, 0), "tgt": (2, 0), "eps": 0.3, "steps": 100, "lam": 1.0}
PROTOTYPE_DEFAULTS = {"model": "protodl", "classes": (0, 2, 4, 6, 8), "which": 0, "eps": 0.3, "steps": 100,
                      "lam": 1.0, "xi": 0.3}
SALIENCY_DEFAULTS = {"model": "cnn", "attack": "saliency_topk", "method": "saliency", "digit": (3, 0), "eps": 0.1,
                     "steps": 50, "k": 50}
# 200 random test digits, each imitating a random digit of another class (the senn-distances protocol; a class
# has only 100 digits in the offline subset's test split)
BATCH_DEFAULTS = {"model": "senn", "how": "random sample", "n": 200, "source_class": 9, "target_class": 2, "seed": 0,
                  "eps": 0.3, "steps": 100, "lam": 1.0}
# 5 test digits drawn by experiments.sampling.pick_digits(seed 0), four explainers, the ε-ball search
LIPSCHITZ_DEFAULTS = {"model": "cnn", "explainers": ("saliency", "gradxinput", "ig", "occlusion"), "n": 5, "eps": 0.1,
                      "budget": 20}
DEFENSE_DEFAULTS = {"models": ("senn-k5", "senn-adv"), "attack": "senn_concept", "src": (9, 0), "tgt": (2, 0),
                    "eps": 0.3, "steps": 100}
STABILITY_DEFAULTS = {"model": "cnn", "explainer": "saliency", "digit": (7, 0), "eps": 0.1, "budget": 20}  # tour step 4


def _labels(y: int | torch.Tensor | None, n: int) -> torch.Tensor | None:
    if y is None:
        return None
    return y.long().reshape(n) if isinstance(y, torch.Tensor) else torch.full((n,), int(y), dtype=torch.long)


def concept_job(model: str, x: torch.Tensor, y, x_t: torch.Tensor, *, eps: float, steps: int, lam: float) -> JobSpec:
    """The concept page's attack (SENN, eq. 1) with its replay frames (about 15 per run)."""
    cfg = {"eps": float(eps), "steps": int(steps), "lam": float(lam), "snapshot_every": -(-int(steps) // 15)}
    return JobSpec(model, "attack", "senn_concept", x, cfg, y=_labels(y, len(x)), target=x_t)


def prototype_job(model: str, x: torch.Tensor, y, *, eps: float, steps: int, lam: float, xi: float) -> JobSpec:
    cfg = {"eps": float(eps), "steps": int(steps), "lam": float(lam), "xi": float(xi)}
    return JobSpec(model, "attack", "protodl_prototype", x, cfg, y=_labels(y, len(x)))


def saliency_job(model: str, attack: str, x: torch.Tensor, y, *, method: str, eps: float, steps: int, k: int,
                 mask: torch.Tensor | None = None) -> JobSpec:
    """A saliency attack; ``mask`` [28,28] bool is the target region of the targeted (region) attack."""
    cfg = {"method": method, "eps": float(eps), "steps": int(steps), "k": int(k)}
    target = None if mask is None else mask.view(1, 1, 28, 28).expand(len(x), 1, 28, 28).clone()
    return JobSpec(model, "attack", attack, x, cfg, y=_labels(y, len(x)), target=target)


def batch_job(model: str, attack: str, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None,
              **config: Any) -> JobSpec:
    """Many digits, no replay frames (the batch page's distributions)."""
    return JobSpec(model, "attack", attack, x, {k: (float(v) if isinstance(v, float) else v) for k, v in config.items()},
                   y=_labels(y, len(x)), target=target)


def lipschitz_job(model: str, explainer: str, x: torch.Tensor, *, eps: float, budget: int, protocol: str | None = None,
                  source: str = "subset", seed: int = 0) -> JobSpec:
    """One explainer's local Lipschitz estimates on ``x``, equal to ``lipschitz_of`` (and so to one entry of
    ``lipschitz_by_explainer``) with the same arguments: the search "auto" in the ε-ball, or ``protocol``'s own
    neighbourhood and search with ``budget`` ratio evaluations (``source``: the data of its per-pixel std)."""
    if protocol is None:
        cfg = {"explainer": explainer, "eps": float(eps), "budget": int(budget)}
        return JobSpec(model, "lipschitz", "auto", x, cfg, seed=int(seed))
    cfg = {"explainer": explainer, "protocol": protocol, "budget": int(budget), "source": source}
    return JobSpec(model, "lipschitz", PROTOCOL_SEARCH, x, cfg, seed=int(seed))


def comparison_jobs(models: list[str], attack: str, x: torch.Tensor, y, target: torch.Tensor | None = None, *,
                    eps: float, steps: int) -> dict[str, JobSpec]:
    """The same attack on each model (the Defenses page), as ``attacks.compare_models`` runs it: model -> job."""
    return {m: batch_job(m, attack, x, y, target, eps=float(eps), steps=int(steps)) for m in models}


def influence_jobs(model: str, x: torch.Tensor, y, *, eps: float, steps: int, k: int, data: str) -> dict[str, JobSpec]:
    """The Influence page's gradient-sign attack on the influence and its random-sign baseline of the same ε
    (paper 003 Sec. 3): {"sign": job, "random": job}."""
    config = {"eps": float(eps), "k": int(k), "data": data}
    return {"sign": batch_job(model, "influence_sign", x, y, steps=int(steps), **config),
            "random": batch_job(model, "influence_random", x, y, **config)}


# ------------------------------------------------------------------------------ digit choice
def nth_of_class(y_all: torch.Tensor, cls: int, k: int) -> int:
    """The test-split index of the ``k``-th digit of class ``cls`` (the pages' class + index picker)."""
    of_class = torch.nonzero(y_all == cls).flatten()
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


# ------------------------------------------------------------------------------- precompute
def default_jobs(service: AttackService) -> list[tuple[str, JobSpec]]:
    """(view name, job) for every page's default view; a view of several jobs (one per explainer or model) has
    several entries. The influence page's view is left out: checking it builds the model's training gradients
    (seconds of CPU and tens of MB at every server start), which only that page needs."""
    from ..experiments.sampling import pick_digits

    from ..data import load_split

    def split(model: str):
        return load_split("test", service.model(model)[1]["data"]["source"])

    d = CONCEPT_DEFAULTS
    x, y, _ = split(d["model"])
    i, t = nth_of_class(y, *d["src"]), nth_of_class(y, *d["tgt"])
    jobs = [("concept", concept_job(d["model"], x[i:i + 1], d["src"][0], x[t:t + 1], eps=d["eps"], steps=d["steps"],
                                    lam=d["lam"]))]
    d = PROTOTYPE_DEFAULTS
    x, y, _ = split(d["model"])
    idx = [nth_of_class(y, c, d["which"]) for c in d["classes"]]
    jobs.append(("prototype", prototype_job(d["model"], x[idx], y[idx], eps=d["eps"], steps=d["steps"], lam=d["lam"],
                                            xi=d["xi"])))
    d = SALIENCY_DEFAULTS
    x, y, _ = split(d["model"])
    i = nth_of_class(y, *d["digit"])
    jobs.append(("saliency", saliency_job(d["model"], d["attack"], x[i:i + 1], d["digit"][0], method=d["method"],
                                          eps=d["eps"], steps=d["steps"], k=d["k"])))
    d = BATCH_DEFAULTS
    x, y, _ = split(d["model"])
    src, tgt = batch_indices(y, d["how"], d["n"], source_class=d["source_class"], target_class=d["target_class"],
                             seed=d["seed"], targets=True)
    jobs.append(("batch", batch_job(d["model"], "senn_concept", x[src], y[src], x[tgt], eps=d["eps"], steps=d["steps"],
                                    lam=d["lam"])))
    d = LIPSCHITZ_DEFAULTS
    x, y, source = split(d["model"])
    idx = pick_digits(y, d["n"], seed=0)
    jobs += [("lipschitz", lipschitz_job(d["model"], e, x[idx], eps=d["eps"], budget=d["budget"], source=source))
             for e in d["explainers"]]
    d = DEFENSE_DEFAULTS
    x, y, _ = split(d["models"][0])
    i, t = nth_of_class(y, *d["src"]), nth_of_class(y, *d["tgt"])
    jobs += [("defenses", spec) for spec in comparison_jobs(list(d["models"]), d["attack"], x[i:i + 1], d["src"][0],
                                                            x[t:t + 1], eps=d["eps"], steps=d["steps"]).values()]
    d = STABILITY_DEFAULTS
    x, y, _ = split(d["model"])
    i = nth_of_class(y, *d["digit"])
    jobs.append(("stability", lipschitz_job(d["model"], d["explainer"], x[i:i + 1], eps=d["eps"], budget=d["budget"])))
    return jobs


def missing_views(service: AttackService) -> list[str]:
    """The default views whose results the cache does not hold yet."""
    return list(dict.fromkeys(name for name, spec in default_jobs(service) if service.peek(spec) is None))


def precompute(service: AttackService, *, views: list[str] | None = None,
               on_view: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Fill the cache with the default views (all, or the named ``views``) through the service's queue, one view
    at a time, so users' jobs are served in between. Returns {view: {"cached", "images", "seconds"}}."""
    jobs = default_jobs(service)
    names = list(dict.fromkeys(name for name, _ in jobs))
    unknown = sorted(set(views or []) - set(names))
    if unknown:
        raise SemError(f"unknown view(s) {', '.join(unknown)}; one of: {', '.join(names)}")
    out: dict[str, dict] = {}
    for k, (name, spec) in enumerate(jobs):
        if views is not None and name not in views:
            continue
        handle = service.submit(PRECOMPUTE_SESSION, spec)
        handle.result()
        seen = out.get(name, {"cached": True, "images": 0, "seconds": 0.0})
        out[name] = {"cached": seen["cached"] and handle.cached == handle.n, "images": seen["images"] + handle.n,
                     "seconds": round(seen["seconds"] + handle.timings()["total_s"], 3)}
        if on_view is not None and all(other != name for other, _ in jobs[k + 1:]):  # the view's last job
            on_view(name, out[name])
    return out


_started = threading.Event()


def precompute_in_background(service: AttackService) -> bool:
    """Start ``precompute`` in a daemon thread once per process when a default view is missing; returns
    whether it started. Never blocks the caller, and a failure is logged, never raised."""
    if _started.is_set():
        return False
    _started.set()

    def work() -> None:
        try:
            if missing_views(service):
                log.info("precomputing the default views in the background: %s", precompute(service))
        except Exception:  # noqa: BLE001 - a background nicety must never take the app down
            log.exception("precomputing the default views failed")

    threading.Thread(target=work, name="sem-precompute", daemon=True).start()
    return True
