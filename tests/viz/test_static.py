"""Static figures (sem_core.viz.static): the pixels and bars show exactly the numbers the plotly figures show."""
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sem_core.viz.static import explanations_svg, grid_pixels, image_pixels, signed_pixels


def test_digit_pixels_are_grey_levels_on_zero_one_each_an_upscaled_square():
    img = torch.zeros(28, 28)
    img[3, 5], img[10, 20], img[0, 0] = 1.0, 0.5, 2.0        # 2.0 is clipped to white
    px = image_pixels(img, scale=4)
    assert px.shape == (112, 112, 3) and px.dtype == np.uint8
    assert (px[12:16, 20:24] == 255).all() and (px[0:4, 0:4] == 255).all()
    assert (px[40:44, 80:84] == 128).all()                    # round(0.5 · 255)
    assert (px[50:54, 50:54] == 0).all()
    assert np.array_equal(px[::4, ::4, 0], np.round(np.clip(img.numpy(), 0, 1) * 255).astype(np.uint8))


def test_signed_pixels_are_symmetric_around_zero_red_darker_blue_brighter():
    d = torch.zeros(28, 28)
    d[0, 0], d[0, 1] = -0.2, 0.1
    px, full = signed_pixels(d, scale=1)
    assert full == pytest.approx(0.2)
    assert tuple(px[0, 0]) == (103, 0, 31)                    # −max: RdBu's dark red end
    assert tuple(px[5, 5]) == (247, 247, 247)                 # 0: the scale's white middle
    r, g, b = px[0, 1].astype(int)
    assert b > r                                              # +0.1: a blue
    px2, full2 = signed_pixels(torch.zeros(28, 28), scale=1)  # no change at all: all white, no division by 0
    assert (px2 == 247).all() and full2 > 0


def test_bad_range_is_refused():
    with pytest.raises(ValueError, match="zmax"):
        image_pixels(torch.zeros(28, 28), zmin=1.0, zmax=1.0)


def test_grid_places_image_i_at_its_row_and_column_with_white_gaps():
    imgs = torch.zeros(5, 1, 28, 28)
    imgs[4] = 1.0                                             # row 1, column 1 of a 3-column grid
    g = grid_pixels(imgs, cols=3, gap=2, scale=1)
    assert g.shape == (2 * 28 + 2, 3 * 28 + 2 * 2)
    assert (g[30:58, 30:58] == 255).all() and (g[0:28, 0:28] == 0).all()
    assert (g[28:30, :] == 255).all()                         # the gap between rows
    assert (g[30:58, 60:88] == 255).all()                     # the missing sixth image stays blank


def _expl(h, theta):
    h, theta = torch.tensor([h]), torch.tensor([theta])
    return SimpleNamespace(concepts=h, relevances=theta, contributions=h * theta)


def test_svg_bars_carry_every_value_in_order_with_tooltips_and_escaped_titles():
    e1, e2 = _expl([0.5, -1.0, 2.0], [1.0, 0.5, -0.25]), _expl([0.0, 1.0, 1.5], [-1.0, 0.0, 1.0])
    svg = explanations_svg([e1, e2], ["natural x", "<b>x*</b>"])
    values = np.array([float(v) for v in re.findall(r'data-value="([^"]+)"', svg)]).reshape(3, 2, 3)
    for r, field in enumerate(("concepts", "relevances", "contributions")):
        assert np.allclose(values[r], [getattr(e1, field)[0], getattr(e2, field)[0]])
    assert "<b>" not in svg and "&lt;b&gt;x*&lt;/b&gt;" in svg
    assert svg.count("<title>") == 18 and "relevances c3: -0.250" in svg
    assert "\n\n" not in svg                                  # one raw HTML block for Markdown


def test_svg_bar_heights_follow_the_shared_range_and_clip_outside_it():
    e = _expl([1.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    svg = explanations_svg([e], ["x"], ranges=[(0.0, 2.0), (0.0, 1.0), (0.0, 2.0)], panel_h=100)
    bars = re.findall(r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="#[0-9a-f]+" '
                      r'data-value="([^"]+)"', svg)
    heights = [float(h) for _, h, _ in bars[:3]]              # the h row on [0, 2]
    assert heights == pytest.approx([50.0, 100.0, 100.0])     # 4.0 is drawn at the top of the range, not past it


def test_svg_needs_a_title_per_explanation():
    with pytest.raises(ValueError, match="titles"):
        explanations_svg([_expl([1.0], [1.0])], ["a", "b"])


def test_titled_grid_places_each_image_under_its_title():
    from sem_core.viz.static import titled_grid_pixels

    imgs = torch.rand(5, 1, 28, 28)
    g = titled_grid_pixels(imgs, [f"P{i}" for i in range(5)], cols=3, scale=2, gap=1, title_px=12)
    assert g.dtype == np.uint8 and g.shape == (2 * (12 + 56 + 2) - 2, 3 * (56 + 2) - 2)
    for i in range(5):
        top, left = (i // 3) * (12 + 56 + 2) + 12, (i % 3) * 58
        want = np.round(imgs[i, 0].numpy() * 255).astype(np.uint8)
        assert np.array_equal(g[top:top + 56:2, left:left + 56:2], want)
        assert g[top - 12:top, left:left + 56].min() < 128               # its title is drawn above it
    assert (g[12 + 56 + 2 + 12:, 2 * 58:] == 255).all()                 # the 6th cell is empty: white
    with pytest.raises(ValueError, match="5 images but 4 titles"):
        titled_grid_pixels(imgs, ["a"] * 4, cols=3)


def test_svg_draws_only_the_rows_asked_for():
    e1, e2 = _expl([0.5, -1.0, 2.0], [1.0, 0.5, -0.25]), _expl([0.0, 1.0, 1.5], [-1.0, 0.0, 1.0])
    svg = explanations_svg([e1, e2], ["a", "b"], ranges=[(-1.0, 2.0)], fields=("concepts",))
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', svg)]
    assert values == [0.5, -1.0, 2.0, 0.0, 1.0, 1.5] and "relevances" not in svg and ">c3</text>" in svg
    with pytest.raises(ValueError, match="fields"):
        explanations_svg([e1], ["a"], fields=("gradients",))


def test_titled_panels_keep_each_panel_and_its_colours():
    from sem_core.viz.static import titled_panels

    a, b = np.zeros((40, 30, 3), np.uint8), np.full((40, 50, 3), 200, np.uint8)
    out = titled_panels([a, b], ["a", "b"], gap=10, title_px=20)
    assert out.shape == (60, 90, 3)
    assert (out[20:, :30] == 0).all() and (out[20:, 40:] == 200).all() and (out[20:, 30:40] == 255).all()
    assert out[:20, :30].min() < 128                                    # a title above each panel
    with pytest.raises(ValueError, match="one height"):
        titled_panels([a, b[:10]], ["a", "b"])


def test_overlay_shows_the_digit_where_the_map_is_zero_and_the_map_where_it_peaks():
    from sem_core.viz.base import DIFF_COLORS, MAP_COLORS
    from sem_core.viz.maps import DIM_DIGIT
    from sem_core.viz.static import map_pixels, overlay_pixels

    digit, m = torch.zeros(28, 28), torch.zeros(28, 28)
    digit[10:20, 10:14] = 1.0
    m[2, 3] = 4.0
    out = overlay_pixels(digit, m, zmax=4.0, scale=2)
    grey = image_pixels(digit, DIM_DIGIT, scale=2)
    assert np.array_equal(out[20:40, 20:28], grey[20:40, 20:28])        # zero importance: the grey digit
    assert np.array_equal(out[4:6, 6:8], image_pixels(m, MAP_COLORS, 0, 4, scale=2)[4:6, 6:8])   # full opacity
    marked = overlay_pixels(digit, m, zmax=4.0, center=(14.0, 14.0), scale=2)
    assert (marked[28:30, 28:30] == (0, 229, 255)).all(axis=-1).any()   # the center of mass: a cyan ×
    d = torch.full((28, 28), -0.5)
    d[0, 0] = 0.5
    signed = map_pixels(d, DIFF_COLORS, -1.0, 1.0, reversescale=True, scale=1)
    assert signed[0, 0, 0] > signed[0, 0, 2] and signed[1, 1, 2] > signed[1, 1, 0]   # reversed RdBu: red = positive


def test_signed_maps_are_drawn_without_the_digit_and_a_region_is_tinted():
    from sem_core.viz.base import DIFF_COLORS
    from sem_core.viz.static import explainer_grid_pixels, map_pixels, maps_pixels, region_pixels

    a, b = torch.zeros(28, 28), torch.zeros(28, 28)
    a[3, 3], a[25, 25], b[20, 20], b[2, 20] = -1.0, -1.0, 0.5, 0.5     # centers of mass (14, 14) and (11, 20)
    digit = torch.ones(28, 28)
    out = maps_pixels(a, b, images=(digit, digit), scale=2)               # signed: the diverging scale, no overlay
    want = map_pixels(a, DIFF_COLORS, -1.0, 1.0, True, scale=2)                          # a's panel, the left one
    t = out.shape[0] - 56                                                                # the titles' strip
    assert np.array_equal(out[t:t + 20, 0:20], want[0:20, 0:20])                        # 0: white, not the digit
    assert out[t + 6, 6, 2] > out[t + 6, 6, 0] and out[t + 40, 56 + 16 + 40, 0] > out[t + 40, 56 + 16 + 40, 2]
    mask = torch.zeros(28, 28)
    mask[0:2, 0:2] = 1
    tinted = region_pixels(torch.zeros(28, 28), mask, scale=1)
    assert tinted[0, 0, 0] > 100 and tinted[0, 0, 1] < 60 and (tinted[5, 5] == 0).all()   # red over black, black
    with pytest.raises(ValueError, match="one natural and one adversarial"):
        explainer_grid_pixels(torch.zeros(2, 28, 28), torch.zeros(1, 28, 28), ["a", "b"])


def test_pair_pixels_share_one_scale_for_both_maps_and_refuse_other_explanations():
    from sem_core.viz.base import MAP_COLORS
    from sem_core.viz.static import map_pixels, pair_pixels

    x = torch.rand(28, 28)
    e, e2 = torch.zeros(28, 28), torch.zeros(28, 28)
    e[0, 0], e2[0, 0] = 1.0, 2.0
    out = pair_pixels(x, x, e, e2, list("abcde"), scale=1, gap=2)
    t = out.shape[0] - 28                                                               # the titles' strip
    assert out.shape == (t + 28, 5 * 28 + 4 * 2, 3) and out.text_px >= 14                # titles of ≥ 14 px
    assert np.array_equal(out[t:, 60:88], map_pixels(e, MAP_COLORS, 0.0, 2.0, scale=1))    # E(x) on [0, 2]: E(x′)'s max
    assert out[t, 120, 0] > out[t, 120, 2]                                              # what changed: grew, red
    with pytest.raises(ValueError, match="28×28 maps"):
        pair_pixels(x, x, torch.zeros(12, 10), torch.zeros(12, 10), list("abcde"))
