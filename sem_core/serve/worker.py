"""The attack service's compute in a process of its own (``AttackService(process=True)``, ``SEM_SERVICE_PROCESS=1``).

Why: in the app's process the service's thread shares Python's GIL with every session's page script and with
Streamlit's server thread. A PGD step is ≈ 50 torch ops, and the thread must get the GIL back after each one.
Here the ops run in a child process that holds its own copy of the models and steps on its own; the service's
worker thread only sends it work and takes its messages (progress a few times a second, results), so the attack
never waits for the parent's GIL: ``benchmarks/bench_gil.py --service``, 10 digits × 100 steps beside 3 busy
Python threads, 2.96 s instead of 17.31 s. Off by default: on the load benchmark (20 browsers on the server's 2
cores) the joined batches wait for the cores the browsers hold, not for the GIL, and both modes measured the same
(README, Benchmarks), for ≈ 390 MB more memory.

The service keeps everything else: queue, fairness, cache, estimator, the results per job. Messages over a socket
pair (standard pickle of our own dataclasses and tensors, between two processes of this app; no checkpoint is
ever pickled), each tagged with the id ``cid`` the parent gave the work:

- parent → child: ``("call", cid, kind, model, name, config, x, y, target, seed)`` one runner call
  (``service.RUNNERS``); ``("begin", cid, key, model, name, config, x, y, target, seed)`` a cohort that joins the
  joinable attack ``key`` at its own step 0 (``Attack.begin``; the child then steps every cohort of that key
  together, ``Attack.advance``, and ends each after its own steps); ``("cancel", cid)``; ``("stop",)``.
- child → parent: ``("ready",)`` once; ``("step", cid, done, total)`` at most every ``PROGRESS_EVERY_S``;
  ``("done", cid, result)``, ``("err", cid, exception)`` or ``("aborted", cid)`` once per cid.

A child that dies (killed, out of memory) is an error to the work it had (``WorkerDied``), and the next call
starts a new one. The child exits when the socket closes (its parent ended).
"""
from __future__ import annotations

import itertools
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection
from typing import Any, Callable

import torch

from ..errors import SemError

START_TIMEOUT_S = 120.0   # the child imports torch and sem_core (a few seconds; minutes on a cold disk)
PROGRESS_EVERY_S = 0.1    # the child's progress messages per cid, at most this often (and the last step)


class WorkerError(RuntimeError):
    """An exception raised in the compute process, as its type name, message and traceback (the original class
    need not be importable or picklable here). ``oom``: it was an out-of-memory error."""

    def __init__(self, type_name: str, message: str, remote_traceback: str = "", oom: bool = False):
        super().__init__(message)
        self.type_name, self.remote_traceback, self.oom = type_name, remote_traceback, oom

    def __reduce__(self):
        return (WorkerError, (self.type_name, str(self), self.remote_traceback, self.oom))


class WorkerDied(SemError):
    """The compute process ended while working (killed, or out of memory); the next job starts a new one."""


class _Abort(Exception):
    pass


def _send(conn, obj: Any) -> None:
    conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _recv(conn) -> Any:
    return pickle.loads(conn.recv_bytes())


def _portable(exc: BaseException) -> BaseException:
    """``exc`` as the parent can receive it: a ``SemError`` as itself (the user's message), anything else as a
    ``WorkerError``."""
    if isinstance(exc, SemError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 - an exception class with an unusual constructor
            pass
    from .service import _is_oom

    return WorkerError(type(exc).__name__, str(exc), traceback.format_exc(), _is_oom(exc))


# ------------------------------------------------------------------------------------ the child
def _child_main(conn, device: str) -> None:
    """The compute process: take work, step joined cohorts and run calls, until the socket closes or ``stop``."""
    from ..models.hub import load_model_with_card
    from ..attacks import create_attack
    from .service import RUNNERS, TRIM_AFTER_S, _release_memory

    dev = torch.device(device)
    models: dict[str, Any] = {}
    attacks: dict[tuple, Any] = {}           # key -> the Attack its cohorts share
    cohorts: dict[int, tuple[tuple, Any]] = {}   # cid -> (key, PGDRun)
    calls: deque[tuple] = deque()
    cancelled: set[int] = set()              # the running call's cid, when the parent cancelled it
    running: list[int | None] = [None]       # the cid of the call that runs now
    told: dict[int, float] = {}              # cid -> when its progress was last sent
    dirty = False

    def send(msg: tuple) -> None:
        _send(conn, msg)

    def model(name: str):
        if name not in models:
            models[name] = load_model_with_card(name, dev)[0]
        return models[name]

    def on_device(t):
        return None if t is None else t.to(dev)

    def progress(cid: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - told.get(cid, 0.0) >= PROGRESS_EVERY_S or done >= total:
            told[cid] = now
            send(("step", cid, done, total))

    def finish(cid: int, msg: tuple) -> None:
        told.pop(cid, None)
        cancelled.discard(cid)
        send(msg)

    def handle(msg: tuple) -> bool:
        """One message from the parent; False: stop."""
        op = msg[0]
        if op == "stop":
            return False
        if op == "cancel":
            cid = msg[1]
            if cid in cohorts:
                del cohorts[cid]
                finish(cid, ("aborted", cid))
            elif any(c[1] == cid for c in calls):
                calls.remove(next(c for c in calls if c[1] == cid))
                finish(cid, ("aborted", cid))
            elif running[0] == cid:
                cancelled.add(cid)   # the call that runs now stops at its next step
            # else: it has finished; the parent takes its result or error instead
        elif op == "call":
            calls.append(msg)
        elif op == "begin":
            _, cid, key, name_m, name, config, x, y, target, seed = msg
            try:
                if key not in attacks:
                    attacks[key] = create_attack(name, model(name_m), **config)
                with attacks[key].eval_mode():
                    run = attacks[key].begin(on_device(x), on_device(y), target=on_device(target), seed=seed)
                cohorts[cid] = (key, run)
            except Exception as exc:  # noqa: BLE001 - to the parent, which retries the cohort alone
                finish(cid, ("err", cid, _portable(exc)))
        return True

    def drain(block: bool) -> bool:
        """Handle every waiting message (``block``: wait for the first); False: stop."""
        while conn.poll(None if block else 0):
            block = False
            if not handle(_recv(conn)):
                return False
        return True

    def step_cohorts() -> None:
        key = next(iter(cohorts.values()))[0]   # one attack at a time (the service joins only compatible work)
        group = [(cid, run) for cid, (k, run) in cohorts.items() if k == key]
        att = attacks[key]
        try:
            with att.eval_mode():
                finished = {id(r) for r in att.advance([run for _, run in group])}
        except Exception as exc:  # noqa: BLE001 - every cohort of the step fails; the parent retries each alone
            err = _portable(exc)
            for cid, _ in group:
                del cohorts[cid]
                finish(cid, ("err", cid, err))
            finished = set()
        for cid, run in group:
            if cid not in cohorts:
                continue
            if id(run) in finished:
                del cohorts[cid]
                try:
                    finish(cid, ("done", cid, att.end(run)))
                except Exception as exc:  # noqa: BLE001
                    finish(cid, ("err", cid, _portable(exc)))
            else:
                progress(cid, run.t, att.steps)
        if not any(k == key for k, _ in cohorts.values()):
            attacks.pop(key, None)

    def run_call(msg: tuple) -> None:
        _, cid, kind, name_m, name, config, x, y, target, seed = msg
        running[0] = cid

        def on_step(done: int, total: int) -> None:
            if not drain(False):
                raise _Stop
            if cid in cancelled:
                raise _Abort
            progress(cid, done, total)

        try:
            out = RUNNERS[kind](model(name_m), name, config, on_device(x), on_device(y), on_device(target), seed,
                                on_step)
            finish(cid, ("done", cid, out))
        except _Abort:
            finish(cid, ("aborted", cid))
        except _Stop:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the service, which sorts it
            err = _portable(exc)
            if getattr(err, "oom", False) and dev.type == "cuda":
                torch.cuda.empty_cache()   # the service retries in halves
            finish(cid, ("err", cid, err))
        finally:
            running[0] = None

    send(("ready",))
    try:
        while True:
            idle = not cohorts and not calls
            if idle and dirty and not conn.poll(TRIM_AFTER_S[0]):   # idle: give freed memory back
                _release_memory()
                dirty = False
                continue
            if not drain(idle):
                return
            dirty = True
            if cohorts:
                step_cohorts()
            elif calls:
                run_call(calls.popleft())
    except (_Stop, EOFError, OSError):
        return


class _Stop(Exception):
    pass


# ------------------------------------------------------------------------------------ the parent's side
class WorkerProcess:
    """The service's handle on its compute process (started on first use, restarted after a death). Only the
    service's worker thread sends work and reads messages.

    Args:
        device: where the child puts its models ("cpu", "cuda", ...).
    """

    def __init__(self, device: str | torch.device):
        self.device = str(device)
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._lock = threading.RLock()
        self._cids = itertools.count(1)
        self.starts = 0                              # processes started (tests, benchmarks)
        self.influence_built: set[tuple] = set()     # (model, data, damping) whose influence functions the child holds

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def ensure_started(self) -> None:
        """Start the child unless it runs (the service's worker does at once, so the first job does not wait)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return
            self._discard()
            # a new interpreter (never a fork of a process that runs threads: Streamlit's, torch's), which imports
            # nothing of the caller's main script (multiprocessing's spawn would), talking over a socket pair
            mine, theirs = socket.socketpair()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            proc = subprocess.Popen([sys.executable, "-m", "sem_core.serve.worker", str(theirs.fileno()), self.device],
                                    pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
            theirs.close()
            self._proc, self._conn = proc, Connection(mine.detach())
            self.starts += 1
            if not self._conn.poll(START_TIMEOUT_S) or self._receive() != ("ready",):
                self._discard()
                raise WorkerDied("the attack service's compute process did not start; please try again")

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = self._conn = None
        self.influence_built.clear()

    def _receive(self) -> Any:
        try:
            return _recv(self._conn)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            code = None
            if self._proc is not None:
                try:
                    code = self._proc.wait(1)
                except subprocess.TimeoutExpired:
                    pass
            self._discard()
            raise WorkerDied("the attack service's compute process stopped while working (exit code "
                             f"{code}); the next job starts a new one, please try again") from exc

    def _send(self, msg: tuple) -> None:
        try:
            _send(self._conn, msg)
        except (EOFError, OSError) as exc:
            self._discard()
            raise WorkerDied("the attack service's compute process is gone; please try again") from exc

    def submit(self, op: str, *args: Any) -> int:
        """Send work (``"call"`` or ``"begin"``, see the module docstring); returns its cid."""
        self.ensure_started()
        cid = next(self._cids)
        self._send((op, cid, *args))
        return cid

    def cancel(self, cid: int) -> None:
        """Stop ``cid`` (its "aborted", or its result if it was done first, still comes)."""
        self._send(("cancel", cid))

    def message(self, timeout: float | None) -> tuple | None:
        """The child's next message, or None after ``timeout`` seconds; ``WorkerDied`` if it ended."""
        if self._conn is None:
            raise WorkerDied("the attack service's compute process is gone; please try again")
        try:
            ready = self._conn.poll(timeout)
        except (EOFError, OSError):
            ready = True   # _receive reports it
        return self._receive() if ready else None

    def call(self, kind: str, model: str, name: str, config: dict, x, y, target, seed: int,
             on_step: Callable[[int, int], None] | None) -> Any:
        """One runner call in the child (``service.RUNNERS[kind]``), its progress to ``on_step`` (which raises to
        cancel it: the exception is raised here once the child has stopped)."""
        cid = self.submit("call", kind, model, name, config, x, y, target, seed)
        stop: BaseException | None = None
        last = (0, 1)
        while True:
            msg = self.message(0.25)
            if msg is None or (msg[0] == "step" and msg[1] == cid):
                last = last if msg is None else (msg[2], msg[3])
                if stop is None and on_step is not None:
                    try:
                        on_step(*last)       # also without news: a cancelled job stops a slow first step
                    except BaseException as exc:  # noqa: BLE001 - re-raised once the child has stopped
                        stop = exc
                        self.cancel(cid)
                continue
            if msg[1] != cid:
                continue                     # a late message of work given up before
            if msg[0] == "done":
                if kind == "attack" and name.startswith("influence"):
                    from ..explain.influence import influence_setup

                    self.influence_built.add((model, *influence_setup(config)))
                if stop is not None:
                    raise stop
                return msg[2]
            if msg[0] == "aborted" and stop is not None:
                raise stop
            if msg[0] == "err":
                raise msg[2]
            raise WorkerDied(f"the compute process answered {msg[0]!r} unexpectedly; please try again")

    def influence_cached(self, model: str, data: str, damping: float) -> bool:
        """Whether the child's copy of ``model`` holds its influence functions over ``data`` (an influence attack
        on it succeeded since the child started)."""
        return (model, data, damping) in self.influence_built

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                try:
                    _send(self._conn, ("stop",))
                    self._proc.wait(timeout)
                except (EOFError, OSError, subprocess.TimeoutExpired):
                    pass
            self._discard()


if __name__ == "__main__":   # python -m sem_core.serve.worker FD DEVICE (started by WorkerProcess)
    _child_main(Connection(int(sys.argv[1])), sys.argv[2])
