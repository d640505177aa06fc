from streamlit.testing.v1 import AppTest


def test_home_shows_models_and_predictions(shipped):
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    # each shipped model's card accuracy (natural and robust checkpoints), in name order
    assert [m.value for m in at.metric] == [f"{card['test_accuracy']:.1%}" for _, card in shipped.values()]
    assert all(float(m.value.rstrip("%")) >= 94 for m in at.metric)
    table = at.dataframe[0].value
    assert list(table["model"]) == list(shipped)
    assert (table["prediction"] == 9).all()  # the default digit is a clear 9
    assert table["probability"].dtype.kind == "f" and table["probability"].between(0, 1).all()  # numbers, not text
    at.selectbox(key="home_class").set_value(3).run()
    assert not at.exception
    assert (at.dataframe[0].value["prediction"] == 3).sum() >= len(shipped) - 1
