"""Classroom details of the pages (issue 14): the target's Random button, presenter mode, plain openings."""
import pytest

from app_helpers import open_page, open_presenting


def test_random_target_never_takes_the_source_class():
    at = open_page("concept_attack.py", {"src": "2"})
    for _ in range(12):
        at.button(key="tgt_rand").click().run()
        assert at.selectbox(key="tgt").value != 2
    assert not at.exception


def test_presenter_mode_folds_secondary_controls_and_downloads():
    at = open_presenting("concept_attack.py", {"steps": "3", "result": "concept"})
    assert at.session_state["presenter"] is True and not at.exception
    assert [e.label for e in at.expander if e.label == "More settings"]
    assert not [b for b in at.get("download_button") if b.label.startswith("metrics")]  # no download rows
    at.toggle(key="_presenter_toggle").set_value(False).run()
    assert any(b.label.startswith("metrics") for b in at.get("download_button"))


@pytest.mark.parametrize("page", ["concept_attack.py", "prototype_attack.py", "saliency_attack.py",
                                  "lipschitz_stability.py", "tour.py"])
def test_pages_open_with_plain_words_and_keep_formulas_in_an_expander(page):
    at = open_page(page)
    assert not at.exception
    first = at.markdown[0].value
    assert not any(sym in first for sym in ("argmin", "θ", "ε", "λ", "\\"))         # no formula up front
    if page != "tour.py":
        assert any(e.label.startswith("How it works") for e in at.expander)
