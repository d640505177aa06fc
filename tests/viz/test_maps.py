"""The map and Lipschitz builders put the given numbers where they belong."""
import numpy as np
import pytest
import torch

from sem_core.metrics import center_of_mass
from sem_core.viz.lipschitz import lipschitz_box, pair_figure
from sem_core.viz.base import MAP_COLORS
from sem_core.viz.maps import (explainer_grid, images_figure, map_figure, mask_from_points,
                               maps_side_by_side, region_overlay)


def _marker(fig):
    (m,) = [t for t in fig.data if t.type == "scatter"]
    return m


def test_map_figure_marks_the_center_at_row_col():
    m = torch.rand(28, 28)
    fig = map_figure(m, "saliency", center=(3.5, 20.0))
    assert np.allclose(np.asarray(fig.data[0].z), m.numpy())
    marker = _marker(fig)
    assert (marker.x[0], marker.y[0]) == (20.0, 3.5)  # x = column, y = row
    assert fig.layout.yaxis.autorange == "reversed"     # row 0 on top, like the image
    assert fig.layout.title.text == "saliency"


def test_map_figure_center_of_a_single_pixel_is_that_pixel():
    m = torch.zeros(28, 28)
    m[5, 17] = 1.0
    (c,) = center_of_mass(m[None]).tolist()
    marker = _marker(map_figure(m, center=c))
    assert (marker.y[0], marker.x[0]) == pytest.approx((5.0, 17.0))


def test_map_figure_without_center_has_no_marker():
    assert [t.type for t in map_figure(np.zeros((28, 28))).data] == ["heatmap"]


def test_colour_scales_avoid_streamlit_placeholder_colours():
    # Streamlit swaps "#0000NN" colours in the browser for its own theme colours.
    assert not any(c.startswith("#0000") and c != "#000000" for _, c in MAP_COLORS)


def test_side_by_side_puts_each_map_and_center_in_its_panel():
    a, b = torch.rand(28, 28), torch.rand(28, 28)
    fig = maps_side_by_side(a, b, ("natural", "adversarial"), ((1.0, 2.0), (10.0, 12.0)))
    heat = [t for t in fig.data if t.type == "heatmap"]
    marks = [t for t in fig.data if t.type == "scatter"]
    assert np.allclose(np.asarray(heat[0].z), a.numpy()) and np.allclose(np.asarray(heat[1].z), b.numpy())
    assert [(t.xaxis, t.x[0], t.y[0]) for t in marks] == [("x", 2.0, 1.0), ("x2", 12.0, 10.0)]
    assert [a.text for a in fig.layout.annotations] == ["natural", "adversarial"]


def test_explainer_grid_puts_each_explainer_in_its_column_natural_above_adversarial():
    names = ["saliency", "ig", "lime"]
    nat, adv = torch.rand(3, 28, 28), torch.rand(3, 28, 28)
    fig = explainer_grid(nat, adv, names)
    by_axis = {t.xaxis: np.asarray(t.z) for t in fig.data}
    for j in range(3):                                  # row 1 = subplots 1..3, row 2 = subplots 4..6
        assert np.allclose(by_axis["x" if j == 0 else f"x{j + 1}"], nat[j].numpy())
        assert np.allclose(by_axis[f"x{j + 4}"], adv[j].numpy())
    labels = {a.text: a for a in fig.layout.annotations}
    assert sorted(names, key=lambda n: labels[n].x) == names                # column titles left to right
    assert labels["natural"].y > labels["adversarial"].y                     # natural row on top


def test_images_figure_shows_the_perturbation_symmetrically():
    x = torch.rand(28, 28) * 0.5
    x_adv = x.clone()
    x_adv[4, 4] += 0.1
    x_adv[9, 9] -= 0.05
    natural, adversarial, delta = images_figure(x, x_adv).data
    assert np.asarray(delta.z)[4, 4] == pytest.approx(0.1, abs=1e-6)
    assert delta.zmin == pytest.approx(-0.1, abs=1e-6) and delta.zmax == pytest.approx(0.1, abs=1e-6)
    assert (natural.zmin, natural.zmax) == (0, 1)


def test_region_overlay_tints_exactly_the_mask():
    mask = torch.zeros(28, 28, dtype=torch.bool)
    mask[2:5, 6:9] = True
    tint = region_overlay(torch.rand(28, 28), mask).data[1]
    z = np.asarray(tint.z, dtype=float)
    assert (~np.isnan(z)).sum() == 9 and not np.isnan(z[2:5, 6:9]).any()


def test_selectable_overlay_points_round_trip_to_a_mask():
    fig = region_overlay(torch.rand(28, 28), None, selectable=True)
    pixels = _marker(fig)
    assert len(pixels.x) == 784 and fig.layout.dragmode == "select"
    chosen = [{"x": float(x), "y": float(y)} for x, y in zip(pixels.x, pixels.y) if 3 <= y < 6 and 10 <= x < 14]
    mask = mask_from_points(chosen)
    assert mask.sum() == 12 and mask[3:6, 10:14].all()
    assert not mask_from_points([]).any()


def test_lipschitz_box_has_one_trace_per_explainer_with_its_values():
    values = {"saliency": torch.tensor([1.0, 2.5, 4.0]), "occlusion": [0.3, 0.2, 0.9]}
    fig = lipschitz_box(values, digits=[7, 42, 99])
    assert [t.name for t in fig.data] == ["saliency", "occlusion"]
    assert list(fig.data[0].y) == [1.0, 2.5, 4.0] and list(fig.data[1].y) == pytest.approx([0.3, 0.2, 0.9])
    assert all(t.boxpoints == "all" for t in fig.data)
    assert list(fig.data[1].customdata) == [7, 42, 99]  # a click maps back to the digit
    assert fig.layout.yaxis.type == "log"
    assert lipschitz_box(values, log_y=False).layout.yaxis.type != "log"


def test_lipschitz_box_rejects_mismatched_digits():
    with pytest.raises(AssertionError, match="2 values but 3"):
        lipschitz_box({"ig": [1.0, 2.0]}, digits=[1, 2, 3])


def test_pair_figure_shares_one_scale_and_adds_the_difference_map():
    x, xp = torch.rand(1, 28, 28), torch.rand(1, 28, 28)
    e, ep = torch.randn(784), torch.randn(784) * 3
    fig = pair_figure(x, xp, e, ep)
    maps = [t for t in fig.data if t.type == "heatmap"][2:]
    lim = float(max(e.abs().max(), ep.abs().max()))
    assert all(t.zmin == pytest.approx(-lim) and t.zmax == pytest.approx(lim) for t in maps[:2])  # signed: diverging
    assert np.allclose(np.asarray(maps[1].z), ep.view(28, 28).numpy(), atol=1e-6)
    diff = np.asarray(maps[2].z)
    assert np.allclose(diff, (ep - e).view(28, 28).numpy(), atol=1e-5)                      # E(x') - E(x)
    assert maps[2].zmin == pytest.approx(-np.abs(diff).max()) and maps[2].zmax == pytest.approx(np.abs(diff).max())
    assert [a.text for a in fig.layout.annotations][-1].startswith("difference")
    theta = pair_figure(x, xp, torch.randn(5, 10), torch.randn(5, 10)).data[2]
    assert np.asarray(theta.z).shape == (5, 10)
    bars = pair_figure(x, xp, torch.randn(15), torch.randn(15)).data[2]
    assert bars.type == "bar" and len(bars.y) == 15


def test_non_negative_maps_get_a_sequential_scale_from_zero():
    x, xp = torch.rand(1, 28, 28), torch.rand(1, 28, 28)
    e, ep = torch.rand(784), torch.rand(784) * 2
    maps = [t for t in pair_figure(x, xp, e, ep).data if t.type == "heatmap"][2:4]
    assert all(t.zmin == 0 and t.zmax == pytest.approx(float(ep.max())) for t in maps)
    assert all(t.colorscale[0][1] == "#000000" for t in maps)                               # Inferno, dark = 0


def test_saliency_overlay_draws_each_map_on_its_digit_with_one_colour_bar():
    a, b = torch.rand(28, 28), torch.rand(28, 28) * 3
    fig = maps_side_by_side(a, b, ("natural", "adversarial"), images=(torch.rand(28, 28), torch.rand(28, 28)))
    digits, maps = [t for t in fig.data][0::2], [t for t in fig.data][1::2]
    assert all(d.zmin == 0 and d.zmax == 1 for d in digits)
    assert all(m.zmax == pytest.approx(float(b.max())) for m in maps)                       # one scale for both
    assert [m.showscale for m in maps] == [False, True]
    assert maps[0].colorscale[0][1] == "rgba(0,0,0,0)"                                       # 0 = see-through


def test_explainer_grid_compares_each_explainers_two_maps_on_one_scale():
    nat, adv = torch.rand(2, 28, 28), torch.rand(2, 28, 28) * torch.tensor([1.0, 5.0]).view(2, 1, 1)
    fig = explainer_grid(nat, adv, ["a", "b"])
    by_axis = {t.xaxis: t for t in fig.data}
    assert by_axis["x2"].zmax == by_axis["x4"].zmax == pytest.approx(float(adv[1].max()))


def test_log_axes_label_full_values():
    from sem_core.viz.base import log_ticks

    ticks = log_ticks([20.0, 35.0, 70.0])
    assert "20" in ticks["ticktext"] and "50" in ticks["ticktext"] and "2" not in ticks["ticktext"]
    fig = lipschitz_box({"ig": [20.0, 70.0]})
    assert "50" in fig.layout.yaxis.ticktext


def test_prototypes_have_one_name_everywhere():
    from sem_core.viz import prototype_frame, prototypes_figure
    from sem_core.viz.tables import prototype_table_figure

    h = torch.rand(2, 3)
    classes, labels = torch.tensor([0, 1, 2]), torch.tensor([0, 1])
    assert list(prototype_frame(h, h, classes, labels).index)[0].startswith("P1 ")
    assert prototype_table_figure(h, h, classes, labels).data[0].cells.values[0][0].startswith("P1 ")
    assert prototypes_figure(torch.rand(3, 1, 28, 28), classes).layout.annotations[0].text.startswith("P1")
