"""Helpers the experiment modules share: prose, digit chunks, chunk results as columns, medians."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ..errors import SemError
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


def require_moved(res: Any, what: str) -> Any:
    """``res`` (an ``AttackResult``) when the attack could move every digit; a science run never counts a digit the
    attack could not move (status "no-gradient": its metrics say "unchanged" for no reason) as "the explanation
    held", so such a result stops the run with one line naming how many digits and why."""
    stuck = list(getattr(res, "status", ())).count("no-gradient")
    if stuck:
        raise SemError(f"{what}: the attack could not move {stuck} of {len(res.status)} digits (its loss had no "
                       f"gradient: a ReLU the smooth surrogate cannot see, or a flat objective); their numbers would "
                       f"not be a finding, so the run stops")
    return res
