"""Memory the service gives back: out-of-memory errors recognised, freed heap pages returned, the heap settled."""
from __future__ import annotations

import ctypes
import gc
import threading

import torch

# Seconds idle after the last activity at which freed memory is given back (pages keep rendering for a while
# after their job; glibc keeps freed heap pages otherwise: issue 16).
TRIM_AFTER_S = (2.0, 10.0, 30.0, 90.0)
TRIM_EVERY_S = 60.0

_SETTLED = threading.Lock()
_settled = False


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is an out-of-memory error (CUDA's, or a RuntimeError that says so)."""
    return (isinstance(exc, torch.cuda.OutOfMemoryError)
            or (isinstance(exc, RuntimeError) and "out of memory" in str(exc)))


def release_memory() -> None:
    """Collect garbage and return freed heap pages to the OS (glibc keeps them otherwise: issue 16)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
