"""Plotly figures of the dataset-level experiments (data in, go.Figure out)."""
from __future__ import annotations

from typing import Sequence

import re
import textwrap

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .base import CATEGORY_COLORS, log_ticks, to_np

# Full names for the metric panels of saved runs (their folders keep the short column names).
PANEL_NAMES = {"topk_intersection": "top-k intersection", "spearman": "Spearman rank correlation",
               "center_shift": "center-of-mass shift (pixels)"}


def box_figure(groups: dict[str, Sequence[float]], title: str, y_title: str, log_y: bool = False) -> go.Figure:
    """One box per named group, every point shown (paper 000 Fig. 2/3, paper 002 Fig. 6)."""
    fig = go.Figure()
    for name, values in groups.items():
        fig.add_box(y=list(values), name=name, boxpoints="all", jitter=0.4, pointpos=0, marker_size=3)
    fig.update_layout(title=title, yaxis_title=y_title, showlegend=False, height=480,
                      margin=dict(t=60, b=40, l=60, r=20))
    if log_y:
        fig.update_yaxes(type="log", **log_ticks(np.concatenate([to_np(list(v)) for v in groups.values()])))
    return readable(fig)


def lines_figure(panels: dict[str, dict[str, tuple[Sequence[float], Sequence[float]]]], title: str,
                 x_title: str, log_x: bool = False) -> go.Figure:
    """Subplots side by side: panel name -> {series name -> (xs, ys)} (paper 003 Fig. 3).

    A series named "group / variant" is coloured by its group and dashed by its variant, so twelve
    method/attack pairs stay readable."""
    names = list(panels)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[PANEL_NAMES.get(n, n) for n in names])
    palette = CATEGORY_COLORS                      # colour-blind safe (Okabe–Ito); the dashes tell variants apart
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
        xs_all = [x for xs, _ in panels[panel].values() for x in xs]
        fig.update_xaxes(title_text=x_title, row=1, col=col, **(dict(type="log", **log_ticks(xs_all)) if log_x else {}))
    fig.update_layout(title=title, height=420, margin=dict(t=80, b=50, l=50, r=20))
    return readable(fig)


def readable(fig: go.Figure, title_chars: int = 70) -> go.Figure:
    """``fig`` fitted for a narrow app column or a slide (also saved figures of earlier runs): the title
    wrapped at ``title_chars``, the legend in rows under the plot (never cut at the side), metric panels by
    their full names, log axes labelled with full values (20, 50, not 2, 5). Changes ``fig`` and returns it."""
    title = fig.layout.title.text or ""
    if title and "<br>" not in title:
        fig.update_layout(title=dict(text="<br>".join(textwrap.wrap(title, title_chars)), font_size=15))
    panel_lines = 1
    for a in fig.layout.annotations or ():  # subplot titles: full names, wrapped, so neighbours never overlap
        text = PANEL_NAMES.get(a.text, a.text)
        a.text = text if "<br>" in text else "<br>".join(textwrap.wrap(text, 22)) or text
        a.font.size = 13
        panel_lines = max(panel_lines, a.text.count("<br>") + 1)
    entries = sum(1 for t in fig.data if getattr(t, "showlegend", False) is not False and t.name
                  and fig.layout.showlegend is not False and (len(fig.data) > 1 or t.showlegend))
    lines = title.count("<br>") + (len(title) > title_chars) if title else 0
    if entries:
        rows = -(-entries // 3)                                 # about three entries per row
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, font_size=11),
                          height=(fig.layout.height or 420) + 22 * rows,
                          margin=dict(b=70 + 22 * rows))
    extra_top = 18 * lines + 16 * (panel_lines - 1)                   # the plot keeps its height under a longer title
    tables = any(t.type == "table" for t in fig.data)                  # wrapped header cells take another line
    fig.update_layout(margin_t=60 + extra_top, height=(fig.layout.height or 450) + extra_top + 40 * tables)
    for t in fig.data:  # Table 1 of runs saved before the app named prototypes P1..Pm everywhere
        if t.type == "table" and t.cells.values:
            first = [re.sub(r"^p(\d+) \((\d+)\)$", lambda m: f"P{int(m[1]) + 1} (class {m[2]})", str(v))
                     for v in t.cells.values[0]]
            t.cells.values = [first, *t.cells.values[1:]]
    for axis in [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))]:
        if fig.layout[axis].type == "log" and fig.layout[axis].tickmode != "array":
            letter, ref = axis[0], axis[0] + axis[5:]
            vals = [v for t in fig.data if (getattr(t, f"{letter}axis", None) or letter) == ref
                    for v in (getattr(t, letter) if getattr(t, letter) is not None else ())]
            fig.layout[axis].update(log_ticks(vals))
    return fig


def table_figure(header: Sequence[str], columns: Sequence[Sequence], fill: Sequence[Sequence[str]] | None = None,
                 bold: Sequence[Sequence[bool]] | None = None, title: str = "") -> go.Figure:
    """A go.Table; ``fill`` colours per cell (column-major) and ``bold`` wraps cells in <b>."""
    cells = [[f"<b>{v}</b>" if bold and bold[c][r] else v for r, v in enumerate(col)] for c, col in enumerate(columns)]
    fig = go.Figure(go.Table(header=dict(values=list(header), fill_color="#e8e8e8"),
                             cells=dict(values=cells, fill_color=fill or "white", height=24)))
    fig.update_layout(title=title, height=120 + 26 * max(len(c) for c in columns), margin=dict(t=50, b=10, l=10, r=10))
    return fig


#: the only HTML plotly text may keep from a stored figure: line breaks and emphasis (no links, no styles)
_KEPT_TAGS = re.compile(r"^</?(br|b|i|sup|sub)\s*/?>$", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")


def _clean_text(text: str) -> str:
    return _TAG.sub(lambda m: m.group(0) if _KEPT_TAGS.match(m.group(0)) else "", text)


def _clean(obj):
    if isinstance(obj, str):
        return _clean_text(obj)
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in _DROPPED_KEYS}
    return obj


#: keys of a stored figure that can reach outside the page (remote images, links, scripts in templates' images)
_DROPPED_KEYS = frozenset({"images", "href", "source"})


def sanitized(fig: go.Figure) -> go.Figure:
    """A stored figure made safe to show: no layout or template images (a remote ``source`` would be fetched by
    the browser), no links or other HTML in any text (``<a href>``, styles), only ``<br> <b> <i> <sup> <sub>``
    kept; image traces lose a URL source. Numbers are untouched. Returns a new figure."""
    doc = _clean(fig.to_plotly_json())
    return go.Figure(doc)
