"""Every page with a long run shows a time estimate (sem_core.serve.estimates) before its Run button."""
import pytest
from app_helpers import open_page

PAGES = {"batch_attack.py": ({"b_n": "3", "b_steps": "2"}, "Run batch"),
         "lipschitz_stability.py": ({}, "Run Lipschitz estimates"),
         "influence_attack.py": ({}, "Run influence attack"),
         "defense_comparison.py": ({}, "Run on both models"),
         "experiment_results.py": ({}, "Run experiment")}
ESTIMATE = ("Estimated time: about ", "Estimated time: under 0.1 s", "Time estimate: calibrating", "Time estimate: none yet")


def _main_blocks(at):
    """The page's elements in order, as (type, text) pairs (captions and buttons are what matter here)."""
    out = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            kind = getattr(child, "type", "")
            if kind in ("caption", "button"):
                out.append((kind, child.value if kind == "caption" else child.label))
            walk(child)
    walk(at.main)
    return out


@pytest.mark.parametrize("page", PAGES)
def test_the_estimate_is_shown_before_the_run_button(page):
    query, run = PAGES[page]
    at = open_page(page, query)
    assert not at.exception
    blocks = _main_blocks(at)
    where = [i for i, (kind, text) in enumerate(blocks) if kind == "caption" and ESTIMATE[0] in text or
             kind == "caption" and any(text.startswith(e) or f". {e}" in text for e in ESTIMATE)]
    button = [i for i, (kind, text) in enumerate(blocks) if kind == "button" and text == run]
    assert where and button and where[0] < button[0], blocks


@pytest.mark.parametrize("page", ["influence_attack.py", "lipschitz_stability.py"])
def test_the_estimate_is_cleared_once_the_run_is_done(page):
    """After the run the page says what it took; the estimate made before it does not stay standing."""
    query, run = PAGES[page]
    at = open_page(page, query, timeout=300)
    assert any(c.value.startswith(ESTIMATE) for c in at.caption)
    next(b for b in at.button if b.label == run).click().run()
    assert not at.exception
    assert not [c.value for c in at.caption if c.value.startswith(ESTIMATE)]
    at.run()                                  # the next run of the page (no click) shows the estimate again
    assert any(c.value.startswith(ESTIMATE) for c in at.caption)
