"""Centred kernel alignment (CKA) between two representations of the same inputs.

Kornblith, Norouzi, Lee & Hinton (2019), "Similarity of neural network representations
revisited": for Gram matrices K (of X) and L (of Y) over the same n inputs and the centring
matrix H = I - 11^T/n,

    HSIC(K, L) = <HKH, HLH>_F / (n - 1)^2,     CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)).

For linear kernels K = XX^T, L = YY^T on column-centred features this is

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F),

computed from p x q feature products when both widths are below n (O(n p q)) and from n x n Gram
matrices otherwise. Debiased CKA (Nguyen, Raghu & Kornblith 2021) replaces HSIC by the unbiased
estimator of Song et al. (2012, "Feature selection via dependence maximization"), with
K~, L~ the Gram matrices with their diagonals set to zero:

    HSIC_u = [tr(K~L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n (n-3)).
"""
from __future__ import annotations

import math
from typing import Any, Literal

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features
from deepscope.metrics.distances import squared_distances

RBF_MEDIAN_FRACTION = 0.8
"""Default RBF bandwidth as a fraction of the median pairwise distance (Kornblith et al. 2019)."""

# The statistics HSIC is made of, for a pair of Gram matrices (K, L) (diagonals zeroed when
# debiased): (<K, L>_F, (K1)^T (L1), 1^T K 1, 1^T L 1).
_Stats = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _hsic(stats: _Stats, n: int, debiased: bool) -> torch.Tensor:
    """Biased HSIC tr(KHLH)/(n-1)^2 or Song et al.'s unbiased HSIC_u from the pair statistics."""
    kl, k1l1, sk, sl = stats
    if debiased:
        return (kl + sk * sl / ((n - 1) * (n - 2)) - 2.0 * k1l1 / (n - 2)) / (n * (n - 3))
    # tr(KHLH) = <K, L> - (2/n) (K1)^T (L1) + (1^T K 1)(1^T L 1) / n^2
    return (kl - 2.0 * k1l1 / n + sk * sl / n ** 2) / (n - 1) ** 2


def _gram_stats(K: torch.Tensor, L: torch.Tensor) -> _Stats:
    return (K * L).sum(), K.sum(dim=1) @ L.sum(dim=1), K.sum(), L.sum()


def _linear_feature_stats(X: torch.Tensor, Y: torch.Tensor, debiased: bool) -> _Stats:
    """The pair statistics of K = XX^T, L = YY^T from column-centred features, without n x n.

    With centred columns X^T 1 = 0, so K1 = 0 and <K, L> = ||X^T Y||_F^2. Zeroing the diagonal
    d_K = (||x_i||^2)_i gives K~1 = -d_K, <K~, L~> = ||X^T Y||^2 - d_K^T d_L, 1^T K~ 1 = -sum d_K.
    """
    kl = (X.T @ Y).square().sum()
    if not debiased:
        zero = kl.new_zeros(())
        return kl, zero, zero, zero
    d_k, d_l = X.square().sum(dim=1), Y.square().sum(dim=1)
    return kl - d_k @ d_l, d_k @ d_l, -d_k.sum(), -d_l.sum()


def _rbf_gram(X: torch.Tensor, sigma: float | None, median_fraction: float, name: str) -> torch.Tensor:
    """exp(-||x_i - x_j||^2 / (2 s^2)); s = ``sigma``, or ``median_fraction`` x the median distance."""
    sq = squared_distances(X)
    if sigma is None:
        n = X.shape[0]
        i, j = torch.triu_indices(n, n, offset=1, device=X.device)
        median = float(sq[i, j].sqrt().median())
        if median == 0.0:
            raise DeepscopeError(f"{name}: at least half of the pairs of rows are identical, so the median "
                                 f"distance (the RBF bandwidth's scale) is 0; pass rbf_sigma explicitly.")
        sigma = median_fraction * median
    return torch.exp(-sq / (2.0 * sigma ** 2))


def cka(X: Any, Y: Any, kernel: Literal["linear", "rbf"] = "linear", debiased: bool = False, *,
        rbf_sigma: float | None = None, rbf_median_fraction: float = RBF_MEDIAN_FRACTION) -> float:
    """Centred kernel alignment of ``X`` [n, p] and ``Y`` [n, q] (Kornblith et al. 2019).

    CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with HSIC(K, L) = tr(KHLH)/(n-1)^2, or with
    the unbiased HSIC_u of Song et al. (2012) when ``debiased=True`` (Nguyen et al. 2021); see
    the module docstring. Rows are the same n inputs in both; the widths p and q may differ.

    ``kernel="linear"`` uses K = XX^T (equivalently ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on
    centred features; invariant to orthogonal maps, isotropic scaling and translation).
    ``kernel="rbf"`` uses K_ij = exp(-||x_i - x_j||^2 / (2 s^2)), with s = ``rbf_sigma`` for both
    X and Y when given, else s = ``rbf_median_fraction`` (default 0.8) times the median distance
    between distinct rows, chosen separately for X and for Y; the median-relative bandwidth keeps
    RBF CKA invariant to isotropic scaling as well as to orthogonal maps.

    Biased CKA lies in [0, 1]; debiased CKA is near 0 for independent representations and can
    be slightly negative. Computed in float64 on X's device (Y is moved there).
    """
    if kernel not in ("linear", "rbf"):
        raise DeepscopeError(f"kernel must be 'linear' or 'rbf'; got {kernel!r}.")
    if rbf_sigma is not None and not (rbf_sigma > 0 and math.isfinite(rbf_sigma)):
        raise DeepscopeError(f"rbf_sigma must be a positive bandwidth (or None for "
                             f"{RBF_MEDIAN_FRACTION} x the median distance); got {rbf_sigma}.")
    if not rbf_median_fraction > 0:
        raise DeepscopeError(f"rbf_median_fraction must be positive; got {rbf_median_fraction}.")
    min_rows = 4 if debiased else 2
    X = as_features(X, name="X", min_rows=min_rows)
    Y = as_features(Y, name="Y", min_rows=min_rows).to(X.device)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise DeepscopeError(f"X has {n} rows but Y has {Y.shape[0]}; CKA compares two representations of "
                             f"the same inputs, so pass one row per input in both (widths may differ).")
    if kernel == "linear":  # centring the columns changes neither CKA nor HSIC_u, and avoids cancellation
        X, Y = X - X.mean(dim=0), Y - Y.mean(dim=0)
    if kernel == "linear" and max(X.shape[1], Y.shape[1]) < n:
        xy, xx, yy = (_hsic(_linear_feature_stats(A, B, debiased), n, debiased) for A, B in ((X, Y), (X, X), (Y, Y)))
    else:
        if kernel == "linear":
            K, L = X @ X.T, Y @ Y.T
        else:
            K = _rbf_gram(X, rbf_sigma, rbf_median_fraction, "X")
            L = _rbf_gram(Y, rbf_sigma, rbf_median_fraction, "Y")
        if debiased:
            K, L = K.fill_diagonal_(0.0), L.fill_diagonal_(0.0)
        xy, xx, yy = (_hsic(_gram_stats(A, B), n, debiased) for A, B in ((K, L), (K, K), (L, L)))
    for name, self_hsic in (("X", xx), ("Y", yy)):
        if not float(self_hsic) > 0:
            raise DeepscopeError(f"{name} has no measurable variation (its HSIC with itself is {float(self_hsic):.3g}), "
                                 f"so CKA is undefined; check that its rows are not all identical.")
    return float(xy / torch.sqrt(xx * yy))
