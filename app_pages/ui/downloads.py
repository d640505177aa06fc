"""What a user takes away: a result's files in one popover, a figure as PNG/SVG/HTML, and JSON/NPZ exports that
carry the result's provenance (digits, model and its SHA-256, settings, seed, version).

    downloads({"metrics (JSON)": ("attack.json", provenance_json(res.to_dict(), **prov), "application/json")}, key="sal")
"""
from __future__ import annotations

import streamlit as st

import sem_core
from app_pages.ui.jobs import get_model


def downloads(files: dict[str, tuple[str, bytes, str]], key: str, label: str = "Download the result") -> None:
    """The result's files (label -> (file name, bytes, mime type)), one button each, stacked in one popover under
    ``label`` with their formats: a popover draws its content only when opened, where a row of buttons in columns
    was ≈ 9 elements the browser drew on every run (benchmarks/bench_page_cpu.py)."""
    formats = " · ".join(dict.fromkeys(name.rsplit(".", 1)[-1].upper() for name, _, _ in files.values()))
    with st.popover(f"{label} ({formats})", icon=":material/download:", key=f"{key}_downloads"):
        for text, (name, data, mime) in files.items():
            st.download_button(text, data, file_name=name, mime=mime, key=f"{key}_{name}", on_click="ignore",
                               icon=":material/download:", width="stretch")


def figure_downloads(fig, stem: str, key: str, container=st) -> None:
    """PNG (≥ 1200 px wide, for slides), SVG (for papers) and HTML downloads of ``fig`` (a plotly figure, or a
    function that builds one: then it is built only on a click, as for a static figure). All three are
    rendered only when clicked (PNG/SVG through kaleido + Chromium; a missing renderer gives a clear note in the
    file): the standalone HTML embeds plotly.js (4.7 MB), and rendered eagerly it cost every figure of every run
    that much server memory (+100 % RSS after 20 sessions in benchmarks/bench_load.py)."""
    from sem_core.viz.export import figure_html, figure_png, figure_svg

    def render(fn):
        def make() -> bytes:
            try:
                return fn(fig() if callable(fig) else fig)
            except sem_core.SemError as exc:  # the download then holds the reason, not a broken image
                return str(exc).encode()
        return make

    # one under the other, without a row of columns: 3 elements per figure instead of 7 (a result page has up to 8
    # figures, and every element is work for each browser that draws it: benchmarks/bench_page_cpu.py)
    for label, fn, ext, mime in (("PNG (slides)", figure_png, "png", "image/png"),
                                 ("SVG (papers)", figure_svg, "svg", "image/svg+xml"),
                                 ("HTML (interactive)", figure_html, "html", "text/html")):
        container.download_button(label, render(fn), file_name=f"{stem}.{ext}", mime=mime, key=f"{key}_{ext}",
                                  on_click="ignore", icon=":material/download:", width="stretch")


def provenance_json(payload: dict, model: str, digits, attack: str, config: dict, seed: int = 0) -> bytes:
    """A JSON download: ``payload`` plus the provenance of the result (digits, model + SHA-256, config, seed,
    sem_core version)."""
    from sem_core.provenance import provenance, with_provenance

    _, card = get_model(model)
    return with_provenance(payload, provenance(model, card, digits=digits, source=card["data"]["source"],
                                               attack=attack, config=config, seed=seed))


def provenance_npz(model: str, digits, attack: str, config: dict, seed: int = 0, **arrays) -> bytes:
    """An NPZ download of ``arrays`` with a ``provenance`` entry (one JSON string)."""
    import json

    import numpy as np

    from sem_core.digit_io import npz_bytes
    from sem_core.provenance import provenance

    _, card = get_model(model)
    prov = provenance(model, card, digits=digits, source=card["data"]["source"], attack=attack, config=config, seed=seed)
    return npz_bytes(**arrays, provenance=np.array([json.dumps(prov)]))
