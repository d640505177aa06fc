"""What the attack service runs: a ``JobSpec`` and the registry of job kinds.

A job kind says, for its jobs, how to **build** the algorithm (once per job, at submit: bad names and settings are
an error to that session only), whether its images may be **coalesced** with other jobs' (they share no random
draws) or **join** a running batch at their own step 0, how to **run** a batch one step at a time
(``begin`` / ``advance`` / ``end``, the shape of ``Attack``'s PGD loop) and what a batch **costs** (the time
estimates). The service has one batch loop for every kind (``AttackService._run``); a kind whose algorithm runs in
one call (explainers, Lipschitz searches) finishes at its first ``advance``.

    JOB_KINDS.names()                 # ["attack", "explain", "lipschitz", "lipschitz_protocol", "sanity"]
    kind = JOB_KINDS.get(spec.kind)
    built = kind.build(model, spec)   # Built(algo, coalesce, joinable)
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager

import torch

from ..attacks import ATTACKS, create_attack
from ..batching import batch_cat
from ..device import model_device
from ..errors import SemError
from ..explain import create_explainer
from ..explain.sanity import (SETTINGS as SANITY_SETTINGS, check_explainers, label_randomisation_check, load_label_control,
                              randomisation_check)
from ..lipschitz import create_search, explanation_function, get_protocol, lipschitz_of, protocol_explanation
from ..registry import Registry
from .estimates import Job, attack_job, lipschitz_jobs

Progress = Callable[[int, int], None]
MAX_JOB_IMAGES = 5000


class ServiceError(SemError):
    """A job could not be accepted or finished (the message says why and what to do)."""


@dataclass(frozen=True)
class JobSpec:
    """What to compute. ``x`` [n,1,28,28] in [0,1]; ``y`` [n] labels or None; ``target`` [n,...] per image
    (target images, a region mask) or None; ``kind`` a registered job kind ("attack", "explain", "lipschitz",
    "lipschitz_protocol", "sanity"); ``name`` the attack / explainer / Lipschitz search / protocol / sanity mode;
    ``config`` its settings (for "lipschitz": the search's, plus ``explainer`` and optionally ``explainer_config``;
    for "lipschitz_protocol": ``explainer``, ``budget`` and ``source``; for "sanity": ``explainers``); ``model`` a
    shipped model's name."""

    model: str
    kind: str
    name: str
    x: torch.Tensor
    config: dict[str, Any] = field(default_factory=dict)
    y: torch.Tensor | None = None
    target: torch.Tensor | None = None
    seed: int = 0


@dataclass(frozen=True)
class Built:
    """A job's algorithm, built once: ``algo``; ``coalesce``: its images share no random draws (any batching gives
    the same result); ``joinable``: images may join a running batch at their own step 0."""

    algo: Any
    coalesce: bool
    joinable: bool = False


@dataclass(eq=False)
class Call:
    """A batch of a one-call kind on its way through ``begin`` / ``advance`` / ``end``."""

    args: tuple
    on_step: Progress | None
    finished: bool = False
    out: Any = None


def check_spec(spec: JobSpec, kinds: dict[str, JobKind]) -> None:
    """``spec``'s shapes, ranges and types, before any model is loaded (a ``ServiceError`` saying what is wrong)."""
    if spec.kind not in kinds:
        raise ServiceError(f"unknown job kind '{spec.kind}'; one of: {', '.join(kinds)}")
    x = spec.x
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ServiceError(f"a job's images must be [n,1,28,28] in [0,1], got {shape}")
    if not 1 <= len(x) <= MAX_JOB_IMAGES:
        raise ServiceError(f"a job takes 1 to {MAX_JOB_IMAGES} images, got {len(x)}")
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ServiceError("a job's images must be finite and in [0,1]")
    for t, what in ((spec.y, "y (labels)"), (spec.target, "target")):
        if t is not None and (not isinstance(t, torch.Tensor) or t.ndim == 0 or t.shape[0] != len(x)):
            got = list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ServiceError(f"{what} needs one entry per image ({len(x)}) as a tensor, got {got}")
    if not isinstance(spec.config, dict):
        raise ServiceError("a job's config must be a dict of keyword arguments")
    if not isinstance(spec.seed, int) or not 0 <= spec.seed < 2**63:
        raise ServiceError(f"seed must be a non-negative integer, got {spec.seed!r}")


class JobHandle:
    """A submitted job, as its session sees it. Read ``state``, ``progress``, ``status()``; call ``cancel()``;
    ``result(timeout)`` waits and returns the result, or raises ``SemError`` (failure, cancel)."""

    def __init__(self, service: Any, job_id: int, session: str, spec: JobSpec, keys: list[str],
                 compat: tuple, built: Built):
        self._service, self.id, self.session, self.spec, self.keys, self.compat = service, job_id, session, spec, keys, compat
        self.built = built                       # the job's algorithm, built once at submit (``jobs.Built``)
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
        """The number of images of the job."""
        return len(self.keys)

    def done(self) -> bool:
        """Whether the job has finished (done, failed or cancelled)."""
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds; returns whether the job has finished."""
        return self._event.wait(timeout)

    def cancel(self) -> None:
        """Stop the job: a queued job leaves the queue; a running batch stops when no other job needs it."""
        self._service.cancel(self)

    def position(self) -> int:
        """1 + the jobs ahead of this one (0 once it runs or is finished)."""
        return self._service.position(self)

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
        """Wait up to ``timeout`` seconds and return the result; raises ``SemError`` on failure, cancel or timeout."""
        if not self._event.wait(timeout):
            raise ServiceError(f"the job did not finish within {timeout:g} s ({self.status()})")
        if self.error is not None:
            raise self.error
        return self._result

    # -- the service's side
    def finish(self, *, error: SemError | None = None, state: str | None = None) -> None:
        """Done: with the rows gathered (no ``error``), or with ``error`` (``state`` "failed" or "cancelled")."""
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


class JobKind:
    """Base of the job kinds. A subclass sets ``name`` and defines ``build``, ``call`` and ``cost``; a kind whose
    algorithm steps (PGD) overrides ``begin`` / ``advance`` / ``end`` / ``session`` instead of ``call``."""

    name = ""

    def build(self, model, spec: JobSpec) -> Built:
        """The job's algorithm for ``model``; raises ``SemError`` (or ``TypeError``) for a bad name or setting."""
        raise NotImplementedError

    def call(self, algo, x, y, target, seed: int, on_step: Progress | None) -> Any:
        """The batched result of ``algo`` on the batch, in one call."""
        raise NotImplementedError

    def cost(self, spec: JobSpec, n: int) -> Job:
        """The time estimator's job for ``n`` of ``spec``'s images."""
        return Job(f"{self.name}/{spec.name}", spec.model, n, 1)

    def session(self, algo) -> ContextManager:
        """Held while the batch runs (an attack's eval mode)."""
        return contextlib.nullcontext()

    def begin(self, algo, x, y, target, seed: int, on_step: Progress | None) -> Any:
        """A batch at its start."""
        return Call((x, y, target, seed), on_step)

    def advance(self, algo, runs: list) -> list:
        """One step of every run (joinable kinds: several runs at once); returns those that finished."""
        for run in runs:
            run.out, run.finished = self.call(algo, *run.args, run.on_step), True
        return runs

    def end(self, algo, run) -> Any:
        """The batched result of a finished run."""
        return run.out


JOB_KINDS: Registry[JobKind] = Registry("job kind")


def register_kind(cls: type[JobKind]) -> type[JobKind]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    JOB_KINDS.register(cls.name)(cls())
    return cls


@register_kind
class AttackKind(JobKind):
    """A registered explanation attack: stepped PGD, joinable where the attack allows (``Attack.joinable``)."""

    name = "attack"

    def build(self, model, spec):
        att = create_attack(model, spec.name, **spec.config)
        if att.targeted and spec.target is None:
            raise ServiceError(f"attack '{spec.name}' is targeted: the job needs a target per image")
        if not att.targeted and spec.target is not None:
            raise ServiceError(f"attack '{spec.name}' is untargeted: the job takes no target")
        return Built(att, att.draws_nothing, att.joinable)

    def cost(self, spec, n):
        cfg = ATTACKS.get(spec.name).settings.resolve(spec.config)
        return attack_job(spec.model, spec.name, n, cfg["steps"], cfg.get("method"))

    def session(self, algo):
        return algo.eval_mode()

    def begin(self, algo, x, y, target, seed, on_step):
        return algo.begin(x, y, target=target, seed=seed, on_step=on_step)

    def advance(self, algo, runs):
        return algo.advance(runs)

    def end(self, algo, run):
        return algo.end(run)


@register_kind
class ExplainKind(JobKind):
    """A registered explainer's raw maps [n,1,28,28] (``y``: the classes explained; default the predictions)."""

    name = "explain"

    def build(self, model, spec):
        explainer = create_explainer(model, spec.name, **spec.config)
        return Built(explainer, explainer.draws_nothing)

    def call(self, algo, x, y, target, seed, on_step):
        return algo(x, y).detach().cpu()


@register_kind
class LipschitzKind(JobKind):
    """A Lipschitz search (or "auto") over the ε-ball of an explainer's explanation (``config["explainer"]``)."""

    name = "lipschitz"

    def build(self, model, spec):
        cfg = dict(spec.config)
        if "explainer" not in cfg:
            raise ServiceError("a Lipschitz job needs config['explainer'] (an explainer name or 'self')")
        explanation = explanation_function(model, cfg.pop("explainer"), **cfg.pop("explainer_config", {}))
        search = create_search(spec.name, explanation, **{"seed": spec.seed, **cfg})
        return Built(search, True)  # the searches draw per image: batch == one-by-one

    def call(self, algo, x, y, target, seed, on_step):
        return algo(x, on_step=on_step)

    def cost(self, spec, n):
        name = spec.config.get("explainer", "?")
        return lipschitz_jobs(spec.model, [name], n, int(spec.config.get("budget", 20)))[name]


@register_kind
class ProtocolLipschitzKind(JobKind):
    """A published protocol's Lipschitz estimate (``name``: the protocol; its neighbourhood, search and settings;
    config ``explainer``, ``budget`` ratio evaluations, ``source`` the data of its per-pixel std)."""

    name = "lipschitz_protocol"
    KEYS = frozenset({"explainer", "budget", "source"})

    def build(self, model, spec):
        cfg = spec.config
        if set(cfg) - self.KEYS or not {"explainer", "budget"} <= set(cfg):
            raise ServiceError("a protocol Lipschitz job takes config explainer, budget and source")
        protocol_explanation(model, cfg["explainer"], get_protocol(spec.name))
        return Built((model, spec.name, dict(cfg)), True)  # per-image draws and searches (batch == one-by-one)

    def call(self, algo, x, y, target, seed, on_step):
        model, protocol, cfg = algo
        return lipschitz_of(model, cfg["explainer"], x, budget=cfg["budget"], seed=seed, on_step=on_step,
                            protocol=protocol, source=cfg.get("source", "subset"))

    def cost(self, spec, n):
        name = spec.config.get("explainer", "?")
        return lipschitz_jobs(spec.model, [name], n, int(spec.config.get("budget", 20)), spec.name)[name]


@register_kind
class SanityKind(JobKind):
    """Adebayo et al.'s sanity check (``sem_core.explain.sanity``): ``name`` the mode ("cascading", "independent",
    or "labels": against the label-randomisation control); config ``explainers`` (registered names, "self" for the
    model's own explanation); ``y`` the classes explained (default the predictions). A ``SanityResult``."""

    name = "sanity"
    KEYS = frozenset({"explainers"})

    def build(self, model, spec):
        if set(spec.config) - self.KEYS or "explainers" not in spec.config:
            raise ServiceError("a sanity job takes config explainers (a list of explainer names)")
        mode = SANITY_SETTINGS["mode"].check(spec.name, "the sanity check")
        names, draws_nothing = check_explainers(spec.config["explainers"])
        control = load_label_control(model_device(model)) if mode == "labels" else None
        if control is not None and type(control) is not type(model):
            raise ServiceError(f"the label-randomisation control is a {type(control).__name__}: compare it with a "
                               f"model of that architecture, not a {type(model).__name__}")
        return Built((model, control, mode, names), coalesce=draws_nothing)

    def call(self, algo, x, y, target, seed, on_step):
        model, control, mode, names = algo
        if control is not None:
            return label_randomisation_check(model, control, x, y, explainers=names, seed=seed, on_step=on_step)
        return randomisation_check(model, x, y, explainers=names, mode=mode, seed=seed, on_step=on_step)

    def cost(self, spec, n):
        return Job(f"{self.name}/{spec.name}", spec.model, n, len(spec.config.get("explainers", ())))


def job_of_spec(spec: JobSpec, n: int | None = None) -> Job:
    """The time estimator's job for ``spec`` (``n``: the images of one batch; default all of the spec's)."""
    return JOB_KINDS.get(spec.kind).cost(spec, len(spec.x) if n is None else n)
