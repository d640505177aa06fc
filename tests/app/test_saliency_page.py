"""The Saliency attacks page: run a short top-k attack, compare every explainer, bad regions are errors."""
import json
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the page imports pages.common
PAGE = str(ROOT / "pages" / "saliency_attack.py")


def _run_button(at):
    return next(b for b in at.button if b.label.startswith("Run"))


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def _figures(at):
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


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
    assert float(m["Centre shift (pixels)"]) > 0.0
    assert "ε = 0.1, 5 iterations" in at.caption[0].value
    assert len(at.latex) == 1 and r"\sum_{i \in B}" in at.latex[0].value
    maps = _figures(at)[0]["data"]                              # before/after, each with its centre marker
    assert [t["type"] for t in maps] == ["heatmap", "scatter", "heatmap", "scatter"]

    at.run()                                                    # a rerun (e.g. back from another page) keeps it
    assert _metrics(at)["Top-50 intersection"] == m["Top-50 intersection"]

    next(b for b in at.button if b.label.startswith("Compare")).click().run()
    assert not at.exception
    grid = _figures(at)[-1]
    titles = {a["text"] for a in grid["layout"]["annotations"]}
    assert {"saliency", "gradxinput", "ig", "deeplift", "smoothgrad", "occlusion", "lime", "shap", "lrp"} <= titles
    assert len(grid["data"]) == 2 * 9                           # natural and adversarial row, CNN has LRP


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
