"""Information-plane estimators: I(X;T) and I(T;Y) for a layer's activations T.

Two estimators, both reporting bits:

* **Binning** (Shwartz-Ziv & Tishby 2017, "Opening the black box of deep neural networks via
  information"): every activation is put into one of a set of equal-width bins spanning one
  range shared by all units, and each row's tuple of bin indices is one discrete symbol.
  With plug-in (histogram) entropies,

      I(X;T) = H(T) - H(T|X),        I(T;Y) = H(T) - sum_y p(y) H(T | Y=y).

  For a deterministic network whose input rows are all distinct (X uniform over the rows),
  H(T|X) = 0 and I(X;T) = H(T_binned) <= log2 n.

* **Pairwise-distance KDE bounds** (Kolchinsky & Tracey 2017, "Estimating mixture entropy with
  pairwise distances"; Kolchinsky, Tracey & Wolpert 2019, "Nonlinear information bottleneck"; as
  used by Saxe et al. 2018, "On the information bottleneck theory of deep learning"): the layer
  is made stochastic, T~ = T + N(0, s2 I) with s2 = ``noise_var``, so T~ is an equal-weight
  mixture of n Gaussians centred on the rows t_i. For any mixture sum_i c_i p_i and any
  pairwise distance D between components, K&T bound its entropy by

      H(T~) ~ sum_i c_i H(p_i) - sum_i c_i ln sum_j c_j exp(-D(p_i || p_j)),

  an upper bound for D = KL divergence, here ||t_i - t_j||^2 / (2 s2), and a lower bound for
  D = Bhattacharyya distance, here ||t_i - t_j||^2 / (8 s2). Every component has entropy
  H(T~|X) = d/2 ln(2 pi e s2), which cancels in both information terms:

      I(X;T~) ~ -(1/n) sum_i ln (1/n) sum_j exp(-D_ij),
      I(T~;Y) ~ H(T~) - sum_y p(y) H(T~ | Y=y),

  each conditional entropy being the same bound over the rows of class y. The bound on
  I(X;T~) is a true upper (lower) bound; I(T~;Y) is a difference of two bounds of the same kind,
  so it is an estimate with no guaranteed direction (it can be slightly negative for
  independent Y). The sums are in nats and are divided by ln 2 to report bits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features, as_labels
from deepscope.metrics._summary import Summarized
from deepscope.metrics.discrete import joint_codes, plugin_entropy, uniform_bin
from deepscope.metrics.distances import squared_distance_block

DEFAULT_BINS = 30
"""Number of bins when neither ``bins`` nor ``bin_width`` is given (Shwartz-Ziv & Tishby 2017)."""

PAIRWISE_BLOCK_ELEMENTS = 2 ** 22
"""Largest block of pairwise distances held at once by the KDE estimator (32 MiB in float64)."""

_LN2 = math.log(2.0)


@dataclass(frozen=True, repr=False)
class InformationPlanePoint(Summarized):
    """One point of the information plane, in bits.

    ``i_xt`` and ``i_ty`` are the two coordinates; ``h_y`` is the plug-in label entropy H(Y), the
    ceiling of ``i_ty``. ``method`` is ``"binning"``, ``"kde-upper"`` or ``"kde-lower"``; ``bins``
    and ``value_range`` (binning) or ``noise_var`` (KDE) record the setting used.
    """

    i_xt: float
    i_ty: float
    h_y: float
    n: int
    method: str
    bins: int | None = None
    value_range: tuple[float, float] | None = None
    noise_var: float | None = None

    def summary(self) -> str:
        setting = f"{self.bins} bins" if self.bins is not None else f"noise variance {self.noise_var:g}"
        return (f"I(X;T) {self.i_xt:.4g} bits, I(T;Y) {self.i_ty:.4g} of H(Y) {self.h_y:.4g} bits "
                f"({self.method}, {setting}, n={self.n})")


def _conditional_entropy(symbols: torch.Tensor, groups: torch.Tensor) -> float:
    """Plug-in H(S | G) = sum_g p(g) H(S | G=g) = H(S, G) - H(G), in bits."""
    pairs = torch.stack([symbols, groups.to(symbols.device)], dim=1)
    return plugin_entropy(joint_codes(pairs)) - plugin_entropy(groups)


def _bin_layout(T: torch.Tensor, bins: int | None, bin_width: float | None,
                value_range: tuple[float, float] | None) -> tuple[int, float, float]:
    """Resolve (number of bins, lo, hi) from the user's ``bins`` / ``bin_width`` / ``value_range``."""
    if bins is not None and bin_width is not None:
        raise DeepscopeError(f"Give either bins (a count) or bin_width, not both; got bins={bins}, "
                             f"bin_width={bin_width}.")
    if value_range is None:
        lo, hi = float(T.min()), float(T.max())
    else:
        lo, hi = (float(v) for v in value_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise DeepscopeError(f"value_range must be finite (lo, hi) with hi > lo; got {value_range}. "
                                 f"For tanh units use (-1, 1).")
    if bin_width is not None:
        if not (bin_width > 0 and math.isfinite(bin_width)):
            raise DeepscopeError(f"bin_width must be a positive number; got {bin_width}.")
        # Edges lo, lo + w, lo + 2w, ...: as many bins as needed to reach hi (the tolerance keeps
        # (hi - lo)/w = 20.000000000000004 from opening a 21st bin).
        count = max(1, math.ceil((hi - lo) / bin_width * (1 - 1e-12)))
        return count, lo, lo + count * bin_width
    count = DEFAULT_BINS if bins is None else int(bins)
    if count < 1:
        raise DeepscopeError(f"bins must be a positive integer; got {bins}.")
    return count, lo, hi


def binned_information_plane(T: Any, y: Any, *, bins: int | None = None, bin_width: float | None = None,
                             value_range: tuple[float, float] | None = None,
                             x_ids: Any = None) -> InformationPlanePoint:
    """I(X;T) and I(T;Y) in bits by binning the activations (Shwartz-Ziv & Tishby 2017).

    Every entry of ``T`` [n, d] is binned into equal-width bins on one range shared by all units:
    ``value_range`` = (lo, hi) if given (e.g. (-1, 1) for tanh; values outside are clipped into
    the end bins), else the activations' global (min, max). The bins are either ``bins`` of them
    across the range (default 30) or bins of width ``bin_width`` starting at lo. Each row's tuple
    of bin indices is one symbol s(t), and with plug-in entropies (see
    :mod:`deepscope.metrics.discrete`)

        I(X;T) = H(T) - H(T|X),        I(T;Y) = H(T) - sum_y p(y) H(T | Y=y).

    Without ``x_ids`` every row is taken as a distinct input (X uniform over the rows, as in the
    12-bit task), so H(T|X) = 0 and I(X;T) = H(T). ``x_ids`` (one integer per row) marks rows
    that came from the same input, e.g. several noisy passes of one example.
    """
    T = as_features(T, name="T")
    n = T.shape[0]
    labels = as_labels(y, n).to(T.device)
    count, lo, hi = _bin_layout(T, bins, bin_width, value_range)
    symbols = joint_codes(uniform_bin(T, count, lo, hi))
    h_t = plugin_entropy(symbols)
    i_xt = h_t if x_ids is None else h_t - _conditional_entropy(symbols, as_labels(x_ids, n, name="x_ids"))
    return InformationPlanePoint(i_xt=i_xt, i_ty=h_t - _conditional_entropy(symbols, labels),
                                 h_y=plugin_entropy(labels), n=n, method="binning", bins=count,
                                 value_range=(lo, hi))


def _mixture_excess_entropy(T: torch.Tensor, inv_scale: float, block_rows: int) -> float:
    """K&T pairwise term -(1/n) sum_i ln (1/n) sum_j exp(-||t_i - t_j||^2 * inv_scale), in nats.

    The rows are processed ``block_rows`` at a time, so at most block_rows x n distances exist
    at once; the inner mean is a logsumexp, stable when every exponent is very negative.
    """
    n = T.shape[0]
    sq_norms = (T * T).sum(dim=1)
    total = T.new_zeros(())
    for start in range(0, n, block_rows):
        sq_dist = squared_distance_block(T[start:start + block_rows], T, sq_norms[start:start + block_rows], sq_norms)
        total = total + torch.logsumexp(-sq_dist * inv_scale, dim=1).sum()
    return math.log(n) - float(total) / n


def kde_information_plane(T: Any, y: Any, *, noise_var: float = 0.1,
                          bound: Literal["upper", "lower"] = "upper",
                          block_rows: int | None = None) -> InformationPlanePoint:
    """I(X;T~) and I(T~;Y) in bits for T~ = T + N(0, noise_var I), by pairwise-distance bounds.

    Kolchinsky & Tracey (2017) bound the entropy of the Gaussian mixture T~ (one component of
    variance s2 = ``noise_var`` per row of ``T``); with every input row a distinct X,

        I(X;T~) ~ -(1/n) sum_i ln (1/n) sum_j exp(-||t_i - t_j||^2 / (a s2)),

    with a = 2 (KL divergence: an upper bound, ``bound="upper"``, Saxe et al. 2018's default) or
    a = 8 (Bhattacharyya distance: a lower bound, ``bound="lower"``). I(T~;Y) = H(T~) -
    sum_y p(y) H(T~|Y=y) uses the same bound on all rows and on each class's rows; the
    component entropy d/2 ln(2 pi e s2) cancels from both. Nats are converted to bits by
    dividing by ln 2. The lower-bound I(X;T~) never exceeds the upper one, since the
    Bhattacharyya distance is a quarter of the KL divergence here.

    Pairwise distances are computed ``block_rows`` rows at a time (default: as many as keep a
    block under :data:`PAIRWISE_BLOCK_ELEMENTS` entries), on ``T``'s device, in float64.
    """
    if bound not in ("upper", "lower"):
        raise DeepscopeError(f"bound must be 'upper' (KL) or 'lower' (Bhattacharyya); got {bound!r}.")
    if not (noise_var > 0 and math.isfinite(noise_var)):
        raise DeepscopeError(f"noise_var must be a positive number (the added Gaussian noise's variance); "
                             f"got {noise_var}. Saxe et al. (2018) used 0.1.")
    T = as_features(T, name="T")
    n = T.shape[0]
    labels = as_labels(y, n)
    if block_rows is None:
        block_rows = max(1, PAIRWISE_BLOCK_ELEMENTS // n)
    elif block_rows < 1:
        raise DeepscopeError(f"block_rows must be a positive integer; got {block_rows}.")
    inv_scale = 1.0 / ((2.0 if bound == "upper" else 8.0) * noise_var)
    h_t = _mixture_excess_entropy(T, inv_scale, block_rows)
    classes, counts = torch.unique(labels, return_counts=True)
    h_t_given_y = sum(int(c) / n * _mixture_excess_entropy(T[(labels == k).to(T.device)], inv_scale, block_rows)
                      for k, c in zip(classes.tolist(), counts.tolist()))
    return InformationPlanePoint(i_xt=h_t / _LN2, i_ty=(h_t - h_t_given_y) / _LN2, h_y=plugin_entropy(labels),
                                 n=n, method=f"kde-{bound}", noise_var=float(noise_var))
