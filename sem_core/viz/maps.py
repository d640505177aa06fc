"""Plotly figures of importance maps: one map, before/after, every explainer, a target region.

Pure builders (data in, ``go.Figure`` out). Maps are ``[28,28]`` arrays or tensors, row 0 at the
top as in the image; centers of mass are (row, col) in pixels, as ``sem_core.metrics.center_of_mass``
returns them (Ghorbani et al. 2019, Algorithm 1 footnote a).

Example:
    fig = maps_side_by_side(i0, i1, ("natural", "adversarial"), centers=(c0, c1))
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .base import DIFF_COLORS, IMAGE_COLORS, OVERLAY_COLORS, as_image, as_picture, heat, image_axes, map_scale, rgb_trace

REGION_COLOR = "rgba(255,60,60,0.6)"
CENTER_STYLE = dict(symbol="x", size=12, color="#00e5ff", line=dict(width=2, color="#00e5ff"))


def _center(center: Sequence[float], name: str = "center of mass") -> go.Scatter:
    row, col = float(center[0]), float(center[1])
    return go.Scatter(x=[col], y=[row], mode="markers", marker=CENTER_STYLE, name=name, showlegend=False,
                      hovertemplate=f"{name}: row {row:.1f}, col {col:.1f}<extra></extra>")


def map_figure(m, title: str = "", center: Sequence[float] | None = None, height: int = 320) -> go.Figure:
    """One importance map as a heatmap; ``center`` (row, col) is marked with a cyan ×."""
    fig = go.Figure(heat(as_image(m)))
    if center is not None:
        fig.add_trace(_center(center))
    image_axes(fig)
    fig.update_layout(title=title, height=height, margin=dict(t=40, b=10, l=10, r=10))
    return fig


DIM_DIGIT = [[0.0, "#000000"], [1.0, "#9a9a9a"]]  # the digit under an overlay: grey strokes, so colour stands out
COLORBAR = dict(len=0.85, thickness=12, title=dict(text="importance", side="right"))


def maps_side_by_side(before, after, titles: Sequence[str] = ("before", "after"),
                      centers: Sequence[Sequence[float] | None] = (None, None), height: int = 360,
                      images: Sequence | None = None) -> go.Figure:
    """Two maps next to each other (natural vs adversarial) on ONE colour scale with a colour bar, each
    with its center of mass marked. ``images`` (the two digits [28,28]): each map is drawn as an overlay
    on its digit (zero importance transparent), so the class sees *where on the digit* the map points."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(titles), horizontal_spacing=0.04)
    scale = map_scale(before, after)
    overlay = images is not None and "reversescale" not in scale  # overlays are for non-negative maps
    for col, (m, c) in enumerate(zip((before, after), centers), start=1):
        if overlay:
            fig.add_trace(heat(as_image(images[col - 1]), DIM_DIGIT, zmin=0, zmax=1, fmt=".3f"), row=1, col=col)
            scale = {**scale, "colors": OVERLAY_COLORS}
        fig.add_trace(heat(as_image(m), showscale=col == 2, colorbar=COLORBAR, **scale), row=1, col=col)
        if c is not None:
            fig.add_trace(_center(c), row=1, col=col)
    image_axes(fig, 1, 2)
    fig.update_layout(height=height, margin=dict(t=50, b=10, l=10, r=10), plot_bgcolor="black")
    return fig


def explainer_grid(maps_nat, maps_adv, names: Sequence[str], row_titles: Sequence[str] = ("natural", "adversarial"),
                   height: int = 330) -> go.Figure:
    """2 rows (natural, adversarial digit) × E columns (one per explainer): ``maps_*`` [E,28,28]. Each
    column has one colour scale (its two maps compared); explainers' scales differ (their units do)."""
    names = list(names)
    assert len(maps_nat) == len(maps_adv) == len(names), "one natural and one adversarial map per explainer"
    fig = make_subplots(rows=2, cols=len(names), column_titles=names, row_titles=list(row_titles),
                        horizontal_spacing=0.01, vertical_spacing=0.03)
    for col, (a, b) in enumerate(zip(maps_nat, maps_adv), start=1):  # one scale per explainer: its two maps
        scale = map_scale(a, b)
        fig.add_trace(heat(as_image(a), **scale), row=1, col=col)
        fig.add_trace(heat(as_image(b), **scale), row=2, col=col)
    image_axes(fig, 2, len(names))
    fig.update_layout(height=height, margin=dict(t=40, b=10, l=10, r=30))
    return fig


def images_figure(x, x_adv, titles: Sequence[str] = ("natural", "adversarial", "perturbation"),
                  height: int = 300) -> go.Figure:
    """Natural digit, adversarial digit and their difference (signed, symmetric colour range). Colour images
    [3,H,W] are drawn as pictures and their difference averaged over the channels."""
    a, b = as_picture(x), as_picture(x_adv)
    d = b - a if a.ndim == 2 else (b - a).mean(axis=-1)
    lim = max(float(np.abs(d).max()), 1e-6)
    fig = make_subplots(rows=1, cols=3, subplot_titles=list(titles), horizontal_spacing=0.03)
    for col, img in ((1, a), (2, b)):
        fig.add_trace(heat(img, IMAGE_COLORS, zmin=0, zmax=1) if img.ndim == 2 else rgb_trace(img), row=1, col=col)
    fig.add_trace(heat(d, DIFF_COLORS, zmin=-lim, zmax=lim, showscale=True,
                        colorbar=dict(len=0.8, thickness=10)), row=1, col=3)
    image_axes(fig, 1, 3)
    fig.update_layout(height=height, margin=dict(t=40, b=10, l=10, r=10))
    return fig


def region_overlay(img, mask=None, title: str = "", selectable: bool = False, height: int = 360) -> go.Figure:
    """The digit in grey with the target region ``mask`` [28,28] (None = none) tinted red.

    ``selectable`` adds a near-invisible marker at every pixel center, so a box or lasso selection
    (e.g. Streamlit's ``on_select``) returns the chosen pixels as points (x = col, y = row); the
    selected ones turn red.
    """
    a = as_image(img)
    fig = go.Figure(heat(a, IMAGE_COLORS, zmin=0, zmax=1))
    if mask is not None:
        tint = np.where(as_image(mask) > 0, 1.0, np.nan)
        fig.add_trace(go.Heatmap(z=tint, colorscale=[[0, REGION_COLOR], [1, REGION_COLOR]], showscale=False,
                                 hoverinfo="skip"))
    if selectable:
        rows, cols = np.mgrid[0:a.shape[0], 0:a.shape[1]]
        fig.add_trace(go.Scatter(x=cols.ravel(), y=rows.ravel(), mode="markers", showlegend=False, name="pixels",
                                 marker=dict(size=9, symbol="square", opacity=0.02, color="white"),
                                 selected=dict(marker=dict(opacity=0.6, color="red")),
                                 unselected=dict(marker=dict(opacity=0.02)),
                                 hovertemplate="row %{y}, col %{x}<extra></extra>"))
        fig.update_layout(dragmode="select")
    image_axes(fig)
    fig.update_layout(title=title, height=height, margin=dict(t=40 if title else 10, b=10, l=10, r=10))
    return fig


def mask_from_points(points: Sequence[dict], shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """A bool mask from selected pixel points (dicts with ``x`` = col and ``y`` = row)."""
    mask = np.zeros(shape, dtype=bool)
    for p in points:
        r, c = int(round(p["y"])), int(round(p["x"]))
        if 0 <= r < shape[0] and 0 <= c < shape[1]:
            mask[r, c] = True
    return mask
