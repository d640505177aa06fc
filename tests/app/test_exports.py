"""Exports for slides and papers (issue 14): every figure a page draws has PNG, SVG and HTML downloads, and
the JSON/NPZ downloads carry the result's provenance. The files are read back from the AppTest's media
store (bytes) and its deferred-download registry (PNG/SVG are rendered when clicked)."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from app_helpers import content, open_page
from sem_core import model_card
from sem_core.provenance import PROVENANCE_KEYS
from sem_core.viz.export import png_size

FORMATS = ("png", "svg", "html")




def downloads(at) -> dict[str, object]:
    """Download buttons by their key (the part after Streamlit's element-id prefix)."""
    return {b.proto.id.split("-", 2)[-1]: b for b in at.get("download_button")}


def chart_keys(at) -> list[str]:
    return [c.proto.id.split("-", 2)[-1] for c in at.get("plotly_chart")]


def _run(page: str, query: dict, key_prefix: str):
    at = open_page(page, query, timeout=240)
    next(b for b in at.button if b.label.startswith("Run")).click().run()
    if page in INTERACTIVE:                             # its plotly charts (the static default: below)
        at.toggle(key=INTERACTIVE[page]).set_value(True).run()
    assert not at.exception and not at.error
    return at


INTERACTIVE = {"concept_attack.py": "concept_interactive", "prototype_attack.py": "proto_interactive",  # their switches
               "saliency_attack.py": "sal_interactive"}
PAGES = {  # page -> (quick URL parameters, metrics JSON download key, model)
    "concept_attack.py": ({"steps": "5"}, "concept_concept_attack.json", "senn"),
    "prototype_attack.py": ({"steps": "5", "digits": "4"}, "proto_prototype_attack.json", "protodl"),
    "saliency_attack.py": ({"sal_steps": "5"}, "sal_saliency_attack.json", "cnn"),
    "influence_attack.py": ({"inf_steps": "1"}, "inf_influence_attack.json", "cnn"),
}


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_has_png_svg_and_html_downloads_and_json_has_provenance(media, page):
    query, json_key, model = PAGES[page]
    at = _run(page, query, json_key)
    buttons = downloads(at)
    charts = chart_keys(at)
    assert charts
    for key in charts:
        assert all(f"{key}_dl_{fmt}" in buttons for fmt in FORMATS), f"{page}: figure {key} lacks a download"
    data = json.loads(content(media, buttons[json_key]))
    prov = data["provenance"]
    assert set(PROVENANCE_KEYS) <= set(prov)
    assert prov["model"] == model and prov["model_sha256"] == model_card(model)["sha256"]
    assert prov["data_source"] in ("subset", "mnist") and prov["config"]["eps"] == pytest.approx(0.3 if model != "cnn" else 0.1)
    npz_key = json_key.replace(".json", ".npz")
    with np.load(io.BytesIO(content(media, buttons[npz_key]))) as z:
        assert json.loads(str(z["provenance"][0])) == prov


def test_concept_digits_in_provenance_are_the_test_indices_shown(media):
    at = _run("concept_attack.py", {"steps": "5"}, "")
    prov = json.loads(content(media, downloads(at)["concept_concept_attack.json"]))["provenance"]
    caption = next(c.value for c in at.caption if "test digit #" in c.value)   # "... source: test digit #i ..."
    assert f"#{prov['digits']['source']} " in caption and f"#{prov['digits']['target']} " in caption


def test_concept_pictures_have_the_same_downloads_as_its_charts(media):
    """The concept page draws pictures by default; each keeps its plotly figure's downloads, built on a click."""
    at = open_page("concept_attack.py", {"steps": "5"}, timeout=240)
    next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception and not chart_keys(at)
    buttons = downloads(at)
    for key in ("concept_img0", "concept_img1", "concept_img2", "concept_delta", "concept_expl", "concept_grid"):
        assert all(f"{key}_dl_{fmt}" in buttons for fmt in FORMATS), key
    assert all(buttons[f"concept_expl_dl_{fmt}"].proto.deferred_file_id for fmt in FORMATS)  # built when clicked
    assert b"<svg" in content(media, buttons["concept_expl_dl_svg"])[:500]
    html = content(media, buttons["concept_expl_dl_html"]).decode()
    assert html.count('"type":"bar"') == 9                          # 3 explanations × (h, θ, θ·h)


def test_prototype_pictures_have_the_same_downloads_as_its_charts(media):
    at = open_page("prototype_attack.py", {"steps": "3", "digits": ["4", "7"]}, timeout=240)
    next(b for b in at.button if b.label.startswith("Run")).click().run()
    assert not at.exception and not chart_keys(at)
    buttons = downloads(at)
    for key in ("proto_grid", "proto_pairs"):
        assert all(buttons[f"{key}_dl_{fmt}"].proto.deferred_file_id for fmt in FORMATS), key   # built when clicked
    html = content(media, buttons["proto_pairs_dl_html"]).decode()
    assert "the 4" in html and "the 7" in html and "changed" in html   # the plotly figure of the same grid


def test_figure_png_is_slide_sized_and_svg_is_vector(media):
    at = _run("concept_attack.py", {"steps": "5"}, "")
    buttons = downloads(at)
    png = content(media, buttons["concept_delta_dl_png"])
    assert png_size(png)[0] >= 1200
    assert b"<svg" in content(media, buttons["concept_delta_dl_svg"])[:500]


OTHER_PAGES = {  # page -> (URL parameters, press Run?)
    "home.py": ({}, False),
    "experiment_results.py": ({"exp_folder": "lipschitz"}, False),
    "defense_comparison.py": ({"def_steps": "3"}, True),
    "lipschitz_stability.py": ({"lip_n": "1", "lip_budget": "2"}, True),
    "batch_attack.py": ({"b_n": "3", "b_steps": "2"}, True),
}


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_the_other_pages_figures_have_downloads_too(media, page, monkeypatch):
    monkeypatch.delenv("SEM_RESULTS_DIR", raising=False)  # the shipped runs
    query, run = OTHER_PAGES[page]
    at = _run(page, query, "") if run else open_page(page, query, timeout=240)
    if page == "home.py":   # its chart is drawn on demand (the first page draws faster without plotly.js)
        at.toggle(key="home_probs_chart").set_value(True).run()
    assert not at.exception
    buttons, charts = downloads(at), chart_keys(at)
    assert charts, page
    missing = [k for k in charts if not all(f"{k}_dl_{fmt}" in buttons for fmt in FORMATS)]
    assert not missing, f"{page}: figures without PNG/SVG/HTML downloads: {missing}"
    if page == "lipschitz_stability.py":
        prov = json.loads(content(media, buttons["lip_lipschitz.json"]))["provenance"]
        assert set(PROVENANCE_KEYS) <= set(prov) and prov["config"]["budget"] == 2
