"""``report``: docs/RESULTS.md from saved experiment folders (claim, numbers, command, verdict).

Folders are verified, not trusted: a manifest that is unparsable or lacks a field, and a figure whose plotly
JSON or PNG is missing or unreadable, are skipped with a one-line warning naming the file."""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from ..errors import SemError
from . import integrity

log = logging.getLogger(__name__)


def find_manifests(results: str | Path) -> list[Path]:
    """Every manifest.json in ``results`` (itself one run, or a folder of runs)."""
    root = Path(results)
    if not root.is_dir():
        raise SemError(f"results folder not found: {root}")
    found = sorted(root.glob("manifest.json")) + sorted(root.glob("*/manifest.json"))
    if not found:
        raise SemError(f"no manifest.json in {root} or its subfolders; run `python -m sem_core experiment NAME --out DIR` first")
    return found


INTERVAL = {"point", "low", "high", "n", "level", "resamples"}   # a stored ``metrics.stats.Interval``


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict) and set(v) == INTERVAL:
        return f"{_fmt(v['point'])} [{_fmt(v['low'])}, {_fmt(v['high'])}]"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return f"[{len(v)} items]" if v and isinstance(v[0], dict) else ", ".join(_fmt(x) for x in v)
    return str(v)


def compute_seconds(m: dict[str, Any]) -> float:
    """Compute seconds of all chunks, plus the training of models the experiment trained itself."""
    return m.get("compute_seconds_total", m["seconds"]) + (m["summary"].get("training_seconds_total") or 0)


def _is_rows(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(r, dict) for r in v)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """A markdown table of row dicts (columns of the first row; paths shortened to their file name)."""
    cols = list(rows[0])
    cell = lambda v: Path(v).name if isinstance(v, str) and "/" in v and " " not in v else _fmt(v)  # noqa: E731
    return (["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
            + ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows])


PER_MODEL = ("verdicts", "verdict_reasons")   # summary keys of experiments that judge several models separately


def _per_model_verdicts(summary: dict[str, Any]) -> list[str]:
    """A "model | verdict | why" table for a summary with a verdict per model (``verdicts`` and
    ``verdict_reasons``: model -> text, as protodl-distances and protodl-table write them); else nothing."""
    verdicts, reasons = summary.get("verdicts"), summary.get("verdict_reasons")
    if not isinstance(verdicts, dict) or not isinstance(reasons, dict):
        return []
    return (["", "Verdict per model:", "", "| model | verdict | why |", "| --- | --- | --- |"]
            + [f"| {m} | **{v}** | {reasons.get(m, '')} |" for m, v in verdicts.items()])


def _interactive(src: Path, entry: dict[str, Any], dest: Path) -> bool:
    """The figure's interactive HTML at ``dest``: rebuilt from its plotly JSON spec (committed result
    folders keep the spec, not the bulky HTML), else copied from the run's HTML. False (with a warning)
    when neither can be used."""
    from .runner import read_figure

    fig = read_figure(src, entry) if (src / entry.get("json", "")).is_file() else None
    if fig is not None:
        fig.write_html(str(dest), include_plotlyjs="directory", full_html=True)
        return True
    if not (src / entry["html"]).is_file():
        log.warning("skipped figure %s of %s: neither its plotly JSON nor its HTML is readable", entry["html"], src)
        return False
    shutil.copyfile(src / entry["html"], dest)
    js = src / "plotly.min.js"
    if js.exists() and not (dest.parent / "plotly.min.js").exists():
        shutil.copyfile(js, dest.parent / "plotly.min.js")
    return True


def _readable(paths: list[Path]) -> list[dict[str, Any]]:
    """The manifests at ``paths`` that pass ``integrity.read_manifest`` and whose folder is verified
    (``integrity.require_verified``: signed here or published with this code), each with its folder as ``_dir``;
    the others are skipped with a warning naming the file or the folder."""
    manifests = []
    for p in paths:
        try:
            manifest = integrity.read_manifest(p)
            integrity.require_verified(p.parent, manifest)
            manifests.append(manifest | {"_dir": p.parent})
        except SemError as exc:
            log.warning("skipped %s", exc)
    return manifests


#: per experiment, the summary entries compared across protocols in the side-by-side tables (scale-free first)
SIDE_BY_SIDE = {"lipschitz": ("elasticity", "noise_floor", "medians"), "saliency-fragility": ("gaps_vs_random",)}


def _folder_tag(m: dict[str, Any]) -> str:
    """The run's folder name where it says more than the experiment's name (two runs of one experiment, e.g.
    ``senn-distances`` and ``senn-distances-t100``, must not share an anchor or figure files)."""
    folder = Path(m["_dir"]).name if "_dir" in m else m["experiment"]
    return "" if folder in (m["experiment"], f"{m['experiment']}-{m['params'].get('protocol')}") else folder


def _slug(m: dict[str, Any]) -> str:
    """The experiment's name, with its protocol when it ran under one, or its folder's name when that differs
    (anchors and figure file names)."""
    protocol = m["params"].get("protocol")
    return _folder_tag(m) or (f"{m['experiment']}-{protocol}" if protocol else m["experiment"])


def _title(m: dict[str, Any]) -> str:
    protocol = m["params"].get("protocol")
    title = f"{m['experiment']} (protocol {protocol})" if protocol else m["experiment"]
    return f"{title}, run {_folder_tag(m)}" if _folder_tag(m) else title


def _protocols_side_by_side(manifests: list[dict[str, Any]]) -> list[str]:
    """For each experiment run under several protocols: one table of its compared quantity per protocol, the
    gp_minimize-vs-batched-BO timings where a run compared searches, and every protocol's notes and citations."""
    lines: list[str] = []
    for name, keys in SIDE_BY_SIDE.items():
        runs = [m for m in manifests if m["experiment"] == name and m["params"].get("protocol")]
        if len(runs) < 2:
            continue
        protos = [m["params"]["protocol"] + (f" ({_folder_tag(m)})" if _folder_tag(m) else "") for m in runs]
        lines += ["", f"### {name}: protocols side by side", "", "Verdicts: "
                  + "; ".join(f"{p} **{m['verdict']}**" for p, m in zip(protos, runs)) + "."]
        for key in keys:
            rows = list(dict.fromkeys(k for m in runs for k in m["summary"].get(key, {})))
            if not rows:
                continue
            lines += ["", f"`{key}` per protocol:", "", "| | " + " | ".join(protos) + " |",
                      "| --- |" + " --- |" * len(protos)]
            lines += [f"| {r} | " + " | ".join(_fmt(m["summary"].get(key, {}).get(r, "—")) for m in runs) + " |"
                      for r in rows]
        for p, m in zip(protos, runs):
            comp = m["summary"].get("compare")
            if comp:
                main = m["summary"]
                lines += ["", f"Searches on the same digits under protocol {p} (median estimate, seconds for all "
                          f"{m['params'].get('n')} digits on this machine):", "",
                          f"| explainer | {main.get('search')} median | {main.get('search')} s | {comp['search']} median "
                          f"| {comp['search']} s | digits where {comp['search']} is higher |", "| --- |" + " --- |" * 5]
                lines += [f"| {e} | {_fmt(main['medians'][e])} | {_fmt(main['seconds'][e])} | "
                          f"{_fmt(comp['medians'][e])} | {_fmt(comp['seconds'][e])} | {comp['higher_than_main'][e]} |"
                          for e in main["medians"]]
        for p, m in zip(protos, runs):
            spec = m["summary"].get("protocol_spec", {})
            lines += ["", f"Protocol **{p}**:"] + [f"- {n}" for n in spec.get("notes", [])]
            if spec.get("citations"):
                lines += [f"- Sources: {'; '.join(spec['citations'])}."]
    lines += _recipes_side_by_side(manifests)
    return ["", "## Protocols side by side"] + lines if lines else []


#: per experiment whose runs differ by training recipe (params.recipe): the row key and the row quantities compared
RECIPES_SIDE_BY_SIDE = {"senn-lambda": ("lam", ("accuracy", "stability_penalty_median", "lipschitz_median",
                                                "lipschitz_theta_x_median", "lipschitz_theta_pred_x_median"))}
#: what a run made before its experiment had the recipe parameter used
RECIPE_BEFORE_PARAMETER = {"senn-lambda": "project"}


def _recipes_side_by_side(manifests: list[dict[str, Any]]) -> list[str]:
    """For each experiment run under several training recipes: one table, a row per value of its row key (λ),
    each compared quantity per recipe, beside the runs' verdicts and folders."""
    lines: list[str] = []
    for name, (row_key, quantities) in RECIPES_SIDE_BY_SIDE.items():
        runs = [m for m in manifests if m["experiment"] == name]
        recipes = [m["params"].get("recipe") or RECIPE_BEFORE_PARAMETER[name] for m in runs]
        if len(set(recipes)) < 2:
            continue
        runs, recipes = zip(*sorted(zip(runs, recipes), key=lambda mr: mr[1]))
        by_run = [{r[row_key]: r for r in m["summary"].get("rows", [])} for m in runs]
        shown = [q for q in quantities if any(q in r for rows in by_run for r in rows.values())]
        keys = sorted({k for rows in by_run for k in rows})
        lines += ["", f"### {name}: recipes side by side", "",
                  "Runs (verdicts): " + "; ".join(
                      f"recipe {rc} in `{Path(m['_dir']).name if '_dir' in m else name}`"
                      f"{'' if m['params'].get('recipe') else ' (run before the recipe parameter existed)'} "
                      f"**{m['verdict']}**" for rc, m in zip(recipes, runs)) + ".", "",
                  f"| {row_key} | " + " | ".join(f"{q} ({rc})" for q in shown for rc in recipes) + " |",
                  "| --- |" + " --- |" * (len(shown) * len(recipes))]
        lines += [f"| {_fmt(k)} | " + " | ".join(_fmt(rows.get(k, {}).get(q, "—")) for q in shown for rows in by_run)
                  + " |" for k in keys]
    return lines


def _verdict_now(m: dict[str, Any]) -> tuple[str, str]:
    """(verdict, reason) by today's rule on the run's numbers (``runner.shown_verdict``); for a run whose summary
    lacks what the rule reads (made by older code), "none" and why."""
    from .runner import shown_verdict

    try:
        verdict, reason, _ = shown_verdict(m)
    except SemError:
        return "none", ("no verdict under today's rule: this run did not record the numbers it reads (intervals, "
                        "scale-free readings); run it again")
    return verdict, reason


def _command_now(m: dict[str, Any], results: str | Path) -> str:
    """The CLI line that repeats the run of ``m`` with today's defaults (every parameter of the run that differs from
    them as --param; the stored command was written against the defaults of its day)."""
    from .runner import EXPERIMENTS, command_line

    folder = Path(results) / Path(m["_dir"]).name if "_dir" in m else Path(results)
    return command_line(m["experiment"], m["params"], EXPERIMENTS.get(m["experiment"]).defaults, folder,
                        m["params"].get("seed", 0))


def write_report(results: str | Path, out: str | Path = "docs/RESULTS.md") -> Path:
    """Write the report and copy the figures it links next to it (``figures/``); returns its path."""
    out = Path(out)
    if out.is_dir():
        raise SemError(f"the report path {out} is a folder; give the report's file name (e.g. {out / 'RESULTS.md'})")
    manifests = _readable(find_manifests(results))
    if not manifests:
        raise SemError(f"no readable manifest.json in {results}; see the warnings above")
    fig_dir = out.parent / "figures"
    integrity.prepare_folder(out.parent, "report folder")
    integrity.prepare_folder(fig_dir, "figure folder")
    lines = ["# SEM Explorer: reproducing the papers", "",
             "Generated by `python -m sem_core report --results " + str(results) + "` from saved experiment folders. "
             "Every number below comes from the run whose command is given; models are the shipped checkpoints "
             "(trained on the offline 5,000-digit MNIST subset) unless the experiment trains its own. "
             f"Compute: {sum(compute_seconds(m) for m in manifests):.0f} s in all, on "
             f"{', '.join(sorted({m['device'] for m in manifests}))}. A verdict is *reproduced* when the paper's "
             "qualitative finding holds by the rule in the experiment's code, *partly* when only part of it does, "
             "and *not* otherwise; each says by how much. Verdicts are recomputed from each run's numbers by today's "
             "rule, decided on 95 % bootstrap intervals (the rules are in each experiment's docstring). *Code* says whether the run is what the committed code "
             "computes (its code digest, or else its behavioural fingerprint, is today's: "
             "sem_core/experiments/fingerprint.py); a *stale* run was computed by other code and is shown until it "
             "is run again.", "",
             "| experiment | reproduces | verdict | N | compute seconds | code |",
             "| --- | --- | --- | --- | --- | --- |"]
    from .runner import valid_for_code

    current = {id(m): valid_for_code(m) for m in manifests}
    from .runner import EXPERIMENTS

    for m in manifests:   # the verdict recomputed from the numbers by today's rule, paper and claim the code's
        m["verdict"], m["verdict_reason"] = _verdict_now(m)
        if m["experiment"] in EXPERIMENTS:
            exp = EXPERIMENTS.get(m["experiment"])
            m["paper"], m["claim"] = exp.paper, exp.claim
    for m in manifests:
        lines.append(f"| [{_title(m)}](#{_slug(m)}) | {m['paper']} | **{m['verdict']}** | "
                     f"{m['params'].get('n')} | {compute_seconds(m):.0f} | {'current' if current[id(m)] else 'stale'} |")
    lines += _protocols_side_by_side(manifests)
    for m in manifests:
        lines += ["", f'<a id="{_slug(m)}"></a>', "", f"## {_title(m)}", "", f"*{m['paper']}.* **Claim:** {m['claim']}", "",
                  f"**Verdict: {m['verdict']}** — {m['verdict_reason']}.", ""]
        if not current[id(m)]:
            lines += [f"**Stale:** computed by other code (code version {m.get('code_version', 'not recorded')}); "
                      "today's code may compute other numbers. Run the command below again to refresh it.", ""]
        lines += [
                  f"Command: `{_command_now(m, results)}` ({compute_seconds(m):.0f} s of computation on "
                  f"{m['device']}, 2 shared cores; data: {m['data_source']}; last run: chunks computed "
                  f"{m['chunks_computed']}, reused {m['chunks_reused']}"
                  + (f", recomputed {m['chunks_recomputed']}" if m.get("chunks_recomputed") else "") + ")."]
        summary = m["summary"]
        per_model = _per_model_verdicts(summary)
        quantities = [f"| {k} | {_fmt(v)} |" for k, v in summary.items() if k != "protocol_spec" and not _is_rows(v)
                      and (not isinstance(v, list) or len(v) < 12) and not (per_model and k in PER_MODEL)]
        lines += (["", "| quantity | value |", "| --- | --- |"] + quantities if quantities else []) + per_model
        for k, v in summary.items():
            if _is_rows(v):
                lines += ["", f"{k}:", ""] + _table(v)
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in m["params"].items())
        lines += ["", f"Parameters: {params}."]
        if m.get("notes"):
            lines += ["", f"**Differences from the paper's protocol.** {m['notes']}"]
        for stem, entry in m.get("figures", {}).items():
            src = m["_dir"]
            if "png" in entry:
                if (src / entry["png"]).is_file():
                    shutil.copyfile(src / entry["png"], fig_dir / f"{_slug(m)}-{entry['png']}")
                    lines += ["", f"![{stem}](figures/{_slug(m)}-{entry['png']})"]
                else:
                    log.warning("skipped figure %s: the file is missing", src / entry["png"])
            if _interactive(src, entry, fig_dir / f"{_slug(m)}-{entry['html']}"):
                lines += ["", f"Interactive figure: [figures/{_slug(m)}-{entry['html']}]"
                              f"(figures/{_slug(m)}-{entry['html']})"
                          + (f" ({entry['png_skipped']})" if "png_skipped" in entry else "")]
    integrity.write_atomic(out, "\n".join(lines) + "\n")
    return out
