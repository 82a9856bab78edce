"""Separation fuzziness and the equi-separation law (He & Su, "A law of data separation in deep
learning", PNAS 2023, arXiv:2210.17020).

At one layer with features x_i and labels y_i (K = max label + 1 classes),

    D = Tr(SS_w · SS_b^+),
    SS_w = (1/n) Σ_k Σ_{i: y_i = k} (x_i − x̄_k)(x_i − x̄_k)^T,
    SS_b = (1/n) Σ_k n_k (x̄_k − x̄)(x̄_k − x̄)^T,

with ^+ the Moore–Penrose pseudo-inverse (SS_b has rank ≤ K − 1). D is small when classes are
tight around well-separated means. The law says a trained network reduces D by a constant factor
per layer: log D_l ≈ log D_0 + l · log ρ with ρ < 1, i.e. log D is linear in the layer index l,
judged by a Pearson correlation r ≈ −1.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from deepscope.errors import DeepscopeError
from deepscope.metrics._summary import Summarized
from deepscope.metrics.scatter import class_scatter


def separation_fuzziness(X: Any, y: Any, *, rtol: float | None = None) -> float:
    """Separation fuzziness D = Tr(SS_w · SS_b^+) of features ``X`` [n, p] with labels ``y`` [n].

    He & Su (PNAS 2023), scatter matrices normalised by n (any common normalisation gives the
    same D, since (SS_b/c)^+ = c · SS_b^+). D is invariant to translating, rescaling (by c ≠ 0)
    or rotating the features. ``rtol`` is the pseudo-inverse's relative cut-off on the
    eigenvalues of SS_b (default p · eps, see :meth:`ClassScatter.trace_ratio`). Computed in
    float64 on ``X``'s device in O(n·p·K) time without p×p matrices.

    Returns +inf when all class means coincide (SS_b = 0). Raises :class:`DeepscopeError` for
    bad input, empty class ids in 0..max(y), or fewer than two classes.
    """
    s = class_scatter(X, y)
    return s.trace_ratio(s.counts / s.n, rtol)


@dataclass(frozen=True, repr=False)
class LogLinearFit(Summarized):
    """Least-squares line log D_l ≈ intercept + slope · l over layer indices l = 0..L−1.

    ``slope`` b and ``intercept`` a minimise Σ_l (log D_l − a − b·l)²; ``ratio`` ρ = exp(b) is
    the factor by which D shrinks per layer (ρ < 1 means separation improves with depth);
    ``pearson_r`` is Pearson's correlation of (l, log D_l) (the equi-separation law predicts
    r ≈ −1); ``r2`` = 1 − SS_res/SS_tot is the fit's coefficient of determination (= r² for a
    one-variable line). When log D is constant (to within 1e-12 relative) r and R² are 0/0 and
    reported as nan; slope is then 0 and ratio 1.
    """

    slope: float
    intercept: float
    ratio: float
    pearson_r: float
    r2: float

    def summary(self) -> str:
        return (f"log D = {self.intercept:.4g} {'-' if self.slope < 0 else '+'} {abs(self.slope):.4g}·l: "
                f"ratio {self.ratio:.4g} per layer, Pearson r {self.pearson_r:.4f}, R² {self.r2:.4f}")


@dataclass(frozen=True, repr=False)
class SeparationFit(LogLinearFit):
    """Separation fuzziness per layer and its log-linear fit (see :class:`LogLinearFit`).

    ``layers`` are the layer names in fit order (index l = position); ``log_d`` the natural log
    of D at each.
    """

    layers: tuple[Hashable, ...]
    log_d: tuple[float, ...]

    def summary(self) -> str:
        return f"{len(self.layers)} layers {self.layers[0]!r}..{self.layers[-1]!r}, " + super().summary()


def fit_log_linear(log_d: Sequence[float]) -> LogLinearFit:
    """Fit log D_l = a + b·l by least squares over l = 0..L−1 (the equi-separation line, He & Su 2023).

    Raises :class:`DeepscopeError` for fewer than two values or non-finite values.
    """
    return _fit(log_d, names=tuple(range(len(log_d))))


def _fit(log_d: Sequence[float], names: Sequence[Hashable]) -> LogLinearFit:
    v = np.asarray(log_d, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise DeepscopeError(f"a log-linear fit needs at least 2 layers; got {v.size}. "
                             f"Measure more layers (e.g. every hidden layer of the network).")
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(v))]
    if bad:
        raise DeepscopeError(f"log D is not finite at layers {bad} (D = 0: perfectly collapsed classes, "
                             f"or D = inf: all class means coincide); leave these layers out of the fit.")
    l = np.arange(v.size, dtype=np.float64)
    dl, dv = l - l.mean(), v - v.mean()
    slope = float(dl @ dv / (dl @ dl))
    intercept = float(v.mean() - slope * l.mean())
    ss_tot = float(dv @ dv)
    if np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())):
        r = r2 = math.nan
    else:
        r = float(dl @ dv / math.sqrt(float(dl @ dl) * ss_tot))
        resid = v - intercept - slope * l
        r2 = 1.0 - float(resid @ resid) / ss_tot
    return LogLinearFit(slope=slope, intercept=intercept, ratio=math.exp(slope), pearson_r=r, r2=r2)


def layerwise_separation(features: Mapping[Hashable, Any] | Sequence[Any], y: Any,
                         layers: Sequence[Hashable] | None = None, *,
                         rtol: float | None = None) -> SeparationFit:
    """Separation fuzziness D_l at each layer and the log-linear fit of log D_l on l = 0..L−1.

    ``features`` is an ordered mapping {layer name: X [n, p_l]} (as returned by capture) or a
    sequence of X (named 0..L−1); every layer shares the labels ``y``. ``layers`` selects and
    orders the names to fit (default: all, in order). See :func:`separation_fuzziness` for D and
    :class:`LogLinearFit` for the fit (He & Su 2023: log D_l = log D_0 + l · log ρ, r ≈ −1).
    """
    table = dict(features) if isinstance(features, Mapping) else dict(enumerate(features))
    names = tuple(table) if layers is None else tuple(layers)
    missing = [name for name in names if name not in table]
    if missing:
        raise DeepscopeError(f"layers {missing} are not among the features' layers {list(table)}; "
                             f"pass names from that list.")
    log_d = tuple(math.log(d) if d > 0 else -math.inf
                  for d in (separation_fuzziness(table[name], y, rtol=rtol) for name in names))
    fit = _fit(log_d, names)
    return SeparationFit(**asdict(fit), layers=names, log_d=log_d)
