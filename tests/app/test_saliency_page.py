"""The Saliency attacks page: run a short top-k attack, compare every explainer, bad regions are errors."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from app_helpers import array, figures, pictures
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the page imports app_pages.ui
PAGE = str(ROOT / "app_pages" / "saliency_attack.py")


def _run_button(at):
    return next(b for b in at.button if b.label.startswith("Run"))


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_topk_attack_moves_the_map_and_keeps_the_label():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.selectbox(key="sal_digit").value == 3            # a 3 by default
    at.number_input(key="sal_steps").set_value(5).run()
    _run_button(at).click().run()
    assert not at.exception
    m = _metrics(at)
    assert m["Label kept"] == "yes"
    assert 0.0 <= float(m["Top-50 intersection"]) < 1.0         # the top-k pixels changed
    assert float(m["Center shift (pixels)"]) > 0.0
    assert "ε = 0.1, 5 iterations" in at.caption[0].value
    assert len(at.latex) == 1 and r"\sum_{i \in B}" in at.latex[0].value
    at.toggle(key="sal_interactive").set_value(True).run()     # the plotly charts (pictures by default: below)
    maps = figures(at)[0]["data"]              # each map over its digit (one colour scale), × at each center
    digits = [array(t["z"]) for t in maps if t["type"] == "heatmap" and t.get("zmax") == 1]
    heat = [array(t["z"]) for t in maps if t["type"] == "heatmap" and t.get("zmax") != 1]
    assert len(digits) == 2 and np.allclose(digits[0].reshape(-1), at.session_state["sal_result"]["res"].x.reshape(-1))
    assert len({t.get("zmax") for t in maps if t["type"] == "heatmap" and t.get("zmax") != 1}) == 1
    marks = [(t["y"][0], t["x"][0]) for t in maps if t["type"] == "scatter"]  # (row, col)
    for h, (row, col) in zip(heat, marks, strict=True):
        assert h.min() >= 0 and h.sum() == pytest.approx(1.0, abs=1e-4)             # normalised maps
        rows, cols = np.indices(h.shape)
        assert (row, col) == pytest.approx(((h * rows).sum() / h.sum(), (h * cols).sum() / h.sum()), abs=1e-3)
    assert math.dist(*marks) == pytest.approx(float(m["Center shift (pixels)"]), abs=0.006)

    at.run()                                                    # a rerun (e.g. back from another page) keeps it
    assert _metrics(at)["Top-50 intersection"] == m["Top-50 intersection"]

    next(b for b in at.button if b.label.startswith("Compare")).click().run()
    assert not at.exception
    grid = figures(at)[-1]
    rows = {a["text"]: a["y"] for a in grid["layout"]["annotations"] if a["text"] in ("natural", "adversarial")}
    assert rows["natural"] > rows["adversarial"]               # natural maps on top
    names = [a["text"] for a in sorted(grid["layout"]["annotations"], key=lambda a: a["x"]) if a["text"] not in rows]
    assert sorted(names) == ["deeplift", "gradxinput", "ig", "lime", "lrp", "occlusion", "saliency", "shap",
                             "smoothgrad"]                     # every explainer, LRP included for the CNN
    by_axis = {t["xaxis"]: array(t["z"]) for t in grid["data"]}
    j = names.index("saliency") + 1                             # the attacked explainer's column shows the maps above
    assert np.allclose(by_axis["x" if j == 1 else f"x{j}"], heat[0], atol=1e-6)
    assert np.allclose(by_axis[f"x{len(names) + j}"], heat[1], atol=1e-6)


def test_figures_are_pictures_by_default(media):
    """The maps over their digits (× at each center of mass), the digits with the perturbation, and every
    explainer's maps are pictures; the page loads no plotly after a top-k attack."""
    from sem_core.viz.static import digits_pixels, maps_pixels

    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.number_input(key="sal_steps").set_value(3).run()
    _run_button(at).click().run()
    next(b for b in at.button if b.label.startswith("Compare")).click().run()
    assert not at.exception and not at.get("plotly_chart")
    res = at.session_state["sal_result"]["res"]
    maps, digits, grid = pictures(at, media)
    i0, i1 = res.explanations["natural"][0, 0], res.explanations["adversarial"][0, 0]
    assert np.array_equal(maps, maps_pixels(i0, i1, images=(res.x[0, 0], res.x_adv[0, 0])))
    assert np.array_equal(digits, digits_pixels(res.x[0, 0], res.x_adv[0, 0])[0])
    assert (maps == (0, 229, 255)).all(axis=-1).sum() > 20                  # the two centers of mass, marked
    names = at.session_state["sal_result"]["grid"].names
    assert grid.shape[1] == len(names) * (4 * 28 + 6) - 6                  # one column per explainer


def test_region_attack_with_an_empty_region_is_an_error_not_a_crash():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="sal_kind").set_value("targeted region").run()
    at.number_input(key="sal_steps").set_value(2).run()
    at.slider(key="sal_rows").set_value((5, 5)).run()           # no rows: an empty region
    assert "0 pixels" in " ".join(c.value for c in at.caption)
    _run_button(at).click().run()
    assert not at.exception
    assert any("region is empty" in e.value for e in at.error)
    assert not at.metric                                        # nothing was attacked


def test_region_attack_pulls_mass_into_the_region():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="sal_kind").set_value("targeted region").run()
    at.number_input(key="sal_steps").set_value(5).run()
    _run_button(at).click().run()
    assert not at.exception
    mass = next(m for m in at.metric if m.label == "Mass in region")
    assert float(mass.value) > 0 and mass.delta.startswith("+")  # more importance inside the box than before


def test_compare_all_explainers_skips_one_the_model_refuses():
    """Every explainer runs as a service job; LRP has no rule for SENN's layers: it is named, the others still show."""
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.query_params["sal_model"] = "senn"
    at.run()
    at.number_input(key="sal_steps").set_value(3).run()
    _run_button(at).click().run()
    next(b for b in at.button if b.label.startswith("Compare")).click().run()
    assert not at.exception
    grid = at.session_state["sal_result"]["grid"]
    assert "lrp" in grid.skipped and "lrp" not in grid.names and "saliency" in grid.names
    assert tuple(grid.maps.shape) == (len(grid.names), 2, 28, 28)
    assert any(c.value.startswith("lrp: not available for this model") for c in at.caption)
