"""Where an experiment's chunks are computed: in this process, or as Ray tasks on a local or remote cluster.

The runner decides *which* chunks to compute (a sealed chunk that passes every check is reused) and writes
every chunk file itself, in the driver; an executor only turns pending ``(index, spec)`` pairs into
``(index, result, seconds)`` as they finish. So chunk files, the manifest, the integrity checks and resume
are the same whatever computed a chunk: a run started in-process resumes under Ray and the other way round.

    with create_executor("ray", address="10.0.0.5:6379") as ex:    # or "in-process" (the default)
        for i, result, seconds in ex.run(experiment, ctx, [(0, spec0), (3, spec3)]): ...

Registered like the other families (``EXECUTORS``, ``list_executors()``, ``create_executor(name, **config)``).
Ray is the engine Moritz et al. describe (OSDI 2018); tasks follow its ``@ray.remote`` / ``ray.wait`` pattern.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import SemError
from ..registry import Registry
from .context import Context, jsonable
from .integrity import digest, show

log = logging.getLogger(__name__)
EXECUTORS: Registry[type["Executor"]] = Registry("executor")
Pending = list[tuple[int, Any]]          # (chunk index, JSON-ready spec)
PROBE_TIMEOUT_S = 3.0                    # TCP check of --address before Ray's own minutes of retries


class Executor:
    """Computes chunks. A context manager: ``__enter__`` acquires what it needs (a Ray cluster), ``__exit__``
    releases it; ``run`` yields ``(index, result, seconds)`` in completion order (any order).

    Class attributes: ``name`` (registry name), ``summary`` (one line for ``--help``).
    Args: address: where to compute (a cluster); only executors that compute elsewhere take one.
        device: the device chunks run on (None: the best one where they run).
    """

    name = ""
    summary = ""

    def __init__(self, address: str | None = None, device: Any = None):
        if address is not None:
            raise SemError(f"--address is for --executor ray; the {self.name} executor runs here")
        self.address, self.device = address, device

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run(self, exp: Any, ctx: Any, pending: Pending) -> Iterator[tuple[int, Any, float]]:
        """Compute the ``pending`` (index, spec) chunks; yields (index, result, seconds) as each one finishes."""
        raise NotImplementedError

    def describe(self) -> str:
        """What computed the chunks, for the manifest (e.g. "ray (local, 2 CPUs)")."""
        return self.name


def list_executors() -> list[str]:
    """The registered executor names, sorted."""
    return EXECUTORS.names()


def create_executor(name: str, **config: Any) -> Executor:
    """The registered executor ``name`` configured with ``config`` (e.g. ``address`` for ray)."""
    return EXECUTORS.get(name)(**config)


@EXECUTORS.register("in-process")
class InProcessExecutor(Executor):
    """One chunk after another in this process, on the context's device (the default)."""

    name = "in-process"
    summary = "one chunk after another in this process (default)"

    def run(self, exp, ctx, pending):
        for i, spec in pending:
            start = time.perf_counter()
            result = exp.run_chunk(spec, ctx)
            yield i, result, time.perf_counter() - start


# ---- Ray ------------------------------------------------------------------------------------------------
def _import_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")     # no usage-stats prompt or upload
    try:
        import ray
    except ImportError:
        raise SemError("--executor ray needs the ray package (pip install 'ray>=2.9'); "
                       "without it use the default in-process executor") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of HOST:PORT or ray://HOST:PORT, None for "auto"; SemError for anything else."""
    if address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise SemError(f"--address must be HOST:PORT, ray://HOST:PORT or auto, got {show(address)}")
    return host.strip("[]"), int(port)


def _probe(address: str) -> None:
    """SemError unless ``address`` accepts a TCP connection within a few seconds (Ray itself retries for
    minutes); "auto" is left to Ray, which fails fast when no cluster runs here."""
    where = _host_port(address)
    if where is None:
        return
    try:
        socket.create_connection(where, timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise SemError(f"cannot reach a Ray cluster at {show(address)} ({exc.strerror or type(exc).__name__}); start one "
                       f"with `ray start --head` there, or leave out --address to run a local Ray") from None


def portable_context(ctx: Any) -> dict[str, Any]:
    """What a Ray task needs to rebuild ``ctx`` anywhere: parameters, each model's card and CPU weights (tensors,
    never a pickled module), the test split and the output folder."""
    return {"params": ctx.params, "out": str(ctx.out) if ctx.out is not None else None, "data": dict(ctx.data),
            "models": {m: (card, {k: v.detach().cpu() for k, v in model.state_dict().items()})
                       for m, (model, card) in ctx.models.items()}}


def rebuild_context(recipe: dict[str, Any], device: Any) -> Any:
    """The ``Context`` of ``portable_context`` on ``device`` (None: the best device of this worker)."""
    from ..device import resolve_device
    from ..models.registry import create_model

    dev = resolve_device(device)
    models = {}
    for m, (card, state) in recipe["models"].items():
        model = create_model(card["model"], **card["config"])
        model.load_state_dict(state)
        models[m] = (model.to(dev).eval().requires_grad_(False), card)
    return Context(params=recipe["params"], device=dev, models=models, data=dict(recipe["data"]),
                   out=Path(recipe["out"]) if recipe["out"] is not None else None)


_WORKER_CONTEXT: dict[str, Any] = {}     # per worker process: the last context built, by its chunk key


def ray_chunk(exp: Any, key: str, recipe_box: list, spec: Any, device: Any) -> tuple[Any, float]:
    """A Ray task: one chunk of experiment ``exp``; (JSON-ready result, compute seconds). The context is built
    once per worker process and run (``key``), from ``recipe_box[0]`` (an object ref, fetched only then)."""
    import ray

    if key not in _WORKER_CONTEXT:
        _WORKER_CONTEXT.clear()
        _WORKER_CONTEXT[key] = rebuild_context(ray.get(recipe_box[0]), device)
    ctx = _WORKER_CONTEXT[key]
    start = time.perf_counter()
    result = jsonable(exp.run_chunk(spec, ctx))
    return result, time.perf_counter() - start


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Each chunk a Ray task (one CPU; one GPU where the cluster has GPUs).

    Args:
        address: a running cluster (HOST:PORT of its head, ray://HOST:PORT, or "auto"); None starts a
            local Ray on this machine with one worker per CPU core, quiet logging, shut down at the end.
            The cluster's workers need this package's dependencies (torch, safetensors); the sem_core
            code itself is shipped with the job (``runtime_env`` ``py_modules``), the models and test
            split through Ray's object store.
        device: the device each task uses (None: CUDA when Ray gave the task a GPU, else the CPU).
        num_cpus: CPUs of the local Ray (default: this machine's cores); ignored with an address.
    When this process is already connected to Ray (``ray.init`` done by the caller), that cluster is used
    and left running. A chunk that writes files itself (senn-lambda trains its models under ``out/models``)
    writes them on the machine that runs it: on a cluster, give ``out`` on a file system the nodes share.
    """

    name = "ray"
    summary = "each chunk a Ray task, on a local Ray (default) or a cluster (--address)"

    def __init__(self, address: str | None = None, device: Any = None, num_cpus: int | None = None):
        if address is not None:
            _host_port(address)
        if num_cpus is not None and (isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1):
            raise SemError(f"num_cpus must be a whole number >= 1, got {show(num_cpus)}")
        self.address, self.device, self.num_cpus = address, device, num_cpus
        self._ray = None
        self._started = False

    def __enter__(self) -> "RayExecutor":
        # before Ray is imported: it reads its authentication mode when it loads
        self._token_set = self.address is not None and _use_token_mode()
        ray = _import_ray()
        if ray.is_initialized():
            self._ray = ray
            return self
        if self.address is not None:
            _probe(self.address)
        package = str(Path(__file__).resolve().parents[1])
        options = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        # Ray's notice that a new local cluster uses token authentication (its safe default) stays out of the output
        ray_log = logging.getLogger("ray._private.authentication.authentication_token_setup")
        level = ray_log.level
        ray_log.setLevel(logging.ERROR)
        try:
            if self.address is None:
                # "local": always a new Ray of our own, never a cluster that happens to run on this machine
                ray.init(address="local", num_cpus=self.num_cpus or os.cpu_count() or 1,
                         runtime_env={"env_vars": {"PYTHONPATH": _pythonpath(package)}}, **options)
            else:
                ray.init(address=self.address, runtime_env={"py_modules": [package]}, **options)
        except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
            if getattr(self, "_token_set", False):
                os.environ.pop(AUTH_MODE_ENV, None)
                self._token_set = False
            where = f"at {self.address}" if self.address else "locally"
            raise SemError(f"could not start Ray {where}: {_line(exc)}{_token_hint()}") from None
        finally:
            ray_log.setLevel(level)
        self._ray, self._started = ray, True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
        if getattr(self, "_token_set", False):
            os.environ.pop(AUTH_MODE_ENV, None)
            self._token_set = False

    def describe(self) -> str:
        if self._ray is None or not self._ray.is_initialized():
            return f"ray ({self.address or 'local'})"
        res = self._ray.cluster_resources()
        gpus = f", {int(res['GPU'])} GPUs" if res.get("GPU") else ""
        return f"ray ({self.address or 'local'}, {int(res.get('CPU', 0))} CPUs{gpus})"

    def run(self, exp, ctx, pending):
        ray = self._ray
        if ray is None:
            raise SemError("the ray executor is used inside `with create_executor('ray') as ex:`")
        if not pending:
            return
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(ray_chunk)
        recipe = ray.put(portable_context(ctx))
        key = digest({"exp": type(exp).__qualname__, "params": ctx.params, "models": {m: c.get("sha256") for m, (_, c) in ctx.models.items()}})
        refs = {task.remote(exp, key, [recipe], spec, self.device): i for i, spec in pending}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                i = refs.pop(done[0])
                try:
                    result, seconds = ray.get(done[0])
                except ray.exceptions.RayTaskError as exc:   # the chunk's own error, as in-process would raise it
                    cause = getattr(exc, "cause", None)
                    raise (cause if isinstance(cause, Exception) else SemError(f"chunk {i} failed on Ray: {_line(exc)}")) from None
                except ray.exceptions.RayError as exc:       # a worker or node died (out of memory...)
                    raise SemError(f"chunk {i} was lost on Ray ({type(exc).__name__}: {_line(exc)}); "
                                   "rerun the same command to resume") from None
                yield i, result, seconds
        finally:
            for ref in refs:                       # interrupted or failed: stop what is still queued or running
                ray.cancel(ref, force=True)


#: where Ray looks for a cluster's authentication token, in its own order (Ray's token-authentication docs)
TOKEN_ENV, TOKEN_PATH_ENV, AUTH_MODE_ENV = "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"


def ray_token_source() -> str | None:
    """Where this process can take a Ray cluster's token from, the way Ray documents it: ``$RAY_AUTH_TOKEN``, the
    file ``$RAY_AUTH_TOKEN_PATH``, or the default ``~/.ray/auth_token`` (written by ``ray start --head``; ``ray
    get-auth-token`` prints it on the head). None when there is none."""
    if os.environ.get(TOKEN_ENV, "").strip():
        return f"${TOKEN_ENV}"
    path = os.environ.get(TOKEN_PATH_ENV)
    if path:
        return path
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def _use_token_mode() -> bool:
    """Join a cluster with token authentication when a token is at hand (Ray 2.60's heads have it on by default,
    and a client that does not ask for it is refused): ``RAY_AUTH_MODE=token`` for this process while it is
    connected, unless the user set a mode. Authentication is never turned off here. Returns whether it was set."""
    if AUTH_MODE_ENV in os.environ or ray_token_source() is None:
        return False
    os.environ[AUTH_MODE_ENV] = "token"
    return True


def _token_hint() -> str:
    """What to do when a cluster refused the connection for want of its token (empty when a token was used)."""
    if ray_token_source() is not None:
        return ""
    return (f"; if the cluster uses token authentication (Ray's default), give this machine its token: "
            f"{TOKEN_ENV}=<token> or {TOKEN_PATH_ENV}=<file> (`ray get-auth-token` on the head prints it), or copy "
            f"the head's ~/.ray/auth_token here")


def _line(exc: BaseException) -> str:
    """The first 200 characters of ``exc``'s message on one line."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _pythonpath(package: str) -> str:
    """PYTHONPATH for local workers: the folder holding sem_core first, then whatever the driver had."""
    root = str(Path(package).parent)
    rest = os.environ.get("PYTHONPATH")
    return root if not rest else os.pathsep.join([root, rest])
