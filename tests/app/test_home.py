from streamlit.testing.v1 import AppTest

from app_pages.ui.pickers import MODEL_LABELS


def test_home_shows_models_and_predictions(shipped):
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    # each shipped model's card accuracy (natural and robust checkpoints), in name order
    assert [m.value for m in at.metric] == [f"{card['test_accuracy']:.1%}" for _, card in shipped.values()]
    assert all(float(m.value.rstrip("%")) >= 94 for m in at.metric)
    table = at.table[0].value   # a static table: an interactive grid cost the first page 0.35 s (issue 29, point 8)
    assert list(table["model"]) == [MODEL_LABELS.get(n, n) for n in shipped]
    assert (table["predicted class"] == 9).all()  # the default digit is a clear 9
    assert table["probability"].dtype.kind == "f" and table["probability"].between(0, 1).all()  # numbers, not text
    at.selectbox(key="home_class").set_value(3).run()
    assert not at.exception
    assert (at.table[0].value["predicted class"] == 3).sum() >= len(shipped) - 1
    assert not at.get("plotly_chart")              # the chart is drawn on demand
    at.toggle(key="home_probs_chart").set_value(True).run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
