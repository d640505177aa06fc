"""Figures of the influence-function attack (paper 003 Fig. 4a, Appendix G): the most influential training digits
of a test digit before and after. Pure builders: data in, ``go.Figure`` out."""
from __future__ import annotations

import plotly.graph_objects as go
import torch

from .images import image_grid_figure


def influential_digits_figure(train_images: torch.Tensor, train_labels: torch.Tensor, natural, adversarial,
                              i: int = 0, row_titles: tuple[str, str] = ("natural", "adversarial")) -> go.Figure:
    """Two rows of training digits: the k most influential for the natural (top) and the adversarial digit
    (bottom) of image ``i``; ``natural``/``adversarial`` are ``InfluenceExplanation``s. Each title gives the
    training index, its label and I(z, x) on two short lines (readable at 14 px over an image's width); a digit in both
    sets is marked with ✓."""
    before, after = natural.top_idx[i].tolist(), adversarial.top_idx[i].tolist()
    titles = []
    for row, (idx, expl, other) in enumerate(((before, natural, after), (after, adversarial, before))):
        for j in idx:
            mark = " ✓" if j in other else ""
            titles.append(f"#{j} ({int(train_labels[j])}){mark}<br>{float(expl.scores[i, j]):.2g}")  # 2 short lines
    images = train_images[before + after]
    return image_grid_figure(images, titles, cols=len(before), row_titles=list(row_titles), cell=110)
