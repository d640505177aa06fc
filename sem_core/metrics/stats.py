"""The one definition of the summary statistics the project reports.

``median``: the middle value; at an even count the **mean of the two middle values** (numpy's ``median``,
Python's ``statistics.median``, pandas and the figures' hover text agree). ``torch.median`` returns the *lower*
middle value instead, so it is not used for anything reported (a run of 0.436 vs 0.559 came from that).
"""
from __future__ import annotations

from typing import Sequence

import torch


def median(values: Sequence[float] | torch.Tensor) -> float:
    """The median of ``values`` (flattened; the mean of the two middle values at an even count); NaN when empty
    or when any value is NaN. Example: ``median([1, 2, 3, 10]) == 2.5``."""
    t = torch.as_tensor(values, dtype=torch.float64).flatten()
    if t.numel() == 0 or bool(t.isnan().any()):
        return float("nan")
    return torch.quantile(t, 0.5).item()
