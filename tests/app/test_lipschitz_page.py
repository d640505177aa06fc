"""The Lipschitz & stability page: small runs, the box plot, picking a point, skipped explainers."""
import sys
from pathlib import Path

import pytest
from app_helpers import array, figures
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the page imports app_pages.common
PAGE = str(ROOT / "app_pages" / "lipschitz_stability.py")


def _run(at):
    next(b for b in at.button if b.label.startswith("Run")).click().run()


def _metrics(at):
    return {m.label: m.value for m in at.metric}


def test_cnn_estimates_box_plot_and_worst_case_pair():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.multiselect(key="lip_expl_cnn").value == ["saliency", "gradxinput", "ig", "occlusion"]
    estimate = at.caption[0].value      # calibrated on this machine (sem_core.serve.estimates), the cost table meanwhile
    assert estimate.startswith(("Estimated time: about ", "Time estimate: calibrating")), estimate
    at.number_input(key="lip_n").set_value(2)
    at.number_input(key="lip_budget").set_value(4)
    at.multiselect(key="lip_expl_cnn").set_value(["saliency", "occlusion"]).run()
    _run(at)
    assert not at.exception
    assert any(c.value.startswith("Took ") for c in at.caption)    # the time it took, next to the estimate
    box = figures(at)[0]                                       # one box per chosen explainer, a point per digit
    assert [t["name"] for t in box["data"]] == ["saliency", "occlusion"]
    assert box["layout"]["yaxis"]["type"] == "log"
    pick = at.selectbox(key="lip_pick")                        # every point of the box plot can be picked
    points = {f"{t['name']} · digit #{int(d)} (L̂ = {v:.2f})" for t in box["data"]
              for d, v in zip(array(t["customdata"]), array(t["y"]), strict=True)}
    assert set(pick.options) == points and len(points) == 2 * 2
    values = {label: float(label.rsplit("= ", 1)[1].rstrip(")")) for label in pick.options}
    assert pick.value == max(values, key=values.get)           # the worst case is shown first
    m = _metrics(at)
    assert float(m["L̂(x)"]) == pytest.approx(max(values.values()), abs=0.005) and float(m["L̂(x)"]) > 0
    assert float(m["L̂(x)"]) == pytest.approx(float(m["‖E(x) − E(x′)‖₂"]) / float(m["‖x − x′‖₂"]), rel=2e-3)
    assert float(m["‖x − x′‖∞"]) <= 0.1 + 1e-6

    pick.select_index(0).run()                                 # another explainer + digit
    assert not at.exception
    assert at.subheader[0].value.startswith("Worst case found for saliency")


def test_senn_self_uses_the_concepts_and_lrp_is_skipped_with_an_error():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="lip_model").set_value("senn").run()
    assert at.multiselect(key="lip_expl_senn").value[0] == "self"
    at.number_input(key="lip_n").set_value(2)
    at.number_input(key="lip_budget").set_value(4)
    at.multiselect(key="lip_expl_senn").set_value(["self", "lrp"]).run()
    _run(at)
    assert not at.exception
    assert any(e.value.startswith("lrp:") for e in at.error)  # LRP has no rule for SENN's decoder
    m = _metrics(at)
    assert "‖h(x) − h(x′)‖₂" in m and float(m["L̂(x)"]) > 0

