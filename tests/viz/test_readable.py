"""``readable``: figures fitted for a narrow column or a slide, also the saved figures of the shipped runs."""
from pathlib import Path

import plotly.graph_objects as go
import pytest

from sem_core.experiments import load_results
from sem_core.viz.experiments import lines_figure, readable

SHIPPED = sorted(p.parent for p in (Path(__file__).resolve().parents[2] / "results").glob("*/manifest.json"))


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_figure_can_be_made_readable(folder):
    _, figures = load_results(folder)
    for fig in figures.values():
        fig = readable(fig)
        if fig.layout.legend.orientation:                                 # a legend goes under the plot
            assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0
        for t in fig.data:
            if t.type == "table":                                         # one naming of prototypes: P1..Pm
                assert all(str(v).startswith("P") for v in t.cells.values[0])


def test_long_titles_wrap_and_metric_panels_get_full_names():
    panels = {"spearman": {"ig / topk": ([0.02, 0.05, 0.1], [0.9, 0.8, 0.7])},
              "center_shift": {"ig / topk": ([0.02, 0.05, 0.1], [0.1, 0.5, 1.0])}}
    fig = lines_figure(panels, "A long title " * 10, "ε", log_x=True)
    assert "<br>" in fig.layout.title.text
    texts = [a.text.replace("<br>", " ") for a in fig.layout.annotations]
    assert "Spearman rank correlation" in texts
    assert {"0.02", "0.05", "0.1"} <= set(fig.layout.xaxis.ticktext)      # full values on the log axis


def test_readable_leaves_a_plain_figure_alone():
    fig = readable(go.Figure(go.Bar(y=[1, 2])))
    assert fig.layout.legend.orientation is None


def test_prediction_change_says_stays_when_the_class_stays():
    from sem_core.viz import prediction_change

    assert prediction_change(3, 3, 1.0, 0.998) == "stays **3** (p = 1.000 → 0.998)"
    assert prediction_change(3, 5, 0.9, 0.6).startswith("goes from **3**")


def test_a_cards_explainer_names_are_shown_by_their_labels_and_other_words_are_kept():
    from sem_core.viz.sanity import with_explainer_labels

    assert with_explainer_labels("Saliency (gradxinput)") == "Saliency (Grad × input)"
    assert with_explainer_labels("Lipschitz (theta_pred)") == "Lipschitz (θ of the predicted class)"
    assert with_explainer_labels("ig: random control") == "Integrated gradients: random control"
    assert with_explainer_labels("Sanity (self)") == "Sanity (The model's own explanation)"
    assert with_explainer_labels("a big itself, big-ig, gradxinputs") == "a big itself, big-ig, gradxinputs"
