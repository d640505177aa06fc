"""The prototype attack page: Table 1 on the default digits 0, 2, 4, 6, 8, per-digit D and R, URL state."""
import re

import pytest
from streamlit.testing.v1 import AppTest


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=120).run()
    at.switch_page("pages/prototype_attack.py")
    at.query_params.update(query or {})
    return at.run()


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Run")).click().run()


def test_table_1_on_the_default_digits():
    at = _open()
    assert not at.exception
    assert at.multiselect(key="digits").value == [0, 2, 4, 6, 8]
    at.number_input(key="steps").set_value(20).run()
    _run(at)
    assert not at.exception
    table = at.table[0].value                                      # rows = 15 prototypes, Nat./Adv. per digit
    assert table.shape == (15, 10)
    for (digit, kind), column in table.items():
        nearest = int(re.search(r"class (\d+)", column.idxmin()).group(1))
        if kind == "Nat.":                                         # naturally the nearest prototype is the label's
            assert nearest == int(digit.split()[0])
    digits = at.dataframe[0].value
    assert digits["label"].tolist() == [0, 2, 4, 6, 8]
    assert digits["label kept"].all()
    assert (digits["D(x,y) after"] > digits["D(x,y) before"]).all()
    assert (digits["R(x,y) after"] < digits["R(x,y) before"]).all()
    assert (digits["nearest class before"] == digits["label"]).all()
    assert {m.label: m.value for m in at.metric}["labels kept"] == "5/5"


def test_choose_one_digit_and_keep_results_across_pages():
    at = _open({"digits": ["3"], "which": "2", "steps": "10", "xi": "0.5"})
    assert not at.exception and not at.warning
    assert at.number_input(key="xi").value == pytest.approx(0.5)
    _run(at)
    assert at.dataframe[0].value["label"].tolist() == [3]
    assert at.table[0].value.shape == (15, 2)
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/prototype_attack.py").run()
    assert not at.exception and at.dataframe[0].value["label"].tolist() == [3]


def test_bad_url_values_fall_back_with_warnings():
    at = _open({"digits": ["11"], "eps": "-1", "xi": "nan", "which": "x"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    for key in ("digits=11", "eps=-1", "xi=nan", "which=x"):
        assert key in text
    assert at.multiselect(key="digits").value == [0, 2, 4, 6, 8]
    assert at.number_input(key="eps").value == pytest.approx(0.3)
