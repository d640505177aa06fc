"""The Influence attack page: the top training digits before/after for a chosen test digit, the metrics of the
attack and of the random baseline, and clear messages on bad URL values."""
import re
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "app"))
from app_helpers import figures, open_page  # noqa: E402


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Run")).click().run()


def test_the_attack_shows_the_influential_training_digits_before_and_after(shipped):
    at = open_page("influence_attack.py", {"inf_steps": "2", "inf_eps": "0.1"}, timeout=180)
    assert not at.exception
    assert at.selectbox(key="inf_digit").value == 7
    assert at.number_input(key="inf_steps").value == 2
    _run(at)
    assert not at.exception
    m = {x.label: x.value for x in at.metric}
    assert m["Label kept"] == "yes"
    assert 0 <= float(m["Top-5 intersection"]) <= 1 and -1 <= float(m["Spearman (all training digits)"]) <= 1
    assert 0 <= float(m["Random sign: top-5 intersection"]) <= 1
    grid = figures(at)[0]
    titles = [a["text"] for a in grid["layout"]["annotations"] if a["text"].startswith("#")]
    assert len(titles) == 10                                          # 5 natural + 5 adversarial training digits
    rows = {a["text"] for a in grid["layout"]["annotations"]} & {"natural", "adversarial"}
    assert rows == {"natural", "adversarial"}
    shared = sum("✓" in t for t in titles[:5]) / 5                   # "#2005 (5) ✓<br>-5.8e-07"
    assert float(m["Top-5 intersection"]) == shared                   # the ✓ marks agree with the metric
    labels = [int(re.match(r"#\d+ \((\d)\)", t).group(1)) for t in titles]
    assert all(0 <= c <= 9 for c in labels)
    assert any("2 sign steps" in c.value and "Took " in c.value for c in at.caption)


def test_bad_url_values_are_ignored_with_a_warning():
    at = open_page("influence_attack.py", {"inf_eps": "5", "inf_k": "abc"})
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "Ignored inf_eps=5" in warnings and "Ignored inf_k=abc" in warnings
    assert at.number_input(key="inf_eps").value == 0.1 and at.number_input(key="inf_k").value == 5
    assert not at.metric                                              # nothing ran
