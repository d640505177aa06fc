"""Precompute: fill the result cache with every page's default view (``View`` declarations in
``sem_core.serve.views``), through the service's queue, so a page's first Run shows a stored result.

    precompute(get_service())                  # every default view, one at a time
    precompute_in_background(get_service())    # the app at start-up: once per process, never blocking
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from ..data import load_split
from ..errors import SemError
from ..experiments.sampling import pick_digits
from .jobs import JobSpec
from .service import AttackService
from .views import (BATCH, CONCEPT, DEFENSES, LIPSCHITZ, PROTOTYPE, SALIENCY, STABILITY, batch_indices, batch_job,
                    comparison_jobs, concept_job, lipschitz_job, nth_of_class, prototype_job, saliency_jobs)

log = logging.getLogger(__name__)
PRECOMPUTE_SESSION = "precompute"


def _attack_views(split) -> list[tuple[str, JobSpec]]:
    p = CONCEPT.picks
    x, y, _ = split(p["model"])
    i, t = nth_of_class(y, *p["src"]), nth_of_class(y, *p["tgt"])
    jobs = [("concept", concept_job(p["model"], x[i:i + 1], p["src"][0], x[t:t + 1], **CONCEPT.defaults()))]
    p = PROTOTYPE.picks
    x, y, _ = split(p["model"])
    idx = [nth_of_class(y, c, PROTOTYPE.own["which"].default) for c in p["classes"]]
    jobs.append(("prototype", prototype_job(p["model"], x[idx], y[idx], **PROTOTYPE.defaults())))
    p = SALIENCY.picks
    x, y, _ = split(p["model"])
    i = nth_of_class(y, *p["digit"])
    jobs += [("saliency", spec) for spec in saliency_jobs(p["model"], p["attack"], x[i:i + 1], p["digit"][0],
                                                          **SALIENCY.defaults()).values()]   # the attack, its baseline
    p, own = BATCH.picks, BATCH.own.defaults()
    x, y, _ = split(p["model"])
    src, tgt = batch_indices(y, p["how"], own["n"], source_class=own["source_class"],
                             target_class=own["target_class"], seed=own["seed"], targets=True)
    jobs.append(("batch", batch_job(p["model"], "senn_concept", x[src], y[src], x[tgt], **BATCH.defaults())))
    return jobs


def _other_views(split) -> list[tuple[str, JobSpec]]:
    p = LIPSCHITZ.picks
    x, y, source = split(p["model"])
    idx = pick_digits(y, LIPSCHITZ.own["n"].default)   # the page's draw (pick_digits' own seed)
    jobs = [("lipschitz", lipschitz_job(p["model"], e, x[idx], source=source, **LIPSCHITZ.defaults()))
            for e in p["explainers"]]
    p = DEFENSES.picks
    x, y, _ = split(p["models"][0])
    i, t = nth_of_class(y, *p["src"]), nth_of_class(y, *p["tgt"])
    jobs += [("defenses", spec) for spec in comparison_jobs(list(p["models"]), "senn_concept", x[i:i + 1],
                                                            p["src"][0], x[t:t + 1], **DEFENSES.defaults()).values()]
    p = STABILITY.picks
    x, y, _ = split(p["model"])
    i = nth_of_class(y, *p["digit"])
    jobs.append(("stability", lipschitz_job(p["model"], p["explainer"], x[i:i + 1], **STABILITY.defaults())))
    return jobs


def default_jobs(service: AttackService) -> list[tuple[str, JobSpec]]:
    """(view name, job) for every page's default view; a view of several jobs (one per explainer or model) has
    several entries. The influence page's view is left out: checking it builds the model's training gradients
    (seconds of CPU and tens of MB at every server start), which only that page needs."""
    def split(model: str):
        return load_split("test", service.model(model)[1]["data"]["source"])

    return _attack_views(split) + _other_views(split)


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


def precompute_in_background(service: AttackService, delay_s: float = 0.0) -> bool:
    """Start ``precompute`` in a daemon thread once per process when a default view is missing, ``delay_s``
    seconds from now; returns whether it started. Never blocks the caller, and a failure is logged, never raised."""
    if _started.is_set():
        return False
    _started.set()

    def work() -> None:
        time.sleep(delay_s)
        try:
            if missing_views(service):
                log.info("precomputing the default views in the background: %s", precompute(service))
        except Exception:  # noqa: BLE001 - a background nicety must never take the app down
            log.exception("precomputing the default views failed")

    threading.Thread(target=work, name="sem-precompute", daemon=True).start()
    return True
