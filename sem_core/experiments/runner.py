"""Resumable experiment runner: chunks saved atomically, reused on resume, then tables + figures.

    run_experiment("senn-distances", out="results/senn", n=100)

Layout of ``out``:
    chunks/NNNN.json     one finished chunk each (written to a temp file, then renamed)
    results.json/.csv    the experiment's rows and summary
    *.html, *.png        its plotly figures (PNG needs kaleido + a Chromium; skipped with a note)
    manifest.json        parameters, model cards, data source, seconds, versions,
                         chunks_computed / chunks_reused of the last run
A folder holding chunks of *other* parameters is refused, so results never mix.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import SemError
from ..registry import Registry

log = logging.getLogger(__name__)
EXPERIMENTS: Registry[type["Experiment"]] = Registry("experiment")


@dataclass
class Context:
    """What chunks share: models (name -> (model, card)), the test split, device, params."""

    params: dict[str, Any]
    device: torch.device
    models: dict[str, tuple[Any, dict]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None

    def model(self, name: str):
        """The loaded model ``name`` (one of the experiment's ``models``)."""
        return self.models[name][0]

    def test_split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(images [N,1,28,28] in [0,1], labels [N]) of the test split."""
        x, y, _ = self.data["test"]
        return x, y

    def pick(self, *keys: str) -> dict[str, Any]:
        """The parameters ``keys`` as keyword arguments: ``f(**ctx.pick("eps", "seed"))``."""
        return {k: self.params[k] for k in keys}


@dataclass
class Outputs:
    """What ``finalize`` returns: rows for CSV, a summary for the report, named figures."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)


class Experiment:
    """One experiment: how to split the work, how to do a chunk, how to summarise."""

    name = ""
    paper = ""          # e.g. "paper 000, Fig. 2"
    claim = ""          # the paper's finding, one sentence
    models: tuple[str, ...] = ()
    defaults: dict[str, Any] = {}
    notes = ""          # how this protocol differs from the paper's (shown in the report)

    def chunks(self, ctx: Context) -> list[dict[str, Any]]:
        raise NotImplementedError

    def run_chunk(self, spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def finalize(self, results: list[dict[str, Any]], ctx: Context) -> Outputs:
        raise NotImplementedError

    def verdict(self, summary: dict[str, Any]) -> tuple[str, str]:
        """('reproduced' | 'partly' | 'not', why)."""
        raise NotImplementedError


def list_experiments() -> list[str]:
    return EXPERIMENTS.names()


def load_results(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, {figure name: go.Figure}) of a finished experiment folder."""
    import plotly.io as pio

    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise SemError(f"{folder} has no manifest.json (not a finished experiment folder)")
    try:
        manifest = json.loads(path.read_text())
        manifest["figures"], manifest["experiment"]  # noqa: B018  (the fields the app needs)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise SemError(f"{path} is not a readable experiment manifest ({exc})") from None
    figures = {}
    for stem, entry in manifest.get("figures", {}).items():
        if "json" in entry and (folder / entry["json"]).is_file():
            figures[stem] = pio.from_json((folder / entry["json"]).read_text())
    return manifest, figures


def _atomic_write(path: Path, text: str | bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text if isinstance(text, bytes) else text.encode())
    os.replace(tmp, path)


def _jsonable(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _write_figure(fig, out: Path, stem: str) -> dict[str, str]:
    fig.write_html(str(out / f"{stem}.html"), include_plotlyjs="directory", full_html=True)
    _atomic_write(out / f"{stem}.plotly.json", fig.to_json())
    entry = {"html": f"{stem}.html", "json": f"{stem}.plotly.json"}
    import importlib.util

    if importlib.util.find_spec("kaleido") is None:
        entry["png_skipped"] = "PNG export needs the kaleido package (and a Chromium it can drive)"
        return entry
    try:
        png = fig.to_image(format="png", width=900, height=520, scale=1.5)
    except Exception as exc:  # kaleido missing, or no Chromium for it to drive
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "no Chromium found for kaleido"
        entry["png_skipped"] = f"PNG export unavailable ({type(exc).__name__}: {detail})"
    else:
        _atomic_write(out / f"{stem}.png", png)
        entry["png"] = f"{stem}.png"
    return entry


def _command(name: str, full: dict[str, Any], defaults: dict[str, Any], out: Path, seed: int) -> str:
    """The CLI line that reproduces this run: every parameter that differs from the defaults as --param."""
    extra = "".join(f" --param {shlex.quote(k + '=' + json.dumps(v, separators=(',', ':')))}" for k, v in full.items()
                    if k not in ("n", "seed") and defaults.get(k) != v)
    return f"python -m sem_core experiment {name} --n {full.get('n')}{extra} --out {out} --seed {seed}"


def _claim_folder(out: Path, name: str, full: dict[str, Any]) -> None:
    """Create ``out``/chunks and record the run's parameters there; refuse a folder holding another run's chunks."""
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    key_path = out / "chunks" / "params.json"
    key = json.dumps({"experiment": name, **full}, sort_keys=True)
    if key_path.exists() and key_path.read_text() != key:
        raise SemError(f"{out} holds chunks of a run with other parameters ({key_path.read_text()}); "
                       f"choose another --out or delete that folder")
    _atomic_write(key_path, key)


def _load_context(exp: Experiment, name: str, full: dict[str, Any], dev: torch.device, out: Path) -> Context:
    """The experiment's models (all trained on one data source) and the test split of that source."""
    from ..api import load_model_with_card
    from ..data import load_split

    ctx = Context(params=full, device=dev, out=out)
    sources = set()
    for m in exp.models:
        ctx.models[m] = load_model_with_card(m, dev)
        sources.add(ctx.models[m][1]["data"]["source"])
    if len(sources) > 1:
        raise SemError(f"the models of {name} were trained on different sources {sorted(sources)}; not mixing them")
    source = sources.pop() if sources else full.get("data", "auto")
    ctx.data["test"] = load_split("test", source)
    return ctx


def _run_chunks(exp: Experiment, ctx: Context, specs: list[dict[str, Any]], out: Path,
                on_step: Callable[[int, int], None] | None) -> tuple[list[dict[str, Any]], int, int, float]:
    """(results, chunks computed, chunks reused, seconds of all chunks): a chunk saved with the same spec is
    reused, any other is computed and saved."""
    results, computed, reused, chunk_seconds = [], 0, 0, 0.0
    for i, spec in enumerate(specs):
        path = out / "chunks" / f"{i:04d}.json"
        stored = json.loads(path.read_text()) if path.exists() else {}
        if stored and stored.get("spec") == _jsonable(spec):
            results.append(stored["result"])
            chunk_seconds += stored.get("seconds", 0.0)
            reused += 1
        else:
            t0 = time.perf_counter()
            result = _jsonable(exp.run_chunk(spec, ctx))
            took = time.perf_counter() - t0
            chunk_seconds += took
            _atomic_write(path, json.dumps({"spec": _jsonable(spec), "result": result, "seconds": took}))
            results.append(result)
            computed += 1
        if on_step:
            on_step(i + 1, len(specs))
    return results, computed, reused, chunk_seconds


def _write_outputs(outputs: Outputs, out: Path) -> dict[str, dict[str, str]]:
    """Figures (HTML, plotly JSON, PNG), results.json and results.csv; returns the figures' manifest entries."""
    figures = {stem: _write_figure(fig, out, stem) for stem, fig in outputs.figures.items()}
    _atomic_write(out / "results.json", json.dumps(_jsonable({"summary": outputs.summary, "rows": outputs.rows}), indent=1))
    if outputs.rows:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(outputs.rows[0]))
        writer.writeheader()
        writer.writerows(_jsonable(outputs.rows))
        _atomic_write(out / "results.csv", buf.getvalue())
    return figures


def run_experiment(name: str, out: str | Path, *, n: int | None = None, device=None, seed: int = 0,
                   on_step: Callable[[int, int], None] | None = None, **params: Any) -> dict[str, Any]:
    """Run (or resume) ``name`` into ``out``; returns the manifest (also written to manifest.json)."""
    from ..device import resolve_device
    from ..models.checkpoint import library_versions

    exp = EXPERIMENTS.get(name)()
    dev = resolve_device(device)
    full = {**exp.defaults, **{k: v for k, v in params.items() if v is not None}, "seed": seed}
    if n is not None:
        full["n"] = n
    out = Path(out)
    _claim_folder(out, name, full)

    start = time.perf_counter()
    ctx = _load_context(exp, name, full, dev, out)
    specs = exp.chunks(ctx)
    results, computed, reused, chunk_seconds = _run_chunks(exp, ctx, specs, out, on_step)
    outputs = exp.finalize(results, ctx)
    figures = _write_outputs(outputs, out)
    verdict, why = exp.verdict(outputs.summary)
    manifest = {
        "experiment": name, "paper": exp.paper, "claim": exp.claim, "params": full,
        "data_source": ctx.data["test"].source, "device": str(dev),
        "models": {m: {k: card.get(k) for k in ("model", "config", "test_accuracy", "seed", "data", "sha256")}
                   for m, (_, card) in ctx.models.items()},
        "chunks_total": len(specs), "chunks_computed": computed, "chunks_reused": reused,
        "seconds": round(time.perf_counter() - start, 2), "versions": library_versions(),
        "compute_seconds_total": round(chunk_seconds, 2),  # all chunks, computed now or in earlier runs
        "summary": _jsonable(outputs.summary), "verdict": verdict, "verdict_reason": why, "figures": figures,
        "command": _command(name, full, exp.defaults, out, seed), "notes": exp.notes,
    }
    _atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest
