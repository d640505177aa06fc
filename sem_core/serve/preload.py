"""Warm the app's process while its server starts, so that the first page a browser asks for draws at once
(issue 29, point 8).

Streamlit runs a page only when a browser connects; everything the home page needs (torch, the attack service,
the shipped models, the test digits, the figure code) used to load then, in the visitor's wait: about 6 s from
the server's start to the home page drawn and idle on this 2-core machine (benchmarks/bench_latency.py --start).
``python app.py`` (what ``make app`` runs) calls :func:`start` before it hands over to Streamlit, so that work runs
in a background thread once the server listens, while the browser loads the page's JavaScript; the page's script
calls :func:`wait` before its own imports, so the two threads never import the same modules at once (concurrent
imports of a package like torch can see it half-initialised). A step that fails is recorded in :func:`report` and
logged; the page then does the same work itself and shows the error as it always did. ``streamlit run app.py``
still works: nothing was started, and :func:`wait` returns at once.

    from sem_core.serve import preload
    preload.start()          # once, before the server starts (returns at once)
    preload.wait(60)         # in the page: True when the warm-up has finished (or never started)
    preload.report()         # {"started": True, "done": True, "steps": [(name, seconds), ...], "errors": [...]}
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

#: what the home page and the attack pages import, heaviest first (torch alone is about 1 s here)
MODULES = ("torch", "sem_core.serve.service", "sem_core.serve.views", "sem_core.viz.attacks", "sem_core.viz.digits",
           "plotly.graph_objects", "pandas")


class Warmup:
    """One warm-up: a thread that imports ``modules``, then (``models``) starts the attack service and loads every
    shipped model into it, then (``data``) reads the shipped models' test split; each step timed, a failing step
    recorded and skipped. The process has one (the module's functions); tests make their own."""

    def __init__(self, modules: tuple[str, ...] = MODULES, models: bool = True, data: bool = True):
        self.modules, self.models, self.data = tuple(modules), models, data
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._steps: list[tuple[str, float]] = []
        self._errors: list[str] = []

    def start(self, after: Callable[[], bool] | None = None, after_timeout: float = 5.0) -> bool:
        """Start the thread once; returns whether this call started it. ``after``: the thread first waits until it
        returns True (polled every 10 ms, at most ``after_timeout`` s), e.g. until the web server listens."""
        with self._lock:
            if self._thread is not None:
                return False
            self._thread = threading.Thread(target=self._run, args=(after, after_timeout), name="sem-preload",
                                            daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the warm-up has finished (at most ``timeout`` s); True when it has, or never started."""
        with self._lock:
            started = self._thread is not None
        return True if not started else self._done.wait(timeout)

    def report(self) -> dict[str, Any]:
        """Whether it started and finished, each step with its seconds, and the errors (one line each)."""
        with self._lock:
            return {"started": self._thread is not None, "done": self._done.is_set(), "steps": list(self._steps),
                    "errors": list(self._errors)}

    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - recorded; the page does this work again and reports it its own way
            first = str(exc).splitlines()[0] if str(exc) else ""
            with self._lock:
                self._errors.append(f"{name}: {type(exc).__name__}: {first}".rstrip(": "))
            log.warning("warm-up step %s failed: %s", name, exc)
            return None
        finally:
            with self._lock:
                self._steps.append((name, time.perf_counter() - t0))

    def _run(self, after: Callable[[], bool] | None, after_timeout: float) -> None:
        try:
            if after is not None:
                deadline = time.monotonic() + after_timeout
                self._step("wait for the server", lambda: _poll(after, deadline))
            for module in self.modules:
                self._step(f"import {module}", lambda m=module: importlib.import_module(m))
            if self.models:
                from ..models.hub import list_shipped
                from .service import get_service

                service = self._step("attack service", get_service)
                if service is not None:
                    for name in list_shipped():
                        self._step(f"model {name}", lambda n=name: service.model(n))
            if self.data:
                from ..data import load_split

                self._step("test split (subset)", lambda: load_split("test", "subset"))
            log.info("warm-up done: %s", ", ".join(f"{n} {s:.2f} s" for n, s in self.report()["steps"]))
        finally:
            self._done.set()


def _poll(ready: Callable[[], bool], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.01)
    return False


_PROCESS = Warmup()


def start(after: Callable[[], bool] | None = None, after_timeout: float = 5.0) -> bool:
    """Start the process's warm-up (``Warmup.start``); returns whether this call started it."""
    return _PROCESS.start(after, after_timeout)


def wait(timeout: float | None = None) -> bool:
    """Wait for the process's warm-up (``Warmup.wait``): True when done, or never started."""
    return _PROCESS.wait(timeout)


def report() -> dict[str, Any]:
    """The process's warm-up so far (``Warmup.report``)."""
    return _PROCESS.report()
