"""The prototype attack page: Table 1 on the default digits 0, 2, 4, 6, 8, per-digit D and R, URL state."""
import re

import numpy as np
import pytest
import torch
from app_helpers import open_page, pictures
from streamlit.testing.v1 import AppTest

from sem_core.viz.digits import nearest_prototypes
from sem_core.viz.static import titled_grid_pixels


def _open(query: dict | None = None) -> AppTest:
    return open_page("prototype_attack.py", query)


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Run")).click().run()


def test_table_1_on_the_default_digits(shipped):
    at = _open()
    assert not at.exception
    assert at.multiselect(key="digits").value == [0, 2, 4, 6, 8]
    at.number_input(key="steps").set_value(20).run()
    _run(at)
    assert not at.exception
    table = at.table[0].value                                      # a row per prototype, Nat./Adv. per digit
    classes = shipped["protodl"][0].prototype_classes().tolist()
    assert list(table.index) == [f"P{j + 1} (class {c})" for j, c in enumerate(classes)]
    assert [(d.split()[0], kind) for d, kind in table.columns] == [(str(d), k) for d in (0, 2, 4, 6, 8)
                                                                   for k in ("Nat.", "Adv.")]
    nearest = {kind: [int(re.search(r"class (\d+)", table[col].idxmin()).group(1)) for col in table.columns
                      if col[1] == kind] for kind in ("Nat.", "Adv.")}
    digits = at.dataframe[0].value                                 # the table and the per-digit results agree
    assert nearest["Nat."] == digits["nearest class before"].tolist()
    assert nearest["Adv."] == digits["nearest class after"].tolist()
    assert digits["label"].tolist() == [0, 2, 4, 6, 8]
    assert digits["label kept"].all()
    dr = at.dataframe[1].value                                     # D and R in a table of their own
    assert dr["label"].tolist() == [0, 2, 4, 6, 8]
    assert (dr["D(x,y) after"] > dr["D(x,y) before"]).all()
    assert (dr["R(x,y) after"] < dr["R(x,y) before"]).all()
    assert (digits["nearest class before"] == digits["label"]).all()
    assert {m.label: m.value for m in at.metric}["labels kept"] == "5/5"


def test_choose_one_digit_and_keep_results_across_pages():
    at = _open({"digits": ["3"], "which": "2", "steps": "10", "xi": "0.5"})
    assert not at.exception and not at.warning
    assert at.number_input(key="xi").value == pytest.approx(0.5)
    _run(at)
    assert at.dataframe[0].value["label"].tolist() == [3]
    assert [(d.split()[0], kind) for d, kind in at.table[0].value.columns] == [("3", "Nat."), ("3", "Adv.")]
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/prototype_attack.py").run()
    assert not at.exception and at.dataframe[0].value["label"].tolist() == [3]


def test_bad_url_values_fall_back_with_warnings():
    at = _open({"digits": ["11"], "eps": "-1", "xi": "nan", "which": "x"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning).replace("\\", "")  # values are shown Markdown-escaped
    for key in ("digits=11", "eps=-1", "xi=nan", "which=x"):
        assert key in text
    assert at.multiselect(key="digits").value == [0, 2, 4, 6, 8]
    assert at.number_input(key="eps").value == pytest.approx(0.3)


def test_figures_are_pictures_by_default_and_charts_on_request(media, shipped):
    """The prototypes (at once, before any run) and the attacked digits are pictures; the Interactive charts switch
    brings back plotly. The digits in the picture are the result's own (each under its title strip)."""
    at = _open({"digits": ["4", "7"], "steps": "3"})
    assert not at.exception and not at.get("plotly_chart")
    (protos,) = pictures(at, media)
    assert protos.shape == (2 * (35 + 112 + 8) - 8, 8 * 120 - 8)      # 15 prototypes, 8 to a row, under 35-px titles
    _run(at)
    protos, pairs = pictures(at, media)
    # a row per digit: the digit, its nearest prototype, the changed digit, its nearest prototype then
    res = at.session_state["proto_result"]["res"]
    protodl = shipped["protodl"][0]
    grid, titles = nearest_prototypes(res, protodl.prototype_images())
    assert np.array_equal(pairs, titled_grid_pixels(grid, titles, cols=4))
    assert torch.equal(grid[6], res.x_adv[1].cpu())                       # second row, third image: the attacked 7
    j = int(res.explanations["adversarial"].distances[1].argmin())      # fourth: the prototype nearest to it
    assert torch.equal(grid[7], protodl.prototype_images()[j].cpu()) and titles[7].startswith(f"P{j + 1}: ")
    at.toggle(key="proto_interactive").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2 and not pictures(at, media)
