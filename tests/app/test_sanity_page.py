"""The Sanity checks page: a small cascading run on the CNN, its verdicts, the layer slider, the similarity chart;
the label-randomisation mode and a model that cannot use it."""
import sys
from pathlib import Path

from app_helpers import figures
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the page imports app_pages.ui
PAGE = str(ROOT / "app_pages" / "sanity_lab.py")


def _run(at):
    next(b for b in at.button if b.label.startswith("Run")).click().run()


def test_cascading_run_shows_verdicts_maps_and_lines():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.info and "Run sanity check" in at.info[0].value
    at.number_input(key="san_n").set_value(3)
    at.multiselect(key="san_expl").set_value(["saliency", "gradxinput"]).run()
    _run(at)
    assert not at.exception
    verdicts = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any(v.startswith("Saliency passes") for v in verdicts)
    assert any(v.startswith("Grad × input fails") for v in verdicts)
    assert all("_" not in v.split(":")[0] for v in verdicts)               # human labels, no snake_case
    slider = at.select_slider(key="san_step")
    assert slider.value == 4 and "features.0" in str(slider.format_func(slider.value))
    maps, lines = figures(at)[:2]
    assert len(maps["data"]) == 4                                          # 2 explainers × (trained, randomised)
    assert [t["name"] for t in lines["data"]] == ["Saliency", "Grad × input"]
    slider.set_value(1).run()                                              # the top layer only
    assert not at.exception
    at.radio(key="san_measure").set_value("ssim").run()
    assert not at.exception and figures(at)[1]["layout"]["title"]["text"].startswith("SSIM")


def test_label_mode_and_its_refusal_for_senn():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.number_input(key="san_n").set_value(2)
    at.multiselect(key="san_expl").set_value(["saliency"])
    at.selectbox(key="san_mode").set_value("labels").run()
    _run(at)
    assert not at.exception
    assert any("shuffled labels" in s.value for s in [*at.success, *at.warning])
    at.selectbox(key="san_model").set_value("senn").run()
    at.multiselect(key="san_expl").set_value(["saliency"]).run()
    _run(at)
    assert not at.exception
    assert any("architecture" in e.value for e in at.error)
