"""Plotly figures of digits, perturbations and explanation bars (data in, go.Figure out).

Example:
    fig = image_figure(x[0, 0], "natural 9")
    fig = bars_figure(h[0], [f"h{i+1}" for i in range(5)], "concepts h(x)")
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .base import DIFF_COLORS, FONT_PX, IMAGE_COLORS, as_picture, heat, image_axes, rgb_trace, to_np

POS, NEG = "#1f77b4", "#d62728"
SENN_FIELDS = ("concepts", "relevances", "contributions")              # SENN's explanation, top to bottom,
PANEL_NAMES = ("concepts h(x)", "relevances θ(x)", "contributions θ·h")  # and what the figures call each
COLORBAR_H = 40         # px below the image taken by a horizontal colour bar and its tick labels


def _square(fig: go.Figure, size: int) -> go.Figure:
    image_axes(fig)
    fig.update_layout(height=size, margin=dict(t=40, b=5, l=5, r=5))
    return fig


def image_figure(img, title: str = "", colors=IMAGE_COLORS, zmid: float | None = None,
                 size: int = 260) -> go.Figure:
    """One digit [28,28] (or [1,1,28,28], or any [H,W]) as a heatmap, row 0 at the top; a colour image
    [3,H,W] is drawn as a picture (RGB), without a colour scale.

    Grey images are drawn on the fixed range [0,1] (pixel units); with ``zmid`` the range is
    symmetric around it and a horizontal colour bar is added under the image: the figure grows by
    ``COLORBAR_H`` px so the image itself is exactly as large as a grey one of the same ``size``.
    """
    a = as_picture(img)
    if a.ndim == 3:
        return _square(go.Figure(rgb_trace(a), layout=dict(title=title)), size)
    if zmid is None:
        return _square(go.Figure(heat(a, colors, zmin=0.0, zmax=1.0, fmt=".3f"), layout=dict(title=title)), size)
    m = float(np.abs(a - zmid).max()) or 1e-6
    trace = heat(a, colors, showscale=True, zmin=zmid - m, zmax=zmid + m, fmt=".3f",
                 colorbar=dict(orientation="h", thickness=10, len=1.0, y=-0.02, yanchor="top", ypad=0, outlinewidth=0))
    fig = _square(go.Figure(trace, layout=dict(title=title)), size)
    fig.update_layout(height=size + COLORBAR_H, margin_b=5 + COLORBAR_H)
    return fig


def perturbation_figure(delta, title: str = "perturbation x* − x", size: int = 260) -> go.Figure:
    """The perturbation [28,28] in a diverging scale, symmetric around 0 (red = darker, blue = brighter)."""
    return image_figure(delta, title, colors=DIFF_COLORS, zmid=0.0, size=size)


def signed_bars(v: np.ndarray, labels: Sequence[str]) -> go.Bar:
    """Bars of ``v`` [k]: positive blue, negative red."""
    return go.Bar(x=list(labels), y=v.tolist(), marker_color=[POS if x >= 0 else NEG for x in v],
                  hovertemplate="%{x}: %{y:.3f}<extra></extra>")


def bars_figure(values, labels: Sequence[str], title: str = "", height: int = 220) -> go.Figure:
    """One bar per entry of ``values`` [k] (concepts h, relevances θ or contributions θ·h);
    positive bars blue, negative red."""
    v = to_np(values).reshape(-1)
    if len(labels) != len(v):
        raise ValueError(f"{len(v)} values but {len(labels)} labels")
    fig = go.Figure(signed_bars(v, labels))
    fig.update_layout(title=title, height=height, margin=dict(t=40, b=30, l=40, r=10), showlegend=False)
    return fig


def explanation_figure(concepts, relevances, contributions, title: str = "", height: int = 460,
                       ranges: Sequence[tuple[float, float]] | None = None) -> go.Figure:
    """SENN's explanation as three stacked bar panels: h(x), θ(x) for the predicted class, θ·h
    (paper 000 Fig. 1, columns 2–3). Each input is [k]. ``ranges``: one fixed y-range per panel
    (from ``explanation_ranges``) so several explanations share a scale; None lets each panel fit its bars."""
    panels = dict(zip(PANEL_NAMES, (concepts, relevances, contributions)))
    if ranges is not None and len(ranges) != len(panels):
        raise ValueError(f"{len(panels)} panels but {len(ranges)} ranges")
    fig = make_subplots(rows=3, cols=1, subplot_titles=list(panels), vertical_spacing=0.16)
    for row, values in enumerate(panels.values(), start=1):
        v = to_np(values).reshape(-1)
        labels = [f"c{i + 1}" for i in range(len(v))]
        fig.add_trace(signed_bars(v, labels), row=row, col=1)
        if ranges is not None:
            fig.update_yaxes(range=list(ranges[row - 1]), row=row, col=1)
    fig.update_layout(title=title, height=height, showlegend=False, margin=dict(t=60, b=20, l=40, r=10))
    return fig


def explanation_ranges(concepts, relevances, contributions, pad: float = 0.05) -> list[tuple[float, float]]:
    """One shared y-range per ``explanation_figure`` panel over several explanations, each input [n,k]:
    (min, max) over all n rows, always including 0, widened by ``pad`` of the span on both sides."""
    out = []
    for values in (concepts, relevances, contributions):
        v = to_np(values)
        lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()))
        margin = pad * ((hi - lo) or 1.0)
        out.append((lo - margin, hi + margin))
    return out


def image_grid_figure(images, titles: Sequence[str] | None = None, cols: int = 8,
                      row_titles: Sequence[str] | None = None, cell: int = 90, gap: int = 2) -> go.Figure:
    """``images`` [n,28,28] (or [n,1,28,28]) in [0,1] tiled on a grid of ``cols`` columns, one title
    each (the concept grounding grid, the 15 prototypes). One heatmap for the whole grid (fast to draw);
    image i occupies rows ``r0:r0+28``, columns ``c0:c0+28`` of ``z`` with (r0, c0) from ``grid_origin``."""
    a = to_np(images).reshape(-1, 28, 28)
    n = len(a)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{n} images but {len(titles)} titles")
    rows = max(1, -(-n // cols))
    lines = max((t.count("<br>") + 1 for t in titles or ()), default=0)  # a title's lines
    row_gap = gap + 8 * lines                                   # room for the titles of the next row
    z = np.full((rows * (28 + row_gap) - row_gap, cols * (28 + gap) - gap), np.nan, dtype=np.float32)
    for i, img in enumerate(a):
        r0, c0 = grid_origin(i, cols, gap, row_gap)
        z[r0: r0 + 28, c0: c0 + 28] = img
    fig = go.Figure(go.Heatmap(z=z, colorscale=IMAGE_COLORS, zmin=0.0, zmax=1.0, showscale=False, hoverongaps=False,
                               hovertemplate="%{z:.3f}<extra></extra>"))
    title_h = 18 * lines
    for i, text in enumerate(titles or []):
        r0, c0 = grid_origin(i, cols, gap, row_gap)
        fig.add_annotation(x=c0 + 13.5, y=r0 - 0.5, text=text, showarrow=False, yanchor="bottom", font_size=FONT_PX)
    for r, text in enumerate(row_titles or []):
        fig.add_annotation(x=-2, y=r * (28 + row_gap) + 13.5, text=text, showarrow=False, xanchor="right",
                           textangle=0, font=dict(size=16, weight="bold"))
    fig.update_xaxes(visible=False, constrain="domain", range=[-0.5 - (25 if row_titles else 0), z.shape[1] - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(height=rows * (cell + title_h) + 20, margin=dict(t=10 + title_h, b=5, l=5, r=5),
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


def grid_origin(i: int, cols: int, gap: int = 2, row_gap: int = 2) -> tuple[int, int]:
    """Top-left (row, col) in the tiled ``z`` of image ``i`` in ``image_grid_figure`` (``row_gap`` is
    ``gap + 8`` a line of its titles)."""
    return (i // cols) * (28 + row_gap), (i % cols) * (28 + gap)


def grounding_figure(train_images, grounding, cell: int = 90) -> go.Figure:
    """SENN's concept grounding: row i shows the training digits ``train_images[grounding[i]]`` that
    activate concept i most (``grounding`` [k,n] indices into ``train_images`` [N,1,28,28]); ``cell``: the
    height in px of one row (small for a narrow column beside the concept bars, so no blank space is left)."""
    k, n = grounding.shape
    return image_grid_figure(train_images[grounding.cpu().flatten()], cols=n, row_titles=[f"c{i + 1}" for i in range(k)],
                             cell=cell)


def prototype_titles(classes) -> list[str]:
    """"P1: 4", …: each prototype's number and the class it votes for."""
    return [f"P{j + 1}: {int(c)}" for j, c in enumerate(classes)]


def prototypes_figure(images, classes, cols: int = 8) -> go.Figure:
    """PrototypeDL's decoded prototypes [m,1,28,28], each titled with its number and the class it votes for."""
    return image_grid_figure(images, prototype_titles(classes), cols=cols)
