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
- Fairness and bounds: ``sem_core.serve.queue`` (the least recently served session leads; ``QueueFullError``).
- One batch loop for every job kind (``sem_core.serve.jobs.JOB_KINDS``: each kind builds its algorithm once per
  job, runs a batch step by step and says what it costs). Joining: a job of a ``joinable`` attack (SENN concept,
  PrototypeDL prototype: each image's PGD iterates depend on that image alone) that arrives while a compatible
  batch runs joins it at its own step 0 instead of waiting for the batch to end, while nothing of another kind
  waits.
- Time slices: a batch that has computed ``TIME_SLICE_S`` pauses at its next step (``batching.checkpoint``) while
  every other waiting session gets one batch; a long job delays the others by about one slice, not its length.
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

import contextlib
import itertools
import logging
import threading
import time
from typing import Any, Callable

import torch

from ..batching import batch_cat, batch_rows, pause_points
from ..device import resolve_device
from ..errors import SemError
from ..explain.influence import DAMPING, influence_cached
from ..models.hub import load_model_with_card
from .batches import (MAX_NESTED_PAUSES, TIME_SLICE_S, Abort, Cohort, Frame, device_of, gather, in_function_mode,
                      isolated_state)
from .cache import ResultCache, default_cache_dir, result_key, tensor_digest
from .estimates import get_estimator
from .jobs import JOB_KINDS, Built, JobHandle, JobKind, JobSpec, ServiceError, check_spec, job_of_spec  # noqa: F401
from .memory import is_oom, release_memory
from .queue import JobCancelled, JobQueue, QueueFullError, Stopped, jobs_of  # noqa: F401 (the errors: public here too)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ service
class AttackService:
    """The per-process job service (see the module docstring).

    Args:
        device: where models live (default: ``resolve_device()``, i.e. CUDA, MPS, then CPU).
        cache: the shared ``ResultCache`` (default: 256 MB in memory over ``default_cache_dir()``).
        max_batch: images per batched call (default 1024 on CUDA, 100 elsewhere; halved after an out-of-memory).
        max_queued / max_per_session: bounds on waiting jobs (all sessions / one session).
        loader: ``name -> (model, card)`` (default: ``load_model_with_card`` on ``device``).
        kinds: job kind name -> ``JobKind`` (default: the registered ``JOB_KINDS``; tests inject wrapped kinds).
        estimator: the ``sem_core.serve.estimates.Estimator`` every batch's time is recorded in (``estimate`` asks
            it); None: nothing is recorded and ``estimate`` returns None (``get_service`` passes the process's one).
        time_slice_s: seconds a batch computes before it pauses for the other sessions waiting (``TIME_SLICE_S``;
            None: batches never pause, each runs to its end as before the time slices).
    """

    def __init__(self, *, device: str | torch.device | None = None, cache: ResultCache | None = None,
                 max_batch: int | None = None, max_queued: int = 64, max_per_session: int = 4,
                 loader: Callable[[str], tuple[Any, dict]] | None = None, kinds: dict[str, JobKind] | None = None,
                 estimator: Any = None, time_slice_s: float | None = TIME_SLICE_S):
        self.device = resolve_device(device)
        self.cache = cache if cache is not None else ResultCache(folder=default_cache_dir())
        if max_batch is None:  # a GPU takes a class's 1,000 digits at once; on a CPU, shorter calls keep others' waits short
            max_batch = 1024 if self.device.type == "cuda" else 100
        self.max_batch = int(max_batch)
        self._loader = loader or (lambda name: load_model_with_card(name, self.device))
        self.kinds = {**{n: JOB_KINDS.get(n) for n in JOB_KINDS.names()}, **(kinds or {})}
        self._models: dict[str, tuple[Any, dict]] = {}
        self._model_lock = threading.Lock()
        self.queue = JobQueue(self.max_batch, int(max_queued), int(max_per_session))  # its bounds: queue.max_*
        self._ids = itertools.count(1)
        self.estimator = estimator
        self.batches = 0                          # batched calls made (tests, benchmarks)
        self.batch_sizes: list[int] = []
        self.time_slice_s = time_slice_s
        self.pauses = 0                           # times a running batch paused for other sessions (tests, benchmarks)
        self._frames: list[Frame] = []           # the batches running, outermost first (the worker thread's own)
        self._worker = threading.Thread(target=self._loop, name="sem-attack-service", daemon=True)
        self._worker.start()

    # -- models
    def model(self, name: str) -> tuple[Any, dict]:
        """(model, card) of a shipped model (or a card path), loaded once on the service's device."""
        with self._model_lock:
            if name not in self._models:
                self._models[name] = self._loader(name)
            return self._models[name]

    # -- submitting
    def build(self, spec: JobSpec) -> Built:
        """``spec`` checked and its algorithm built for its model (no data run); raises ``SemError``."""
        check_spec(spec, self.kinds)
        model, _ = self.model(spec.model)          # unknown model: UnknownNameError
        try:
            return self.kinds[spec.kind].build(model, spec)
        except TypeError as exc:  # an unknown or mistyped keyword of the algorithm
            raise ServiceError(f"bad config for {spec.kind} '{spec.name}': {exc}") from None

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
            keys = self.keys_for(spec, self.build(spec).coalesce)
        except SemError:
            return None
        parts = [self.cache.get(k) for k in keys]
        return None if any(p is None for p in parts) else batch_cat(parts)

    def submit(self, session: str, spec: JobSpec) -> JobHandle:
        """Queue ``spec`` for ``session``; raises ``SemError`` for bad input or a full queue (nothing is queued)."""
        built = self.build(spec)                   # bad name or config: the algorithm's own error
        keys = self.keys_for(spec, built.coalesce)
        compat = (spec.model, spec.kind, spec.name, repr(sorted(spec.config.items())), spec.seed, spec.y is not None,
                  spec.target is not None) + (() if built.coalesce else (object(),))
        handle = JobHandle(self, next(self._ids), session, spec, keys, compat, built)
        for i, key in enumerate(keys):
            hit = self.cache.get(key)
            if hit is None:
                handle.pending.append(i)
            else:
                handle.parts[i], handle.cached = hit, handle.cached + 1
        with self.queue.cond:
            if not handle.pending:
                handle.finish()
                self.queue.touch()    # the page now renders the result: memory to give back afterwards
                return handle
            self.queue.admit(handle)
        return handle

    def estimate(self, spec: JobSpec):
        """The ``Estimate`` of ``spec`` if none of its images is cached, in batches of ``max_batch`` (the
        estimator's cost model, calibrated on this machine and by every batch run here); None without an estimator."""
        if self.estimator is None:
            return None
        full, rest = divmod(len(spec.x), self.max_batch)
        jobs = [job_of_spec(spec, self.max_batch)] * full + ([job_of_spec(spec, rest)] if rest else [])
        return self.estimator.estimate(jobs)

    def influence_ready(self, model: str, data: str) -> bool:
        """Whether this service's copy of ``model`` holds its influence functions over ``data``'s training split
        (the first influence attack on it builds them, once; a page's time estimate includes that setup until then)."""
        return influence_cached(self.model(model)[0], data, damping=DAMPING)

    def register_session(self, session: str) -> None:
        """A session opened (the app calls ``release_session`` when it ends): while any is open, memory is given
        back every ``TRIM_EVERY_S`` seconds, so the objects of sessions that closed are collected."""
        with self.queue.cond:
            self.queue.sessions.add(session)

    def release_session(self, session: str) -> None:
        """A session ended: cancel its waiting jobs (a running batch finishes for the others)."""
        for j in self.queue.jobs_of_session(session):
            j.cancel()
        self.queue.forget(session)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker thread; waiting jobs are cancelled."""
        for j in self.queue.close():
            j.cancel()
        self._worker.join(timeout)

    def stats(self) -> dict[str, Any]:
        """Queue, batch and cache counters (tests, benchmarks)."""
        with self.queue.cond:
            return {"queued_jobs": len(self.queue), "running_jobs": len(self.queue.running), "batches": self.batches,
                    "cache_entries": len(self.cache), "cache_bytes": self.cache.memory_bytes,
                    "cache_hits": self.cache.hits, "cache_misses": self.cache.misses}

    # -- the handles' side
    def cancel(self, job: JobHandle) -> None:
        """Stop ``job``: it leaves the queue; a running batch stops when no other job needs it."""
        self.queue.cancel(job)

    def fail(self, job: JobHandle, error: SemError) -> None:
        """Finish ``job`` with ``error``; its images still waiting leave the queue."""
        self.queue.fail(job, error)

    def position(self, job: JobHandle) -> int:
        """1 + the jobs ahead of ``job`` in the queue (0 once it runs or is finished)."""
        return self.queue.position(job)

    # -- the worker
    def _loop(self) -> None:
        with pause_points(self._tick):
            self._loop_body()

    def _tick(self) -> None:
        """A pause point (``batching.checkpoint``): stop a job nobody waits for (``Abort``), else others' turn."""
        if self._frames:
            cohorts = self._frames[-1].cohorts
            if cohorts and all(j.done() for c in cohorts for j in c.jobs):
                raise Abort
        self._pause_for_others()

    def _loop_body(self) -> None:
        while True:
            try:
                batch, trim = self.queue.next_work()
            except Stopped:
                return
            if batch is None:
                if trim:  # idle: give the memory freed by the jobs and the pages' rendering back to the OS
                    release_memory()
                continue
            self._serve(batch)

    def _serve(self, batch: list[tuple[JobHandle, int]]) -> None:
        """Run ``batch`` to its end (pausing for others on the way); every job of it gets a result or its error."""
        try:
            self._run(batch)
        except Exception:  # noqa: BLE001 - the worker must survive anything; every job gets its error
            log.exception("attack service: unexpected failure")
            for j in jobs_of(batch):
                self.fail(j, ServiceError("The job failed unexpectedly; please try again."))
        finally:
            self.queue.batch_ended(batch)

    def _pause_for_others(self) -> None:
        """Once the innermost batch has computed ``time_slice_s``: one batch for every session waiting outside the
        running ones (least recently served first), then it goes on, its pause not counted as its time. Never in a
        torch function mode; the paused job's random state is kept (``batches.isolated_state``)."""
        if not self._frames or self.time_slice_s is None or len(self._frames) > MAX_NESTED_PAUSES:
            return
        frame = self._frames[-1]
        started = time.monotonic()
        if started - frame.since < self.time_slice_s or in_function_mode():
            return
        exclude = frozenset().union(*(f.sessions for f in self._frames))
        waiting = self.queue.waiting_sessions(exclude)
        if not waiting:
            return
        self.pauses += 1
        with isolated_state():
            for session in waiting:
                batch = self.queue.take_for(session, exclude)
                if batch:
                    self._serve(batch)
        paused = time.monotonic() - started
        for c in frame.cohorts:
            c.started += paused
        frame.since = time.monotonic()

    def _run(self, batch: list[tuple[JobHandle, int]], join: bool = True) -> None:
        """The one batch path: ``batch`` (job, image index) starts as one cohort of the lead job's kind, which steps
        every cohort together until each finishes (a one-call kind: at its first step). ``join``: compatible images
        that arrive meanwhile join as cohorts at their own step 0 (joinable kinds, nothing else waiting). A failure
        goes to ``_retry`` (OOM → halves; several jobs → each alone; else the job's error)."""
        lead = batch[0][0]
        kind, algo = self.kinds[lead.spec.kind], lead.built.algo
        dev = device_of(self.model(lead.spec.model)[0])
        limit = self.queue.batch_limit.get(lead.compat, self.max_batch)
        cohorts: list[Cohort] = []
        starting = batch
        frame = Frame(frozenset(j.session for j, _ in batch), cohorts, time.monotonic())
        self._frames.append(frame)
        with contextlib.ExitStack() as stack, kind.session(algo):
            stack.callback(self._frames.pop)
            try:
                self._start(cohorts, kind, algo, batch, dev)
                starting = []
                while cohorts:
                    cohorts[:] = [c for c in cohorts if not all(j.done() for j in c.jobs)]  # nobody waits for these
                    for run in kind.advance(algo, [c.run for c in cohorts]) if cohorts else []:
                        c = next(c for c in cohorts if c.run is run)
                        self._deliver(c, kind.end(algo, run), lead.spec)   # a failure leaves c to the retry
                        cohorts.remove(c)
                    if join and lead.built.joinable and cohorts:
                        starting = self.queue.take_joiners(lead.compat, limit - sum(len(c.items) for c in cohorts))
                        batch.extend(starting)
                        frame.sessions |= {j.session for j, _ in starting}
                        self._start(cohorts, kind, algo, starting, dev)
                        starting = []
            except Abort:  # every job of the only cohort was cancelled
                return
            except Exception as exc:  # noqa: BLE001 - sorted in _retry: OOM, a user error, or a bug
                shared = join and lead.built.joinable and not is_oom(exc) and (
                    len(cohorts) + bool(starting) > 1 or not isinstance(exc, SemError))  # the fault may be another cohort's
                for items in [c.items for c in cohorts] + ([starting] if starting else []):
                    self._retry(items, exc, shared)

    def _start(self, cohorts: list["Cohort"], kind: JobKind, algo, items: list, dev: torch.device) -> None:
        """``items`` (not yet done) begin as a new cohort of the running batch."""
        live = [(j, i) for j, i in items if not j.done()]
        if not live:
            return
        x, y, target, jobs, progress = gather(live, dev)
        cohort = Cohort(None, live, jobs, time.monotonic(), alone=not cohorts)
        for c in cohorts:
            c.alone = False
        cohort.run = kind.begin(algo, x, y, target, live[0][0].spec.seed,
                                cohort.progress_fn(progress, self._tick))
        cohorts.append(cohort)

    def _retry(self, items: list[tuple[JobHandle, int]], exc: Exception, shared: bool) -> None:
        """After ``exc``: a cohort that shared its steps runs again alone; an OOM of several images runs again in
        halves (and the smaller batch size is kept); several jobs run again one by one, so the error reaches only the
        job at fault; a single job gets the error."""
        live = [(j, i) for j, i in items if not j.done()]
        jobs = jobs_of(live)
        if not live:
            return
        if shared:
            log.info("attack service: a joined batch failed (%s); retrying its cohorts one by one", exc)
            self._run(live, join=False)
        elif is_oom(exc) and len(live) > 1:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(live) // 2
            self.queue.batch_limit[live[0][0].compat] = half
            log.warning("attack service: out of memory with %d images; retrying in halves", len(live))
            self._run(live[:half], join=False)
            self._run(live[half:], join=False)
        elif len(jobs) > 1:
            for j in jobs:
                self._run([(jj, i) for jj, i in live if jj is j], join=False)
        else:
            self.fail(jobs[0], as_user_error(exc))

    def _deliver(self, cohort: "Cohort", out: Any, spec: JobSpec) -> None:
        """A finished cohort's rows to its jobs and the cache; its time to the estimator if it ran alone."""
        spent = time.monotonic() - cohort.started
        for j in cohort.jobs:
            j.compute_s += spent
        self.batches += 1
        self.batch_sizes.append(len(cohort.items))
        if cohort.alone and self.estimator is not None:  # shared steps would teach the estimator a wrong cost
            self.estimator.record(job_of_spec(spec, len(cohort.items)), spent)
        for k, (j, i) in enumerate(cohort.items):
            row = batch_rows(out, k, k + 1)
            self.cache.put(j.keys[i], row)
            j.parts[i] = row
        for j in cohort.jobs:
            if not j.pending and all(p is not None for p in j.parts):
                j.finish()


def as_user_error(exc: BaseException) -> SemError:
    """``exc`` as the message a session sees: a ``SemError`` as it is; an OOM or a bug as a short ``ServiceError``."""
    if isinstance(exc, SemError):
        return exc
    if is_oom(exc):
        return ServiceError("The GPU ran out of memory even for one image. Try fewer steps, or set SEM_DEVICE=cpu.")
    log.error("attack service: job failed", exc_info=exc)
    return ServiceError(f"The job failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")


_SERVICE: AttackService | None = None
_SERVICE_LOCK = threading.Lock()


def get_service() -> AttackService:
    """The process's one ``AttackService`` (created on first use)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is None:
            _SERVICE = AttackService(estimator=get_estimator())
        return _SERVICE


def reset_service() -> None:
    """Stop the process's service (tests; a new one is created on the next ``get_service``)."""
    global _SERVICE
    with _SERVICE_LOCK:
        if _SERVICE is not None:
            _SERVICE.shutdown()
        _SERVICE = None
