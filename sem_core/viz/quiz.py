"""The classroom quiz's pictures: a question's figures from its data (``Question.public()["data"]``) and the class's
answers as bars. Pure: data in, pixels (uint8 [H,W,3]) or an SVG string out, drawn by the browser for free.

    for caption, pic in question_pictures(state.question):   # [("the digit", pixels), ("A and B", "<svg …>")]
        ...
    tally_svg({"A": 3, "B": 2}, correct="B")
"""
from __future__ import annotations

from html import escape
from types import SimpleNamespace
from typing import Any, Mapping

import numpy as np

from .static import explanations_svg, image_pixels, maps_pixels, titled_panels

__all__ = ["question_pictures", "tally_svg"]

RIGHT, OTHER, PLAIN = "#2e7d32", "#b0b7c3", "#1f6fb2"   # the correct answer after the reveal, the others, before


def question_pictures(question: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """What a question shows, as (caption, picture) pairs in order: the digit (``data["digit"]``, [28,28]), the two
    digits (``data["digits"]``), concept bars per panel (``data["bars"]``: lists of h, one panel per title), saliency
    maps over the digit (``data["maps"]``: two [28,28] on one scale)."""
    data, out = question["data"], []
    titles = list(data.get("titles", ()))
    if "digits" in data:
        panels = [image_pixels(np.asarray(d), scale=8) for d in data["digits"]]
        out.append(("", titled_panels(panels, titles)))
    elif "digit" in data:
        out.append(("the digit", image_pixels(np.asarray(data["digit"]), scale=8)))
    if "bars" in data:
        expls = [SimpleNamespace(concepts=np.asarray([v], dtype=np.float32)) for v in data["bars"]]
        out.append(("SENN's concepts h (c1, c2, …)", explanations_svg(expls, titles, fields=("concepts",),
                                                                      panel_h=150)))
    if "maps" in data:
        digit = np.asarray(data["digit"])
        out.append(("importance of each pixel (brighter: more)",
                    maps_pixels(*(np.asarray(m) for m in data["maps"]), titles=titles, images=(digit, digit))))
    return out


def tally_svg(tally: Mapping[str, int], correct: str | None = None, width: int = 640) -> str:
    """The class's answers as horizontal bars, one per option with its count; after the reveal (``correct``) the
    right answer's bar is green and marked "✓", the others grey. Every bar carries its count as ``data-count``."""
    options = list(tally)
    most = max([*tally.values(), 1])
    row, label_w, count_w = 44, 70, 60
    height = row * len(options) + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'font-family="sans-serif" font-size="24" role="img" aria-label="answers so far">']
    for i, option in enumerate(options):
        y, n = 4 + i * row, int(tally[option])
        color = PLAIN if correct is None else RIGHT if option == correct else OTHER
        w = (width - label_w - count_w) * n / most
        mark = " ✓" if option == correct else ""
        out.append(f'<text x="{label_w - 10}" y="{y + row * 0.62:.1f}" text-anchor="end">{escape(option)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 2):.1f}" height="{row - 12}" fill="{color}" '
                   f'data-count="{n}"/>')
        out.append(f'<text x="{label_w + w + 8:.1f}" y="{y + row * 0.62:.1f}">{n}{mark}</text>')
    out.append("</svg>")
    return "\n".join(out)
