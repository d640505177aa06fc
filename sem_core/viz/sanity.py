"""Plotly figures of the sanity checks (Adebayo et al. 2018, Figs. 2-4): the similarity to the trained model's
explanation at every randomisation step, and one digit's maps at a step beside the trained model's.

Example:
    similarity_figure(res)                       # one line per explainer: median Spearman per step
    maps_figure(res, digit=0, step=len(res.layers))   # trained vs fully randomised, every explainer
"""
from __future__ import annotations

import re

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..explain import list_explainers
from ..explain.sanity import PASS_BELOW, SELF, SanityResult, explainer_label
from .base import heat, image_axes, to_np

MEASURE_LABELS = {"spearman_abs": "Spearman rank correlation of |map|", "spearman": "Spearman rank correlation "
                  "(signed map)", "ssim": "SSIM of |map|"}
LINE_DASHES = ("solid", "dot", "longdash", "dashdot")   # one per explainer, in order (then again)
MARKERS = ("circle", "square", "diamond", "triangle-up")


def similarity_figure(result: SanityResult, measure: str = "spearman_abs", height: int = 420) -> go.Figure:
    """One line per explainer: the median ``measure`` over the digits at every step (the trained model first), each
    digit's value on hover; the dashed line marks the pass threshold (``PASS_BELOW``) of the Spearman measures."""
    steps = list(result.steps)
    fig = go.Figure()
    for i, e in enumerate(result.explainers):
        values = result.similarity[e].get(measure)
        if values is None:
            continue
        # its own dash and marker: coinciding lines (grad×input and IG often do) stay visible, one through the other
        look = dict(line_dash=LINE_DASHES[i % len(LINE_DASHES)], marker_symbol=MARKERS[i % len(MARKERS)])
        fig.add_trace(go.Scatter(x=steps, y=result.medians(e, measure), mode="lines+markers", name=explainer_label(e),
                                 **look, customdata=[[", ".join(f"{v:.2f}" for v in col)] for col in to_np(values).T],
                                 hovertemplate="%{x}<br>median %{y:.2f}<br>digits: %{customdata[0]}<extra>"
                                               + explainer_label(e) + "</extra>"))
    if measure != "ssim":
        fig.add_hline(y=PASS_BELOW, line_dash="dash", line_color="grey",
                      annotation_text="pass below", annotation_position="top right")
    axis = {"cascading": "randomised down to (cascading, from the output)",
            "independent": "the one layer randomised (independent)", "labels": "model"}[result.mode]
    fig.update_layout(title=f"{MEASURE_LABELS[measure]} with the trained model's explanation", height=height,
                      xaxis_title=axis, yaxis_title="median over the digits", yaxis_range=[-1.05, 1.05],
                      margin=dict(t=60, b=40, l=60, r=20), legend=dict(orientation="h", y=-0.25))
    return fig


def maps_figure(result: SanityResult, digit: int, step: int, height: int = 420) -> go.Figure:
    """Digit ``digit``'s explanations: the trained model's (top row) and at ``step`` (bottom row, 1..L), one column
    per explainer; an image map as a heat map of |map| (each row's own scale), a vector explanation as a one-row
    strip."""
    names = list(result.explainers)
    label = result.steps[step]
    fig = make_subplots(rows=2, cols=max(1, len(names)), vertical_spacing=0.12, horizontal_spacing=0.02,
                        subplot_titles=[explanation_label(e) for e in names] + [""] * len(names))
    for c, e in enumerate(names, start=1):
        for r, s in enumerate((0, step), start=1):
            m = to_np(result.maps[e][digit, s])
            z = abs(m).sum(0) if m.ndim == 3 else abs(m).reshape(1, -1)
            fig.add_trace(heat(z, fmt=".3g"), row=r, col=c)
    image_axes(fig, 2, max(1, len(names)))
    fig.update_yaxes(title_text="trained model", row=1, col=1, visible=True, showticklabels=False)
    fig.update_yaxes(title_text=_short(label), row=2, col=1, visible=True, showticklabels=False)
    fig.update_layout(height=height, margin=dict(t=40, b=10, l=40, r=10))
    return fig


def explainer_options() -> list[str]:
    """What the sanity page offers: every registered explainer, then "self" (the model's own explanation)."""
    return [*list_explainers(), SELF]


def explanation_label(name: str) -> str:
    """An explainer's name as the page shows it, "self" included."""
    return "The model's own explanation" if name == SELF else explainer_label(name)


def with_explainer_labels(text: str) -> str:
    """``text`` with the explainer names a robustness card records (``"Saliency (gradxinput)"``,
    ``"Lipschitz (theta_pred)"``) as a page shows them (``"Saliency (Grad × input)"``, ``"Lipschitz (θ of the
    predicted class)"``); other words unchanged.

    Example:
        with_explainer_labels("Sanity (self)")   # 'Sanity (The model's own explanation)'
    """
    names = {*list_explainers(), SELF, "theta_pred"}
    shown = lambda m: "θ of the predicted class" if m[0] == "theta_pred" else explanation_label(m[0])  # noqa: E731
    return re.sub(rf"(?<![\w-])({'|'.join(sorted(names, key=len, reverse=True))})(?![\w-])", shown, text)


def _short(label: str, chars: int = 28) -> str:
    return label if len(label) <= chars else label[:chars - 1] + "…"


def verdict_lines(result: SanityResult) -> list[tuple[bool, str]]:
    """(passes, sentence) per explainer, in the result's order."""
    return [result.verdict(e) for e in result.explainers]


__all__ = ["MEASURE_LABELS", "PASS_BELOW", "explainer_options", "explanation_label", "maps_figure", "similarity_figure",
           "verdict_lines", "with_explainer_labels"]
