"""Resumable experiment runner: chunks saved atomically, verified and reused on resume, then tables + figures.

    run_experiment("senn-distances", out="results/senn", n=100)

Layout of ``out``:
    .lock                held while a run writes here (holds its pid): a second writer is refused
    chunks/NNNN.json     one finished chunk each, sealed (see ``integrity``): the digest of the parameters
                         and models, the code version, index, spec and a checksum of its content
    chunks/params.json   the run's parameters, written once its first chunk is done
    results.json/.csv    the experiment's rows and summary
    *.html, *.png        its plotly figures (PNG needs kaleido + a Chromium; skipped with a note)
    manifest.json        parameters, model cards, data source, seconds, versions,
                         chunks_computed / chunks_reused / chunks_recomputed of the last run
    seal.json            the SHA-256 of each of these files and an HMAC over them under the installation's
                         secret (``integrity.seal_folder``): ``load_results`` refuses a folder edited after its run
Parameters are checked before any work. A folder whose params.json names *other* parameters is refused, so
results never mix; a chunk that fails any check (edited, truncated, unparsable, wrong length, other
parameters or code) is recomputed with a warning, never reused.
What computes the pending chunks is an executor (``executors``: in-process by default, or Ray tasks); the
chunk files are written here either way, so a run resumes under any executor.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..errors import SemError
from ..registry import Registry
from . import fingerprint, integrity
from .context import Context, jsonable  # noqa: F401 (Context: re-exported for the experiments)
from .integrity import BadChunk, show

if TYPE_CHECKING:
    from .executors import Executor

log = logging.getLogger(__name__)
EXPERIMENTS: Registry[type["Experiment"]] = Registry("experiment")


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
    # the behavioural fingerprint's parameters (``fingerprint``): overrides of the run's, giving every chunk kind at
    # one digit and a tiny budget; None: the experiment is fingerprinted by its code digest alone
    probe: dict[str, Any] | None = {"n": 1}
    # parameters for which null is a value, not "the default" (e.g. senn-lambda's train_limit: null = every digit)
    nullable: frozenset[str] = frozenset()

    def chunks(self, ctx: Context) -> list[dict[str, Any]]:
        """The chunks of this run, each a small JSON-able spec (e.g. ``{"digits": [...]}``)."""
        raise NotImplementedError

    def run_chunk(self, spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Compute one chunk; returns its JSON-able result (saved, sealed and reused on resume)."""
        raise NotImplementedError

    def finalize(self, results: list[dict[str, Any]], ctx: Context) -> Outputs:
        """Turn every chunk's result (in chunk order) into rows, a summary and figures."""
        raise NotImplementedError

    def verdict(self, summary: dict[str, Any]) -> tuple[str, str]:
        """('reproduced' | 'partly' | 'not', why)."""
        raise NotImplementedError


def list_experiments() -> list[str]:
    """The registered experiment names, sorted."""
    return EXPERIMENTS.names()


def load_results(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(manifest, {figure name: go.Figure}) of a finished experiment folder: ``open_results`` without its seal
    state."""
    manifest, figures, _ = open_results(folder)
    return manifest, figures


def open_results(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(manifest, {figure name: go.Figure}, seal state: ``integrity.VERIFIED``) of a finished experiment folder;
    a sealed file changed after the run, a folder sealed elsewhere and not published with this code, and an unsealed
    one are refused (``integrity.require_verified``); the manifest is checked
    (``integrity.read_manifest``: a SemError naming the file), a figure whose plotly JSON is missing or
    unreadable is left out with a warning."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise SemError(f"{folder} has no manifest.json (not a finished experiment folder)")
    manifest = integrity.read_manifest(path)
    seal = integrity.require_verified(folder, manifest)   # edited, foreign or unsealed: refused, never shown
    figures = {}
    for stem, entry in manifest["figures"].items():
        fig = read_figure(folder, entry)
        if fig is not None:
            figures[stem] = fig
    return manifest, figures, seal


def shown_verdict(manifest: dict[str, Any]) -> tuple[str, str, str | None]:
    """(verdict, reason, note) to show for a finished run: the verdict recomputed from the manifest's numbers by
    the experiment's own rule (``Experiment.verdict``), never the stored words; ``note`` says when the stored
    verdict or reason differ from what the numbers give (an edited or foreign manifest), else None. A summary the
    rule cannot read is a SemError."""
    name = manifest.get("experiment")
    if name not in EXPERIMENTS:
        raise SemError(f"the manifest names no known experiment ({str(name)[:40]!r})")
    try:
        verdict, reason = EXPERIMENTS.get(name)().verdict(manifest["summary"])
    except Exception as exc:   # a foreign summary: any error of the rule on it means "no verdict"
        raise SemError(f"the numbers of this {name} run do not give a verdict ({type(exc).__name__})") from None
    stored = (manifest.get("verdict"), manifest.get("verdict_reason"))
    note = None if stored == (verdict, reason) else (
        "the verdict stored with this run differs from what its numbers give; shown: the one its numbers give")
    return verdict, reason, note


def read_figure(folder: Path, entry: dict[str, str]):
    """The go.Figure of a manifest's figure ``entry`` from its plotly JSON, or None (with a warning naming the
    file) when that file is missing or not a readable figure."""
    import plotly.io as pio

    if "json" not in entry:
        return None
    path = Path(folder) / entry["json"]
    try:
        return pio.from_json(path.read_bytes().decode())
    except FileNotFoundError:
        log.warning("skipped figure %s: the file is missing", path)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        log.warning("skipped figure %s: not a readable plotly figure (%s)", path,
                    " ".join(str(exc).split())[:100] or type(exc).__name__)
    return None


_atomic_write = integrity.write_atomic


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


def command_line(name: str, full: dict[str, Any], defaults: dict[str, Any], out: Path, seed: int) -> str:
    """The CLI line that reproduces a run with parameters ``full``: every parameter that differs from ``defaults``
    as --param."""
    extra = "".join(f" --param {shlex.quote(k + '=' + json.dumps(v, separators=(',', ':')))}" for k, v in full.items()
                    if k not in ("n", "seed") and defaults.get(k) != v)
    return f"python -m sem_core experiment {name} --n {full.get('n')}{extra} --out {shlex.quote(str(out))} --seed {seed}"


def _params_text(name: str, full: dict[str, Any]) -> str:
    return json.dumps({"experiment": name, **full}, sort_keys=True)


def _check_folder(out: Path, name: str, full: dict[str, Any]) -> None:
    """Create ``out``/chunks; refuse a folder whose params.json records a run with other parameters (an
    unreadable params.json is ignored with a warning: every chunk is verified anyway)."""
    integrity.prepare_folder(out / "chunks", "chunk folder")
    key_path = out / "chunks" / "params.json"
    if not key_path.exists():
        return
    try:
        stored = json.loads(key_path.read_bytes().decode())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        log.warning("%s is unreadable; ignoring it (each chunk is verified on its own)", key_path)
        return
    ours = json.loads(_params_text(name, full))
    if stored != ours:
        differ = sorted(set(stored) ^ set(ours) | {k for k in set(stored) & set(ours) if stored[k] != ours[k]}) \
            if isinstance(stored, dict) else ["all"]
        raise SemError(f"{out} holds chunks of a run with other parameters (differing: "
                       f"{', '.join(show(k) for k in differ[:8])}); choose another --out or delete that folder")


def _load_context(exp: Experiment, name: str, full: dict[str, Any], dev: torch.device, out: Path) -> Context:
    """The experiment's models (all trained on one data source) and the test split of that source."""
    from ..models.hub import load_model_with_card
    from ..data import load_split

    ctx = Context(params=full, device=dev, out=out)
    sources = set()
    for m, source in model_sources(exp, full).items():
        ctx.models[m] = load_model_with_card(source, dev)
        sources.add(ctx.models[m][1]["data"]["source"])
    if len(sources) > 1:
        raise SemError(f"the models of {name} were trained on different sources {sorted(sources)}; not mixing them")
    source = sources.pop() if sources else full.get("data", "auto")
    ctx.data["test"] = load_split("test", source)
    return ctx


@dataclass
class _Tally:
    computed: int = 0      # chunks computed by this run (including the recomputed ones)
    reused: int = 0        # chunks reused from earlier runs after passing every check
    recomputed: int = 0    # chunks whose saved file failed a check, so they were computed again
    seconds: float = 0.0   # compute seconds of all chunks (reused ones: as recorded)


def _stored_chunk(path: Path, i: int, key: dict[str, str], spec: Any, tally: _Tally) -> tuple[bool, Any]:
    """(True, result) for a saved chunk that passes every check; (False, None) when there is none or it fails one
    (then a warning says why and it counts as recomputed)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        reason = f"it cannot be read ({exc.strerror or exc})"
    else:
        try:
            result, seconds = integrity.open_chunk(raw, i, key, spec)
        except BadChunk as exc:
            reason = str(exc)
        else:
            tally.seconds += seconds
            return True, result
    log.warning("recomputing chunk %s: %s", path, reason)
    tally.recomputed += 1
    return False, None


def _run_chunks(exp: Experiment, ctx: Context, specs: list[dict[str, Any]], out: Path, key: dict[str, str],
                on_first: Callable[[], None], on_step: Callable[[int, int], None] | None,
                executor: "Executor") -> tuple[list[Any], _Tally]:
    """(results in chunk order, tally): a saved chunk that passes every check is reused, the others go to
    ``executor`` and are sealed and saved here, in this process, as they finish (so the files are the same
    whatever computed them); ``on_first`` runs once the first chunk is reused or saved."""
    results: list[Any] = [None] * len(specs)
    tally, pending = _Tally(), []
    for i, spec in enumerate(specs):
        spec = jsonable(spec)
        ok, result = _stored_chunk(out / "chunks" / f"{i:04d}.json", i, key, spec, tally)
        if ok:
            tally.reused += 1
            results[i] = result
        else:
            pending.append((i, spec))
    if tally.reused:
        on_first()
    if on_step and tally.reused:
        on_step(tally.reused, len(specs))
    specs_by_index = dict(pending)
    for i, result, took in executor.run(exp, ctx, pending):
        result = json.loads(json.dumps(jsonable(result)))  # as a reused chunk reads
        tally.seconds += took
        _atomic_write(out / "chunks" / f"{i:04d}.json", integrity.seal_chunk(i, key, specs_by_index[i], result, took))
        tally.computed += 1
        results[i] = result
        if tally.computed == 1 and not tally.reused:
            on_first()
        if on_step:
            on_step(tally.reused + tally.computed, len(specs))
    return results, tally


def _write_outputs(outputs: Outputs, out: Path) -> dict[str, dict[str, str]]:
    """Figures (HTML, plotly JSON, PNG), results.json and results.csv; returns the figures' manifest entries."""
    figures = {stem: _write_figure(fig, out, stem) for stem, fig in outputs.figures.items()}
    _atomic_write(out / "results.json", json.dumps(jsonable({"summary": outputs.summary, "rows": outputs.rows}), indent=1))
    if outputs.rows:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(outputs.rows[0]))
        writer.writeheader()
        writer.writerows(jsonable(outputs.rows))
        _atomic_write(out / "results.csv", buf.getvalue())
    return figures


def model_sources(exp: Experiment, full: dict[str, Any]) -> dict[str, str]:
    """What each of ``exp.models`` is loaded from: its own name, or for a single-model experiment the ``model``
    parameter when given (a listed name or a card's path, e.g. a plug-in architecture's)."""
    override = full.get("model") if "model" not in exp.defaults else None
    return {m: override or m for m in exp.models}


def _check_model_param(exp: Experiment, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` less the ``model`` parameter, which only a single-model experiment takes (a non-empty string);
    the parameter is kept in the run's parameters only when given, so default runs keep their parameters."""
    if "model" not in given or "model" in exp.defaults:
        return given
    value = given["model"]
    if len(exp.models) != 1:
        raise SemError(f"experiment {name} uses {len(exp.models)} models ({', '.join(exp.models) or 'none'}); "
                       f"the model parameter replaces the model of a single-model experiment")
    if not isinstance(value, str) or not value.strip() or len(value) > 1000:
        raise SemError(f"experiment {name}: parameter model must be a model name or a card .json path, "
                       f"got {show(value)}")
    return {k: v for k, v in given.items() if k != "model"}


def full_params(exp: Experiment, name: str, n: int | None, seed: int, params: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters: ``exp``'s defaults, overridden by the given ones (None: the default, except for the
    parameters ``exp.nullable`` names, where None is the value) and ``n``, plus ``seed`` (and ``model`` when given:
    ``model_sources``); an unknown or ill-typed parameter raises (``integrity.check_params``)."""
    given = {k: v for k, v in params.items() if v is not None or k in exp.nullable}
    if n is not None:
        given["n"] = n
    integrity.check_params(name, exp.defaults, {k: v for k, v in _check_model_param(exp, name, given).items()
                                                if v is not None or k not in exp.nullable})
    integrity.check_params(name, {"seed": 0}, {"seed": seed})
    return {**exp.defaults, **given, "seed": seed}


def run_experiment(name: str, out: str | Path, *, n: int | None = None, device=None, seed: int = 0,
                   on_step: Callable[[int, int], None] | None = None, executor: "str | Executor" = "in-process",
                   **params: Any) -> dict[str, Any]:
    """Run (or resume) ``name`` into ``out``; returns the manifest (also written to manifest.json).

    ``executor``: what computes the chunks, a name of ``list_executors()`` or an ``Executor``
    (``create_executor("ray", address=...)``); chunks written by one executor are reused by any other.
    """
    from ..device import resolve_device
    from .executors import create_executor

    exp = EXPERIMENTS.get(name)()
    full = full_params(exp, name, n, seed, params)
    dev = resolve_device(device)
    if isinstance(executor, str):
        executor = create_executor(executor, device=device)
    out = Path(out)
    with executor:      # a Ray cluster is reached (or started) before the folder is touched
        fresh = not out.exists()
        integrity.prepare_folder(out)
        try:
            with integrity.folder_lock(out):
                return _run_locked(exp, name, full, dev, out, on_step, executor)
        except SemError:
            if fresh:   # refused before anything was computed (e.g. an unknown protocol): leave no empty folder
                _remove_if_empty(out)
            raise


def _remove_if_empty(out: Path) -> None:
    """Remove ``out`` when it holds nothing but empty folders (a run refused before its first chunk)."""
    try:
        if all(p.is_dir() for p in out.rglob("*")):
            for p in sorted(out.rglob("*"), reverse=True):
                p.rmdir()
            out.rmdir()
    except OSError:
        pass


def completed_run(name: str, out: str | Path, *, n: int | None = None, seed: int = 0, **params: Any) -> dict | None:
    """The manifest in ``out`` when it is a finished run of ``name`` that ``run_experiment`` with these arguments
    would only repeat: the same parameters, the same experiment code, the same model weights (their cards'
    SHA-256), signed here or published with the code. None otherwise (no run, another N, edited code, a retrained
    model, an unreadable manifest, a run made elsewhere); then
    ``run_experiment`` resumes what it can. Lets the app show a run already made at once."""
    from ..models.hub import model_card

    exp = EXPERIMENTS.get(name)()
    try:
        full = full_params(exp, name, n, seed, params)
        sources = model_sources(exp, full)
        manifest = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
        same = (manifest.get("experiment") == name and manifest.get("params") == json.loads(json.dumps(full))
                and all(model_card(sources.get(m, m)).get("sha256") == entry.get("sha256")
                        for m, entry in manifest.get("models", {}).items())
                and current_code(exp, name, full, manifest))
        if same:   # only a run this installation can vouch for is shown as it is; another one is made again
            integrity.require_verified(Path(out), integrity.read_manifest(Path(out) / "manifest.json"))
    except (OSError, ValueError, AttributeError, TypeError, SemError):
        return None
    return manifest if same else None


def current_code(exp: Experiment, name: str, full: dict[str, Any], manifest: dict[str, Any]) -> bool:
    """Whether ``manifest`` was computed by code that computes what today's does (``integrity.same_code``: the
    same code digest, else the same behavioural fingerprint, which is computed only then)."""
    code = integrity.code_version(exp)
    if manifest.get("code_version") == code:
        return True
    stored = {"code": manifest.get("code_version"), "behaviour": manifest.get("behaviour")}
    return stored["behaviour"] is not None and integrity.same_code(stored, {"code": code,
                                                                            "behaviour": behaviour(exp, name, full)})


def valid_for_code(manifest: dict[str, Any]) -> bool:
    """Whether the finished run ``manifest`` is what today's code computes with its parameters and models
    (``current_code``); False for a run of an unknown experiment, of code older than the fingerprints, or one whose
    fingerprint today's code does not reproduce. Model weights are not checked here (``completed_run`` does)."""
    name = manifest.get("experiment")
    if name not in EXPERIMENTS or not isinstance(manifest.get("params"), dict):
        return False
    exp = EXPERIMENTS.get(name)()
    try:
        return current_code(exp, name, manifest["params"], manifest)
    except (OSError, ValueError, KeyError, TypeError, SemError) as exc:
        log.warning("could not compute the fingerprint of %s (%s)", name, exc)
        return False


def behaviour(exp: Experiment, name: str, full: dict[str, Any]) -> str | None:
    """The behavioural fingerprint of ``exp`` under the run's parameters ``full`` (``fingerprint.behaviour_digest``):
    every chunk at ``exp.probe``'s parameters, computed on the CPU (whatever device the run uses, so that the
    fingerprint is the same everywhere) in a scratch folder, in a child process with ``fingerprint.CANONICAL_ENV``'s
    numerics (the same bits on every x86-64 CPU); None when ``exp.probe`` is None or the probe fails. An experiment
    the child cannot import (one registered outside sem_core, e.g. by a test) is probed in this process, on this
    machine's numerics (logged)."""
    if exp.probe is None:
        return None
    probe = {**full, **exp.probe}

    def digest_of() -> str | None:
        if _probed_in_child(exp, name):
            digest, error = _behaviour_in_child(name, probe)
        else:
            log.info("fingerprint of %s computed in this process (not importable by a child): this machine's "
                     "numerics", name)
            digest, error = _behaviour_here(exp, name, probe)
        if error is not None:   # the run itself then meets (and reports) the same problem on its own digits
            log.warning("no behavioural fingerprint for %s (its probe failed: %s); chunks are matched by the code "
                        "digest alone", name, " ".join(error.split())[:200])
        return digest

    return fingerprint.remembered(exp, probe, integrity.code_version(exp), digest_of)


def _probed_in_child(exp: Experiment, name: str) -> bool:
    """Whether ``behaviour`` probes ``exp`` in a child process (canonical numerics): a sem_core experiment."""
    return type(exp).__module__.startswith("sem_core.experiments.") and name in EXPERIMENTS.names()


def _behaviour_here(exp: Experiment, name: str, probe: dict[str, Any]) -> tuple[str | None, str | None]:
    """(digest, None) or (None, the probe's error) computed in this process."""
    def compute(params: dict[str, Any]) -> Any:
        with tempfile.TemporaryDirectory(prefix="sem-probe-") as tmp:
            ctx = _load_context(exp, name, params, torch.device("cpu"), Path(tmp))
            return [json.loads(json.dumps(jsonable(exp.run_chunk(jsonable(spec), ctx)))) for spec in exp.chunks(ctx)]

    try:
        return fingerprint.behaviour_digest(exp, probe, integrity.code_version(exp), compute), None
    except SemError as exc:
        return None, str(exc)


_CHILD = """
import json, sys
from sem_core.experiments.runner import EXPERIMENTS, _behaviour_here
job = json.loads(sys.stdin.read())
digest, error = _behaviour_here(EXPERIMENTS.get(job["name"])(), job["name"], job["probe"])
print(json.dumps({"digest": digest, "error": error}))
"""


def _behaviour_in_child(name: str, probe: dict[str, Any]) -> tuple[str | None, str | None]:
    """``_behaviour_here`` in a child Python with the canonical numerics, importing this very sem_core."""
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **fingerprint.CANONICAL_ENV,
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps({"name": name, "probe": probe}, default=str),
                          env=env, capture_output=True, text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return None, f"the probe's process failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    answer = json.loads(lines[-1])
    return answer["digest"], answer["error"]


def _run_locked(exp: Experiment, name: str, full: dict[str, Any], dev: torch.device, out: Path,
                on_step: Callable[[int, int], None] | None, executor: "Executor") -> dict[str, Any]:
    """``run_experiment`` once the parameters are checked and ``out`` is locked."""
    from ..models.checkpoint import library_versions

    _check_folder(out, name, full)
    start = time.perf_counter()
    ctx = _load_context(exp, name, full, dev, out)
    specs = exp.chunks(ctx)
    code = integrity.code_version(exp)
    key = integrity.chunk_key(name, full, {m: card.get("sha256") for m, (_, card) in ctx.models.items()}, code,
                              behaviour(exp, name, full))
    params_path = out / "chunks" / "params.json"
    results, tally = _run_chunks(exp, ctx, specs, out, key, lambda: _atomic_write(params_path, _params_text(name, full)),
                                 on_step, executor)
    if tally.recomputed:
        log.warning("%d chunk(s) of %s failed their checks and were recomputed", tally.recomputed, out)
    outputs = exp.finalize(results, ctx)
    figures = _write_outputs(outputs, out)
    verdict, why = exp.verdict(outputs.summary)
    manifest = {
        "experiment": name, "paper": exp.paper, "claim": exp.claim, "params": full,
        "data_source": ctx.data["test"].source, "device": str(dev), "executor": executor.describe(),
        "models": {m: {k: card.get(k) for k in ("model", "config", "test_accuracy", "seed", "data", "sha256")}
                   for m, (_, card) in ctx.models.items()},
        "chunks_total": len(specs), "chunks_computed": tally.computed, "chunks_reused": tally.reused,
        "chunks_recomputed": tally.recomputed, "code_version": key["code"], "behaviour": key["behaviour"],
        "behaviour_numerics": "canonical" if key["behaviour"] and _probed_in_child(exp, name) else "this machine's",
        "seconds": round(time.perf_counter() - start, 2), "versions": library_versions(),
        "compute_seconds_total": round(tally.seconds, 2),  # all chunks, computed now or in earlier runs
        "summary": jsonable(outputs.summary), "verdict": verdict, "verdict_reason": why, "figures": figures,
        "command": command_line(name, full, exp.defaults, out, full["seed"]), "notes": exp.notes,
    }
    _atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
    integrity.seal_folder(out, manifest)
    return manifest
