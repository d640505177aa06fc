"""Static (raster and SVG) versions of the figures of the concept, prototype and saliency pages and the guided
tour, for a browser that must stay light.

A plotly chart costs the browser ≈ 1.2 s of CPU for a page's first chart and ≈ 0.05 s for each further
one; a PNG costs it next to nothing (benchmarks/bench_latency.py, table 2). When 20 sessions of a class share one
server's cores, or a student's laptop is slow, that is most of the time from the click to the pixels
(benchmarks/bench_load.py). These functions draw the same numbers, on the same colour scales, as the
plotly figures in ``images.py``, ``maps.py`` and ``lipschitz.py``: digits and maps as pixel arrays
(nearest-neighbour upscaled, so every input pixel stays a crisp square), titled grids and rows of panels with their
titles drawn in (Pillow's own font), and SENN's explanation bars as one SVG. They return arrays or strings and know
nothing about Streamlit.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np

from .base import DIFF_COLORS, IMAGE_COLORS, MAP_COLORS, OVERLAY_COLORS, to_np
from .images import NEG, PANEL_NAMES as PANELS, POS, SENN_FIELDS, grid_origin


SVG_TEXT = 24      # explanations_svg's text, in its units: ≥ FONT_PX where its 930 units fill a 560-px column
LUT_N = 511  # entries of a colour look-up table: 2 per grey level, and one for the middle


def _upscale(a: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel of ``a`` (its first two axes) as a ``scale``×``scale`` square."""
    return np.repeat(np.repeat(a, scale, 0), scale, 1)


def _grey(a: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) as uint8 grey levels."""
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


def _rgba(color: str) -> tuple[float, float, float, float]:
    """"rgba(r,g,b,a)" as numbers (plotly's ``unlabel_rgb`` drops the a)."""
    r, g, b, a = (float(v) for v in color[color.index("(") + 1:color.rindex(")")].split(","))
    return r, g, b, a


@lru_cache(maxsize=None)
def _lut(colors: tuple[tuple[float, str], ...]) -> np.ndarray:
    """A plotly colour scale (stops ``(position, colour)``) as a uint8 RGB look-up table of ``LUT_N`` entries (odd,
    so a diverging scale's middle, 0, has an entry of its own), sampled by plotly itself."""
    import plotly.colors as pc

    rgb = pc.sample_colorscale([list(c) for c in colors], np.linspace(0.0, 1.0, LUT_N).tolist(), colortype="tuple")
    return np.round(np.asarray(rgb) * 255).astype(np.uint8)


def image_pixels(img, colors=IMAGE_COLORS, zmin: float = 0.0, zmax: float = 1.0, scale: int = 8) -> np.ndarray:
    """A map [28,28] (or [1,1,28,28]) as uint8 RGB [28·scale, 28·scale, 3]: ``colors`` (a plotly scale) over
    [``zmin``, ``zmax``], values outside clipped, each pixel a ``scale``×``scale`` square. Grey digits use the
    default scale on [0, 1], as ``image_figure`` draws them."""
    if zmax <= zmin:
        raise ValueError(f"zmax ({zmax}) must exceed zmin ({zmin})")
    a = to_np(img).reshape(28, 28).astype(np.float64)
    idx = np.round(np.clip((a - zmin) / (zmax - zmin), 0.0, 1.0) * (LUT_N - 1)).astype(np.intp)
    rgb = _lut(tuple((float(p), str(c)) for p, c in colors))[idx]
    return _upscale(rgb, scale)


def signed_pixels(delta, scale: int = 8) -> tuple[np.ndarray, float]:
    """A signed map [28,28] (the perturbation x* − x) on the diverging scale ``perturbation_figure`` uses,
    symmetric around 0 (red = darker, white = unchanged, blue = brighter): the RGB pixels and the value that
    gets full colour (the largest |δ|), for the caption."""
    a = to_np(delta).reshape(28, 28)
    m = float(np.abs(a).max()) or 1e-6
    return image_pixels(a, DIFF_COLORS, -m, m, scale), m


def grid_pixels(images, cols: int, gap: int = 2, scale: int = 2) -> np.ndarray:
    """``images`` [n,28,28] (or [n,1,28,28]) in [0,1] tiled ``cols`` to a row, white gaps between them, as a
    grey uint8 array (the concept grounding grid: row i = concept i)."""
    a = to_np(images).reshape(-1, 28, 28)
    rows = -(-len(a) // cols)
    out = np.full((rows * (28 + gap) - gap, cols * (28 + gap) - gap), 255, np.uint8)
    for i, img in enumerate(a):
        r0, c0 = grid_origin(i, cols, gap, gap)              # where image_grid_figure puts it (no titles)
        out[r0: r0 + 28, c0: c0 + 28] = _grey(img)
    return _upscale(out, scale)


@lru_cache(maxsize=8)
def _font(px: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=px)   # Pillow's own scalable font: no font file to ship or find


class TextPixels(np.ndarray):
    """uint8 pixels with text drawn into them; ``text_px``: the font size of that text, in the picture's pixels
    (``app_pages.ui.figures.png_data_url`` records it in the PNG, so a browser test can size it on screen)."""

    text_px: float = 0.0

    def __array_finalize__(self, obj) -> None:
        self.text_px = getattr(obj, "text_px", 0.0)


def _with_text(canvas, font_px: float) -> TextPixels:
    out = np.asarray(canvas).view(TextPixels)
    out.text_px = float(font_px)
    return out


def _title_lines(draw, title: str, font, width: float) -> list[str]:
    """``title`` cut at spaces into lines no wider than ``width`` pixels in ``font``."""
    lines: list[str] = []
    for word in str(title).split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def titled_grid_pixels(images, titles: Sequence[str], cols: int, scale: int = 4, gap: int = 2,
                       title_px: int = 35) -> np.ndarray:
    """``images`` [n,28,28] (or [n,1,28,28]) in [0,1] tiled ``cols`` to a row, each under its title, as one grey
    uint8 picture on white: what ``image_grid_figure`` draws (PrototypeDL's prototypes "P3: 4", an attack's digits
    before and after). Each input pixel is a ``scale``×``scale`` square; ``gap`` input pixels between images; the
    titles are drawn in a strip of ``title_px`` pixels a line above each row (a title wider than its image wraps),
    in a font of 0.75 × ``title_px`` (``TextPixels.text_px``)."""
    from PIL import Image, ImageDraw

    a = to_np(images).reshape(-1, 28, 28)
    if len(titles) != len(a):
        raise ValueError(f"{len(a)} images but {len(titles)} titles")
    side, space = 28 * scale, gap * scale
    rows = -(-len(a) // cols)
    font_px = max(8, round(title_px * 0.75))
    font = _font(font_px)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    lines = [_title_lines(probe, t, font, side + space * 0.8) for t in titles]
    strip = title_px * max(len(t) for t in lines)
    canvas = Image.new("L", (cols * (side + space) - space, rows * (strip + side + space) - space), 255)
    draw = ImageDraw.Draw(canvas)
    for i, (img, title) in enumerate(zip(a, lines)):
        top, left = (i // cols) * (strip + side + space), (i % cols) * (side + space)
        canvas.paste(Image.fromarray(_upscale(_grey(img), scale)), (left, top + strip))
        for n, text in enumerate(title):
            base = top + strip - 3 - (len(title) - 1 - n) * title_px
            draw.text((left + side / 2, base), text, fill=38, font=font, anchor="ms")
    return _with_text(canvas, font_px)


def map_pixels(m, colors, zmin: float, zmax: float, reversescale: bool = False, scale: int = 8) -> np.ndarray:
    """A map [28,28] on a ``map_scale`` colour scale (pass its dict as keywords): as ``heat`` draws it."""
    if reversescale:
        colors = [[1.0 - float(p), c] for p, c in reversed(colors)]
    return image_pixels(m, colors, zmin, zmax, scale=scale)


def titled_panels(panels: Sequence[np.ndarray], titles: Sequence[str], gap: int = 16, title_px: int = 37) -> np.ndarray:
    """RGB pictures [h,w,3] of one height in a row, ``gap`` pixels apart, each under its title: one uint8 RGB
    picture on white (a figure of several panels with different colour scales, e.g. a digit, its maps and their
    difference). The titles are drawn in a font of 0.7 × ``title_px`` (``TextPixels.text_px``), in a strip of
    ``title_px`` pixels a line: a title wider than its panel wraps onto more lines."""
    from PIL import Image, ImageDraw

    if len(titles) != len(panels):
        raise ValueError(f"{len(panels)} panels but {len(titles)} titles")
    if len({p.shape[0] for p in panels}) != 1:
        raise ValueError("the panels must have one height")
    h = panels[0].shape[0]
    font_px = max(8, round(title_px * 0.7))
    font = _font(font_px)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [_title_lines(probe, t, font, p.shape[1] + gap * 0.8) for p, t in zip(panels, titles)]
    strip = title_px * max(len(t) for t in lines)
    canvas = Image.new("RGB", (sum(p.shape[1] for p in panels) + gap * (len(panels) - 1), strip + h), "white")
    draw, left = ImageDraw.Draw(canvas), 0
    for panel, title in zip(panels, lines):
        canvas.paste(Image.fromarray(panel), (left, strip))
        for n, text in enumerate(title):
            base = strip - 5 - (len(title) - 1 - n) * title_px
            draw.text((left + panel.shape[1] / 2, base), text, fill=(38, 39, 48), font=font, anchor="ms")
        left += panel.shape[1] + gap
    return _with_text(canvas, font_px)


def overlay_pixels(digit, importance, zmax: float, center: Sequence[float] | None = None,
                   scale: int = 8) -> np.ndarray:
    """An importance map [28,28] over its digit, as ``maps_side_by_side`` draws it with ``images``: the digit in
    grey (``DIM_DIGIT``), the map on ``MAP_COLORS`` from 0 to ``zmax`` with its opacity rising from 0 (zero importance
    shows the digit) as ``OVERLAY_COLORS`` does; ``center`` (row, col), the map's center of mass, as a cyan cross."""
    from .maps import DIM_DIGIT

    under = image_pixels(digit, DIM_DIGIT, scale=scale).astype(np.float64)
    over = image_pixels(importance, MAP_COLORS, 0.0, max(float(zmax), 1e-12), scale=scale).astype(np.float64)
    v = np.clip(to_np(importance).reshape(28, 28) / max(float(zmax), 1e-12), 0.0, 1.0)
    stops = [float(p) for p, _ in OVERLAY_COLORS]
    alphas = [_rgba(c)[3] for _, c in OVERLAY_COLORS]
    alpha = _upscale(np.interp(v, stops, alphas), scale)[..., None]
    out = np.round(alpha * over + (1 - alpha) * under).astype(np.uint8)
    if center is not None:
        _mark(out, center, scale)
    return out


def maps_pixels(before, after, titles: Sequence[str] = ("natural", "adversarial"), images=None,
                scale: int = 10) -> np.ndarray:
    """``maps_before_after`` as a picture: two maps [28,28] side by side on one scale (``map_scale``), each with its
    center of mass marked; with ``images`` (the two digits) non-negative maps are drawn over their digits."""
    import torch

    from ..metrics import center_of_mass
    from .base import map_scale

    maps = [torch.as_tensor(m, dtype=torch.float32).reshape(28, 28) for m in (before, after)]
    shared = map_scale(*maps)
    centers = center_of_mass(torch.stack(maps)).tolist()
    if images is not None and "reversescale" not in shared:   # overlays are for non-negative maps, as in plotly
        panels = [overlay_pixels(d, m, shared["zmax"], c, scale=scale) for d, m, c in zip(images, maps, centers)]
    else:
        panels = [map_pixels(m, **shared, scale=scale) for m in maps]
        for p, c in zip(panels, centers):
            _mark(p, c, scale)
    return titled_panels(panels, titles)


def digits_pixels(x, x_adv, titles: Sequence[str] = ("natural", "adversarial", "perturbation"),
                  scale: int = 8) -> tuple[np.ndarray, float]:
    """``images_figure`` as a picture: the two digits and their difference on a scale symmetric around 0 (red:
    darker, blue: brighter); returns it and the |difference| that gets full colour."""
    d = to_np(x_adv).reshape(28, 28) - to_np(x).reshape(28, 28)
    diff, full = signed_pixels(d, scale=scale)
    return titled_panels([image_pixels(x, scale=scale), image_pixels(x_adv, scale=scale), diff], titles), full


def region_pixels(img, mask, scale: int = 8) -> np.ndarray:
    """``region_overlay`` as a picture: the digit in grey, the target region ``mask`` [28,28] tinted as
    ``REGION_COLOR``."""
    from .maps import REGION_COLOR

    *rgb, alpha = _rgba(REGION_COLOR)
    out = image_pixels(img, scale=scale).astype(np.float64)
    inside = _upscale(to_np(mask).reshape(28, 28) > 0, scale)
    out[inside] = alpha * np.asarray(rgb) + (1 - alpha) * out[inside]
    return np.round(out).astype(np.uint8)


def pair_pixels(x, x_prime, e, e_prime, titles: Sequence[str], scale: int = 5, gap: int = 12) -> np.ndarray:
    """``pair_figure`` of two pixel maps as a picture: x and x′, their maps E(x), E(x′) on one ``map_scale``, and
    E(x′) − E(x) on a diverging scale symmetric around 0 (red: grew, blue: shrank), each under its title."""
    import torch

    from .base import map_scale

    if any(torch.as_tensor(m).numel() != 784 for m in (e, e_prime)):
        raise ValueError("pair_pixels draws 28×28 maps; pair_figure draws other explanations")
    a, b = (torch.as_tensor(m, dtype=torch.float32).reshape(28, 28) for m in (e, e_prime))
    d = b - a
    shared = map_scale(a, b)
    panels = [image_pixels(x, scale=scale), image_pixels(x_prime, scale=scale), map_pixels(a, **shared, scale=scale),
              map_pixels(b, **shared, scale=scale), map_pixels(d, **map_scale(-d.abs(), d.abs()), scale=scale)]
    return titled_panels(panels, titles, gap=gap)


def explainer_grid_pixels(maps_nat, maps_adv, names: Sequence[str], scale: int = 4, gap: int = 6) -> np.ndarray:
    """``explainer_grid`` as a picture: one column per explainer (its name above), the natural digit's map over
    the adversarial one's, on the column's own scale (the explainers' units differ)."""
    from .base import map_scale

    if not len(maps_nat) == len(maps_adv) == len(names):
        raise ValueError("one natural and one adversarial map per explainer")
    columns = []
    for a, b in zip(maps_nat, maps_adv):
        shared = map_scale(a, b)
        top, bottom = map_pixels(a, **shared, scale=scale), map_pixels(b, **shared, scale=scale)
        columns.append(np.concatenate([top, np.full((gap, top.shape[1], 3), 255, np.uint8), bottom]))
    return titled_panels(columns, names, gap=gap)


def _mark(pixels: np.ndarray, center: Sequence[float], scale: int) -> None:
    """An "x" as ``CENTER_STYLE`` marks a center of mass (row, col), two pixels thick, drawn into ``pixels``."""
    import plotly.colors as pc

    from .maps import CENTER_STYLE

    rgb = pc.hex_to_rgb(CENTER_STYLE["color"])
    r, c = ((float(t) + 0.5) * scale for t in center)
    for d in np.arange(-1.5 * scale, 1.5 * scale + 0.5, 0.5):
        for rr, cc in ((r + d, c + d), (r + d, c - d)):
            i, j = int(rr), int(cc)
            pixels[max(i - 1, 0): i + 1, max(j - 1, 0): j + 1] = rgb


def _num(v: float) -> str:
    return f"{v:.3g}"


def _text_w(text: str, size: float) -> float:
    """About how wide ``text`` is in a sans-serif font of ``size`` (0.6 em a character: wide enough for digits)."""
    return 0.6 * size * len(text)


def _wrap(text: str, width: float, size: float) -> list[str]:
    """``text`` cut at spaces into lines of at most ``width`` (a word longer than that keeps a line of its own)."""
    lines: list[str] = []
    for word in str(text).split(" "):
        if lines and _text_w(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def explanations_svg(explanations: Sequence, titles: Sequence[str], ranges=None, panel_w: int = 260,
                     panel_h: int = 110, fields: Sequence[str] = SENN_FIELDS, text: float = SVG_TEXT) -> str:
    """SENN explanations side by side as one SVG: a column per explanation (its first image), rows h, θ and θ·h
    (paper 000 Fig. 1), each named above its panels, positive bars blue and negative red, each row on one y-range
    shared by every column, as ``explanation_figure`` draws them. Every bar carries its value as a tooltip
    (``<title>``) and as ``data-value``. ``ranges``: one (lo, hi) per row (``senn_ranges``); None fits each row over
    all columns. ``fields``: the rows to draw, of ``SENN_FIELDS`` (the tour shows the concepts only). ``text``: the
    size of every text in the SVG's units (the SVG is drawn at the width of its container: ``SVG_TEXT`` keeps it at
    ``FONT_PX`` or more in a 560-px column); titles too wide for their panel wrap, and when the concepts' labels
    would touch only every other one (every third, …) is written.

    Why not matplotlib: one 3×3 matplotlib figure took 0.34–0.77 s of server CPU here (a class of 20 pays that
    20 times on 2 cores); this string takes about a millisecond, and the browser draws it for free."""
    from html import escape

    if len(titles) != len(explanations):
        raise ValueError(f"{len(explanations)} explanations but {len(titles)} titles")
    unknown = set(fields) - set(SENN_FIELDS)
    if unknown or not fields:
        raise ValueError(f"fields must be some of {SENN_FIELDS}, got {list(fields)}")
    names = [PANELS[SENN_FIELDS.index(f)] for f in fields]
    rows = [[to_np(getattr(e, f)[0]).reshape(-1).astype(float) for e in explanations] for f in fields]
    if ranges is None:
        ranges = [(min(0.0, min(v.min() for v in r)), max(0.0, max(v.max() for v in r))) for r in rows]
    k = len(rows[0][0])
    wrapped = [_wrap(t, panel_w, text * 1.1) for t in titles]
    line = text * 1.25                                      # a line of text, baseline to baseline
    left, gap_x, row_head, bottom = round(text * 4.4), 14, line + 4, line + 6
    top = 6 + line * 1.1 * max(len(w) for w in wrapped)
    width = left + len(explanations) * (panel_w + gap_x)
    height = top + len(rows) * (row_head + panel_h) + bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="100%" '
           f'font-family="sans-serif" font-size="{text:g}" role="img" aria-label="SENN explanations: '
           f'{escape(", ".join(titles))}">']
    for c, lines in enumerate(wrapped):
        x0 = left + c * (panel_w + gap_x) + panel_w / 2
        spans = "".join(f'<tspan x="{x0}" dy="{0 if n == 0 else line * 1.1:.1f}">{escape(t)}</tspan>'
                        for n, t in enumerate(lines))
        out.append(f'<text y="{text * 1.1:.1f}" text-anchor="middle" font-size="{text * 1.1:g}">{spans}</text>')
    slot = panel_w / k
    every = max(1, math.ceil(_text_w(f"c{k}", text) * 1.15 / slot))   # concept labels that never touch
    for r, (panel, values) in enumerate(zip(names, rows)):
        lo, hi = (float(b) for b in ranges[r])
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        y0 = top + r * (row_head + panel_h) + row_head

        def y(v: float) -> float:
            return y0 + (hi - min(max(v, lo), hi)) / (hi - lo) * panel_h

        out.append(f'<text x="{left}" y="{y0 - 8:.1f}">{escape(panel)}</text>')
        ticks: list[float] = []
        for v_tick in (hi, lo, 0.0):                          # the ends first; none closer than a line to another
            if all(abs(y(v_tick) - y(t)) >= text * 1.05 for t in ticks):
                ticks.append(v_tick)
        for v_tick in ticks:
            out.append(f'<text x="{left - 6}" y="{y(v_tick) + text * 0.35:.1f}" text-anchor="end" fill="#444">'
                       f'{_num(v_tick)}</text>')
        for c, v in enumerate(values):
            x0 = left + c * (panel_w + gap_x)
            out.append(f'<rect x="{x0}" y="{y0:.1f}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#ddd"/>')
            zero = y(0.0)
            for i, vi in enumerate(v):
                yt, yb = sorted((y(float(vi)), zero))
                out.append(f'<rect x="{x0 + i * slot + slot * 0.125:.1f}" y="{yt:.1f}" width="{slot * 0.75:.1f}" '
                           f'height="{max(yb - yt, 0.5):.1f}" fill="{POS if vi >= 0 else NEG}" data-value="{vi:.6g}">'
                           f'<title>{escape(titles[c])}, {escape(panel.split()[0])} c{i + 1}: {vi:.3f}</title></rect>')
            out.append(f'<line x1="{x0}" x2="{x0 + panel_w}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#888"/>')
            if r == len(rows) - 1:
                for i in range(0, k, every):
                    out.append(f'<text x="{x0 + (i + 0.5) * slot:.1f}" y="{y0 + panel_h + line:.1f}" '
                               f'text-anchor="middle">c{i + 1}</text>')
    out.append("</svg>")
    return "\n".join(out)  # one element a line, no blank line: Markdown takes it as one raw HTML block
