"""The project's intervals: seeded percentile bootstrap, decided on bounds (issue 28)."""
import json

import numpy as np
import pytest

from sem_core.metrics.stats import Interval, bootstrap, bootstrap_paired


def test_the_interval_covers_the_statistic_and_is_reproducible():
    values = np.random.default_rng(3).normal(1.0, 0.5, 200)
    a, b = bootstrap(values), bootstrap(values)
    assert a == b                                            # seeded: a report is byte for byte the same
    assert a.point == pytest.approx(np.median(values)) and a.low < a.point < a.high and a.n == 200
    assert bootstrap(values, seed=1) != a                    # another seed, another interval


def test_a_verdict_reads_the_bound_not_the_point():
    i = Interval(point=0.34, low=0.28, high=0.39, n=100)
    assert not i.clears(0.3) and i.clears(0.25) and i.under(0.4) and not i.under(0.35)
    assert Interval.from_dict(json.loads(json.dumps(i.to_dict()))) == i
    assert i.text(".2f") == "0.34 [0.28, 0.39]"


def test_degenerate_inputs_give_honest_intervals():
    assert bootstrap([2.0]).low == bootstrap([2.0]).high == 2.0
    empty = bootstrap([])
    assert empty.n == 0 and np.isnan(empty.point)
    assert bootstrap([1.0, float("nan"), 3.0]).n == 2        # NaNs dropped, counted out


def test_a_paired_interval_resamples_the_pairs_together():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 100)
    b = a + 0.1 + rng.normal(0, 0.01, 100)                   # b − a is 0.1 ± 0.01: tight only when paired
    gap = bootstrap_paired(b, a, lambda x, y, axis=-1: np.mean(x - y, axis=axis))
    assert gap.clears(0.09) and gap.under(0.11)
    with pytest.raises(ValueError, match="as many values"):
        bootstrap_paired([1.0, 2.0], [1.0], lambda x, y, axis=-1: np.mean(x - y, axis=axis))



def test_proportion_is_the_exact_clopper_pearson_interval():
    from scipy.stats import beta

    from sem_core.metrics.stats import proportion

    iv = proportion(4, 5)
    assert iv.point == 0.8 and iv.n == 5 and iv.resamples == 0
    assert iv.low == pytest.approx(beta.ppf(0.025, 4, 2)) and iv.high == pytest.approx(beta.ppf(0.975, 5, 1))
    assert proportion(5, 5).high == 1.0 and proportion(0, 5).low == 0.0
    assert not proportion(5, 5).clears(0.5) and proportion(19, 20).clears(0.5)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        proportion(6, 5)
