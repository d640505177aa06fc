"""Helpers the experiment modules share: prose, digit chunks, chunk results as columns, medians."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ..metrics.stats import median as stats_median

from .runner import Context, Experiment
from .sampling import pick_digits


def prose(text: str) -> str:
    """A paragraph wrapped across source lines as one line: every run of white space becomes one space
    (for an experiment's ``claim`` and ``notes``, which the manifest and report show as written)."""
    return " ".join(text.split())


def digit_chunks(ctx: Context, size: int) -> list[dict[str, Any]]:
    """The ``n`` seeded test digits of ``ctx.params`` in slices of ``size``: [{"digits": [i, ...]}, ...]."""
    _, y = ctx.test_split()
    idx = pick_digits(y, ctx.params["n"], ctx.params["seed"]).tolist()
    return [{"digits": idx[i:i + size]} for i in range(0, len(idx), size)]


class DigitExperiment(Experiment):
    """An experiment whose chunks are slices of ``n`` seeded test digits, ``chunk`` digits each."""

    def chunks(self, ctx: Context) -> list[dict[str, Any]]:
        return digit_chunks(ctx, ctx.params["chunk"])


def columns(results: list[dict[str, Any]]) -> tuple[dict[str, list], list[dict[str, Any]]]:
    """Chunk results (dicts of equal-length lists) -> (column lists, row dicts)."""
    cols = {k: [v for r in results for v in r[k]] for k in results[0]}
    return cols, [dict(zip(cols, vals)) for vals in zip(*cols.values())]


def median(values: Sequence[float] | torch.Tensor) -> float:
    """The project's one median (``metrics.stats.median``: the mean of the two middle values at an even count);
    NaN when empty."""
    return stats_median(values)
