"""Plotly figures of the dataset-level experiments (data in, go.Figure out)."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def box_figure(groups: dict[str, Sequence[float]], title: str, y_title: str, log_y: bool = False) -> go.Figure:
    """One box per named group, every point shown (paper 000 Fig. 2/3, paper 002 Fig. 6)."""
    fig = go.Figure()
    for name, values in groups.items():
        fig.add_box(y=list(values), name=name, boxpoints="all", jitter=0.4, pointpos=0, marker_size=3)
    fig.update_layout(title=title, yaxis_title=y_title, showlegend=False, height=480,
                      margin=dict(t=60, b=40, l=60, r=20))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def lines_figure(panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]], title: str,
                 x_title: str, log_x: bool = False) -> go.Figure:
    """Subplots side by side: panel name -> {series name -> (xs, ys)} (paper 003 Fig. 3).

    A series named "group / variant" is coloured by its group and dashed by its variant, so twelve
    method/attack pairs stay readable."""
    names = list(panels)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    dashes = ["dot", "solid", "dash", "dashdot", "longdash"]
    colours: dict[str, str] = {}
    styles: dict[str, str] = {}
    for col, panel in enumerate(names, start=1):
        for series, (xs, ys) in panels[panel].items():
            group, _, variant = series.partition(" / ")
            colour = colours.setdefault(group, palette[len(colours) % len(palette)])
            dash = styles.setdefault(variant, dashes[len(styles) % len(dashes)]) if variant else "solid"
            fig.add_scatter(x=list(xs), y=list(ys), mode="lines+markers", name=series, legendgroup=series,
                            showlegend=col == 1, line=dict(color=colour, dash=dash), row=1, col=col)
        fig.update_xaxes(title_text=x_title, type="log" if log_x else None, row=1, col=col)
    fig.update_layout(title=title, height=420, margin=dict(t=80, b=50, l=50, r=20))
    return fig


def table_figure(header: Sequence[str], columns: Sequence[Sequence], fill: Sequence[Sequence[str]] | None = None,
                 bold: Sequence[Sequence[bool]] | None = None, title: str = "") -> go.Figure:
    """A go.Table; ``fill`` colours per cell (column-major) and ``bold`` wraps cells in <b>."""
    cells = [[f"<b>{v}</b>" if bold and bold[c][r] else v for r, v in enumerate(col)] for c, col in enumerate(columns)]
    fig = go.Figure(go.Table(header=dict(values=list(header), fill_color="#e8e8e8"),
                             cells=dict(values=cells, fill_color=fill or "white", height=24)))
    fig.update_layout(title=title, height=120 + 26 * max(len(c) for c in columns), margin=dict(t=50, b=10, l=10, r=10))
    return fig
