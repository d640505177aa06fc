"""When may a stored chunk be reused? When the code would compute the same thing (issue 28, point 8).

Two keys, both recorded in every chunk and manifest:

- ``code_digest(exp)``: the SHA-256 of the source of every ``sem_core`` module the experiment's module imports,
  directly or through others, at the top or inside a function (its static import closure, ``import_closure``).
  A change to an attack, a model, an explainer or the experiment itself changes it.
- ``behaviour_digest(exp, ...)``: the experiment's own computation on a fixed tiny input (``exp.probe``: its
  first chunk at a tiny budget, on the run's models and seed), bit for bit. A refactor that changes no number
  (a renamed private helper, a moved function, a comment) keeps it.

A chunk is reused when its code digest equals today's, or else when its behaviour digest does (the code moved,
the numbers did not: logged).

Bit for bit means on one numerical path: which SIMD kernels torch, oneDNN and MKL pick depends on the CPU (measured
2026-12-08: on an AVX-512 AMD EPYC every committed fingerprint of an earlier machine came out different, and each of
MKL_CBWR=AVX2/AVX512/COMPATIBLE gave yet another). So the probe runs in a child process whose environment pins
the numerics (``CANONICAL_ENV``: ATen's portable kernels, oneDNN capped at SSE4.1, MKL in its conditional-numerical-
reproducibility mode, one thread), the same on every x86-64 machine (``runner.behaviour``). Why both: the digest alone would force hours of recomputation after every refactor;
the fingerprint alone cannot see a change that the tiny input does not reach (a code path only a large budget,
another explainer list or a GPU takes). An experiment whose probe would cost minutes declares ``probe = None`` and
relies on the digest alone.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import random
import re
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

ROOT = "sem_core"
# The child process's numerics (read by torch, oneDNN and MKL when they start, hence a child process): the kernels
# every x86-64 CPU runs alike. ATEN_CPU_CAPABILITY=default: ATen's non-vectorised kernels; DNNL_MAX_CPU_ISA: oneDNN's
# convolutions no wider than SSE4.1; MKL_CBWR=COMPATIBLE: MKL's reproducible code path on any Intel-compatible CPU.
CANONICAL_ENV = {"ATEN_CPU_CAPABILITY": "default", "DNNL_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE",
                 "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
VOLATILE = re.compile(r"seconds|checkpoint")   # result keys that are not the computation (timings, paths): left out


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        path = getattr(spec, "origin", None)
    return Path(path) if path and str(path).endswith(".py") else None


def _imports(name: str, path: Path) -> set[str]:
    """The ``sem_core`` modules that module ``name`` (source ``path``) names in any import statement."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)   # `from . import attacks`: maybe a module
    return {m for m in found if m == ROOT or m.startswith(ROOT + ".")}


def import_closure(module: str) -> list[str]:
    """Every ``sem_core`` module (with a source file) that ``module`` imports, transitively, itself included,
    sorted; a package counts as its ``__init__``, and importing ``a.b.c`` imports ``a`` and ``a.b`` too."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend(parents + sorted(_imports(name, path) - seen.keys()))
    return sorted(seen)


@functools.lru_cache(maxsize=64)
def _closure_digest(module: str) -> str:
    sha = hashlib.sha256()
    for name in import_closure(module):
        source = _module_file(name).read_bytes()
        sha.update(f"{name}\0{len(source)}\0".encode())
        sha.update(source)
    return sha.hexdigest()[:16]


def code_digest(exp: Any, chunk_format: int) -> str:
    """The chunk format and a digest of the experiment's import closure (``import_closure``), e.g. '3-ab12…'."""
    return f"{chunk_format}-{_closure_digest(type(exp).__module__)}"


_BEHAVIOUR: dict[tuple, str] = {}


def _stable(value: Any) -> Any:
    """``value`` without the keys ``VOLATILE`` names, at any depth."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not VOLATILE.search(str(k))}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _key(exp: Any, probe_params: dict[str, Any], code: str) -> tuple[str, str, str]:
    return type(exp).__qualname__, json.dumps(probe_params, sort_keys=True, default=str), code


def remembered(exp: Any, probe_params: dict[str, Any], code: str,
               digest_of: Callable[[], str | None]) -> str | None:
    """The digest of (experiment, probe parameters, code) from this process's cache (the one ``behaviour_digest``
    fills), else ``digest_of()`` — e.g. computed by a child process — remembered unless it is None."""
    key = _key(exp, probe_params, code)
    if key not in _BEHAVIOUR:
        value = digest_of()
        if value is None:
            return None
        _BEHAVIOUR[key] = value
    return _BEHAVIOUR[key]


def behaviour_digest(exp: Any, probe_params: dict[str, Any] | None, code: str,
                     compute: Callable[[dict[str, Any]], Any]) -> str | None:
    """SHA-256 (16 hex) of ``compute(probe_params)`` (every chunk of the experiment at its probe's parameters: one
    digit, a tiny budget) as canonical JSON, every float written exactly, timings and paths left out (``VOLATILE``),
    computed on one torch thread (a reduction's order, hence its last bits, depends on the thread count); None when
    the experiment has no probe. The global random states are put
    back afterwards, and the probe starts from fixed ones, so the fingerprint does not depend on what ran before.
    Cached per process by (experiment, probe parameters, code digest)."""
    if probe_params is None:
        return None
    key = _key(exp, probe_params, code)
    if key not in _BEHAVIOUR:
        np_state, py_state, threads = np.random.get_state(), random.getstate(), torch.get_num_threads()
        try:
            # one torch thread: a parallel reduction sums in another order with another thread count, and the
            # fingerprint must not depend on the machine's cores (measured: noise-stability's probe differed)
            torch.set_num_threads(1)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                np.random.seed(0)
                random.seed(0)
                result = compute(probe_params)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
            torch.set_num_threads(threads)
        text = json.dumps(_stable(result), sort_keys=True, separators=(",", ":"))
        _BEHAVIOUR[key] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return _BEHAVIOUR[key]
