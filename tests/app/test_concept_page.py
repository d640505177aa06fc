"""The concept attack page: run eq. 1 on the default 9 → 2, replay it, upload digits, URL state."""
import io
import re

import numpy as np
import pytest
from app_helpers import array, figures, open_page, open_presenting, pictures, svgs, title
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest


def _open(query: dict | None = None) -> AppTest:
    return open_page("concept_attack.py", query)


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label.startswith("Run")).click().run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _images(at: AppTest) -> dict[str, np.ndarray]:
    """The titled digit images on the page by their title."""
    return {title(f): array(f["data"][0]["z"]) for f in figures(at) if title(f) and f["data"][0]["type"] == "heatmap"}


def _concepts(at: AppTest) -> list[np.ndarray]:
    """The concept bars h (first panel) of each explanation figure, in page order: x, x*, x_t, replay."""
    return [array(f["data"][0]["y"]) for f in figures(at) if f["data"][0]["type"] == "bar"]


def _svg_bars(svg: str) -> np.ndarray:
    """The bar values of an explanations SVG, in drawing order (row h, θ, θ·h; within a row, column by column)."""
    return np.array([float(v) for v in re.findall(r'data-value="([^"]+)"', svg)])


def test_default_attack_moves_concepts_to_the_target_and_keeps_the_label(media):
    at = _open()
    assert not at.exception
    assert at.selectbox(key="src").value == 9 and at.selectbox(key="tgt").value == 2
    assert at.number_input(key="eps").value == pytest.approx(0.3)
    assert any("press **Run" in i.value for i in at.info)
    at.number_input(key="steps").set_value(10).run()
    _run(at)
    assert not at.exception
    m = _metrics(at)
    assert float(m["‖h(x*) − h(x_t)‖"]) < 0.5 * float(m["‖h(x) − h(x_t)‖"])
    assert m["label kept"] == "✓"
    assert float(m["‖x* − x‖∞"]) <= 0.3 + 1e-6
    preds = [re.search(r"\*\*(\d)\*\*", md.value).group(1) for md in at.markdown if md.value.startswith("prediction")]
    assert preds[:3] == ["9", "9", "2"]                          # x and x* are 9s, the target a 2
    # the default view: pictures, drawn from the same numbers (digits at 8× in uint8 grey levels)
    assert not figures(at)
    x, x_adv, x_t, perturbation, grid = pictures(at, media)
    small = [p[::8, ::8, 0].astype(float) / 255 for p in (x, x_adv, x_t)]
    assert np.abs(small[1] - small[0]).max() == pytest.approx(float(m["‖x* − x‖∞"]), abs=1.5 / 255)
    assert perturbation.shape == x.shape and grid.ndim == 2
    bars = _svg_bars(svgs(at)[0]).reshape(3, 3, -1)              # [row h/θ/θ·h, column x/x*/x_t, concept]
    assert np.linalg.norm(bars[0, 1] - bars[0, 2]) == pytest.approx(float(m["‖h(x*) − h(x_t)‖"]), abs=1e-3)
    at.toggle(key="concept_interactive").set_value(True).run()   # the same result as plotly charts
    assert not at.exception and not pictures(at, media) and _metrics(at) == m
    images = _images(at)                                         # what is drawn is what was measured
    delta = np.abs(images["adversarial x*"] - images["natural x"]).max()
    assert delta == pytest.approx(float(m["‖x* − x‖∞"]), abs=1e-3)
    h_nat, h_adv, h_tgt = _concepts(at)[:3]
    assert np.allclose(np.stack([h_nat, h_adv, h_tgt]), bars[0], atol=1e-5)  # the pictures showed these bars
    assert np.linalg.norm(h_adv - h_tgt) == pytest.approx(float(m["‖h(x*) − h(x_t)‖"]), abs=1e-3)
    assert np.linalg.norm(h_nat - h_tgt) == pytest.approx(float(m["‖h(x) − h(x_t)‖"]), abs=1e-3)
    steps = [int(s) for s in at.select_slider(key="concept_step").options]
    assert steps == list(range(11))                              # every iterate of a 10-step run can be replayed
    at.select_slider(key="concept_step").set_value(str(steps[0])).run()
    assert not at.exception
    assert "**9**" in [md.value for md in at.markdown if md.value.startswith("prediction")][3]  # replay at step 0
    images = _images(at)
    assert np.array_equal(images["x at step 0"], images["natural x"])  # step 0 is the natural digit
    assert np.allclose(_concepts(at)[3], h_nat)
    at.toggle(key="concept_interactive").set_value(False).run()  # and the replay as pictures
    assert not at.exception and np.allclose(_svg_bars(svgs(at)[1])[:len(h_nat)], h_nat, atol=1e-5)
    assert np.array_equal(pictures(at, media)[-1], x)            # step 0 is the natural digit


def test_presenter_mode_draws_the_bars_full_width_without_download_rows():
    at = open_presenting("concept_attack.py", {"steps": "3", "result": "concept"})
    assert at.session_state["presenter"] is True and not at.exception
    assert len(svgs(at)) == 1
    assert not [b for b in at.get("download_button") if "_dl_" in b.proto.id]      # no figure download rows
    assert any(md.value.startswith("Bars:") and "Below" in md.value for md in at.markdown)


def test_results_stay_when_switching_pages():
    at = _open()
    at.number_input(key="steps").set_value(5).run()
    _run(at)
    before = _metrics(at)
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/concept_attack.py").run()
    assert not at.exception
    assert _metrics(at) == before


def test_home_button_runs_the_nine_to_two_attack():
    at = AppTest.from_file("../../app.py", default_timeout=120).run()
    at.button(key="home_try").click().run()
    assert not at.exception
    assert at.title[0].value == "Concept attack (SENN)"
    assert _metrics(at)["label kept"] == "✓"


def test_url_reopens_the_same_view():
    at = _open({"src": "3", "src_i": "4", "tgt": "7", "eps": "0.2", "steps": "30", "lam": "2.5"})
    assert not at.exception and not at.warning
    assert at.selectbox(key="src").value == 3 and at.number_input(key="src_i").value == 4
    assert at.selectbox(key="tgt").value == 7
    assert at.number_input(key="eps").value == pytest.approx(0.2)
    assert at.number_input(key="steps").value == 30 and at.number_input(key="lam").value == pytest.approx(2.5)


def test_bad_url_values_fall_back_with_warnings():
    at = _open({"src": "12", "src_i": "-5", "eps": "abc", "steps": "1.5", "lam": "1e9"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning).replace("\\", "")  # values are shown Markdown-escaped
    for key in ("src=12", "src_i=-5", "eps=abc", "steps=1.5", "lam=1e9"):
        assert key in text
    assert at.selectbox(key="src").value == 9
    assert at.number_input(key="eps").value == pytest.approx(0.3)
    assert at.number_input(key="lam").value == pytest.approx(1.0)


def _png_of_a_seven() -> bytes:
    img = Image.new("RGB", (120, 120), "white")
    ImageDraw.Draw(img).line([(25, 20), (95, 20), (50, 105)], fill="black", width=12)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_bad_upload_shows_an_error_and_a_good_one_can_be_attacked():
    at = _open()
    at.radio(key="src_from").set_value("upload").run()
    assert not at.exception and at.file_uploader
    at.file_uploader[0].set_value(("digit.png", b"definitely not a png", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    assert next(b for b in at.button if b.label.startswith("Run")).disabled
    at.file_uploader[0].set_value(("seven.png", _png_of_a_seven(), "image/png")).run()
    assert not at.error
    at.number_input(key="steps").set_value(5).run()
    _run(at)
    assert not at.exception
    assert any("uploaded seven.png" in c.value.replace("\\", "") for c in at.caption)  # the name is Markdown-escaped


def test_draw_shows_a_canvas_and_asks_for_a_digit():
    at = _open()
    at.radio(key="tgt_from").set_value("draw").run()
    assert not at.exception and not at.error
    assert any(i.value.startswith("Draw a digit") for i in at.info)       # the AppTest cannot draw: canvas is empty
    assert next(b for b in at.button if b.label.startswith("Run")).disabled
