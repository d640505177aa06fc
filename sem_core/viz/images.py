"""Plotly figures of digits, perturbations and explanation bars (data in, go.Figure out).

Example:
    fig = image_figure(x[0, 0], "natural 9")
    fig = bars_figure(h[0], [f"h{i+1}" for i in range(5)], "concepts h(x)")
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

POS, NEG = "#1f77b4", "#d62728"
DIVERGING = "RdBu"


def _np(a) -> np.ndarray:
    return a.detach().cpu().float().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float32)


def _heatmap(img: np.ndarray, colorscale: str, zmin: float | None, zmax: float | None, zmid: float | None,
             showscale: bool) -> go.Heatmap:
    return go.Heatmap(z=img, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid, showscale=showscale,
                      hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>")


def _square(fig: go.Figure, size: int) -> go.Figure:
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_layout(height=size, margin=dict(t=40, b=5, l=5, r=5))
    return fig


COLORBAR_H = 40         # px below the image taken by a horizontal colour bar and its tick labels


def image_figure(img, title: str = "", colorscale: str = "gray", zmid: float | None = None,
                 size: int = 260) -> go.Figure:
    """One digit [28,28] (or [1,1,28,28]) as a heatmap, row 0 at the top.

    Grey images are drawn on the fixed range [0,1] (pixel units); with ``zmid`` the range is
    symmetric around it and a horizontal colour bar is added under the image: the figure grows by
    ``COLORBAR_H`` px so the image itself is exactly as large as a grey one of the same ``size``.
    """
    a = _np(img).reshape(28, 28)
    if zmid is None:
        return _square(go.Figure(_heatmap(a, colorscale, 0.0, 1.0, None, False), layout=dict(title=title)), size)
    m = float(np.abs(a - zmid).max()) or 1e-6
    trace = _heatmap(a, colorscale, zmid - m, zmid + m, None, True)
    trace.colorbar = dict(orientation="h", thickness=10, len=1.0, y=-0.02, yanchor="top", ypad=0, outlinewidth=0)
    fig = _square(go.Figure(trace, layout=dict(title=title)), size)
    fig.update_layout(height=size + COLORBAR_H, margin_b=5 + COLORBAR_H)
    return fig


def perturbation_figure(delta, title: str = "perturbation x* − x", size: int = 260) -> go.Figure:
    """The perturbation [28,28] in a diverging scale, symmetric around 0 (red = darker, blue = brighter)."""
    return image_figure(delta, title, colorscale=DIVERGING, zmid=0.0, size=size)


def bars_figure(values, labels: Sequence[str], title: str = "", height: int = 220) -> go.Figure:
    """One bar per entry of ``values`` [k] (concepts h, relevances θ or contributions θ·h);
    positive bars blue, negative red."""
    v = _np(values).reshape(-1)
    if len(labels) != len(v):
        raise ValueError(f"{len(v)} values but {len(labels)} labels")
    fig = go.Figure(go.Bar(x=list(labels), y=v.tolist(), marker_color=[POS if x >= 0 else NEG for x in v],
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=dict(t=40, b=30, l=40, r=10), showlegend=False)
    return fig


def explanation_figure(concepts, relevances, contributions, title: str = "", height: int = 460,
                       ranges: Sequence[tuple[float, float]] | None = None) -> go.Figure:
    """SENN's explanation as three stacked bar panels: h(x), θ(x) for the predicted class, θ·h
    (paper 000 Fig. 1, columns 2–3). Each input is [k]. ``ranges``: one fixed y-range per panel
    (from ``explanation_ranges``) so several explanations share a scale; None lets each panel fit its bars."""
    panels = {"concepts h(x)": concepts, "relevances θ(x)": relevances, "contributions θ·h": contributions}
    if ranges is not None and len(ranges) != len(panels):
        raise ValueError(f"{len(panels)} panels but {len(ranges)} ranges")
    fig = make_subplots(rows=3, cols=1, subplot_titles=list(panels), vertical_spacing=0.16)
    for row, values in enumerate(panels.values(), start=1):
        v = _np(values).reshape(-1)
        labels = [f"c{i + 1}" for i in range(len(v))]
        fig.add_bar(x=labels, y=v.tolist(), marker_color=[POS if x >= 0 else NEG for x in v], row=row, col=1,
                    hovertemplate="%{x}: %{y:.3f}<extra></extra>")
        if ranges is not None:
            fig.update_yaxes(range=list(ranges[row - 1]), row=row, col=1)
    fig.update_layout(title=title, height=height, showlegend=False, margin=dict(t=60, b=20, l=40, r=10))
    return fig


def explanation_ranges(concepts, relevances, contributions, pad: float = 0.05) -> list[tuple[float, float]]:
    """One shared y-range per ``explanation_figure`` panel over several explanations, each input [n,k]:
    (min, max) over all n rows, always including 0, widened by ``pad`` of the span on both sides."""
    out = []
    for values in (concepts, relevances, contributions):
        v = _np(values)
        lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()))
        margin = pad * ((hi - lo) or 1.0)
        out.append((lo - margin, hi + margin))
    return out


def image_grid_figure(images, titles: Sequence[str] | None = None, cols: int = 8,
                      row_titles: Sequence[str] | None = None, cell: int = 90, gap: int = 2) -> go.Figure:
    """``images`` [n,28,28] (or [n,1,28,28]) in [0,1] tiled on a grid of ``cols`` columns, one title
    each (the concept grounding grid, the 15 prototypes). One heatmap for the whole grid (fast to draw);
    image i occupies rows ``r0:r0+28``, columns ``c0:c0+28`` of ``z`` with (r0, c0) from ``grid_origin``."""
    a = _np(images).reshape(-1, 28, 28)
    n = len(a)
    if titles is not None and len(titles) != n:
        raise ValueError(f"{n} images but {len(titles)} titles")
    rows = max(1, -(-n // cols))
    row_gap = gap + 8 if titles else gap                        # room for the titles of the next row
    z = np.full((rows * (28 + row_gap) - row_gap, cols * (28 + gap) - gap), np.nan, dtype=np.float32)
    for i, img in enumerate(a):
        r0, c0 = grid_origin(i, cols, gap, row_gap)
        z[r0: r0 + 28, c0: c0 + 28] = img
    fig = go.Figure(go.Heatmap(z=z, colorscale="gray", zmin=0.0, zmax=1.0, showscale=False, hoverongaps=False,
                               hovertemplate="%{z:.3f}<extra></extra>"))
    title_h = 14 if titles else 0
    for i, text in enumerate(titles or []):
        r0, c0 = grid_origin(i, cols, gap, row_gap)
        fig.add_annotation(x=c0 + 13.5, y=r0 - 0.5, text=text, showarrow=False, yanchor="bottom", font_size=11)
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
    ``gap + 8`` when the grid has titles)."""
    return (i // cols) * (28 + row_gap), (i % cols) * (28 + gap)
