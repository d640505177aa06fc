"""How a page shows a figure: a plotly chart, or a picture (PNG pixels or an SVG) that the browser draws at almost
no cost, with the figure's downloads folded under it, and the page's "Interactive charts" switch between the two.

    interactive = interactive_charts("sal_interactive")
    figure(partial(maps_before_after, i0, i1), partial(maps_pixels, i0, i1), "sal_maps", "saliency-maps",
           interactive=interactive)
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.ui.downloads import figure_downloads
from app_pages.ui.layout import presenting
from sem_core.viz.base import PRESENTER_FONT_PX, PRESENTER_GROWTH, readable_text
from sem_core.viz.text import escape_markdown as safe_text

IMAGE_CHART = {"displayModeBar": False}  # st.plotly_chart config for digits and maps: no zoom/pan tool bar


def chart(fig, key: str, stem: str | None = None, container=st, image: bool = False, **kw):
    """A plotly figure with its downloads (PNG, SVG, HTML) folded under it. ``image``: a digit or map (no
    zoom tool bar). Returns what ``st.plotly_chart`` returns (the selection when ``on_select`` is given)."""
    config = IMAGE_CHART if image else None
    # every text at least FONT_PX (presenter mode: PRESENTER_FONT_PX, the figure taller); a copy, the download keeps
    # the original
    shown = (readable_text(fig, PRESENTER_FONT_PX, PRESENTER_GROWTH) if presenting() else readable_text(fig))
    ev = container.plotly_chart(shown, key=key, config=config, **{"width": "stretch", **kw})
    _download_popover(fig, key, stem, container)
    return ev


def _download_popover(fig, key: str, stem: str | None, container) -> None:
    """"Download figure" folded under a figure (not in presenter mode): ``figure_downloads`` of ``fig``."""
    if not presenting():
        with container.popover("Download figure", icon=":material/download:", key=f"{key}_pop"):
            figure_downloads(fig, stem or key, key=f"{key}_dl")


def interactive_charts(key: str) -> bool:
    """The page's "Interactive charts" switch. Off (the default): figures are drawn as pictures (PNG digits, SVG
    bars), which the browser draws at almost no cost; on: plotly charts with zoom and hover. The numbers are the
    same; the downloads (PNG, SVG, HTML) are the same plotly figures either way."""
    return st.toggle("Interactive charts", key=key,
                     help="Zoom, pan and hover values on every figure. Off, the figures are pictures that a busy "
                          "server or a slow laptop draws about 4× faster (≈ 0.5 s instead of ≈ 2 s of browser CPU "
                          "per result, benchmarks/bench_page_cpu.py); exact values: switch this on, or the CSV download.")


def picture(pixels, title: str, key: str, figure, stem: str | None = None, container=st, caption: str = "",
            width: int | str = "stretch") -> None:
    """A static figure: ``pixels`` (uint8 [H,W] or [H,W,3], an image) or an SVG string, under ``title``, with the
    downloads of the equivalent plotly figure (``figure``: a function that builds it, called only on a click)
    folded under it, as ``chart`` has them. ``width``: of an image, "stretch" (the container's) or pixels (a
    picture with text in it stays sharp at its own size).

    An SVG is shown as an image (``<img>``, a data URL): the browser's own SVG parser draws it. Inline, as raw HTML in
    ``st.markdown`` (st.html's sanitiser drops SVG), the page's Markdown pipeline parsed its ≈ 550 tags into React
    elements on every run, the largest single cost of the concept page's result (benchmarks/bench_page_cpu.py). The
    price: its bars' hover tooltips; exact values are in the Interactive charts and the CSV download."""
    if title:
        container.markdown(f"**{safe_text(title)}**")
    container.image(pixels if isinstance(pixels, str) else png_data_url(pixels), width=width)
    if caption:
        container.caption(caption)
    _download_popover(figure, key, stem, container)


def png_data_url(pixels) -> str:
    """uint8 pixels [H,W] or [H,W,3] as a PNG data URL: the picture travels inside the page's message. Handed the
    array, ``st.image`` stores a PNG per session on the server and the browser asks for each with a request of its
    own, one more wait per picture while a class shares the server (benchmarks/bench_load.py). Pixels with text
    drawn in (``sem_core.viz.static.TextPixels``) carry its font size as the PNG text chunk ``text_px``, which
    tests/app/test_figure_text_browser.py reads to size that text on screen."""
    import base64
    import io

    from PIL import Image, PngImagePlugin

    from sem_core.digit_io import png_bytes

    text_px = getattr(pixels, "text_px", 0)
    if not text_px:
        return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode()
    info, buf = PngImagePlugin.PngInfo(), io.BytesIO()
    info.add_text("text_px", f"{text_px:g}")
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG", pnginfo=info)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figure(build, draw, key: str, stem: str | None = None, *, interactive: bool, title: str = "", container=st,
           caption: str = "", width: int | str = "stretch", image: bool = True) -> None:
    """One figure of a page with an Interactive charts switch: the plotly chart ``build()`` when ``interactive``
    (``image``: a digit or map, as ``chart`` takes it), else the picture ``draw()`` (pixels or an SVG string) under
    ``title`` with ``caption``, and ``build``'s downloads (``picture``). ``width="natural"``: the picture at its own
    width (text drawn into it stays sharp)."""
    if interactive:
        chart(build(), key, stem, container=container, image=image)
        return
    pixels = draw()
    if width == "natural":  # text drawn in stays sharp at its own size; presenter mode: as wide as the page allows
        width = "stretch" if presenting() else pixels.shape[1]
    picture(pixels, title, key, build, stem, container=container, caption=caption, width=width)
