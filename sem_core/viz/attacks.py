"""Builders for attack results: SENN explanations (natural, adversarial, target, replay frames),
predictions, class probabilities and importance maps before/after (data in, figure or table out).

Example:
    expls = [res.explanations[k] for k in ("natural", "adversarial", "target")]
    ranges = senn_ranges(expls)                       # one scale for all three
    fig = senn_figure(expls[1], ranges=ranges)        # x*'s concepts, relevances, contributions
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import torch

from ..metrics import center_of_mass
from .images import explanation_figure, explanation_ranges
from .maps import maps_side_by_side


def stack(expls: Sequence[Any]) -> Any:
    """Several batched SENN explanations as one, every field [B,...] concatenated along the batch."""
    return dataclasses.replace(expls[0], **{f.name: torch.cat([getattr(e, f.name) for e in expls])
                                            for f in dataclasses.fields(expls[0])})


def senn_ranges(expls: Sequence[Any]) -> list[tuple[float, float]]:
    """One y-range per panel shared by every image of every SENN explanation in ``expls``."""
    e = stack(expls)
    return explanation_ranges(e.concepts, e.relevances, e.contributions)


def senn_figure(expl: Any, i: int = 0, ranges=None, title: str = "") -> go.Figure:
    """Image ``i`` of a SENN explanation: concepts h, relevances θ, contributions θ·h (paper 000 Fig. 1)."""
    return explanation_figure(expl.concepts[i], expl.relevances[i], expl.contributions[i], title=title, ranges=ranges)


def senn_figures(expls: Sequence[Any], titles: Sequence[str], ranges=None, height: int = 460) -> go.Figure:
    """Several SENN explanations (the first image of each) side by side in one figure: a column per explanation,
    rows h, θ and θ·h as in ``senn_figure``; ``ranges`` (``senn_ranges``) gives every column of a row one scale.
    The interactive twin of ``static.explanations_svg`` (its download)."""
    from plotly.subplots import make_subplots

    from .images import PANEL_NAMES, SENN_FIELDS, signed_bars

    if len(titles) != len(expls):
        raise ValueError(f"{len(expls)} explanations but {len(titles)} titles")
    fig = make_subplots(rows=3, cols=len(expls), column_titles=list(titles), row_titles=list(PANEL_NAMES),
                        vertical_spacing=0.1, horizontal_spacing=0.04)
    for c, e in enumerate(expls, start=1):
        for r, field in enumerate(SENN_FIELDS, start=1):
            v = getattr(e, field)[0].detach().cpu().float().numpy().reshape(-1)
            fig.add_trace(signed_bars(v, [f"c{i + 1}" for i in range(len(v))]), row=r, col=c)
            if ranges is not None:
                fig.update_yaxes(range=list(ranges[r - 1]), row=r, col=c)
    fig.update_layout(height=height, showlegend=False, margin=dict(t=40, b=20, l=40, r=30))
    return fig


def prediction_text(logits: torch.Tensor) -> str:
    """``logits`` [10] as markdown: the predicted class and its probability."""
    p = torch.softmax(logits.detach().cpu().float(), 0)
    return f"prediction **{int(p.argmax())}** (p = {float(p.max()):.3f})"


def senn_frame(titles: Sequence[str], expls: Sequence[Any]) -> pd.DataFrame:
    """One row per explanation (its first image): title, prediction, probability, concepts h1..hk."""
    h = torch.stack([e.concepts[0] for e in expls])
    p = torch.softmax(torch.stack([e.logits[0] for e in expls]).float(), 1)
    return pd.DataFrame({"image": list(titles), "prediction": p.argmax(1).tolist(), "probability": p.max(1).values.tolist(),
                         **{f"h{i + 1}": h[:, i].tolist() for i in range(h.shape[1])}})


def probabilities_figure(probs: Mapping[str, torch.Tensor], height: int = 300) -> go.Figure:
    """Grouped bars: one group per class 0–9, one bar per model (``probs``: name -> [10])."""
    fig = go.Figure()
    for name, p in probs.items():
        fig.add_bar(x=list(range(10)), y=p.tolist(), name=name)
    fig.update_layout(barmode="group", height=height, xaxis_title="class", yaxis_title="probability",
                      margin=dict(t=20, b=40), xaxis=dict(tickmode="linear", tick0=0, dtick=1))
    return fig


def predictions_table(probs: Mapping[str, torch.Tensor]) -> list[dict]:
    """One row per model: its predicted class and that class's probability."""
    return [{"model": name, "prediction": int(p.argmax()), "probability": float(p.max())} for name, p in probs.items()]


def maps_before_after(before, after, titles: Sequence[str] = ("natural", "adversarial"), images=None) -> go.Figure:
    """Two normalised maps [28,28] side by side on one colour scale, each with its center of mass (Ghorbani
    et al.) marked; ``images`` (natural, adversarial digit) draws each map as an overlay on its digit."""
    c0, c1 = center_of_mass(torch.stack([torch.as_tensor(before).reshape(28, 28), torch.as_tensor(after).reshape(28, 28)]))
    return maps_side_by_side(before, after, titles, (c0.tolist(), c1.tolist()), images=images)


def prediction_change(before: int, after: int, p_before: float, p_after: float) -> str:
    """"stays 3 (p = 0.998 → 0.991)" or "goes from 3 (p = 0.998) to 5 (p = 0.61)": plain words for a slide."""
    if before == after:
        return f"stays **{before}** (p = {p_before:.3f} → {p_after:.3f})"
    return f"goes from **{before}** (p = {p_before:.3f}) to **{after}** (p = {p_after:.3f})"


def result_row(res: Any, **info: Any) -> pd.DataFrame:
    """A one-row table of the first image's attack: ``info`` (model, method...), eps, steps, k, label kept,
    predictions and every metric."""
    return pd.DataFrame([{**info, "eps": res.config["eps"], "steps": res.config["steps"], "k": res.config.get("k"),
                          "label_kept": bool(res.label_kept[0]), "pred_before": int(res.pred_before[0]),
                          "pred_after": int(res.pred_after[0]), **{k: float(v[0]) for k, v in res.metrics.items()}}])
