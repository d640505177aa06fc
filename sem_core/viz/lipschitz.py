"""Plotly figures of local Lipschitz estimates (paper 002 Fig. 6, paper 001 Fig. 5C).

Example:
    fig = lipschitz_box({"saliency": res_s.values, "occlusion": res_o.values}, digits=idx)
    pair_figure(res.x[i], res.x_prime[i], res.expl[i], res.expl_prime[i])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .base import IMAGE_COLORS, as_image, heat, image_axes, log_ticks, map_scale, to_np


def _list(v) -> list[float]:
    return [float(t) for t in to_np(v).reshape(-1)]


def lipschitz_box(values: dict[str, Sequence[float]], log_y: bool = True, digits: Sequence[int] | None = None,
                  title: str = "Local Lipschitz estimates L̂(x) per explainer") -> go.Figure:
    """One box per explainer with every digit's estimate shown as a point.

    Args:
        values: explainer name -> estimates, one per digit (list or tensor [B]).
        log_y: log-scaled y axis (the estimates span orders of magnitude across explainers).
        digits: the digits' indices in the test split (same order as the values; default 0..B−1),
            stored as each point's ``customdata`` so a click maps back to (explainer, digit).
    """
    fig = go.Figure()
    for name, vals in values.items():
        vals = _list(vals)
        ids = list(range(len(vals))) if digits is None else [int(d) for d in digits]
        assert len(ids) == len(vals), f"{name}: {len(vals)} values but {len(ids)} digit indices"
        fig.add_trace(go.Box(y=vals, name=name, boxpoints="all", jitter=0.35, pointpos=0, customdata=ids,
                             marker=dict(size=7), hovertemplate=f"{name}<br>digit #%{{customdata}}<br>"
                             "L̂ = %{y:.4g}<extra></extra>"))
    fig.update_layout(title=title, yaxis_title="L̂(x)  (log scale)" if log_y else "L̂(x)", showlegend=False,
                      height=440, margin=dict(t=60, b=40, l=60, r=20), clickmode="event+select")
    if log_y:
        fig.update_yaxes(type="log", **log_ticks(np.concatenate([to_np(v).reshape(-1) for v in values.values()])))
    return fig


def _panel(e) -> tuple[str, np.ndarray]:
    """How to draw an explanation: 784 values as a 28×28 map, a 2-D array as is, else bars."""
    arr = to_np(e)
    if arr.size == 784:
        return "map", arr.reshape(28, 28)
    if arr.ndim == 2:
        return "map", arr
    return "bars", arr.ravel()


DIFF_TITLE = "difference E(x′) − E(x)"


def _colorbar_under(fig: go.Figure, col: int) -> dict:
    """A slim horizontal colour bar under subplot ``col``, as wide as it, three ticks: it never runs into the next
    panel (vertical bars beside 115-px panels did, with their tick labels)."""
    lo, hi = fig.layout[f"xaxis{'' if col == 1 else col}"].domain
    return dict(orientation="h", x=(lo + hi) / 2, xanchor="center", len=hi - lo, lenmode="fraction", y=-0.04,
                yanchor="top", thickness=9, nticks=3, outlinewidth=0)


def pair_figure(x, x_prime, e, e_prime,
                titles: Sequence[str] = ("x", "x′ (worst case)", "E(x)", "E(x′)", DIFF_TITLE),
                height: int = 330) -> go.Figure:
    """x and the maximiser x′ (images), their explanations on ONE shared scale, and the difference
    E(x′) − E(x), which shows what changed even when the two explanations look alike.

    The shared scale is sequential from 0 when both explanations are non-negative and diverging (red
    positive, blue negative) when either is signed; the difference is always diverging, symmetric around
    0. Explanations of 784 values are drawn as 28×28 maps, 2-D ones (e.g. SENN's θ, concepts × classes)
    as heatmaps, anything else as bars.
    """
    kind_a, a = _panel(e)
    kind_b, b = _panel(e_prime)
    d = b - a
    titles = list(titles) + [DIFF_TITLE] * (5 - len(titles))
    fig = make_subplots(rows=1, cols=5, subplot_titles=titles[:5], horizontal_spacing=0.06)
    fig.add_trace(heat(as_image(x), IMAGE_COLORS, zmin=0, zmax=1), row=1, col=1)
    fig.add_trace(heat(as_image(x_prime), IMAGE_COLORS, zmin=0, zmax=1), row=1, col=2)
    shared, signed = map_scale(a, b), map_scale(-np.abs(d), np.abs(d))
    lim = float(shared["zmax"])
    for col, z, scale in ((3, a, shared), (4, b, shared), (5, d, signed)):
        if kind_a == "map":
            fig.add_trace(heat(z, showscale=col >= 4, colorbar=_colorbar_under(fig, col), **scale), row=1, col=col)
        else:
            fig.add_trace(go.Bar(y=z, marker_color=["#d62728" if v >= 0 else "#1f77b4" for v in z], showlegend=False),
                          row=1, col=col)
    image_axes(fig, 1, 2)
    for col in (3, 4, 5):
        if kind_a == "map" and a.shape == (28, 28):  # pixel maps: square pixels, no axes
            fig.update_xaxes(visible=False, constrain="domain", row=1, col=col)
            fig.update_yaxes(visible=False, autorange="reversed", constrain="domain", row=1, col=col,
                             scaleanchor=f"x{col}")
        elif kind_a == "map":  # e.g. SENN's θ: rows = concepts, columns = classes
            fig.update_xaxes(title_text="class", dtick=1, row=1, col=col)
            fig.update_yaxes(dtick=1, autorange="reversed", row=1, col=col)
        elif col < 5:
            fig.update_yaxes(range=[-lim * 1.05, lim * 1.05], row=1, col=col)
    fig.update_layout(height=height, margin=dict(t=50, b=60 if kind_a == "map" else 10, l=10, r=10))
    return fig


@dataclass(frozen=True)
class WorstCase:
    """What the page shows for digit ``j`` of one explainer's estimates: L̂, the numerator
    ‖E(x) − E(x′)‖₂, the denominator (‖x − x′‖₂, or ‖h(x) − h(x′)‖₂ for SENN's own θ), ‖x − x′‖∞,
    the explanations shaped for drawing (θ as concepts × classes) and the panel titles."""

    value: float
    numerator: float
    denominator: float
    denominator_label: str
    linf: float
    x: torch.Tensor
    x_prime: torch.Tensor
    expl: torch.Tensor
    expl_prime: torch.Tensor
    titles: tuple[str, str, str, str, str]


def worst_case(result: Any, j: int, n_concepts: int | None = None) -> WorstCase:
    """The worst case of ``result`` (a ``LipschitzResult``) at digit ``j``. ``n_concepts``: set for SENN's
    own explanation (θ flattened to k·10 values), which is then reshaped to [k,10] and measured against h."""
    ex, ex2 = result.expl[j], result.expl_prime[j]
    num = float(torch.linalg.vector_norm(ex - ex2))
    value = float(result.values[j])
    titles = ("x", "x′ (worst case)", "E(x)", "E(x′)", DIFF_TITLE)
    label = "‖x − x′‖₂"
    if n_concepts and ex.numel() == n_concepts:  # θ_ŷ (the authors' SENN ratio): one value per concept, over ‖Δx‖
        ex, ex2 = ex.view(n_concepts, 1), ex2.view(n_concepts, 1)
        titles = ("x", "x′ (worst case)", "θ_ŷ(x): concept (row), predicted class", "θ_ŷ(x′)")
    elif n_concepts:
        ex, ex2 = ex.view(n_concepts, 10), ex2.view(n_concepts, 10)
        titles, label = ("x", "x′ (worst case)", "θ(x): concept (row) × class", "θ(x′)", "θ(x′) − θ(x)"), "‖h(x) − h(x′)‖₂"
    return WorstCase(value, num, num / value if value else 0.0, label,
                     float((result.x[j] - result.x_prime[j]).abs().max()), result.x[j], result.x_prime[j], ex, ex2, titles)


def point_labels(results: dict[str, Any], digits: Sequence[int]) -> dict[str, tuple[str, int]]:
    """One label per (explainer, digit) point of ``lipschitz_box`` -> (explainer, position j)."""
    return {f"{e} · digit #{int(digits[j])} (L̂ = {float(r.values[j]):.3g})": (e, j)
            for e, r in results.items() for j in range(len(digits))}


def lipschitz_frame(results: dict[str, Any], digits: Sequence[int]) -> pd.DataFrame:
    """One row per digit, one column of estimates per explainer."""
    return pd.DataFrame({"digit": [int(d) for d in digits], **{e: _list(r.values) for e, r in results.items()}})
