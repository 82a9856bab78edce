"""Percentile bootstrap intervals of a statistic of paired samples (Efron & Tibshirani 1993, ch. 13)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats


def bootstrap_interval(statistic: Callable[..., float], *samples: Sequence[float], resamples: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The ``level`` percentile interval of ``statistic(*samples)`` over ``resamples`` draws of the rows
    with replacement (the samples are paired: one index draw resamples all of them). Resamples whose
    statistic is not finite (e.g. a constant resample) are left out; (nan, nan) when none is finite."""
    arrays = [np.asarray(s, dtype=float) for s in samples]
    n = len(arrays[0])
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = [statistic(*(a[idx] for a in arrays)) for idx in rng.integers(0, n, size=(resamples, n))]
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation; nan when either side is constant."""
    if len(set(np.asarray(a).tolist())) < 2 or len(set(np.asarray(b).tolist())) < 2:
        return math.nan
    return float(stats.spearmanr(a, b)[0])
