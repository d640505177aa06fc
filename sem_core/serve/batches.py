"""The pieces of a running batch (``AttackService._run``): its cohorts (images that began together, stepped at their
own iteration), the frames of batches paused inside one another for the worker's time slices, and the guards of a
pause (no torch function mode, the paused job's random state kept).
"""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..device import model_device
from .jobs import JobHandle
from .queue import jobs_of

#: seconds a batch computes before it pauses, at its next step, for the other sessions waiting
TIME_SLICE_S = 0.1
#: batches paused inside one another at most (each for sessions outside all the others)
MAX_NESTED_PAUSES = 8

def gather(live: list[tuple[JobHandle, int]], dev: torch.device):
    """The batch of ``live`` (job, image index) on ``dev``: x, y, target, its jobs, and ``progress(done, total)``,
    which sets each job's progress from the batch's (its finished images count whole)."""
    spec = live[0][0].spec
    x = torch.cat([j.spec.x[i:i + 1] for j, i in live]).to(dev)
    y = None if spec.y is None else torch.cat([j.spec.y[i:i + 1] for j, i in live]).to(dev)
    target = None if spec.target is None else torch.cat([j.spec.target[i:i + 1] for j, i in live]).to(dev)
    jobs = jobs_of(live)
    share = {id(j): sum(1 for jj, _ in live if jj is j) for j in jobs}

    def progress(done: int, total: int) -> None:
        frac = done / max(total, 1)
        for j in jobs:
            finished = sum(p is not None for p in j.parts)
            j.progress = min(1.0, (finished + frac * share[id(j)]) / j.n)

    return x, y, target, jobs, progress


@dataclass(eq=False)
class Cohort:
    """Images that began in the running batch together (``AttackService._run``), stepped at their own iteration."""

    run: Any                                  # the kind's run (an attack's PGDRun, or a one-call ``jobs.Call``)
    items: list[tuple[JobHandle, int]]        # (job, image index) per row
    jobs: list[JobHandle]
    started: float
    alone: bool = True                        # no other cohort shared its steps (its time is a clean estimate)

    def progress_fn(self, progress: Callable[[int, int], None],
                    pause: Callable[[], None] = lambda: None) -> Callable[[int, int], None]:
        """``progress``, stopping the batch (``Abort``) when this cohort runs alone and nobody waits for it, then
        ``pause`` (the service's ``_tick``: stopped if cancelled meanwhile, or other sessions' batches run here)."""
        def on_step(done: int, total: int) -> None:
            if self.alone and all(j.done() for j in self.jobs):
                raise Abort
            progress(done, total)
            pause()
        return on_step


@dataclass(eq=False)
class Frame:
    """A batch running in ``AttackService._run``: its sessions, its cohorts, and when its time slice began."""

    sessions: frozenset[str]
    cohorts: list[Cohort] = field(default_factory=list)
    since: float = 0.0


def in_function_mode() -> bool:
    """Whether a torch function mode is active (e.g. a surrogate's softplus); True when torch cannot say."""
    try:
        return torch._C._len_torch_function_stack() > 0
    except AttributeError:  # pragma: no cover - a torch without it: never pause inside a computation
        return True


@contextlib.contextmanager
def isolated_state():
    """Other jobs run inside a paused one: the paused job's random state (torch, NumPy, Python) is put back
    afterwards, and the others run with gradients on and outside inference mode whatever the pause point had."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices), torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


class Abort(Exception):
    """Raised from the progress callback when every job of the running batch was cancelled."""


def device_of(model) -> torch.device:
    """``device.model_device`` for any model: the CPU for one without ``parameters()`` (a duck-typed model)."""
    try:
        return model_device(model)
    except AttributeError:
        return torch.device("cpu")
