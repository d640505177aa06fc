"""An experiment run as the app starts one: into ``<root>/<name>-n<N>``, shown at once when that folder already
holds the same finished run, else run (or resumed) there with progress per chunk.

The run happens in the caller's thread, so whoever calls it can stop it from ``on_step`` (Streamlit stops a
script at its next call into Streamlit; the chunks already written are reused by the next run).

How many digits the app offers is ``digits_param(name)``: the experiment's declared ``n``, at most ``APP_DIGITS``
by default (a run started from a page should take seconds to minutes; the command line runs the full protocol).

Example:
    run = run_in_folder("faithfulness", results_dir(), 20, on_step=lambda done, total: print(done, total))
    run.folder.name, run.reused, run.seconds           # ("faithfulness-n20", False, 3.1)
    digits_param("faithfulness").default               # 20 (its protocol declares 1,000)
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..params import Param
from .runner import EXPERIMENTS, completed_run, run_experiment

APP_DIGITS = 20      # the app's default N: a short run (the experiments declare their protocol's, up to 1,000)
MAX_DIGITS = 1000    # the most the app runs: the offline subset's whole test split


@dataclass(frozen=True)
class FolderRun:
    """``folder`` the run's folder; ``manifest`` its manifest; ``reused``: an identical finished run was there and is
    shown, not redone; ``seconds``: the wall seconds of this call's run (0 when reused)."""

    folder: Path
    manifest: dict[str, Any]
    reused: bool
    seconds: float

    @property
    def fresh(self) -> bool:
        """Whether every chunk was computed by this call (the run measures a whole experiment: an estimate's data)."""
        return not self.reused and not self.manifest.get("chunks_reused")


def digits_param(name: str) -> Param:
    """The app's "Number of digits N" of the registered experiment ``name``: its declared default ``n`` (the
    protocol's), at most ``APP_DIGITS``, in 1..``MAX_DIGITS``; an unknown name raises ``UnknownNameError``."""
    declared = int(EXPERIMENTS.get(name).defaults.get("n", APP_DIGITS))
    return Param("n", min(declared, APP_DIGITS), "Number of digits N", f"test digits; the protocol's: {declared:,}",
                 lo=1, hi=MAX_DIGITS)


def folder_for(root: str | Path, name: str, n: int, model: str | None = None) -> Path:
    """Where the app keeps the run of ``name`` on ``n`` digits: ``<root>/<name>-n<n>``, or
    ``<root>/<name>-<model>-n<n>`` for a single-model experiment run on another ``model`` (e.g. a robustness card)."""
    tag = "" if model is None else "-" + re.sub(r"[^A-Za-z0-9._-]", "_", Path(model).stem if model.endswith(".json")
                                                                       else model)[:60]
    return Path(root) / f"{name}{tag}-n{int(n)}"


def run_in_folder(name: str, root: str | Path, n: int, *, model: str | None = None,
                  on_step: Callable[[int, int], None] | None = None) -> FolderRun:
    """The finished run of ``name`` on ``n`` digits (of ``model``, for a single-model experiment) in
    ``folder_for(root, name, n, model)``: the one there when it is the same run (same parameters, code and models:
    ``completed_run``), else ``run_experiment`` into that folder, which resumes from the chunks already there.
    ``on_step(done, total)`` after each chunk."""
    folder = folder_for(root, name, n, model)
    extra = {} if model is None else {"model": model}
    manifest = completed_run(name, folder, n=int(n), **extra)
    if manifest is not None:
        return FolderRun(folder, manifest, True, 0.0)
    t0 = time.perf_counter()
    manifest = run_experiment(name, folder, n=int(n), on_step=on_step, **extra)
    return FolderRun(folder, manifest, False, time.perf_counter() - t0)
