"""The one definition of the summary statistics the project reports.

``median``: the middle value; at an even count the **mean of the two middle values** (numpy's ``median``,
Python's ``statistics.median``, pandas and the figures' hover text agree). ``torch.median`` returns the *lower*
middle value instead, so it is not used for anything reported (a run of 0.436 vs 0.559 came from that).

``bootstrap`` / ``bootstrap_paired``: a statistic with its 95 % percentile bootstrap interval over the units (digits),
as an ``Interval``; every verdict of the experiments is decided on such an interval's bound (issue 28).
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch


def median(values: Sequence[float] | torch.Tensor) -> float:
    """The median of ``values`` (flattened; the mean of the two middle values at an even count); NaN when empty
    or when any value is NaN. Example: ``median([1, 2, 3, 10]) == 2.5``."""
    t = torch.as_tensor(values, dtype=torch.float64).flatten()
    if t.numel() == 0 or bool(t.isnan().any()):
        return float("nan")
    return torch.quantile(t, 0.5).item()


LEVEL = 0.95          # every interval the project reports
RESAMPLES = 2000      # bootstrap resamples (percentile method; seeded, so a report is reproducible)


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap interval: ``point`` (the statistic on the data), ``low``..``high`` (the
    ``level`` percentile interval over ``resamples`` resamples of the ``n`` units). A verdict is decided on a bound,
    never on the point: ``clears(t)`` is ``low > t``, ``under(t)`` is ``high < t``."""

    point: float
    low: float
    high: float
    n: int
    level: float = LEVEL
    resamples: int = RESAMPLES

    def clears(self, threshold: float) -> bool:
        """Whether the whole interval lies above ``threshold``."""
        return self.low > threshold

    def under(self, threshold: float) -> bool:
        """Whether the whole interval lies below ``threshold``."""
        return self.high < threshold

    def text(self, fmt: str = ".3g") -> str:
        """``point [low, high]``, e.g. '0.39 [0.31, 0.45]'."""
        return f"{self.point:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"

    def to_dict(self) -> dict[str, float | int]:
        """The JSON form stored in a summary (``from_dict`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, float | int]) -> "Interval":
        """An interval stored by ``to_dict``."""
        return cls(**{k: d[k] for k in ("point", "low", "high", "n", "level", "resamples")})


@contextlib.contextmanager
def _quiet_degenerate():
    """scipy warns when the resampled statistics are degenerate (all equal, or NaN for some resamples); the
    interval it returns then is that value, or NaN, which ``Interval`` carries as it is (a NaN bound clears no
    threshold): nothing is hidden, so the warning is not raised as an error in the tests' strict mode."""
    from scipy.stats import DegenerateDataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        yield


def _statistic(statistic: str | Callable) -> Callable:
    if callable(statistic):
        return statistic
    return {"median": lambda v, axis=-1: np.median(v, axis=axis),
            "mean": lambda v, axis=-1: np.mean(v, axis=axis)}[statistic]


def bootstrap(values: Sequence[float] | torch.Tensor, statistic: str | Callable = "median", *, seed: int = 0,
              level: float = LEVEL, resamples: int = RESAMPLES) -> Interval:
    """The statistic of ``values`` (NaNs dropped) with its percentile bootstrap interval (scipy.stats.bootstrap,
    seeded). ``statistic``: "median", "mean" or a vectorised ``f(values, axis)``. One value: a zero-width interval
    at it; none: NaNs."""
    from scipy.stats import bootstrap as scipy_bootstrap

    v = np.asarray(torch.as_tensor(values, dtype=torch.float64).flatten())
    v = v[~np.isnan(v)]
    stat = _statistic(statistic)
    if v.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level, resamples)
    point = float(stat(v, axis=-1))
    if v.size == 1 or np.all(v == v[0]):
        return Interval(point, point, point, int(v.size), level, resamples)
    with _quiet_degenerate():
        ci = scipy_bootstrap((v,), stat, vectorized=True, confidence_level=level, n_resamples=resamples,
                             method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    return Interval(point, float(ci.low), float(ci.high), int(v.size), level, resamples)


def bootstrap_paired(a: Sequence[float] | torch.Tensor, b: Sequence[float] | torch.Tensor,
                     statistic: Callable, *, seed: int = 0, level: float = LEVEL,
                     resamples: int = RESAMPLES) -> Interval:
    """``statistic(a, b, axis)`` (e.g. a ratio of medians, or the mean of a − b) with a percentile bootstrap
    interval that resamples the units (the pairs a[i], b[i]) together; pairs with a NaN are dropped."""
    from scipy.stats import bootstrap as scipy_bootstrap

    a = np.asarray(torch.as_tensor(a, dtype=torch.float64).flatten())
    b = np.asarray(torch.as_tensor(b, dtype=torch.float64).flatten())
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs as many values in a as in b ({a.size} vs {b.size})")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level, resamples)
    point = float(statistic(a, b, axis=-1))
    if a.size == 1:
        return Interval(point, point, point, 1, level, resamples)
    with _quiet_degenerate():
        ci = scipy_bootstrap((a, b), statistic, paired=True, vectorized=True, confidence_level=level,
                             n_resamples=resamples, method="percentile",
                             random_state=np.random.default_rng(seed)).confidence_interval
    return Interval(point, float(ci.low), float(ci.high), int(a.size), level, resamples)


def mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """mean(a − b) along ``axis``: a paired statistic for ``bootstrap_paired`` (a gain or a gap, same units)."""
    return np.mean(a - b, axis=axis)


def ratio_of_medians(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """median(a) / median(b) along ``axis``: a scale-free paired statistic for ``bootstrap_paired``."""
    return np.median(a, axis=axis) / np.median(b, axis=axis)


def proportion(k: int, n: int, level: float = LEVEL) -> Interval:
    """The share k/n with its exact (Clopper–Pearson) interval: for a handful of yes/no outcomes (paper 000's
    five-digit Table 1), where a bootstrap of 0s and 1s is too narrow. ``resamples`` is 0 (no resampling).
    Example: ``proportion(4, 5).text(".2f") == '0.80 [0.28, 0.99]'``."""
    from scipy.stats import binomtest

    if not 0 <= k <= n:
        raise ValueError(f"proportion needs 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level, 0)
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return Interval(k / n, float(ci.low), float(ci.high), int(n), level, 0)
