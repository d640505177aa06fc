"""Tables of attack results (data in; a DataFrame, a Styler or a plotly table out; no rendering here).

``prototype_table`` (pandas, for the Prototype attack page) and ``prototype_table_figure`` (plotly, for
the protodl-table experiment) reproduce paper 000 Table 1: rows = prototypes, a Nat./Adv. column pair
per digit, distances to prototypes of the digit's correct class in bold, each column's minimum in red
(both from ``prototype_marks``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from pandas.io.formats.style import Styler

from .experiments import table_figure

RED = "color: #d62728"
BOLD = "font-weight: bold"


def _np(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def _interleaved(dist_nat, dist_adv) -> np.ndarray:
    """[n,m] natural and adversarial distances -> [m, 2n]: per digit a Nat. column, then its Adv. column."""
    nat, adv = _np(dist_nat), _np(dist_adv)
    return np.stack([nat.T, adv.T], axis=2).reshape(nat.shape[1], -1)


def prototype_frame(dist_nat, dist_adv, classes, labels, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The numbers of Table 1 as a DataFrame: index "P{j} (class c)", columns (digit, "Nat."|"Adv.").

    dist_nat, dist_adv: [n,m] prototype distances h_j of n digits before/after the attack;
    classes: [m] class of each prototype; labels: [n] correct class of each digit.
    """
    nat, adv, cls, lab = _np(dist_nat), _np(dist_adv), _np(classes), _np(labels)
    if nat.shape != adv.shape or nat.shape != (len(lab), len(cls)):
        raise ValueError(f"expected [n,m] = [{len(lab)},{len(cls)}] distances, got {nat.shape} and {adv.shape}")
    names = list(names) if names is not None else [f"digit {int(c)}" if list(lab).count(c) == 1 else f"#{i} ({int(c)})"
                                                   for i, c in enumerate(lab)]
    columns = pd.MultiIndex.from_tuples([(nm, k) for nm in names for k in ("Nat.", "Adv.")])
    data = _interleaved(nat, adv)                                                # [m, 2n]
    index = [f"P{j + 1} (class {int(c)})" for j, c in enumerate(cls)]
    return pd.DataFrame(data.astype(float), index=index, columns=columns)


def prototype_marks(dist_nat, dist_adv, classes, labels) -> tuple[np.ndarray, np.ndarray]:
    """(bold, red) boolean masks [m, 2n] in the column order of ``prototype_frame``: bold where the
    prototype belongs to the digit's correct class, red at each column's minimum."""
    cls, lab = _np(classes), _np(labels)
    own = (cls[:, None] == lab[None, :])                                        # [m,n]
    bold = np.repeat(own, 2, axis=1)
    data = _interleaved(dist_nat, dist_adv)
    red = data == data.min(axis=0, keepdims=True)
    return bold, red


def prototype_table(dist_nat, dist_adv, classes, labels, names: Sequence[str] | None = None,
                    decimals: int = 2) -> Styler:
    """Paper 000 Table 1 as a pandas Styler (bold = correct class's prototypes, red = column minimum)."""
    frame = prototype_frame(dist_nat, dist_adv, classes, labels, names)
    bold, red = prototype_marks(dist_nat, dist_adv, classes, labels)
    css = np.where(bold & red, f"{BOLD}; {RED}", np.where(bold, BOLD, np.where(red, RED, "")))
    styles = pd.DataFrame(css, index=frame.index, columns=frame.columns)
    return frame.style.apply(lambda _: styles, axis=None).format(precision=decimals)


def prototype_table_figure(dist_nat, dist_adv, classes, labels, title: str = "") -> go.Figure:
    """Paper 000 Table 1 as a plotly table: a "P{j} (class c)" column (the app's one naming, P1 to Pm), then per digit its Nat. and Adv.
    distances (two decimals); each column's minimum on a red cell, the correct class's prototypes in bold."""
    cls, lab = _np(classes).tolist(), _np(labels).tolist()
    bold, red = prototype_marks(dist_nat, dist_adv, classes, labels)            # [m, 2n] each
    header = ["prototype (class)"] + [f"{c} {tag}" for c in lab for tag in ("Nat.", "Adv.")]
    cells = [[f"P{j + 1} (class {c})" for j, c in enumerate(cls)]]
    cells += [[f"{v:.2f}" for v in col] for col in _interleaved(dist_nat, dist_adv).T.tolist()]
    fill = [["white"] * len(cls)] + [["#ffb3b3" if r else "white" for r in col] for col in red.T.tolist()]
    return table_figure(header, cells, fill, [[False] * len(cls)] + bold.T.tolist(), title)


def protodl_digit_frame(result, dist_nat, dist_adv, classes) -> pd.DataFrame:
    """One row per digit of a ``ProtoDLAttack`` result: label, prediction before/after, D(x,y) and
    R(x,y) before/after (eq. 2), the nearest prototype's class before/after.
    dist_nat, dist_adv: [n,m] prototype distances of ``result.x`` and ``result.x_adv``."""
    m, cls = result.metrics, _np(classes)
    return pd.DataFrame({
        "label": _np(result.y), "pred before": _np(result.pred_before), "pred after": _np(result.pred_after),
        "label kept": _np(result.label_kept),
        "D(x,y) before": _np(m["D_true_nat"]), "D(x,y) after": _np(m["D_true_adv"]),
        "R(x,y) before": _np(m["R_nat"]), "R(x,y) after": _np(m["R_adv"]),
        "nearest class before": cls[_np(dist_nat).argmin(1)], "nearest class after": cls[_np(dist_adv).argmin(1)],
    })


YES_NO = ("nearest_consistent_nat", "nearest_consistent_adv", "d_consistent_nat", "d_consistent_adv")


def comparison_frame(attack: str, results: dict, model_labels: dict[str, str] | None = None,
                     verdicts: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per model of the same attack on the same digits (``results``: model name -> ``AttackResult``; the
    Defenses page): "Label kept", "‖x* − x‖∞", the attack's headline metrics under their labels and, when given,
    ``verdicts`` (model -> a few words) as "Did the attack work?". With one digit, yes/no flags read "yes"/"no";
    with several, every number is the batch's mean (label kept: the share)."""
    from ..attacks import ATTACKS
    from ..attacks.labels import metric_label

    labels = model_labels or {}

    def cell(key: str, v: torch.Tensor):
        if len(v) == 1 and (key in YES_NO or v.dtype == torch.bool):
            return "yes" if bool(v[0]) else "no"
        return float(v.float().mean())

    rows = []
    for name, r in results.items():
        row = {"Model": labels.get(name, name), "Label kept": cell("label_kept", r.label_kept),
               "‖x* − x‖∞": float(r.linf.max())}
        if verdicts is not None:
            row["Did the attack work?"] = verdicts[name]
        row.update({metric_label(k): cell(k, r.metrics[k]) for k in ATTACKS.get(attack).headline})
        rows.append(row)
    return pd.DataFrame(rows)
