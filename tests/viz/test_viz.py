"""The figure builders put the given numbers into the figures; the Table 1 marks are right."""
import re

import numpy as np
import pytest
import torch

import sem_core
from sem_core.attacks import ProtoDLAttack
from sem_core.viz import (bars_figure, explanation_figure, explanation_ranges, grid_origin, image_figure,
                          image_grid_figure, perturbation_figure, protodl_digit_frame, prototype_frame, prototype_marks,
                          prototype_table)


def test_image_figure_shows_the_pixels_on_a_fixed_range():
    img = torch.rand(28, 28)
    fig = image_figure(img[None, None], "a digit")
    (trace,) = fig.data
    assert np.allclose(np.asarray(trace.z), img.numpy())
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)
    assert fig.layout.title.text == "a digit"
    assert fig.layout.yaxis.autorange == "reversed"                       # row 0 on top, like the digit


def test_perturbation_figure_is_diverging_and_symmetric():
    delta = torch.zeros(28, 28)
    delta[3, 4], delta[10, 10] = 0.3, -0.1
    (trace,) = perturbation_figure(delta).data
    assert trace.zmin == pytest.approx(-0.3) and trace.zmax == pytest.approx(0.3)
    assert np.asarray(trace.z)[3, 4] == pytest.approx(0.3)
    names = [c[1] for c in trace.colorscale]
    assert len(set(names)) > 2                                              # a real diverging scale, not grey
    assert trace.showscale and trace.colorbar.orientation == "h"           # values readable on a bar under it


def test_bars_heights_equal_the_input_and_colour_by_sign():
    v = torch.tensor([0.5, -1.25, 2.0])
    fig = bars_figure(v, ["c1", "c2", "c3"], "concepts")
    (bar,) = fig.data
    assert list(bar.y) == pytest.approx(v.tolist())
    assert list(bar.x) == ["c1", "c2", "c3"]
    assert bar.marker.color[0] != bar.marker.color[1] and bar.marker.color[0] == bar.marker.color[2]
    with pytest.raises(ValueError):
        bars_figure(v, ["c1"], "too few labels")


def test_explanation_figure_has_h_theta_and_their_product():
    h, theta = torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.5, -0.5, 2.0])
    fig = explanation_figure(h, theta, h * theta)
    assert [list(t.y) for t in fig.data] == [h.tolist(), theta.tolist(), (h * theta).tolist()]


def test_explanations_share_one_scale_per_panel():
    h = torch.tensor([[1.0, 2.0], [0.5, 4.0], [0.0, 1.0]])               # natural, adversarial, target
    theta = torch.tensor([[-1.0, 0.5], [0.2, 0.1], [0.3, 3.0]])
    ranges = explanation_ranges(h, theta, h * theta, pad=0.0)
    assert ranges == [(0.0, 4.0), (-1.0, 3.0), (-1.0, 3.0)]              # over all rows, 0 always included
    figs = [explanation_figure(h[j], theta[j], (h * theta)[j], ranges=ranges) for j in range(3)]
    for axis, rng in zip(("yaxis", "yaxis2", "yaxis3"), ranges):
        assert all(tuple(f.layout[axis].range) == rng for f in figs)
    with pytest.raises(ValueError):
        explanation_figure(h[0], theta[0], h[0], ranges=ranges[:2])


def test_image_grid_places_each_image_with_its_title():
    imgs = torch.rand(15, 1, 28, 28)
    titles = [f"P{i + 1}" for i in range(15)]
    fig = image_grid_figure(imgs, titles, cols=8)
    (trace,) = fig.data                                                    # one tiled heatmap
    z = np.asarray(trace.z, dtype=np.float32)
    assert z.shape == (2 * 28 + 10, 8 * 28 + 7 * 2)                       # titles get a taller row gap
    for i, img in enumerate(imgs):
        r0, c0 = grid_origin(i, cols=8, row_gap=10)
        assert np.allclose(z[r0: r0 + 28, c0: c0 + 28], img[0].numpy())
    assert grid_origin(8, cols=8, row_gap=10) == (38, 0)                   # the 9th image opens row 2
    assert np.isnan(z[28:38]).all() and np.isnan(z[38:, 7 * 30:]).all()  # gaps and the empty 16th cell
    assert [a.text for a in fig.layout.annotations] == titles
    with pytest.raises(ValueError):
        image_grid_figure(imgs, titles[:3])


def test_image_grid_row_titles():
    imgs = torch.rand(10, 28, 28)
    fig = image_grid_figure(imgs, cols=5, row_titles=["c1", "c2"])
    assert [a.text for a in fig.layout.annotations] == ["c1", "c2"]
    assert all(a.font.size >= 14 and a.textangle == 0 for a in fig.layout.annotations)  # readable, upright
    r0, c0 = grid_origin(7, cols=5)                                        # no titles: 2-px gaps
    assert (r0, c0) == (30, 60) and np.allclose(np.asarray(fig.data[0].z)[30:58, 60:88], imgs[7].numpy())


# ---- Table 1 ---------------------------------------------------------------------------------
CLASSES = torch.tensor([0, 1, 2, 0])
LABELS = torch.tensor([0, 2])
NAT = torch.tensor([[0.1, 0.9, 0.8, 0.3],      # digit 0: nearest P1 (class 0) — consistent
                    [0.7, 0.5, 0.2, 0.9]])     # digit 2: nearest P3 (class 2)
ADV = torch.tensor([[0.6, 0.2, 0.9, 0.7],      # after: nearest P2 (class 1)
                    [0.4, 0.3, 0.8, 0.1]])     # after: nearest P4 (class 0)


def test_prototype_frame_layout_matches_table_1():
    frame = prototype_frame(NAT, ADV, CLASSES, LABELS)
    assert frame.shape == (4, 4)
    assert list(frame.columns) == [("digit 0", "Nat."), ("digit 0", "Adv."), ("digit 2", "Nat."), ("digit 2", "Adv.")]
    assert frame.index[2] == "P3 (class 2)"
    assert frame[("digit 2", "Adv.")].tolist() == pytest.approx(ADV[1].tolist())


def test_prototype_marks_bold_own_class_red_column_minimum():
    bold, red = prototype_marks(NAT, ADV, CLASSES, LABELS)
    assert bold[:, 0].tolist() == [True, False, False, True] and bold[:, 1].tolist() == [True, False, False, True]
    assert bold[:, 2].tolist() == [False, False, True, False]
    assert [int(np.flatnonzero(red[:, c])[0]) for c in range(4)] == [0, 1, 2, 3]
    assert red.sum(0).tolist() == [1, 1, 1, 1]


def _styled_cells(html: str, prop: str) -> set[tuple[int, int]]:
    """(row, col) of the cells whose CSS rule in the Styler's HTML contains ``prop``."""
    cells = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", html):
        if prop in body:
            cells |= {(int(r), int(c)) for r, c in re.findall(r"_row(\d+)_col(\d+)", selectors)}
    return cells


def test_prototype_table_styles_red_minimum_and_bold_own_class():
    html = prototype_table(NAT, ADV, CLASSES, LABELS).to_html()
    red = _styled_cells(html, "#d62728")
    assert red == {(0, 0), (1, 1), (2, 2), (3, 3)}
    frame = prototype_frame(NAT, ADV, CLASSES, LABELS)
    for r, c in red:
        assert frame.iat[r, c] == frame.iloc[:, c].min()
    assert _styled_cells(html, "bold") == {(0, 0), (0, 1), (3, 0), (3, 1), (2, 2), (2, 3)}
    assert "0.10" in html and "0.90" in html                                 # two decimals, like the paper


def test_protodl_digit_frame_from_a_real_attack(test_split):
    model = sem_core.load_model("protodl", "cpu")
    x, y, _ = test_split
    idx = [int(torch.nonzero(y == c)[0]) for c in (0, 4)]
    res = ProtoDLAttack(model, eps=0.3, steps=10)(x[idx], y[idx])
    with torch.no_grad():
        h0, h1 = model.prototype_distances(res.x), model.prototype_distances(res.x_adv)
    classes = model.prototype_classes()
    frame = protodl_digit_frame(res, h0, h1, classes)
    assert frame["label"].tolist() == [0, 4]
    assert frame["D(x,y) after"].tolist() == pytest.approx(res.metrics["D_true_adv"].tolist())
    assert frame["nearest class before"].tolist() == classes[h0.argmin(1)].tolist()
    assert frame["label kept"].tolist() == res.label_kept.tolist()


def test_figure_export_html_and_png_or_a_clear_reason(monkeypatch):
    import importlib.util

    import plotly.graph_objects as go

    from sem_core.errors import SemError
    from sem_core.viz.export import figure_html, figure_png

    fig = go.Figure(go.Bar(y=[1, 2, 3]))
    html = figure_html(fig)
    assert b"<html>" in html[:100] and b"plotly" in html
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "kaleido" else object())
    with pytest.raises(SemError, match="kaleido"):
        figure_png(fig)


def test_a_single_digit_exports_at_its_own_width_without_empty_margins():
    import plotly.graph_objects as go

    from sem_core.viz.export import content_width

    fig = image_figure(torch.rand(28, 28), "natural x", size=260)          # margins t=40, b=5, l=r=5
    assert content_width(fig) == (260 - 45) + 10                            # the square digit and its side margins
    assert content_width(go.Figure(go.Bar(y=[1, 2]))) is None                # a chart keeps the 1200-px export
