"""Time estimates measured on the running machine: a short probe at first use, then every real run.

Why: a fixed cost table (``assets/lipschitz_costs.json``) was measured on another day at another load; the
Lipschitz page promised "about 6 s" and took ~50 s on a loaded machine (issue 14). Here the estimate comes from
this machine:

- **A probe** (a background thread, started by the first ``estimate``): tiny real runs of each job family —
  the concept, prototype and top-k saliency attacks at 2 batch sizes × 2 step counts, and the Lipschitz search
  of the pages' default explainers at 2 sizes — at most ``PROBE_CPU_S`` seconds of CPU; a page never waits
  for it (it shows "calibrating…" or the cost table's number meanwhile).
- **A cost model per job family** (family + model), fitted by non-negative least squares on relative errors:
  ``seconds = fixed + per_digit·n + per_step·steps + per_digit_step·n·steps + setup·[one-time setup]``.
- **Learning from real runs**: every finished service batch, Lipschitz run, influence or experiment run calls
  ``record(job, seconds)``; real runs weigh ``RUN_WEIGHT``× a probe point in the refit, and the mean ratio of
  the last ``RECENT_RUNS`` runs to the fit rescales it (the probe's tiny jobs give the shape, real runs the level).
- **Machine load**: each timing is divided by ``load_factor()`` (1-minute load average over the CPU count) when
  recorded and the estimate multiplied by the current one, so a probe taken while the machine was idle still
  predicts a loaded afternoon.

Families without a measurement fall back to the same family on another model, to the cost table scaled by what
the probe measured (Lipschitz explainers the probe skips: LIME, SHAP…), or say "no estimate yet".

Example:
    est = get_estimator()
    e = est.estimate(attack_job("senn", "senn_concept", n=200, steps=100))
    e.describe()                 # "about 9 s on this machine (measured; 5–14 s)" or "calibrating…"
    est.record(attack_job("senn", "senn_concept", n=200, steps=100), 8.1)
    e.took(8.1)                  # "took 8.1 s (estimated 9 s)"
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

FEATURES = ("fixed", "per digit", "per step", "per digit·step", "setup")
PROBE_CPU_S = 3.0        # the probe stops after this many seconds of its own CPU time
RUN_WEIGHT = 3.0         # a real run counts as much as 3 probe points
RECENT_RUNS = 5         # the last real runs whose mean ratio measured / fitted rescales the fit
MAX_POINTS = 40          # observations kept per family and model (the oldest real runs go first)
LOAD_EXPONENT = 0.5      # niced background jobs slow us less than their share of the load average says


# ------------------------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class Job:
    """What a run does, as the cost model sees it. ``family``: "attack/senn_concept", "attack/saliency_topk/ig"
    (the explainer inside the attack), "lipschitz/occlusion", "experiment/faithfulness"…; ``model`` a shipped
    model's name; ``n`` digits; ``steps`` PGD steps or Lipschitz budget; ``setup`` a one-time setup is included
    (the influence functions' training gradients)."""

    family: str
    model: str = ""
    n: int = 1
    steps: int = 1
    setup: bool = False

    def features(self) -> np.ndarray:
        """The cost model's features: [1, n, steps, n·steps, setup]."""
        n, s = float(max(1, self.n)), float(max(1, self.steps))
        return np.array([1.0, n, s, n * s, float(self.setup)])


def attack_job(model: str, attack: str, n: int, steps: int, method: str | None = None, setup: bool = False) -> Job:
    """An attack of ``n`` digits × ``steps`` (``method``: the explainer a saliency attack differentiates through)."""
    return Job(f"attack/{attack}" + (f"/{method}" if method else ""), model, int(n), int(steps), setup)


def lipschitz_jobs(model: str, explainers: Iterable[str], n: int, budget: int,
                   protocol: str | None = None) -> dict[str, Job]:
    """One job per explainer of a Lipschitz run (``budget`` explainer calls per digit)."""
    tail = f"/{protocol}" if protocol and protocol != "project" else ""
    return {e: Job(f"lipschitz/{e}{tail}", model, int(n), int(budget)) for e in explainers}


def experiment_job(name: str, n: int) -> Job:
    """The estimator's job for experiment ``name`` on ``n`` digits."""
    return Job(f"experiment/{name}", "", int(n), 1)


def _stamp(path: Any) -> tuple[int, int] | None:
    """(mtime in ns, size) of a file, or None when it cannot be read: whether it changed since last read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# --------------------------------------------------------------------------------------- the fit
def fit_cost(x: np.ndarray, seconds: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Non-negative coefficients c with x @ c ≈ seconds, minimising the *relative* squared error (a 0.05 s probe
    and a 60 s run count alike). ``x`` [m, len(FEATURES)], ``seconds`` [m] > 0, ``weights`` [m] (default 1)."""
    x, seconds = np.asarray(x, float), np.asarray(seconds, float)
    w = np.ones(len(seconds)) if weights is None else np.asarray(weights, float)
    scale = w / np.maximum(seconds, 1e-6)
    from scipy.optimize import nnls  # loads on the first fit (0.2 s), not when the app starts

    coef, _ = nnls(x * scale[:, None], w * seconds * scale, maxiter=50 * x.shape[1])
    return coef


def load_factor(load: float | None = None, cpus: int | None = None) -> float:
    """How much slower than an idle machine: ((1-minute load + 1) / CPUs)^LOAD_EXPONENT, at least 1."""
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (OSError, AttributeError):
            return 1.0
    cpus = cpus or os.cpu_count() or 1
    return max(1.0, (float(load) + 1.0) / cpus) ** LOAD_EXPONENT


def _fmt(s: float) -> str:
    if s < 1:
        return f"{s:.1f} s" if s >= 0.1 else "under 0.1 s"
    if s < 90:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


# ---------------------------------------------------------------------------------- the estimate
@dataclass(frozen=True)
class Estimate:
    """``seconds`` (None: no estimate) within [``low``, ``high``]; ``basis``: "measured", "similar model",
    "cost table", "saved runs", "none"; ``runs`` real runs of these jobs seen here; ``calibrating``: the probe
    is still running."""

    seconds: float | None
    low: float | None = None
    high: float | None = None
    basis: str = "none"
    runs: int = 0
    calibrating: bool = False

    def describe(self) -> str:
        """One line for a page: "about 12 s on this machine (measured; 8–18 s)"."""
        if self.seconds is None:
            return ("Time estimate: calibrating on this machine…" if self.calibrating
                    else "Time estimate: none yet for this job (its first run is measured).")
        where = {"measured": "measured" + (f", {self.runs} run{'s' * (self.runs > 1)} here" if self.runs else ""),
                 "similar model": "measured on a similar model", "cost table": "from the cost table",
                 "saved runs": "from saved runs"}.get(self.basis, self.basis)
        about = _fmt(self.seconds) if self.seconds < 0.1 else f"about {_fmt(self.seconds)}"   # never "about under"
        text = f"Estimated time: {about}" + (" on this machine" if self.basis != "saved runs" else "")
        if self.low is not None and self.high is not None and self.high < 0.1:
            text += f" ({where})"
        elif self.low is not None:
            span = f"up to {_fmt(self.high)}" if self.low < 0.1 else f"{_fmt(self.low)}–{_fmt(self.high)}"
            text += f" ({where}; {span})"
        else:
            text += f" ({where})"
        return text + ("; calibrating…" if self.calibrating and self.basis != "measured" else "")

    def took(self, seconds: float) -> str:
        """"took 3.1 s (estimated 2.5 s)" for the caption under a result."""
        return f"Took {_fmt(seconds)}" + (f" (estimated {_fmt(self.seconds)})" if self.seconds is not None else "")


def _combine(parts: list[Estimate]) -> Estimate:
    """The estimate of several jobs run one after another (a Lipschitz run over explainers, two models)."""
    calibrating = any(p.calibrating for p in parts)
    if not parts or any(p.seconds is None for p in parts):
        return Estimate(None, calibrating=calibrating)
    order = ("measured", "similar model", "cost table", "saved runs")
    basis = max((p.basis for p in parts), key=lambda b: order.index(b) if b in order else len(order))
    return Estimate(sum(p.seconds for p in parts), sum(p.low for p in parts), sum(p.high for p in parts), basis,
                    min(p.runs for p in parts), calibrating)


# ---------------------------------------------------------------------------------- the estimator
@dataclass(eq=False)
class _Point:
    x: np.ndarray
    seconds: float          # normalised to an idle machine (divided by the load factor)
    weight: float
    source: str             # "probe" | "run" | "table" | "saved"
    key: str | None = None  # replaces an earlier point with the same key (saved runs re-read on every page view)


class Estimator:
    """Cost models per (family, model), fitted on this machine's timings (see the module docstring).

    Args:
        device: where the probe runs (the service's device; default ``resolve_device()``).
        model_fn: name -> model for the probe (default: its own copy via ``load_model_with_card``, so the probe
            never shares a module with a running job).
        probe: the probe plan, a list of ``(job, run)`` with ``run()`` doing the job once (default ``default_probe``);
            ``[]`` turns the probe off.
        table: ``{model: {explainer: seconds per call}}`` (default: the shipped Lipschitz cost table); seeds the
            Lipschitz families before the probe ends and those it skips, scaled by what it measured.
        load: () -> load factor (default ``load_factor``; tests pass a constant).
    """

    def __init__(self, *, device: Any = None, model_fn: Callable[[str], Any] | None = None,
                 probe: list[tuple[Job | None, Callable[[], Any]]] | None = None, table: dict | None = None,
                 load: Callable[[], float] = load_factor, probe_cpu_s: float = PROBE_CPU_S):
        self.device, self._model_fn, self._plan, self._load, self.probe_cpu_s = device, model_fn, probe, load, probe_cpu_s
        if table is None:
            from ..lipschitz.cost import load_costs

            table = load_costs()["seconds_per_call"]
        self.table = table
        self._points: dict[tuple[str, str], deque[_Point]] = {}
        self._fits: dict[tuple[str, str], tuple[np.ndarray, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.probe_done = threading.Event()
        self.probe_error: str | None = None
        self.probe_seconds = 0.0   # CPU seconds the probe used
        self._saved: dict[str, tuple[int, int]] = {}   # record_saved: folder -> its manifest's (mtime, size) read

    # -- the probe
    def start(self) -> None:
        """Start the probe in a background thread (once; returns at once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._probe, name="sem-estimates-probe", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the probe (tests, benchmarks); True once it has finished."""
        self.start()
        return self.probe_done.wait(timeout)

    @property
    def calibrating(self) -> bool:
        """Whether the start-up probe is still measuring this machine."""
        return not self.probe_done.is_set()

    def _probe(self) -> None:
        cpu0 = time.thread_time()
        try:
            plan = self._plan if self._plan is not None else default_probe(self._model, self.device)
            for job, run in plan:
                if time.thread_time() - cpu0 > self.probe_cpu_s:
                    log.info("estimates: probe stopped at its CPU budget before %s", job)
                    break
                t0 = time.perf_counter()
                run()
                if job is not None:  # None: a warm-up call (first-call costs are not the job's)
                    self.record(job, time.perf_counter() - t0, source="probe")
        except Exception as exc:  # noqa: BLE001 - the probe must never reach a page; the estimate says "none yet"
            self.probe_error = f"{type(exc).__name__}: {exc}"
            log.warning("estimates: probe failed (%s); estimates come from real runs only", self.probe_error)
        finally:
            self.probe_seconds = time.thread_time() - cpu0
            self.probe_done.set()

    def _model(self, name: str):
        if self._model_fn is not None:
            return self._model_fn(name)
        from ..models.hub import load_model_with_card

        if not hasattr(self, "_probe_models"):
            self._probe_models: dict[str, Any] = {}
        if name not in self._probe_models:
            self._probe_models[name] = load_model_with_card(name, self.device or "cpu")[0]
        return self._probe_models[name]

    # -- learning
    def record(self, job: Job, seconds: float, *, source: str = "run", key: str | None = None,
               load: float | None = None) -> None:
        """A measured run of ``job`` (wall seconds); ``load``: its load factor (default: now). Refits at once."""
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            return
        lf = self._load() if load is None else load
        point = _Point(job.features(), float(seconds) / lf, RUN_WEIGHT if source == "run" else 1.0, source, key)
        k = (job.family, job.model)
        with self._lock:
            pts = self._points.setdefault(k, deque())
            if key is not None:
                for old in [p for p in pts if p.key == key]:
                    pts.remove(old)
            pts.append(point)
            while len(pts) > MAX_POINTS:  # the probe's points stay (they span the sizes); the oldest run goes
                pts.remove(next((p for p in pts if p.source == "run"), pts[0]))
            self._fits.pop(k, None)

    def record_each(self, timed: dict[Job, float]) -> None:
        """``record`` every (job, seconds) pair of ``timed``."""
        for job, seconds in timed.items():
            self.record(job, seconds)

    def record_saved(self, folders: Iterable[Any]) -> None:
        """The compute seconds of saved experiment folders (``manifest.json``: experiment, params.n) as points of
        their experiment's family, once per folder; unreadable manifests are skipped."""
        import json
        from pathlib import Path

        from ..experiments.report import compute_seconds

        for folder in folders:
            stamp = _stamp(Path(folder) / "manifest.json")
            if stamp is None or self._saved.get(str(folder)) == stamp:
                continue   # gone, or read already: a page calls this on every rerun
            self._saved[str(folder)] = stamp
            try:
                m = json.loads((Path(folder) / "manifest.json").read_text())
                job, seconds = experiment_job(m["experiment"], int(m["params"]["n"])), compute_seconds(m)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            self.record(job, seconds, source="saved", key=str(folder), load=1.0)

    def coefficients(self, family: str, model: str = "") -> np.ndarray | None:
        """The fitted coefficients (seconds on an idle machine, in ``FEATURES`` order), or None without data."""
        fit = self._fit((family, model))
        return None if fit is None else fit[0]

    def _fit(self, k: tuple[str, str]) -> tuple[np.ndarray, float] | None:
        """(coefficients, spread): spread is the factor that covers the points' relative residuals."""
        with self._lock:
            if k in self._fits:
                return self._fits[k]
            pts = list(self._points.get(k, ()))
        if not pts:
            return None
        x = np.stack([p.x for p in pts])
        y = np.array([p.seconds for p in pts])
        coef = fit_cost(x, y, np.array([p.weight for p in pts]))
        runs = [i for i, p in enumerate(pts) if p.source == "run"][-RECENT_RUNS:]
        if runs:  # the recent real runs set the level (the probe's tiny jobs set the shape)
            coef = coef * math.exp(float(np.mean(np.log(y[runs] / np.maximum(x[runs] @ coef, 1e-9)))))
        resid = np.abs(np.log(np.maximum(x @ coef, 1e-9) / y))
        spread = float(np.clip(math.exp(2 * float(np.sqrt(np.mean(resid ** 2)))), 1.5, 4.0))
        with self._lock:
            self._fits[k] = (coef, spread)
        return coef, spread

    def runs(self, job: Job) -> int:
        """How many real runs of ``job``'s family and model the estimator has seen."""
        with self._lock:
            return sum(p.source == "run" for p in self._points.get((job.family, job.model), ()))

    # -- estimating
    def estimate(self, jobs: Job | Iterable[Job]) -> Estimate:
        """Seconds for ``jobs`` run one after another on this machine now. Starts the probe on first use and
        never waits for it."""
        self.start()
        jobs = [jobs] if isinstance(jobs, Job) else list(jobs)
        lf = self._load()
        return _combine([self._one(j, lf) for j in jobs])

    def _one(self, job: Job, lf: float) -> Estimate:
        calibrating = self.calibrating
        fit = self._fit((job.family, job.model))
        basis = "measured"
        if fit is None:
            fit, basis = self._similar(job), "similar model"
        if fit is None:
            fit, basis = self._from_table(job), "cost table"
        if fit is None:
            return Estimate(None, calibrating=calibrating)
        coef, spread = fit
        if basis == "measured" and job.family.startswith("experiment/"):
            with self._lock:
                saved = all(p.source == "saved" for p in self._points[(job.family, job.model)])
            if saved:  # measured by whoever ran them, at another load
                basis, spread = "saved runs", max(spread, 3.0)
        s = float(job.features() @ coef) * lf
        return Estimate(s, s / spread, s * spread, basis, self.runs(job), calibrating)

    def _similar(self, job: Job) -> tuple[np.ndarray, float] | None:
        """The same family measured on another model (a robust SENN costs what its natural one does)."""
        with self._lock:
            others = [k for k in self._points if k[0] == job.family and k[1] != job.model]
        fits = [f for f in (self._fit(k) for k in others) if f is not None]
        if not fits:
            return None
        coef = np.median(np.stack([f[0] for f in fits]), axis=0)
        return coef, max(2.0, max(f[1] for f in fits))

    def _from_table(self, job: Job) -> tuple[np.ndarray, float] | None:
        """A Lipschitz explainer of the cost table (seconds per digit and call), scaled by this machine's speed:
        the median ratio of measured to table cost over the explainers the probe measured."""
        parts = job.family.split("/")
        if parts[0] != "lipschitz" or len(parts) != 2:
            return None
        per_call = self.table.get(job.model, {}).get(parts[1])
        if not isinstance(per_call, (int, float)):
            return None
        ratios = []
        with self._lock:
            measured = [k for k in self._points if k[0].startswith("lipschitz/") and k[0].count("/") == 1]
        for fam, model in measured:
            ref = self.table.get(model, {}).get(fam.split("/")[1])
            coef = self.coefficients(fam, model)
            if isinstance(ref, (int, float)) and ref > 0 and coef is not None:
                ratios.append(float(Job(fam, model, 5, 20).features() @ coef) / (100 * ref))
        speed = float(np.median(ratios)) if ratios else 1.0
        return np.array([0.0, 0.0, 0.0, per_call * speed, 0.0]), 3.0


# ---------------------------------------------------------------------------------- the probe plan
# (model, attack, config, explainer inside, digits of the large probe batch)
PROBE_ATTACKS = (("senn", "senn_concept", {"eps": 0.3, "lam": 1.0}, None, 64),
                 ("protodl", "protodl_prototype", {"eps": 0.3, "lam": 1.0, "xi": 0.3}, None, 64),
                 ("cnn", "saliency_topk", {"eps": 0.1, "k": 50}, "saliency", 16))
PROBE_LIPSCHITZ = (("cnn", "saliency"), ("cnn", "gradxinput"), ("senn", "self"), ("cnn", "ig"), ("cnn", "occlusion"))


def default_probe(model: Callable[[str], Any], device: Any = None) -> list[tuple[Job | None, Callable[[], Any]]]:
    """The probe: each attack once untimed (warm-up), then at (1 digit, 2 steps), (16–64 digits, 6 steps) and
    (16–64, 2): tiny batches alone overstate the per-digit cost many times on a loaded machine (every operation
    waits for its time slice), a large batch is what the pages run; then each Lipschitz explainer at (1 digit,
    budget 2) and (2 digits, budget 4), cheapest first (the CPU budget may stop it before the last)."""
    import torch

    from ..attacks import create_attack
    from ..lipschitz import explanation_function, local_lipschitz

    g = torch.Generator().manual_seed(0)
    x = torch.rand(max(p[-1] for p in PROBE_ATTACKS), 1, 28, 28, generator=g) * 0.8
    plan: list[tuple[Job | None, Callable[[], Any]]] = []

    def attack(name: str, attack_name: str, cfg: dict, method: str | None, n: int, steps: int) -> Callable[[], Any]:
        def run():
            m = model(name)
            xs = x[:n].to(next(m.parameters()).device)
            extra = {"method": method} if method else {}
            atk = create_attack(m, attack_name, steps=steps, **cfg, **extra)
            return atk(xs, None, target=xs.flip(0) if atk.targeted else None)
        return run

    def lipschitz(name: str, explainer: str, n: int, budget: int) -> Callable[[], Any]:
        def run():
            m = model(name)
            return local_lipschitz(explanation_function(m, explainer), x[:n].to(next(m.parameters()).device),
                                   eps=0.1, budget=budget)
        return run

    for rnd in (0, 1):  # round 0: two corners of every attack and the cheap explainers; round 1: the rest
        for name, attack_name, cfg, method, big in PROBE_ATTACKS:
            if rnd == 0:
                plan.append((None, attack(name, attack_name, cfg, method, 1, 1)))
            for n, steps in (((1, 2), (big, 6)), ((big, 2),))[rnd]:
                plan.append((attack_job(name, attack_name, n, steps, method),
                             attack(name, attack_name, cfg, method, n, steps)))
        for name, explainer in PROBE_LIPSCHITZ[:3] if rnd == 0 else PROBE_LIPSCHITZ[3:]:
            for n, budget in ((1, 2), (2, 4)):
                job = lipschitz_jobs(name, [explainer], n, budget)[explainer]
                plan.append((job, lipschitz(name, explainer, n, budget)))
    return plan


_ESTIMATOR: Estimator | None = None
_ESTIMATOR_LOCK = threading.Lock()


def get_estimator(device: Any = None) -> Estimator:
    """The process's one ``Estimator`` (its probe starts at the first ``estimate``)."""
    global _ESTIMATOR
    with _ESTIMATOR_LOCK:
        if _ESTIMATOR is None:
            from ..device import resolve_device

            _ESTIMATOR = Estimator(device=resolve_device(device))
        return _ESTIMATOR
