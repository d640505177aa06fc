"""Figure export for slides and papers: HTML always, PNG and SVG through kaleido (which drives a Chromium
installed on the machine).

PNG is rendered at ``width`` CSS pixels × ``scale``: 1200 × 2 = 2400 px wide by default, sharp on a
projector; SVG keeps vectors (text stays text).

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


def _size(fig: go.Figure, width: int | None, height: int | None) -> tuple[int, int]:
    w = max(int(width or fig.layout.width or EXPORT_WIDTH), EXPORT_WIDTH)
    return w, int(height or fig.layout.height or 500)


def _image(fig: go.Figure, fmt: str, width: int | None, height: int | None, scale: float) -> bytes:
    if importlib.util.find_spec("kaleido") is None:
        raise SemError(f"{fmt.upper()} export needs the kaleido package (pip install kaleido); "
                       "the HTML download works without it")
    w, h = _size(fig, width, height)
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
