"""Figures and tables of a batch attack (many digits, one config): the distributions the papers show.

- concept attack (SENN): histograms of the concept distance to the target, natural vs adversarial
  (paper 000 Fig. 2: the adversarial distance falls to the natural in-class level);
- prototype attack (PrototypeDL): histograms of D(x, y) and min over y' ≠ y of D(x, y'), natural vs
  adversarial (paper 000 Fig. 3: the two distributions swap sides);
- saliency attacks: box plots of top-k intersection, Spearman rank correlation and center shift
  (paper 003 Figs. 3–4 report these per method as distributions).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..attacks.labels import metric_label
from .base import to_np
from .experiments import box_figure

HIST_COLORS = {"natural": "#0072B2", "adversarial": "#E69F00"}   # Okabe–Ito blue and orange: colour-blind safe


def histogram_figure(groups: dict[str, Sequence[float]], title: str, x_title: str, nbins: int = 30) -> go.Figure:
    """Overlaid histograms (counts) of named groups on shared bins."""
    values = np.concatenate([np.asarray(v, dtype=float) for v in groups.values()])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    size = (hi - lo) / nbins or 1.0
    fig = go.Figure()
    for name, v in groups.items():
        key = name.split()[0]
        fig.add_histogram(x=list(map(float, v)), name=name, opacity=0.6, xbins=dict(start=lo, end=hi + size, size=size),
                          marker_color=HIST_COLORS.get(key))
    fig.update_layout(barmode="overlay", title=title, xaxis_title=x_title, yaxis_title="digits", height=380,
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=60, b=40, l=60, r=20))
    return fig


def batch_figures(res: Any, family: str) -> list[go.Figure]:
    """The distribution figures of a batch ``AttackResult`` of the ``family`` ("senn", "protodl", "saliency")."""
    m = {k: to_np(v) for k, v in res.metrics.items()}
    kept = to_np(res.label_kept).astype(bool)
    note = f" ({int(kept.sum())} of {len(kept)} labels kept)"
    if family == "senn":
        return [histogram_figure({"natural ‖h(x) − h(x_t)‖": m["concept_distance_nat"],
                                  "adversarial ‖h(x*) − h(x_t)‖": m["concept_distance_adv"]},
                                 "Concept distance to the target (paper 000 Fig. 2)" + note, "L2 distance in concept space")]
    if family == "protodl":
        return [histogram_figure({"natural D(x, y)": m["D_true_nat"], "adversarial D(x*, y)": m["D_true_adv"]},
                                 "Distance to the own class's prototypes (paper 000 Fig. 3)" + note, "D(x, y)"),
                histogram_figure({"natural min D(x, y′)": m["D_other_nat"], "adversarial min D(x*, y′)": m["D_other_adv"]},
                                 "Distance to the nearest other class's prototypes", "min over y′ ≠ y of D(x, y′)")]
    return [box_figure({"top-k intersection": m["topk_intersection"], "Spearman rank correlation": m["spearman"]},
                       "Map similarity after the attack (1 = unchanged; paper 003)" + note, "similarity"),
            box_figure({"center shift (pixels)": m["center_shift"]}, "Center-of-mass shift (paper 003)", "pixels")]


def batch_frame(res: Any, indices: Sequence[int], targets: Sequence[int] | None = None,
                verdicts: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per digit: test index (and target index), label, predictions, label kept, ``verdicts`` (a "Did the
    attack work?" column, when given) and every metric under its label (``attacks.labels.metric_label``)."""
    cols: dict[str, Any] = {"test digit": list(map(int, indices))}
    if targets is not None:
        cols["target digit"] = list(map(int, targets))
    cols.update({"label": to_np(res.y).astype(int), "pred before": to_np(res.pred_before).astype(int),
                 "pred after": to_np(res.pred_after).astype(int), "label kept": to_np(res.label_kept).astype(bool),
                 "L∞": to_np(res.linf)})
    if verdicts is not None:
        cols["Did the attack work?"] = list(verdicts)
    cols.update({metric_label(k): to_np(v) for k, v in res.metrics.items()})
    return pd.DataFrame(cols)


def batch_summary(res: Any) -> dict[str, float]:
    """The label-kept rate ("Labels kept") and the median of every metric ("<its label> (median)")."""
    out = {"Labels kept": float(to_np(res.label_kept).mean())}
    out.update({f"{metric_label(k)} (median)": float(np.median(to_np(v))) for k, v in res.metrics.items()})
    return out
