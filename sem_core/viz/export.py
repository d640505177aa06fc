"""Figure export for slides and papers: HTML always, PNG and SVG through kaleido (which drives a Chromium
installed on the machine).

PNG is rendered at ``width`` CSS pixels × ``scale``: 1200 × 2 = 2400 px wide by default, sharp on a
projector; SVG keeps vectors (text stays text). A picture of one digit or one grid of digits (a single image trace on
square pixels, no width of its own) is exported at the width its content needs, so the file has no empty margins
beside the digit: its PNG is scaled up to stay at least 1200 px wide.

Example:
    png = figure_png(fig)            # bytes, ≥ 1200 px wide
    svg = figure_svg(fig)
"""
from __future__ import annotations

import importlib.util

import plotly.graph_objects as go

from ..errors import SemError

EXPORT_WIDTH = 1200  # CSS pixels: the narrowest export; a figure drawn wider keeps its own width


def figure_html(fig: go.Figure) -> bytes:
    """A standalone HTML page (plotly.js embedded, works offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


def content_width(fig: go.Figure) -> int | None:
    """The CSS width at which an image figure (one heatmap or picture trace on square pixels, a height and no width
    of its own: ``image_figure``, ``image_grid_figure``) shows its pixels with no empty side margins; None for any
    other figure."""
    lay = fig.layout
    if lay.width or not lay.height or len(fig.data) != 1 or lay.yaxis.scaleanchor != "x":
        return None
    z = getattr(fig.data[0], "z", None)
    if z is None or not hasattr(z, "shape") and not isinstance(z, (list, tuple)):
        return None
    rows, cols = (z.shape[0], z.shape[1]) if hasattr(z, "shape") else (len(z), len(z[0]))
    m = lay.margin
    plot_h = lay.height - (m.t if m.t is not None else 100) - (m.b if m.b is not None else 80)
    if plot_h <= 0:
        return None
    return int(round(plot_h * cols / rows)) + (m.l if m.l is not None else 80) + (m.r if m.r is not None else 80)


def _size(fig: go.Figure, width: int | None, height: int | None) -> tuple[int, int]:
    own = None if width else content_width(fig)
    w = own or max(int(width or fig.layout.width or EXPORT_WIDTH), EXPORT_WIDTH)
    return w, int(height or fig.layout.height or 500)


def _image(fig: go.Figure, fmt: str, width: int | None, height: int | None, scale: float) -> bytes:
    if importlib.util.find_spec("kaleido") is None:
        raise SemError(f"{fmt.upper()} export needs the kaleido package (pip install kaleido); "
                       "the HTML download works without it")
    w, h = _size(fig, width, height)
    scale = max(scale, EXPORT_WIDTH / w) if fmt == "png" else scale   # a digit's own width: still ≥ 1200 px
    try:
        return fig.to_image(format=fmt, width=w, height=h, scale=scale)
    except Exception as exc:  # kaleido raises plain RuntimeErrors when it finds no browser
        raise SemError(f"{fmt.upper()} export needs a Chromium on this machine for kaleido to drive "
                       f"(e.g. `apt-get install chromium`); the HTML download works without it ({type(exc).__name__})") from exc


def figure_png(fig: go.Figure, width: int | None = None, height: int | None = None, scale: float = 2) -> bytes:
    """PNG bytes, at least ``EXPORT_WIDTH`` × ``scale`` pixels wide; raises SemError saying what is missing
    when kaleido or a Chromium is not there."""
    return _image(fig, "png", width, height, scale)


def figure_svg(fig: go.Figure, width: int | None = None, height: int | None = None) -> bytes:
    """SVG bytes (vector, for papers); same requirements and errors as ``figure_png``."""
    return _image(fig, "svg", width, height, 1)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels read from a PNG's IHDR header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise SemError("not a PNG file")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
