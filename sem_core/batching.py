"""Rows of batched results: cut one image's result out of a batch, and join results back together.

The attack service runs many sessions' digits in one batched call and hands each its own rows;
a result's tensors carry the batch in dim 0 except the per-step histories (``objective``
[S+1,B], ``history`` [R,B]: dim 1) and per-model constants (``prototype_classes`` [m]).

    one = batch_rows(res, 3, 4)          # image 3 of an AttackResult, copied (no view of the batch)
    res2 = batch_cat([one, other])       # a 2-image AttackResult

Pause points (``pause_points``, ``checkpoint``, ``run_beside``, ``answer_calls``): where a long computation lets
its caller do other work, or stop it.
The attack service has one worker thread. A long job (a Lipschitz search over many digits) calls ``checkpoint()``
where it could pause; the service installs a hook there (``pause_points``) that stops the job when nobody waits for
it any more and serves the other sessions' jobs when its time slice is used up. Outside the service nothing is
installed and a checkpoint costs one attribute lookup.

Some steps cannot pause from inside: skopt's ``gp_minimize`` refits its Gaussian process between evaluations, for
seconds on 784 dimensions, in Python-heavy code with no callback. A helper *thread* would not do: it holds the GIL
so often that the others' jobs run 4-15x slower beside it (measured). ``sem_core.lipschitz.gp_search`` therefore runs
the optimiser in a helper *process* at a low priority and answers its objective calls here (``answer_calls``): the
objective (the model, the explainer, any random draws) stays on the caller's thread, which checkpoints while the
optimiser computes. ``run_beside(fn)`` runs a step that calls nothing back (reading a dataset) in a helper thread.

    with pause_points(hook):            # the service's worker thread
        ...                             # checkpoint() anywhere below calls hook()
"""
from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from typing import Any, Callable, Iterator

import torch

STEP_DIM_FIELDS = frozenset({"objective", "history"})   # [steps, B]
CONSTANT_FIELDS = frozenset({"prototype_classes", "config"})  # the same for every image


def _dim(name: str, t: torch.Tensor) -> int | None:
    if name in CONSTANT_FIELDS or t.ndim == 0:
        return None
    return 1 if name in STEP_DIM_FIELDS else 0


def batch_rows(obj: Any, start: int, stop: int, name: str = "") -> Any:
    """Rows ``start:stop`` of every batched tensor inside ``obj`` (tensors, dicts, lists, dataclasses), as copies."""
    if isinstance(obj, torch.Tensor):
        dim = _dim(name, obj)
        return obj if dim is None else obj.narrow(dim, start, stop - start).clone()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: batch_rows(getattr(obj, f.name), start, stop, f.name)
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, dict):
        return obj if name in CONSTANT_FIELDS else {k: batch_rows(v, start, stop, k) for k, v in obj.items()}
    if isinstance(obj, list):  # replay frames: one entry per step, each batched
        return [batch_rows(v, start, stop, name) for v in obj]
    return obj


def batch_cat(parts: list[Any], name: str = "") -> Any:
    """The inverse of ``batch_rows``: the parts joined along their batch dimension."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, torch.Tensor):
        dim = _dim(name, first)
        return first if dim is None else torch.cat(parts, dim)
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return dataclasses.replace(first, **{f.name: batch_cat([getattr(p, f.name) for p in parts], f.name)
                                             for f in dataclasses.fields(first) if f.init})
    if isinstance(first, dict):
        return first if name in CONSTANT_FIELDS else {k: batch_cat([p[k] for p in parts], k) for k in first}
    if isinstance(first, list):
        return [batch_cat(list(items), name) for items in zip(*parts)]
    return first


# ---- pause points ------------------------------------------------------------------------------------
_LOCAL = threading.local()


@contextlib.contextmanager
def pause_points(hook: Callable[[], None]) -> Iterator[None]:
    """Within the block, ``checkpoint()`` on this thread calls ``hook`` (which may raise to stop the computation)."""
    before = getattr(_LOCAL, "hook", None)
    _LOCAL.hook = hook
    try:
        yield
    finally:
        _LOCAL.hook = before


def checkpoint() -> None:
    """A point where the computation may pause or stop: the installed hook runs here (nothing when none is)."""
    hook = getattr(_LOCAL, "hook", None)
    if hook is not None:
        hook()


def pausing() -> bool:
    """Whether a hook is installed on this thread (a checkpoint may run other work here)."""
    return getattr(_LOCAL, "hook", None) is not None


#: seconds the caller waits on a helper between two checkpoints
WAIT_S = 0.05


def run_beside(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a helper thread while the caller checkpoints every ``WAIT_S`` (inline when no hook is
    installed): for a long step with no pause point of its own that touches none of the caller's state (reading and
    parsing a file). An exception of ``fn`` is raised here; one of a checkpoint leaves the helper to end on its own."""
    if not pausing():
        return fn(*args)
    box: queue.Queue = queue.Queue(maxsize=1)

    def helper() -> None:
        try:
            box.put((True, fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box.put((False, exc))

    threading.Thread(target=helper, name="sem-beside", daemon=True).start()
    while True:
        try:
            ok, value = box.get(timeout=WAIT_S)
        except queue.Empty:
            checkpoint()
            continue
        if ok:
            return value
        raise value


def answer_calls(replies: "queue.Queue[dict]", send: Callable[[dict], None], objective: Callable[[Any], Any],
                 alive: Callable[[], bool]) -> Any:
    """Serve a helper process's objective calls on this thread until it is done.

    ``replies`` yields the helper's messages ({"call": z}, {"done": result} or {"error": text}); ``send`` answers a
    call with {"value": objective(z)}. While the helper computes, this thread checkpoints every ``WAIT_S`` seconds
    (the attack service serves other sessions then; the helper runs at a low priority so they keep their pace).
    Returns the helper's result; raises ``RuntimeError`` when it failed or ended without one.
    """
    while True:
        try:
            msg = replies.get(timeout=WAIT_S)
        except queue.Empty:
            if not alive() and replies.empty():
                raise RuntimeError("the optimiser process ended without a result")
            checkpoint()
            continue
        if "call" in msg:
            send({"value": objective(msg["call"])})
        elif "done" in msg:
            return msg["done"]
        else:
            raise RuntimeError(f"the optimiser process failed: {msg.get('error', msg)}")
