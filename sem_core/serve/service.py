"""One attack service per process: every session's attacks, explanations and Lipschitz requests
run here, batched together, on the best device, through the shared result cache.

Why: the app ran each attack in the script thread of the session that asked, one digit at a time;
30 sessions pressing Run together competed for the same cores, each paying the whole per-call
overhead (a SENN concept attack costs 0.20 s for 1 digit, 3.6 s for 100: batching is 5.5× per digit).
Here one worker thread takes the queued jobs and runs compatible ones (same model, kind, name,
config and seed) as one batched call; each session gets its own rows.

- ``submit(session, JobSpec)`` checks the input (shapes, names, config) at once, so bad input is
  an error to that session only, and returns a ``JobHandle`` (progress, position in the queue,
  ``cancel()``, ``result()``). Images whose result is cached cost nothing: a job that is entirely
  cached is done on return.
- Fairness: the next batch leads with the job of the session served least recently, and fills up
  with compatible jobs of every session one image per session in turn.
- Joining: a job of a ``joinable`` attack (SENN concept, PrototypeDL prototype: each image's PGD iterates depend
  on that image alone) that arrives while a compatible batch runs joins it at its own step 0 instead of
  waiting for the batch to end, while nothing of another kind waits (``_run_joined``).
- Bounded: at most ``max_queued`` jobs wait (``max_per_session`` per session); beyond that
  ``QueueFullError`` says so at once instead of a hang; a queued job reports "position N".
- CUDA out of memory splits the batch in halves and retries; a failing job in a mixed batch is
  retried alone, so nothing another session computed is lost.
- Results per image go to the ``ResultCache`` (memory + disk), keyed by ``cache.result_key``.

Jobs whose images influence each other's randomness (random starts, random-sign steps) are never
coalesced: their cache keys cover the whole job, so a cached result equals a fresh run.

Example:
    svc = get_service()
    h = svc.submit("alice", JobSpec("senn", "attack", "senn_concept", x9, config={"eps": 0.3}, target=x2))
    h.progress, h.status()            # 0.4, "running: 40 %"
    res = h.result()                  # AttackResult of x9 (raises SemError on failure or cancel)
"""
from __future__ import annotations

import ctypes
import gc
import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..batching import batch_cat, batch_rows
from .cache import ResultCache, default_cache_dir, result_key, tensor_digest
from ..device import resolve_device
from ..errors import SemError
from .worker import WorkerDied, WorkerProcess

log = logging.getLogger(__name__)
KINDS = ("attack", "explain", "lipschitz")
PROTOCOL_SEARCH = "protocol"   # a Lipschitz job of this name runs config["protocol"] (sem_core.lipschitz.protocols)
DETERMINISTIC_EXPLAINERS = frozenset({"saliency", "gradxinput", "ig", "deeplift", "lrp", "occlusion"})
MAX_JOB_IMAGES = 5000
# Seconds idle after the last activity at which freed memory is given back (pages keep rendering for a while
# after their job; glibc keeps freed heap pages otherwise: issue 16).
TRIM_AFTER_S = (2.0, 10.0, 30.0, 90.0)
TRIM_EVERY_S = 60.0


class ServiceError(SemError):
    """A job could not be accepted or finished (the message says why and what to do)."""


class QueueFullError(ServiceError):
    """Too many jobs wait already; try again in a moment."""


class JobCancelled(ServiceError):
    """The job was cancelled before it finished."""


@dataclass(frozen=True)
class JobSpec:
    """What to compute. ``x`` [n,1,28,28] in [0,1]; ``y`` [n] labels or None; ``target`` [n,...] per image
    (target images, a region mask) or None; ``kind`` "attack" | "explain" | "lipschitz"; ``name`` the
    attack / explainer / Lipschitz search; ``config`` its keyword arguments (for "lipschitz": the search's,
    plus ``explainer`` and optionally ``explainer_config``; the search "protocol" takes ``explainer``, ``protocol``,
    ``budget`` and ``source`` instead); ``model`` a shipped model's name."""

    model: str
    kind: str
    name: str
    x: torch.Tensor
    config: dict[str, Any] = field(default_factory=dict)
    y: torch.Tensor | None = None
    target: torch.Tensor | None = None
    seed: int = 0


# ----------------------------------------------------------------------------------- runners
Runner = Callable[..., Any]   # (model, name, config, x, y, target, seed, on_step) -> batched result


def _run_attack(model, name, config, x, y, target, seed, on_step):
    from ..attacks import create_attack

    return create_attack(name, model, **config)(x, y, target=target, seed=seed, on_step=on_step)


def _run_explain(model, name, config, x, y, target, seed, on_step):
    from ..explain import create_explainer

    maps = create_explainer(name, model, **config)(x, y)
    return maps.detach().cpu()


def _run_lipschitz(model, name, config, x, y, target, seed, on_step):
    from ..lipschitz import explanation_function, lipschitz_of, local_lipschitz

    cfg = dict(config)
    if name == PROTOCOL_SEARCH:  # a published protocol's neighbourhood, search and settings
        return lipschitz_of(model, cfg["explainer"], x, budget=cfg["budget"], seed=seed, on_step=on_step,
                            protocol=cfg["protocol"], source=cfg.get("source", "subset"))
    explanation = explanation_function(model, cfg.pop("explainer"), **cfg.pop("explainer_config", {}))
    return local_lipschitz(explanation, x, search=name, on_step=on_step, **{"seed": seed, **cfg})


RUNNERS: dict[str, Runner] = {"attack": _run_attack, "explain": _run_explain, "lipschitz": _run_lipschitz}


def _validate(model, spec: JobSpec) -> tuple[bool, bool]:
    """Check ``spec`` against its model by building the configured algorithm (no data run); returns whether
    the job may be coalesced with others (its images do not share random draws) and whether its images may
    join a running batch (``Attack.joinable``)."""
    try:
        return _build(model, spec)
    except TypeError as exc:  # an unknown or mistyped keyword of the algorithm
        raise ServiceError(f"bad config for {spec.kind} '{spec.name}': {exc}") from None


def _build(model, spec: JobSpec) -> tuple[bool, bool]:
    cfg = spec.config
    if spec.kind == "attack":
        from ..attacks import create_attack

        att = create_attack(spec.name, model, **cfg)
        if att.targeted and spec.target is None:
            raise ServiceError(f"attack '{spec.name}' is targeted: the job needs a target per image")
        if not att.targeted and spec.target is not None:
            raise ServiceError(f"attack '{spec.name}' is untargeted: the job takes no target")
        return att.draws_nothing, att.joinable
    if spec.kind == "explain":
        from ..explain import create_explainer

        create_explainer(spec.name, model, **cfg)
        return spec.name in DETERMINISTIC_EXPLAINERS, False
    from ..lipschitz import create_search, explanation_function, get_protocol, protocol_explanation

    if "explainer" not in cfg:
        raise ServiceError("a Lipschitz job needs config['explainer'] (an explainer name or 'self')")
    if spec.name == PROTOCOL_SEARCH:
        if set(cfg) - {"explainer", "protocol", "budget", "source"} or not {"protocol", "budget"} <= set(cfg):
            raise ServiceError("a 'protocol' Lipschitz job takes config explainer, protocol, budget and source")
        protocol_explanation(model, cfg["explainer"], get_protocol(cfg["protocol"]))
        return True, False  # per-image draws and searches (batch == one-by-one)
    rest = {k: v for k, v in cfg.items() if k not in ("explainer", "explainer_config")}
    create_search(spec.name, explanation_function(model, cfg["explainer"], **cfg.get("explainer_config", {})), **rest)
    return True, False  # the searches draw per image (batch == one-by-one)


def _check_tensor(t: torch.Tensor, what: str, n: int) -> None:
    if not isinstance(t, torch.Tensor):
        raise ServiceError(f"{what} must be a tensor, got {type(t).__name__}")
    if t.ndim == 0 or t.shape[0] != n:
        raise ServiceError(f"{what} needs one entry per image ({n}), got shape {list(t.shape)}")


def _check_spec(spec: JobSpec) -> None:
    if spec.kind not in KINDS:
        raise ServiceError(f"unknown job kind '{spec.kind}'; one of: {', '.join(KINDS)}")
    x = spec.x
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ServiceError(f"a job's images must be [n,1,28,28] in [0,1], got {shape}")
    if not 1 <= len(x) <= MAX_JOB_IMAGES:
        raise ServiceError(f"a job takes 1 to {MAX_JOB_IMAGES} images, got {len(x)}")
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ServiceError("a job's images must be finite and in [0,1]")
    if spec.y is not None:
        _check_tensor(spec.y, "y (labels)", len(x))
    if spec.target is not None:
        _check_tensor(spec.target, "target", len(x))
    if not isinstance(spec.config, dict):
        raise ServiceError("a job's config must be a dict of keyword arguments")
    if not isinstance(spec.seed, int) or not 0 <= spec.seed < 2**63:
        raise ServiceError(f"seed must be a non-negative integer, got {spec.seed!r}")


# ------------------------------------------------------------------------------------ handles
class JobHandle:
    """A submitted job, as its session sees it. Read ``state``, ``progress``, ``status()``; call ``cancel()``;
    ``result(timeout)`` waits and returns the result, or raises ``SemError`` (failure, cancel)."""

    def __init__(self, service: "AttackService", job_id: int, session: str, spec: JobSpec, keys: list[str],
                 compat: tuple, joinable: bool = False):
        self._service, self.id, self.session, self.spec, self.keys, self.compat = service, job_id, session, spec, keys, compat
        self.joinable = joinable                 # may join a running batch of its kind (``AttackService._run_joined``)
        self.parts: list[Any] = [None] * len(keys)
        self.pending: deque[int] = deque()       # image indices not yet taken by a batch
        self.running = 0                         # images in the batch now running
        self.state = "queued"                    # queued | running | done | failed | cancelled
        self.progress = 0.0
        self.error: SemError | None = None
        self.cached = 0                          # images served from the cache
        self.submitted = time.monotonic()
        self.started: float | None = None        # first batch began
        self.finished: float | None = None
        self.compute_s = 0.0                     # seconds of the batched calls this job took part in
        self._result: Any = None
        self._event = threading.Event()

    @property
    def n(self) -> int:
        return len(self.keys)

    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def cancel(self) -> None:
        """Stop the job: a queued job leaves the queue; a running batch stops when no other job needs it."""
        self._service._cancel(self)

    def position(self) -> int:
        """1 + the jobs ahead of this one (0 once it runs or is finished)."""
        return self._service._position(self)

    def status(self) -> str:
        """One line for the page: "busy: position N in the queue", "running: 40 %", "done", or the error."""
        if self.state == "queued":
            pos = self.position()
            return f"Busy: your job is number {pos} in the queue." if pos > 1 else "Starting…"
        if self.state == "running":
            return f"Running: {self.progress:.0%}"
        if self.state == "done":
            return "Done" + (" (from the cache)" if self.cached == self.n else "")
        return str(self.error)

    def timings(self) -> dict[str, float]:
        """Seconds waiting in the queue, computing (the batched calls), and in all."""
        end = self.finished or time.monotonic()
        start = self.started or end
        return {"queue_s": start - self.submitted, "compute_s": self.compute_s, "total_s": end - self.submitted}

    def result(self, timeout: float | None = None) -> Any:
        if not self._event.wait(timeout):
            raise ServiceError(f"the job did not finish within {timeout:g} s ({self.status()})")
        if self.error is not None:
            raise self.error
        return self._result

    # -- the service's side
    def _finish(self, *, error: SemError | None = None, state: str | None = None) -> None:
        if self.done():
            return
        if error is None and state is None:
            self._result = batch_cat(self.parts)
            self.progress, self.state = 1.0, "done"
        else:
            self.error, self.state = error, state or "failed"
        self.parts = [None] * self.n if error is not None else self.parts
        self.finished = time.monotonic()
        self._event.set()


# ------------------------------------------------------------------------------------ service
class AttackService:
    """The per-process job service (see the module docstring).

    Args:
        device: where models live (default: ``resolve_device()``, i.e. CUDA, MPS, then CPU).
        cache: the shared ``ResultCache`` (default: 256 MB in memory over ``default_cache_dir()``).
        max_batch: images per batched call (default 1024 on CUDA, 100 elsewhere; halved after an out-of-memory).
        max_queued / max_per_session: bounds on waiting jobs (all sessions / one session).
        loader: ``name -> (model, card)`` (default: ``load_model_with_card`` on ``device``).
        runners: kind -> runner (tests inject fakes; default ``RUNNERS``).
        estimator: the ``sem_core.serve.estimates.Estimator`` every batch's time is recorded in (``estimate`` asks it);
            None: nothing is recorded and ``estimate`` returns None (``get_service`` passes the process's one).
        process: run the computations in a compute process of their own (``sem_core.serve.worker``: they then never wait
            for the GIL that page scripts hold; ≈ 390 MB more memory); None (default): when ``SEM_SERVICE_PROCESS=1``,
            on POSIX, and no ``loader`` or ``runners`` is given (those run here, in the worker thread).
    """

    def __init__(self, *, device: str | torch.device | None = None, cache: ResultCache | None = None,
                 max_batch: int | None = None, max_queued: int = 64, max_per_session: int = 4,
                 loader: Callable[[str], tuple[Any, dict]] | None = None, runners: dict[str, Runner] | None = None,
                 estimator: Any = None, process: bool | None = None):
        self.device = resolve_device(device)
        custom = loader is not None or runners is not None
        if process is None:   # the child gets its socket by fd inheritance: POSIX only
            process = os.environ.get("SEM_SERVICE_PROCESS", "0") == "1" and not custom and os.name == "posix"
        if process and custom:
            raise ValueError("a compute process runs the shipped models and runners only; pass process=False")
        self._compute = WorkerProcess(self.device) if process else None
        self.cache = cache if cache is not None else ResultCache(folder=default_cache_dir())
        if max_batch is None:  # a GPU takes a class's 1,000 digits at once; on a CPU, shorter calls keep others' waits short
            max_batch = 1024 if self.device.type == "cuda" else 100
        self.max_batch, self.max_queued, self.max_per_session = int(max_batch), int(max_queued), int(max_per_session)
        self._loader = loader
        self.runners = dict(RUNNERS if runners is None else runners)
        self._models: dict[str, tuple[Any, dict]] = {}
        self._model_lock = threading.Lock()
        self._cond = threading.Condition()
        self._queue: list[JobHandle] = []         # jobs with images not yet taken, in submission order
        self._running: list[JobHandle] = []       # jobs in the batch now running
        self._served: dict[str, int] = {}         # session -> batch counter when last served
        self._batch_no = 0
        self._batch_limit: dict[tuple, int] = {}  # compat -> images per call after an OOM
        self._ids = itertools.count(1)
        self._stop = False
        self._last_activity, self._trim_stage = time.monotonic(), len(TRIM_AFTER_S)   # nothing to give back yet
        self._last_trim = time.monotonic()
        self._sessions: set[str] = set()          # sessions open (register_session), until release_session
        self.estimator = estimator
        self.batches = 0                          # batched calls made (tests, benchmarks)
        self.batch_sizes: list[int] = []
        self._worker = threading.Thread(target=self._loop, name="sem-attack-service", daemon=True)
        self._worker.start()

    # -- models
    def model(self, name: str) -> tuple[Any, dict]:
        """(model, card) of a shipped model (or a card path), loaded once on the service's device."""
        with self._model_lock:
            if name not in self._models:
                if self._loader is not None:
                    self._models[name] = self._loader(name)
                else:
                    from ..models.hub import load_model_with_card

                    self._models[name] = load_model_with_card(name, self.device)
            return self._models[name]

    # -- submitting
    def keys_for(self, spec: JobSpec, coalesce: bool = True) -> list[str]:
        """The cache key of each image of ``spec`` (see ``cache.result_key``)."""
        _, card = self.model(spec.model)
        job_digest = None if coalesce else tensor_digest(spec.x) + tensor_digest(spec.target)
        keys = []
        for i in range(len(spec.x)):
            extra = {"y": None if spec.y is None else int(spec.y[i]),
                     "target": None if spec.target is None else tensor_digest(spec.target[i]),
                     "job": None if job_digest is None else [job_digest, i]}
            keys.append(result_key(card["sha256"], spec.x[i:i + 1], kind=spec.kind, name=spec.name,
                                   config=spec.config, seed=spec.seed, extra=extra))
        return keys

    def peek(self, spec: JobSpec) -> Any | None:
        """The cached result of ``spec`` (every image cached), or None; computes nothing."""
        try:
            _check_spec(spec)
            keys = self.keys_for(spec, _validate(self.model(spec.model)[0], spec)[0])
        except SemError:
            return None
        parts = [self.cache.get(k) for k in keys]
        return None if any(p is None for p in parts) else batch_cat(parts)

    def submit(self, session: str, spec: JobSpec) -> JobHandle:
        """Queue ``spec`` for ``session``; raises ``SemError`` for bad input or a full queue (nothing is queued)."""
        _check_spec(spec)
        model, _ = self.model(spec.model)          # unknown model: UnknownNameError
        coalesce, joinable = _validate(model, spec)   # bad name or config: the algorithm's own error
        keys = self.keys_for(spec, coalesce)
        compat = (spec.model, spec.kind, spec.name, repr(sorted(spec.config.items())), spec.seed, spec.y is not None,
                  spec.target is not None) + (() if coalesce else (object(),))
        handle = JobHandle(self, next(self._ids), session, spec, keys, compat, joinable)
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is None:
                handle.pending.append(i)
            else:
                handle.parts[i] = hit
                handle.cached += 1
        if not handle.pending:
            handle._finish()
            with self._cond:
                self._touch()    # the page now renders the result: memory to give back afterwards
            return handle
        with self._cond:
            if self._stop:
                raise ServiceError("the attack service has stopped")
            mine = sum(1 for j in self._queue if j.session == session)
            if mine >= self.max_per_session:
                raise QueueFullError(f"You already have {mine} jobs waiting (the limit is {self.max_per_session}); "
                                     "wait for them or cancel one.")
            if len(self._queue) >= self.max_queued:
                raise QueueFullError(f"The server is busy: {len(self._queue)} jobs are waiting (the limit is "
                                     f"{self.max_queued}). Please try again in a few seconds.")
            self._queue.append(handle)
            self._served.setdefault(session, -1)
            self._touch()
        return handle

    def estimate(self, spec: JobSpec):
        """The ``Estimate`` of ``spec`` if none of its images is cached, in batches of ``max_batch`` (the
        estimator's cost model, calibrated on this machine and by every batch run here); None without an estimator."""
        if self.estimator is None:
            return None
        from .estimates import job_of_spec

        full, rest = divmod(len(spec.x), self.max_batch)
        jobs = [job_of_spec(spec, self.max_batch)] * full + ([job_of_spec(spec, rest)] if rest else [])
        return self.estimator.estimate(jobs)

    def influence_ready(self, model: str, data: str) -> bool:
        """Whether this service's copy of ``model`` holds its influence functions over ``data``'s training split
        (the first influence attack on it builds them, once; a page's time estimate includes that setup until then)."""
        from ..explain.influence import DAMPING

        return self._influence_cached(model, data, DAMPING)

    def _influence_cached(self, model: str, data: str, damping: float) -> bool:
        if self._compute is not None:
            return self._compute.influence_cached(model, data, damping)
        from ..explain.influence import influence_cached

        return influence_cached(self.model(model)[0], data, damping=damping)

    @property
    def compute_pid(self) -> int | None:
        """The compute process's pid (None: computing in this process, or not started yet)."""
        return None if self._compute is None else self._compute.pid

    def register_session(self, session: str) -> None:
        """A session opened (the app calls ``release_session`` when it ends): while any is open, memory is given
        back every ``TRIM_EVERY_S`` seconds, so the objects of sessions that closed are collected."""
        with self._cond:
            self._sessions.add(session)

    def release_session(self, session: str) -> None:
        """A session ended: cancel its waiting jobs (a running batch finishes for the others)."""
        with self._cond:
            jobs = [j for j in self._queue + self._running if j.session == session]
        for j in jobs:
            j.cancel()
        with self._cond:
            self._served.pop(session, None)
            self._sessions.discard(session)
            self._touch()

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            jobs = list(self._queue)
            self._cond.notify_all()
        for j in jobs:
            j.cancel()
        self._worker.join(timeout)
        if self._compute is not None:
            self._compute.close()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"queued_jobs": len(self._queue), "running_jobs": len(self._running), "batches": self.batches,
                    "cache_entries": len(self.cache), "cache_bytes": self.cache.memory_bytes,
                    "cache_hits": self.cache.hits, "cache_misses": self.cache.misses}

    # -- handle callbacks
    def _cancel(self, job: JobHandle) -> None:
        with self._cond:
            if job.done():
                return
            if job in self._queue:
                self._queue.remove(job)
            job.pending.clear()
            job._finish(error=JobCancelled("The job was cancelled."), state="cancelled")
            self._cond.notify_all()

    def _fail(self, job: JobHandle, error: SemError) -> None:
        """Finish ``job`` with ``error``; its images still waiting leave the queue."""
        with self._cond:
            if job in self._queue:
                self._queue.remove(job)
            job.pending.clear()
            job._finish(error=error)

    def _position(self, job: JobHandle) -> int:
        with self._cond:
            if job not in self._queue or job in self._running:
                return 0
            return 1 + (1 if self._running else 0) + self._queue.index(job)

    # -- the worker
    def _take_batch(self, room: int | None = None) -> list[tuple[JobHandle, int]]:
        """Images for the next call: the least recently served session's oldest job leads; compatible jobs of
        every session fill the batch, one image per session in turn, up to ``room`` images if given (the caller
        holds the lock)."""
        lead = min(self._queue, key=lambda j: (self._served.get(j.session, -1), j.id))
        limit = self._batch_limit.get(lead.compat, self.max_batch)
        limit = limit if room is None else min(limit, room)
        by_session: dict[str, deque[JobHandle]] = {}
        for j in self._queue:
            if j.compat == lead.compat and j.pending:
                by_session.setdefault(j.session, deque()).append(j)
        order = [lead.session] + sorted((s for s in by_session if s != lead.session), key=lambda s: self._served.get(s, -1))
        taken: list[tuple[JobHandle, int]] = []
        while len(taken) < limit and any(by_session.values()):
            for s in order:
                jobs = by_session[s]
                if not jobs or len(taken) >= limit:
                    continue
                j = jobs[0]
                taken.append((j, j.pending.popleft()))
                if not j.pending:
                    jobs.popleft()
        self._batch_no += 1
        for j in {id(j): j for j, _ in taken}.values():
            self._served[j.session] = self._batch_no
            if not j.pending:
                self._queue.remove(j)
            j.state = "running"
            j.started = j.started or time.monotonic()
            j.running += sum(1 for jj, _ in taken if jj is j)
            if j not in self._running:  # a job that joins a running batch with more of its images is there already
                self._running.append(j)
        return taken

    def _touch(self) -> None:
        """Something happened (a job, a session's end): give memory back on the idle schedule (caller holds the lock)."""
        self._last_activity, self._trim_stage = time.monotonic(), 0
        self._cond.notify_all()

    def _next_trim(self) -> float | None:
        """When to give memory back next: on the schedule after the last activity, then every ``TRIM_EVERY_S``
        while sessions are open (a closed session's objects are often cycles only a collection frees)."""
        if self._trim_stage < len(TRIM_AFTER_S):
            return self._last_activity + TRIM_AFTER_S[self._trim_stage]
        return self._last_trim + TRIM_EVERY_S if self._sessions else None

    def _loop(self) -> None:
        if self._compute is not None:
            try:  # now, so the first job does not wait for the process to start
                self._compute.ensure_started()
            except Exception as exc:  # noqa: BLE001 - the worker must survive; the first job tries again
                log.warning("attack service: %s", exc)
        while True:
            with self._cond:
                if not self._queue and not self._stop:
                    at = self._next_trim()
                    self._cond.wait(timeout=None if at is None else max(0.0, at - time.monotonic()))
                if self._stop:
                    return
                batch = self._take_batch() if self._queue else None
                at = self._next_trim()
                trim = batch is None and at is not None and time.monotonic() >= at
                if batch is not None:
                    self._touch()
                elif trim:
                    self._trim_stage = min(self._trim_stage + 1, len(TRIM_AFTER_S))
                    self._last_trim = time.monotonic()
            if batch is None:
                if trim:  # idle: give the memory freed by the jobs and the pages' rendering back to the OS
                    _release_memory()
                continue
            try:
                self._run(batch)
            except Exception:  # noqa: BLE001 - the worker must survive anything; every job gets its error
                log.exception("attack service: unexpected failure")
                for j in {id(j): j for j, _ in batch}.values():
                    self._fail(j, ServiceError("The job failed unexpectedly; please try again."))
            finally:
                with self._cond:
                    for j in {id(j): j for j, _ in batch}.values():
                        j.running = 0
                        if j in self._running:
                            self._running.remove(j)
                        if not j.pending and not j.done() and all(p is not None for p in j.parts):
                            j._finish()
                    self._touch()

    def _run(self, batch: list[tuple[JobHandle, int]], join: bool = True) -> None:
        """One batched call over ``batch`` (job, image index); OOM → halves; a failure in a mixed batch →
        each job alone, so the error reaches only the job that caused it. ``join``: a joinable attack runs as
        ``_run_joined`` (compatible jobs that arrive meanwhile join it)."""
        live = [(j, i) for j, i in batch if not j.done()]
        if not live:
            return
        if join and live[0][0].joinable and self.runners["attack"] is _run_attack:
            self._run_joined(batch)
            return
        spec = live[0][0].spec
        model, _ = self.model(spec.model)
        dev = _device_of(model)
        x, y, target, jobs, progress = _gather(live, dev if self._compute is None else torch.device("cpu"))

        def on_step(done: int, total: int) -> None:
            if all(j.done() for j in jobs):
                raise _Abort
            progress(done, total)

        job = self._estimate_job(spec, len(live)) if self.estimator is not None else None
        t0 = time.monotonic()
        try:
            if self._compute is not None:
                out = self._compute.call(spec.kind, spec.model, spec.name, spec.config, x, y, target, spec.seed, on_step)
            else:
                out = self.runners[spec.kind](model, spec.name, spec.config, x, y, target, spec.seed, on_step)
        except _Abort:
            return
        except Exception as exc:  # noqa: BLE001 - sorted below: OOM, a user error, or a bug
            if _is_oom(exc) and len(live) > 1:
                if dev.type == "cuda" and self._compute is None:
                    torch.cuda.empty_cache()
                half = len(live) // 2
                self._batch_limit[live[0][0].compat] = half
                log.warning("attack service: out of memory with %d images; retrying in halves", len(live))
                self._run(live[:half], join=False)
                self._run(live[half:], join=False)
                return
            if len(jobs) > 1:  # find the job at fault; the others' work is kept
                for j in jobs:
                    self._run([(jj, i) for jj, i in live if jj is j], join=False)
                return
            self._fail(jobs[0], _as_user_error(exc))
            return
        finally:
            spent = time.monotonic() - t0
            for j in jobs:
                j.compute_s += spent
        self.batches += 1
        self.batch_sizes.append(len(live))
        if job is not None:
            self.estimator.record(job, spent)
        for k, (j, i) in enumerate(live):
            row = batch_rows(out, k, k + 1)
            self.cache.put(j.keys[i], row)
            j.parts[i] = row
        for j in jobs:
            if not j.pending and all(p is not None for p in j.parts):
                j._finish()


    def _run_joined(self, batch: list[tuple[JobHandle, int]]) -> None:
        """``_run`` for a joinable attack: one PGD loop that compatible jobs arriving while it runs join at their
        own step 0, instead of waiting for the whole batch (a student who presses Run while others' digits are
        being attacked starts at once). Each cohort finishes after its own ``steps`` and is delivered then.
        Jobs join only while nothing incompatible waits (no one is overtaken) and up to the batch limit.
        ``batch`` grows by the images that join, so the worker's bookkeeping covers them. Any failure sends the
        unfinished cohorts through the plain ``_run`` (OOM halving, the error to the job at fault only)."""
        from ..attacks import create_attack

        if self._compute is not None:
            self._run_joined_remote(batch)
            return
        lead = batch[0][0]
        compat, spec = lead.compat, lead.spec
        model, _ = self.model(spec.model)
        dev = _device_of(model)
        attack = create_attack(spec.name, model, **spec.config)
        limit = self._batch_limit.get(compat, self.max_batch)
        cohorts: list[_Cohort] = []
        starting: list[tuple[JobHandle, int]] = []

        def start(items: list[tuple[JobHandle, int]]) -> None:
            live = [(j, i) for j, i in items if not j.done()]
            if not live:
                return
            x, y, target, jobs, progress = _gather(live, dev)
            run = attack.begin(x, y, target=target, seed=spec.seed, on_step=progress)
            cohorts.append(_Cohort(run, live, jobs, time.monotonic()))

        with attack.eval_mode():
            try:
                starting = batch
                start(batch)
                starting = []
                while cohorts:
                    cohorts[:] = [c for c in cohorts if not all(j.done() for j in c.jobs)]  # nobody waits for these
                    if not cohorts:
                        break
                    if len(cohorts) > 1:
                        for c in cohorts:
                            c.alone = False
                    for run in attack.advance([c.run for c in cohorts]):
                        c = next(c for c in cohorts if c.run is run)
                        out = attack.end(run)          # a failure here leaves the cohort to the retry below
                        cohorts.remove(c)
                        self._deliver(c, out, time.monotonic() - c.started, spec, model)
                    starting = self._take_joiners(compat, limit - sum(len(c.items) for c in cohorts))
                    if starting:
                        batch.extend(starting)
                        start(starting)
                        starting = []
            except Exception as exc:  # noqa: BLE001 - each unfinished cohort again, alone, through the plain path
                log.info("attack service: a joined batch failed (%s); retrying its cohorts one by one", exc)
                for items in [c.items for c in cohorts] + ([starting] if starting else []):
                    self._run(items, join=False)

    def _run_joined_remote(self, batch: list[tuple[JobHandle, int]]) -> None:
        """``_run_joined`` with the compute process stepping the cohorts on its own: this thread sends each cohort
        (and the ones that join), passes on their progress, cancels a cohort nobody waits for, and delivers each
        result as it comes. Cohorts that fail (or all of them, if the process dies) go through the plain ``_run``."""
        lead = batch[0][0]
        compat, spec = lead.compat, lead.spec
        model, _ = self.model(spec.model)
        key = (compat, next(self._ids))
        limit = self._batch_limit.get(compat, self.max_batch)
        cohorts: dict[int, _Cohort] = {}
        retry: list[list[tuple[JobHandle, int]]] = []
        cpu = torch.device("cpu")

        def start(items: list[tuple[JobHandle, int]]) -> None:
            live = [(j, i) for j, i in items if not j.done()]
            if not live:
                return
            x, y, target, jobs, progress = _gather(live, cpu)
            cid = self._compute.submit("begin", key, spec.model, spec.name, spec.config, x, y, target, spec.seed)
            cohorts[cid] = _Cohort(progress, live, jobs, time.monotonic())
            if len(cohorts) > 1:
                for c in cohorts.values():
                    c.alone = False

        try:
            start(batch)
            while cohorts:
                msg = self._compute.message(0.05)
                c = None if msg is None else cohorts.get(msg[1])
                if c is not None:
                    if msg[0] == "step":
                        c.run(msg[2], msg[3])
                    elif msg[0] == "done":
                        del cohorts[msg[1]]
                        self._deliver(c, msg[2], time.monotonic() - c.started, spec, model)
                    else:   # "err" (retried below, alone) or "aborted" (nobody waits for it)
                        del cohorts[msg[1]]
                        if msg[0] == "err":
                            log.info("attack service: a joined cohort failed (%s); retrying it alone", msg[2])
                            retry.append(c.items)
                for cid, c in list(cohorts.items()):
                    if not c.cancelled and all(j.done() for j in c.jobs):
                        c.cancelled = True
                        self._compute.cancel(cid)
                joiners = self._take_joiners(compat, limit - sum(len(c.items) for c in cohorts.values()))
                if joiners:
                    batch.extend(joiners)
                    try:
                        start(joiners)
                    except WorkerDied:
                        retry.append(joiners)
                        raise
        except WorkerDied as exc:  # every cohort still out runs again (a new process starts)
            log.warning("attack service: %s", exc)
            retry.extend(c.items for c in cohorts.values())
        for items in retry:
            self._run(items, join=False)

    def _estimate_job(self, spec: JobSpec, n: int):
        """The estimator's job for a batch of ``n`` images of ``spec`` (an influence attack's first batch on a model
        also builds its influence functions: a one-time setup)."""
        from .estimates import job_of_spec

        setup = False
        if spec.kind == "attack" and spec.name.startswith("influence"):
            from ..explain.influence import influence_setup

            setup = not self._influence_cached(spec.model, *influence_setup(spec.config))
        return job_of_spec(spec, n, setup)

    def _take_joiners(self, compat: tuple, room: int) -> list[tuple[JobHandle, int]]:
        """Images of waiting jobs that may join the running batch of ``compat`` now: only when every waiting job
        is compatible with it (a job of another kind must not wait longer because this batch keeps growing)."""
        with self._cond:
            waiting = [j for j in self._queue if j.pending]
            if room <= 0 or self._stop or not waiting or any(j.compat != compat for j in waiting):
                return []
            return self._take_batch(room)

    def _deliver(self, cohort: _Cohort, out: Any, spent: float, spec: JobSpec, model) -> None:
        """A finished cohort's rows to its jobs and the cache (as the end of ``_run``)."""
        for j in cohort.jobs:
            j.compute_s += spent
        self.batches += 1
        self.batch_sizes.append(len(cohort.items))
        if cohort.alone and self.estimator is not None:  # shared steps would teach the estimator a wrong cost
            self.estimator.record(self._estimate_job(spec, len(cohort.items)), spent)
        for k, (j, i) in enumerate(cohort.items):
            row = batch_rows(out, k, k + 1)
            self.cache.put(j.keys[i], row)
            j.parts[i] = row
        for j in cohort.jobs:
            if not j.pending and all(p is not None for p in j.parts):
                j._finish()

def _gather(live: list[tuple["JobHandle", int]], dev: torch.device):
    """The batch of ``live`` (job, image index) on ``dev``: x, y, target, its jobs, and ``progress(done, total)``,
    which sets each job's progress from the batch's (its finished images count whole)."""
    spec = live[0][0].spec
    x = torch.cat([j.spec.x[i:i + 1] for j, i in live]).to(dev)
    y = None if spec.y is None else torch.cat([j.spec.y[i:i + 1] for j, i in live]).to(dev)
    target = None if spec.target is None else torch.cat([j.spec.target[i:i + 1] for j, i in live]).to(dev)
    jobs = list({id(j): j for j, _ in live}.values())
    share = {id(j): sum(1 for jj, _ in live if jj is j) for j in jobs}

    def progress(done: int, total: int) -> None:
        frac = done / max(total, 1)
        for j in jobs:
            finished = sum(p is not None for p in j.parts)
            j.progress = min(1.0, (finished + frac * share[id(j)]) / j.n)

    return x, y, target, jobs, progress


@dataclass(eq=False)
class _Cohort:
    """Images that joined a running PGD loop together (``AttackService._run_joined``), at their own iteration."""

    run: Any                                  # the attack's PGDRun (with a compute process: the progress callback)
    items: list[tuple["JobHandle", int]]      # (job, image index) per row
    jobs: list["JobHandle"]
    started: float
    alone: bool = True                        # no other cohort shared its steps (its time is a clean estimate)
    cancelled: bool = False                   # the compute process was told to drop it


class _Abort(Exception):
    """Raised from the progress callback when every job of the running batch was cancelled."""


def _device_of(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _is_oom(exc: BaseException) -> bool:
    return (isinstance(exc, torch.cuda.OutOfMemoryError) or getattr(exc, "oom", False)   # WorkerError: the child's
            or (isinstance(exc, RuntimeError) and "out of memory" in str(exc)))


def _as_user_error(exc: BaseException) -> SemError:
    if isinstance(exc, SemError):
        return exc
    if _is_oom(exc):
        return ServiceError("The GPU ran out of memory even for one image. Try fewer steps, or set SEM_DEVICE=cpu.")
    log.error("attack service: job failed", exc_info=exc)
    remote = getattr(exc, "remote_traceback", "")
    if remote:
        log.error("attack service: in the compute process:\n%s", remote.rstrip())
    kind = getattr(exc, "type_name", type(exc).__name__)
    return ServiceError(f"The job failed: {kind}: {' '.join(str(exc).split())[:200]}")


_SETTLED = threading.Lock()
_settled = False


def settle_heap() -> bool:
    """Once per process: collect, then move every object alive now to the permanent generation (``gc.freeze``).

    Call it when the long-lived objects are in place (the app calls it after its first page run): the imported
    modules (torch, plotly, streamlit), the loaded models and data, ≈ 400,000 objects that every full collection
    would otherwise walk, holding the GIL for ≈ 0.5 s on this 2-core machine. Streamlit collects after every
    script run (``runner.postScriptGC``) and the service when idle, so under a classroom's load these walks
    stalled every session in turn (benchmarks/bench_load.py). Frozen objects are still freed by reference
    counting; only a frozen cycle would stay, and these objects live as long as the process anyway.
    Returns True when this call froze the heap, False when it had been done before."""
    global _settled
    with _SETTLED:
        if _settled:
            return False
        gc.collect()
        gc.freeze()
        _settled = True
        return True


def _release_memory() -> None:
    """Collect garbage and return freed heap pages to the OS (glibc keeps them otherwise: issue 16)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_SERVICE: AttackService | None = None
_SERVICE_LOCK = threading.Lock()


def get_service() -> AttackService:
    """The process's one ``AttackService`` (created on first use)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            from .estimates import get_estimator

            _SERVICE = AttackService(estimator=get_estimator())
        return _SERVICE


def reset_service() -> None:
    """Stop the process's service (tests; a new one is created on the next ``get_service``)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is not None:
            _SERVICE.shutdown()
        _SERVICE = None
