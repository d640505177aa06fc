"""The robustness card's three forms, built from a finished ``card`` run (its verified manifest): ``card_document``
(the JSON, schema ``CARD_SCHEMA_NAME`` version ``CARD_SCHEMA_VERSION``), ``card_markdown`` and ``card_html`` (one
self-contained page: the figures with plotly.js inline, no link or remote resource).

The JSON (documented in docs/experiments.md, "The robustness card"):
    schema, version           "sem-explorer/robustness-card", 1
    model                     name, architecture, sha256 (of the weights), data_source, accuracy (measured on the
                              whole test split), claimed_accuracy (the checkpoint card's), accuracy_digits
    run                       n, seed, params, code_version, behaviour, seconds, command (reruns it), versions
    verdict                   value (reproduced | partly | not: whether the papers' fragility findings hold for the
                              model — bad news for it when they do), reason, findings {family: {holds, why}}
    headline                  {key: interval or null} (``HEADLINES``: label and direction in ``headline_labels``)
    sections                  saliency / concept / prototype / lipschitz: the summary's numbers, intervals as
                              {point, low, high, n, level, resamples}
    not_applicable, failed    {section: why}: what the model could not take, and what could not run
"""
from __future__ import annotations

import html
import json
import math
from typing import Any

CARD_SCHEMA_NAME = "sem-explorer/robustness-card"
#: how the card names an explanation whose registry name is not a word
EXPLANATION_NAMES = {"theta_pred": "θ of the predicted class", "gradxinput": "grad×input", "ig": "integrated gradients"}
CARD_SCHEMA_VERSION = 1


def card_command(params: dict[str, Any], defaults: dict[str, Any], out: str) -> str:
    """The ``python -m sem_core card`` command line that recomputes a card of ``params`` into ``out``."""
    import shlex

    extra = [f"--param {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in params.items()
             if k not in ("model", "n", "seed") and v != defaults.get(k)]
    return " ".join(["python -m sem_core card --model", shlex.quote(str(params.get("model", "cnn"))),
                     f"--n {params['n']}", *extra, f"--seed {params['seed']}", "--out", shlex.quote(out)])


def card_document(manifest: dict[str, Any], findings: dict[str, tuple[bool, str]],
                  headlines: tuple[tuple[str, str, bool], ...], command: str | None = None) -> dict[str, Any]:
    """The card's JSON from a finished ``card`` run's ``manifest`` and its ``findings`` (family -> (holds, why)) and
    the headline columns ``headlines`` ((key, label, higher is more robust), ...); ``command``: the line that
    recomputes it (default the manifest's)."""
    s = manifest["summary"]
    return {
        "schema": CARD_SCHEMA_NAME, "version": CARD_SCHEMA_VERSION,
        "model": {"name": s["model"], "architecture": s.get("architecture"), "sha256": s.get("sha256"),
                  "data_source": s.get("data_source"), "accuracy": s["accuracy"],
                  "claimed_accuracy": s.get("claimed_accuracy"), "accuracy_digits": s.get("accuracy_digits")},
        "run": {"n": s["n"], "seed": manifest["params"]["seed"], "params": manifest["params"],
                "code_version": manifest.get("code_version"), "behaviour": manifest.get("behaviour"),
                "seconds": manifest.get("seconds"), "command": command or manifest.get("command"),
                "versions": manifest.get("versions")},
        "verdict": {"value": manifest["verdict"], "reason": manifest["verdict_reason"],
                    "findings": {k: {"holds": ok, "why": why} for k, (ok, why) in findings.items()}},
        "headline": {key: s["headline"].get(key) for key, _, _ in headlines},
        "headline_labels": {key: {"label": label, "higher_is_more_robust": up} for key, label, up in headlines},
        "sections": s["sections"], "not_applicable": s.get("not_applicable", {}), "failed": s.get("failed", {}),
    }


def interval_text(d: dict[str, Any] | None, fmt: str = ".2f") -> str:
    """'0.28 [0.23, 0.32]' for an interval dict; '—' for None; 'n/a' for a NaN point."""
    if not d:
        return "—"
    if not isinstance(d.get("point"), (int, float)) or math.isnan(d["point"]):
        return "n/a"
    return f"{d['point']:{fmt}} [{d['low']:{fmt}}, {d['high']:{fmt}}]"


def _code(text: Any) -> str:
    """Stored text as one Markdown code span's content (no backtick, one line)."""
    return " ".join(str(text).split()).replace("`", "'")


def _md(text: Any) -> str:
    """Stored text as one safe Markdown table cell / line (pipes, newlines and angle brackets neutralised)."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def card_rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, measure, value) rows of the card's numbers, in reading order."""
    rows: list[tuple[str, str, str]] = []
    sec = doc["sections"]
    if "saliency" in sec:
        sal = sec["saliency"]
        for method, e in sal["methods"].items():
            if "topk_mean" in e:
                rows.append((f"Saliency ({method})", f"top-{sal['k']} intersection under the top-k attack (1 = unmoved)",
                             interval_text(e["topk_mean"])))
                rows.append((f"Saliency ({method})", f"gap to the best of {sal['steps']} random draws (higher = more "
                             "fragile)", interval_text(e["topk_gap"])))
            if "center_shift" in e:
                rows.append((f"Saliency ({method})", "mass-center shift under the center attack (image diagonals)",
                             interval_text(e["center_shift"], ".3f")))
            if "region_mass" in e:
                rows.append((f"Saliency ({method})", f"map mass pulled into an ignored superpixel (from "
                             f"{e['region_mass_before_mean']:.3f}; {e['region_digits']} digits)",
                             interval_text(e["region_mass"], ".3f")))
                rows.append((f"Saliency ({method})", "region mass: gain over the best random draw",
                             interval_text(e["region_gap"], ".3f")))
    if "concept" in sec:
        rows.append(("Concepts", "adversarial out-class / natural in-class distance (below 1 = fooled)",
                     interval_text(sec["concept"]["ratio"])))
    if "prototype" in sec:
        pr = sec["prototype"]
        rows.append(("Prototypes", f"nearest prototype keeps the class under attack (natural "
                     f"{pr['natural_consistency']:.0%})", interval_text(pr["consistency"])))
    if "lipschitz" in sec:
        for e, v in sec["lipschitz"]["explainers"].items():
            rows.append((f"Lipschitz ({EXPLANATION_NAMES.get(e, e)})", f"elasticity at the maximiser (noise floor {v['noise_floor']:.3g})",
                         interval_text(v["elasticity"])))
    if "sanity" in sec:
        san = sec["sanity"]
        for e, v in san["explainers"].items():
            verdict = "passes" if v["passes"] else "fails"
            rows.append((f"Sanity ({e})", f"{verdict}: similarity to the trained model's explanation after "
                         f"randomising all {len(san['layers'])} layers (Spearman of |values|; below "
                         f"{san['pass_below']} passes)", interval_text(v["spearman_abs"])))
        for e, why in san.get("skipped", {}).items():
            rows.append((f"Sanity ({e})", "not run", str(why)))
    return rows


def card_markdown(doc: dict[str, Any]) -> str:
    """The card as Markdown (every stored string escaped)."""
    m, run, v = doc["model"], doc["run"], doc["verdict"]
    lines = [f"# Explanation-robustness card: {_md(m['name'])}", "",
             f"- Architecture: {_md(m['architecture'])}; weights SHA-256 `{_md(m['sha256'])}`",
             f"- Accuracy: {m['accuracy']:.2%} on the {m['accuracy_digits']:,} test digits of {_md(m['data_source'])}"
             + (f" (the checkpoint card claims {m['claimed_accuracy']:.2%})" if m.get("claimed_accuracy") is not None
                else ""),
             f"- Digits: n = {run['n']}, seed {run['seed']}; computed in {run['seconds']} s",
             f"- Rerun: `{_code(run['command'])}`", "",
             f"**Do the papers' fragility findings hold for this model? {_md(v['value'])}.**", ""]
    lines += [f"- {_md(k)}: {'holds' if f['holds'] else 'does not hold'} — {_md(f['why'])}"
              for k, f in v["findings"].items()]
    lines += ["", "| section | measure | value [95 % interval] |", "| --- | --- | --- |"]
    lines += [f"| {_md(a)} | {_md(b)} | {_md(c)} |" for a, b, c in card_rows(doc)]
    for title, key in (("Not applicable", "not_applicable"), ("Could not run", "failed")):
        if doc[key]:
            lines += ["", f"**{title}**", ""] + [f"- {_md(k)}: {_md(w)}" for k, w in doc[key].items()]
    return "\n".join(lines) + "\n"


def card_html(doc: dict[str, Any], figures: dict[str, Any]) -> str:
    """The card as one self-contained HTML page: its text (escaped) and ``figures`` (plotly, plotly.js inline once)."""
    m, v = doc["model"], doc["verdict"]
    esc = html.escape
    parts = [f"<h1>Explanation-robustness card: {esc(str(m['name']))}</h1>",
             f"<p>{esc(str(m['architecture']))}; accuracy {m['accuracy']:.2%} on {m['accuracy_digits']:,} test digits "
             f"({esc(str(m['data_source']))}); weights SHA-256 <code>{esc(str(m['sha256']))}</code></p>",
             f"<p><b>Do the papers' fragility findings hold for this model? {esc(v['value'])}.</b></p><ul>"]
    parts += [f"<li>{esc(k)}: {'holds' if f['holds'] else 'does not hold'} — {esc(f['why'])}</li>"
              for k, f in v["findings"].items()]
    parts.append("</ul><table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>section</th>"
                 "<th>measure</th><th>value [95 % interval]</th></tr>")
    parts += [f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td></tr>" for a, b, c in card_rows(doc)]
    parts.append("</table>")
    for title, key in (("Not applicable", "not_applicable"), ("Could not run", "failed")):
        if doc[key]:
            parts.append(f"<p><b>{title}</b></p><ul>" + "".join(f"<li>{esc(k)}: {esc(w)}</li>"
                                                               for k, w in doc[key].items()) + "</ul>")
    parts.append(f"<p>Rerun: <code>{esc(str(doc['run']['command']))}</code></p>")
    first = True
    for fig in figures.values():
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False}))
        first = False
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Robustness card: "
            f"{esc(str(m['name']))}</title></head><body style='font-family:sans-serif;max-width:1100px;margin:auto'>"
            + "\n".join(parts) + "</body></html>\n")


def card_json(doc: dict[str, Any]) -> str:
    """The card's JSON text (NaN written as null)."""
    return json.dumps(_no_nan(doc), indent=1, sort_keys=False) + "\n"


def _no_nan(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _no_nan(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_no_nan(x) for x in v]
    return v
