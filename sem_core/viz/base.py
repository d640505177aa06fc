"""The one place for what every viz module shares: array conversion, colour scales, the heat map
trace and square image axes (row 0 on top, like the digit).

Colour convention (one for the whole app): digits grey on [0,1] (black 0, white 1); importance maps
Inferno (dark 0); signed values RdBu — perturbations with red = darker, blue = brighter; explanations
(``reversescale=True``) with red = positive, blue = negative. All three are colour-blind safe (no red–green pair:
Inferno is perceptually uniform, RdBu diverges blue–red, ColorBrewer's colour-blind-safe set); lines and categories
use ``CATEGORY_COLORS`` (Okabe–Ito).

Text size (issue 29, readable from the back row): no figure text is smaller than ``FONT_PX`` CSS pixels on a
1280-px-wide screen, nor ``PRESENTER_FONT_PX`` in presenter mode (tests/app/test_figure_text_browser.py measures it).
``readable_text`` raises a plotly figure's fonts to one of them; the static pictures (``static.py``) size their text
from the same numbers.
"""
from __future__ import annotations

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import torch

# Explicit colour lists. Streamlit's chart theme uses "#0000NN" as placeholders for its own colours and
# swaps them in the browser, so Inferno's first stop (#000004) would turn pink: it is made pure black.
_INFERNO = ["#000000", *pc.sequential.Inferno[1:]]
MAP_COLORS = [[i / (len(_INFERNO) - 1), c] for i, c in enumerate(_INFERNO)]  # importance: dark = 0
IMAGE_COLORS = [[0.0, "#000000"], [1.0, "#ffffff"]]        # digits: black background, white strokes
DIFF_COLORS = [[i / (len(pc.diverging.RdBu) - 1), c] for i, c in enumerate(pc.diverging.RdBu)]  # white = 0


FONT_PX = 14              # the smallest figure text on screen, CSS px (a 1280-px-wide screen or projector)
PRESENTER_FONT_PX = 20    # the same in presenter mode
PRESENTER_GROWTH = 1.35   # presenter mode: how much taller a plotly figure is drawn (its text is larger)
# Okabe & Ito's colour-blind-safe palette (black left out): series and categories of line and bar charts
CATEGORY_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def readable_text(fig: go.Figure, min_px: float = FONT_PX, grow: float = 1.0) -> go.Figure:
    """A copy of ``fig`` whose every text is at least ``min_px`` px: the default font, the title, legend, axis tick
    labels and titles, annotations (subplot titles), colour bars and bar texts, each set explicitly (a template's
    own sizes, e.g. Streamlit's 12-px ticks, would win over the default font); larger sizes are kept. ``grow``
    multiplies the figure's height (presenter mode: ``PRESENTER_GROWTH``, so larger text keeps its plot). The title
    is 1.15 × ``min_px`` at least."""
    doc = fig.to_plotly_json()
    layout = doc.setdefault("layout", {})

    def at_least(parent: dict, key: str, px: float = min_px) -> None:
        font = parent.setdefault(key, {})
        font["size"] = max(float(font.get("size") or 0), px)

    at_least(layout, "font")
    title = layout.setdefault("title", {})
    if isinstance(title, str):
        title = layout["title"] = {"text": title}
    at_least(title, "font", round(min_px * 1.15))
    legend = layout.setdefault("legend", {})
    at_least(legend, "font")
    layout.setdefault("xaxis", {}), layout.setdefault("yaxis", {})   # the first axes, even when left to defaults
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            at_least(axis, "tickfont")
            axis_title = axis.setdefault("title", {})
            if isinstance(axis_title, str):
                axis_title = axis["title"] = {"text": axis_title}
            at_least(axis_title, "font")
    for a in layout.get("annotations", ()):
        at_least(a, "font")
    for t in doc.get("data", ()):
        if "colorbar" in t or t.get("showscale"):
            bar = t.setdefault("colorbar", {})
            at_least(bar, "tickfont")
            at_least(bar.setdefault("title", {}), "font")
        if t.get("type") in ("bar", "scatter", "histogram") and ("text" in t or "texttemplate" in t):
            at_least(t, "textfont")
        elif t.get("type") == "table":
            for part in ("header", "cells"):
                at_least(t.setdefault(part, {}), "font")
    if grow != 1.0 and layout.get("height"):
        layout["height"] = round(layout["height"] * grow)
    return go.Figure(doc)


def to_np(a) -> np.ndarray:
    """A float32 numpy array from a tensor (any device, detached) or anything array-like."""
    return a.detach().cpu().float().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, dtype=np.float32)


def as_image(m) -> np.ndarray:
    """A [28,28] (or [H,W]) array from 784 values with any leading singleton dims."""
    arr = to_np(m)
    return arr.reshape(arr.shape[-2:]) if arr.ndim >= 2 else arr.reshape(28, 28)


def as_picture(m) -> np.ndarray:
    """One image as drawn: [H,W] grey from a single channel (any leading singleton dims, or 784 values), or
    [H,W,3] RGB from three channels ([3,H,W] or [1,3,H,W]); values as given (pixel units, [0,1])."""
    arr = to_np(m)
    squeezed = arr.reshape(arr.shape[-3:]) if arr.ndim >= 3 and int(np.prod(arr.shape[:-3])) == 1 else arr
    if squeezed.ndim == 3 and squeezed.shape[0] == 3:
        return np.moveaxis(squeezed, 0, -1)
    return as_image(arr)


def rgb_trace(rgb: np.ndarray) -> go.Image:
    """An [H,W,3] picture in [0,1] as a plotly Image trace (8-bit), row 0 at the top."""
    return go.Image(z=(np.clip(rgb, 0.0, 1.0) * 255).round().astype(np.uint8), hoverinfo="skip")


def heat(z: np.ndarray, colors=MAP_COLORS, showscale: bool = False, fmt: str = ".4f", **kw) -> go.Heatmap:
    """The heat map trace every image, map and perturbation figure uses; hover shows row, col, value."""
    return go.Heatmap(z=z, colorscale=colors, showscale=showscale,
                      hovertemplate=f"row %{{y}}, col %{{x}}: %{{z:{fmt}}}<extra></extra>", **kw)


def image_axes(fig: go.Figure, rows: int = 0, cols: int = 0) -> go.Figure:
    """Square pixels, row 0 on top, no axes; ``rows``/``cols`` = the subplot grid (0 = no grid)."""
    if not rows:
        fig.update_xaxes(visible=False, constrain="domain")
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
        return fig
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            n = (r - 1) * cols + c
            fig.update_xaxes(visible=False, constrain="domain", row=r, col=c)
            fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{'' if n == 1 else n}",
                             constrain="domain", row=r, col=c)
    return fig


# Importance over the digit: 0 fully transparent (the digit shows through), then Inferno's warm half with
# growing opacity, so the strongest pixels are opaque yellow. Sequential: for non-negative maps only.
OVERLAY_COLORS = [[0.0, "rgba(0,0,0,0)"], [0.08, "rgba(120,28,109,0.5)"], [0.3, "rgba(188,55,84,0.75)"],
                  [0.6, "rgba(237,105,37,0.9)"], [1.0, "rgba(252,255,164,1)"]]


def map_scale(*maps) -> dict:
    """The colour scale shared by every map of one comparison: sequential from 0 when all values are
    non-negative (importance maps), diverging and symmetric around 0 when any is negative (signed maps,
    differences). Returns ``heat`` keyword arguments (colors, zmin, zmax, and reversescale for RdBu,
    so red = positive)."""
    arrays = [to_np(m) for m in maps]
    lo = min(float(a.min()) for a in arrays)
    hi = max(float(np.abs(a).max()) for a in arrays) or 1e-12
    if lo >= 0:
        return dict(colors=MAP_COLORS, zmin=0.0, zmax=hi)
    return dict(colors=DIFF_COLORS, zmin=-hi, zmax=hi, reversescale=True)


def log_ticks(values) -> dict:
    """Axis settings for a log axis over ``values`` (positive ones): ticks at 1-2-5 × 10^n with their full
    value as the label ("20", "50", not plotly's abbreviated "2", "5" of minor log ticks)."""
    v = to_np(values).reshape(-1)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return {}
    lo, hi = np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))
    ticks = [m * 10.0 ** e for e in range(int(lo), int(hi) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if v.min() / 2.5 <= t <= v.max() * 2.5] or [float(v.min())]
    return dict(tickmode="array", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
