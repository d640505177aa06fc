"""Figure export: HTML always, PNG through kaleido (which drives a Chromium installed on the machine)."""
from __future__ import annotations

import importlib.util

import plotly.graph_objects as go

from ..errors import SemError


def figure_html(fig: go.Figure) -> bytes:
    """A standalone HTML page (plotly.js embedded, works offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


def figure_png(fig: go.Figure, width: int = 1000, height: int | None = None) -> bytes:
    """PNG bytes; raises SemError saying what is missing when kaleido or a Chromium is not there."""
    if importlib.util.find_spec("kaleido") is None:
        raise SemError("PNG export needs the kaleido package (pip install kaleido); the HTML download works without it")
    try:
        return fig.to_image(format="png", width=width, height=height or fig.layout.height or 500, scale=2)
    except Exception as exc:  # kaleido raises plain RuntimeErrors when it finds no browser
        raise SemError("PNG export needs a Chromium on this machine for kaleido to drive "
                       f"(e.g. `apt-get install chromium`); the HTML download works without it ({type(exc).__name__})") from exc
