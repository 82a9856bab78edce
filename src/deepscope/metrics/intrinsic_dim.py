"""Intrinsic dimension (ID) of point clouds and of a network's layers.

* :func:`twonn` — Facco, d'Errico, Rodriguez & Laio, "Estimating the intrinsic dimension of datasets
  by a minimal neighborhood information", Sci. Rep. 7, 12140 (2017), in the variant of Ansuini et
  al. 2019 used by Brown et al. 2022 (``act_ids``), or in scikit-dimension 0.5.0's convention.
* :func:`mle_id` — Levina & Bickel, "Maximum likelihood estimation of intrinsic dimension", NeurIPS
  2004, combined over points as MacKay & Ghahramani (2005) advise.
* :func:`pca_dim` — the number of principal components explaining a fraction of the variance.
* :func:`layerwise_id`, :func:`llid`, :func:`pid` — per-layer ID, last-hidden-layer ID (LLID) and
  peak ID (PID) of Brown, Juravsky, Caterini & Loaiza-Ganem, "Relating regularization and
  generalization through the intrinsic dimension of activations", arXiv 2211.13239 (2022).

Neighbours come from :func:`deepscope.metrics.neighbors.knn` (exact, chunked, any device). The
resampled estimates (``nres > 1``) draw ``round(subsample · n)`` points without replacement per
resample and find each point's neighbours *within its resample*; they reuse one wider neighbour
search of the full set whenever it holds enough in-sample neighbours for every point, and search
the resample afresh otherwise, so both routes give the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features
from deepscope.metrics._summary import Summarized
from deepscope.metrics.neighbors import DEFAULT_MAX_BYTES, as_distance_matrix, as_points, knn

Fit = Callable[[torch.Tensor], "tuple[float, int]"]


_METHOD_NAMES = {"twonn": "TwoNN", "mle": "MLE", "pca": "PCA"}


@dataclass(frozen=True, repr=False)
class IDEstimate(Summarized):
    """An intrinsic-dimension estimate and how it was made; ``float(estimate)`` is ``dimension``.

    Attributes:
        dimension: the estimate (the mean over resamples when there are several).
        std: population standard deviation (ddof 0) over resamples; 0.0 for a single fit.
        n_used: points entering the fit (with resamples, the fewest over them).
        estimates: the estimate of each resample, in order (one entry for a single fit).
        method: ``"twonn"``, ``"mle"`` or ``"pca"``.
        settings: the arguments that shaped the estimate, plus ``n_points`` given.
    """

    dimension: float
    std: float
    n_used: int
    estimates: tuple[float, ...]
    method: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.dimension)

    def summary(self) -> str:
        if self.method == "pca":
            return (f"PCA ID {self.dimension:.0f} (explains {self.settings['explained']:.1%} of the variance, "
                    f"asked {self.settings['variance']:.0%}; n={self.n_used})")
        value = f"{self.dimension:.2f}"
        if len(self.estimates) > 1:
            value += f" ± {self.std:.2f} over {len(self.estimates)} resamples"
        details = [f"n={self.n_used} used"]
        if "k" in self.settings:
            details.insert(0, f"k={self.settings['k']}")
        if "convention" in self.settings:
            details.append(f"{self.settings['convention']} convention")
        return f"{_METHOD_NAMES.get(self.method, self.method)} ID {value} ({', '.join(details)})"


@dataclass(frozen=True, repr=False)
class LayerID(Summarized):
    """The ID of one named layer, as chosen by :func:`llid` or :func:`pid`; ``float(result)`` is its ID."""

    layer: str
    estimate: IDEstimate

    @property
    def dimension(self) -> float:
        return self.estimate.dimension

    def __float__(self) -> float:
        return float(self.estimate)

    def summary(self) -> str:
        return f"layer {self.layer!r}: {self.estimate.summary()}"


# ---------------------------------------------------------------------------------------------
# Estimators


def twonn(X: Any, fraction: float = 0.9, nres: int = 1, subsample: float = 1.0, seed: int = 0, *,
          precomputed: bool = False, convention: Literal["act_ids", "skdim"] = "act_ids",
          max_bytes: int = DEFAULT_MAX_BYTES, dtype: torch.dtype = torch.float32) -> IDEstimate:
    """TwoNN intrinsic dimension (Facco et al. 2017).

    For each point, r1 and r2 are the distances to its first and second nearest neighbours and
    μ = r2 / r1. On a manifold of dimension d with locally uniform density μ follows the Pareto
    law F(μ) = 1 − μ^{−d}, so −ln(1 − F(μ)) = d · ln μ: a line through the origin with slope d.
    With the ratios sorted, μ_(1) ≤ … ≤ μ_(N), and the empirical F_i = i / N, the estimate is the
    least-squares slope through the origin

        d̂ = Σ_i x_i y_i / Σ_i x_i²,   x_i = ln μ_(i),  y_i = −ln(1 − F_i),

    over i = 1..m, the m smallest ratios.

    ``convention="act_ids"`` (default; Ansuini et al. 2019 code as used by Brown et al. 2022):
    drop points with r1 = 0 (duplicates) and with r1 = r2 (ties), leaving N; drop the two largest
    ratios (F = 1 and the point before it); fit the first m = min(⌊fraction · N⌋, N − 2).

    ``convention="skdim"`` (scikit-dimension 0.5.0 ``TwoNN(discard_fraction=1 − fraction)``):
    drop only r1 = 0, leaving N; fit the first m = ⌊fraction · N⌋ with F_i = i / N, so ``fraction``
    must be below 1 (F = 1 has no logarithm).

    Args:
        X: points [n, p] (torch or numpy, any device; computed on that device), or with
            ``precomputed=True`` a symmetric [n, n] distance matrix with zero diagonal.
        fraction: share of the sorted ratios kept for the fit (discards the largest, the tail
            most sensitive to curvature and density changes).
        nres: number of random resamples; with ``nres > 1`` the result is their mean ± std
            (Brown et al. use ``nres=20, subsample=0.9``).
        subsample: share of the points in each resample, ``round(subsample · n)`` of them; must be
            below 1 when ``nres > 1``.
        seed: seed of the resampling generator (the global RNG is not touched).
        precomputed: ``X`` is a distance matrix.
        convention: ``"act_ids"`` or ``"skdim"`` as above.
        max_bytes, dtype: memory cap and search precision of the neighbour search (see
            :func:`~deepscope.metrics.neighbors.knn`).
    """
    if not 0.0 < fraction <= 1.0:
        raise DeepscopeError(f"fraction must be in (0, 1]; got {fraction}.")
    if convention not in ("act_ids", "skdim"):
        raise DeepscopeError(f"convention must be 'act_ids' or 'skdim'; got {convention!r}.")
    if convention == "skdim" and fraction == 1.0:
        raise DeepscopeError("convention='skdim' needs fraction < 1: its empirical CDF reaches 1 at the last "
                             "ratio, where −ln(1 − F) is infinite. Use fraction=0.9 or convention='act_ids'.")

    def fit(r: torch.Tensor) -> tuple[float, int]:
        return _twonn_fit(r[:, 0], r[:, 1], fraction, convention)

    settings = dict(fraction=fraction, convention=convention)
    return _estimate("twonn", X, 2, fit, settings, nres=nres, subsample=subsample, seed=seed,
                     precomputed=precomputed, max_bytes=max_bytes, dtype=dtype)


def mle_id(X: Any, k: int = 20, nres: int = 1, subsample: float = 1.0, seed: int = 0, *,
           precomputed: bool = False, max_bytes: int = DEFAULT_MAX_BYTES,
           dtype: torch.dtype = torch.float32) -> IDEstimate:
    """Levina–Bickel maximum-likelihood ID with MacKay–Ghahramani averaging.

    With T_1(x) ≤ … ≤ T_k(x) the distances from x to its k nearest neighbours, Levina & Bickel
    (2004) estimate the local dimension by

        m̂_k(x)^{−1} = 1/(k − 1) · Σ_{j=1}^{k−1} ln(T_k(x) / T_j(x)).

    MacKay & Ghahramani ("Comments on 'Maximum likelihood estimation of intrinsic dimension'",
    2005) show the n local estimates should be combined by averaging their inverses:

        d̂ = [ (1/n) Σ_i m̂_k(x_i)^{−1} ]^{−1}.

    The normalisation is k − 1, as written by Levina & Bickel and as scikit-dimension's default
    (``MLE(unbiased=False)``, ``comb="mle"``); the bias-corrected variant (its ``unbiased=True``)
    divides by k − 2 instead, i.e. it is this estimate times (k − 2)/(k − 1). Points with T_1 = 0
    (duplicates) are left out.

    Args:
        X: points [n, p], or a distance matrix with ``precomputed=True``.
        k: neighbours per point (>= 2); Levina & Bickel use 10–20.
        nres, subsample, seed, precomputed, max_bytes, dtype: as in :func:`twonn`.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise DeepscopeError(f"k must be an integer >= 2 (the estimate uses ratios T_k / T_j, j < k); got {k!r}.")
    return _estimate("mle", X, k, _mle_fit, dict(k=k), nres=nres, subsample=subsample, seed=seed,
                     precomputed=precomputed, max_bytes=max_bytes, dtype=dtype)


def pca_dim(X: Any, variance: float = 0.9) -> IDEstimate:
    """Number of principal components needed to explain a share ``variance`` of the total variance.

    With λ_1 ≥ … ≥ λ_p the eigenvalues of the covariance of the centred data, the estimate is the
    smallest r with Σ_{i≤r} λ_i ≥ variance · Σ_i λ_i (the "PC-ID" of Ansuini et al. 2019 uses 0.9).
    ``dimension`` is that integer r (as a float); ``settings["explained"]`` is the share reached.
    """
    if not 0.0 < variance <= 1.0:
        raise DeepscopeError(f"variance must be a share in (0, 1]; got {variance}.")
    X = as_features(X)
    n, p = X.shape
    Xc = X - X.mean(dim=0)
    gram = Xc.T @ Xc if p <= n else Xc @ Xc.T  # same non-zero eigenvalues, smaller matrix
    eigenvalues = torch.linalg.eigvalsh(gram).flip(0).clamp_min(0.0)
    total = eigenvalues.sum()
    if float(total) == 0.0:
        raise DeepscopeError("all points are identical (zero variance); pca_dim needs points that vary.")
    explained = eigenvalues.cumsum(0) / total
    r = min(int(torch.searchsorted(explained, torch.tensor([variance], dtype=explained.dtype,
                                                            device=explained.device))) + 1, len(explained))
    return IDEstimate(dimension=float(r), std=0.0, n_used=n, estimates=(float(r),), method="pca",
                      settings=dict(variance=variance, explained=float(explained[r - 1]), n_points=n))


# ---------------------------------------------------------------------------------------------
# Layers


def layerwise_id(features: Mapping[str, Any], estimator: Callable[..., IDEstimate] = twonn,
                 **kwargs: Any) -> dict[str, IDEstimate]:
    """``{layer: estimator(features[layer], **kwargs)}`` for every layer, in the mapping's order."""
    _check_layers(features)
    estimates = {}
    for layer, X in features.items():
        try:
            estimates[layer] = estimator(X, **kwargs)
        except DeepscopeError as exc:
            raise DeepscopeError(f"layer {layer!r}: {exc}") from exc
    return estimates


def llid(features: Mapping[str, Any], estimator: Callable[..., IDEstimate] = twonn,
         layer: str | None = None, **kwargs: Any) -> LayerID:
    """Last-hidden-layer ID (LLID, Brown et al. 2022): the ID of the last hidden layer.

    ``features`` maps layer names to features [n, ...] in forward order, or to
    :class:`IDEstimate` values already computed (e.g. by :func:`layerwise_id`). The last key is
    taken as the last hidden layer unless ``layer`` names it (pass it when the mapping also holds
    the network's output). Only that layer is estimated.
    """
    _check_layers(features)
    name = list(features)[-1] if layer is None else layer
    if name not in features:
        raise DeepscopeError(f"layer {name!r} is not among the layers given: {list(features)}.")
    return LayerID(name, _layer_estimates({name: features[name]}, estimator, kwargs)[name])


def pid(features: Mapping[str, Any], estimator: Callable[..., IDEstimate] = twonn,
        **kwargs: Any) -> LayerID:
    """Peak ID (PID, Brown et al. 2022): the largest ID over the layers given, and which layer has it.

    ``features`` as in :func:`llid` (features or precomputed :class:`IDEstimate` values); the
    first layer wins a tie.
    """
    _check_layers(features)
    estimates = _layer_estimates(features, estimator, kwargs)
    name = max(estimates, key=lambda key: estimates[key].dimension)
    return LayerID(name, estimates[name])


def _check_layers(features: Mapping[str, Any]) -> None:
    if not isinstance(features, Mapping) or len(features) == 0:
        raise DeepscopeError("features must be a non-empty mapping {layer name: features [n, p]}, "
                             f"e.g. the output of deepscope.probe.capture; got {type(features).__name__}"
                             f"{' (empty)' if isinstance(features, Mapping) else ''}.")


def _layer_estimates(features: Mapping[str, Any], estimator: Callable[..., IDEstimate],
                     kwargs: dict[str, Any]) -> dict[str, IDEstimate]:
    done = [isinstance(value, IDEstimate) for value in features.values()]
    if not any(done):
        return layerwise_id(features, estimator, **kwargs)
    if not all(done):
        raise DeepscopeError("features mixes IDEstimate values with raw features; pass all of one kind.")
    if kwargs:
        raise DeepscopeError(f"estimator arguments {sorted(kwargs)} were given but the layers' IDs are "
                             "already estimated; pass raw features to re-estimate them.")
    return dict(features)


# ---------------------------------------------------------------------------------------------
# Fits on neighbour distances


def _twonn_fit(r1: torch.Tensor, r2: torch.Tensor, fraction: float, convention: str) -> tuple[float, int]:
    duplicate = r1 == 0
    tie = (r2 == r1) & ~duplicate
    keep = ~duplicate & ~tie if convention == "act_ids" else ~duplicate
    mu = torch.sort(r2[keep] / r1[keep]).values
    N = mu.numel()
    if convention == "act_ids":
        m = min(math.floor(fraction * N), N - 2)
    else:  # skdim keeps int(N · (1 − discard_fraction)) with discard_fraction = 1 − fraction
        m = int(N * (1.0 - (1.0 - fraction)))
    x = torch.log(mu[:max(m, 0)])
    sxx = float((x * x).sum())
    if m < 2 or sxx == 0.0:
        dropped = f"{int(duplicate.sum())} duplicate point(s) (r1 = 0)"
        if convention == "act_ids":
            dropped += f" and {int(tie.sum())} tie(s) (r1 = r2)"
        raise DeepscopeError(f"TwoNN has {max(m, 0)} usable ratio(s) r2/r1 to fit out of {r1.numel()} points after "
                             f"dropping {dropped} and the discarded tail; it needs at least 2, not all equal to 1. "
                             f"Pass more distinct points or a larger fraction.")
    F = torch.arange(1, m + 1, dtype=mu.dtype, device=mu.device) / N
    y = -torch.log1p(-F)
    return float((x * y).sum()) / sxx, m


def _mle_fit(T: torch.Tensor) -> tuple[float, int]:
    T = T[T[:, 0] > 0]
    k = T.shape[1]
    inverse = torch.log(T[:, -1:] / T[:, :-1]).sum(dim=1) / (k - 1)
    mean_inverse = float(inverse.mean()) if T.shape[0] else 0.0
    if mean_inverse == 0.0:
        raise DeepscopeError(f"MLE has no usable neighbourhoods: {T.shape[0]} point(s) without duplicates, and "
                             f"their k neighbours are all equidistant. Pass more distinct points.")
    return 1.0 / mean_inverse, T.shape[0]


# ---------------------------------------------------------------------------------------------
# Resampling


def _estimate(method: str, X: Any, n_neighbors: int, fit: Fit, settings: dict[str, Any], *, nres: int,
              subsample: float, seed: int, precomputed: bool, max_bytes: int, dtype: torch.dtype
              ) -> IDEstimate:
    """Validate, find neighbours (per resample when asked), fit, and package the result."""
    if isinstance(nres, bool) or not isinstance(nres, int) or nres < 1:
        raise DeepscopeError(f"nres must be a positive integer number of resamples; got {nres!r}.")
    if not 0.0 < subsample <= 1.0:
        raise DeepscopeError(f"subsample must be a share of the points in (0, 1]; got {subsample}.")
    min_rows = n_neighbors + 1
    X = as_distance_matrix(X, min_rows=min_rows) if precomputed else as_points(X, min_rows=min_rows)
    n = X.shape[0]
    n_sub = round(subsample * n)
    if n_sub < min_rows:
        raise DeepscopeError(f"subsample={subsample} of {n} points leaves {n_sub}, fewer than the {min_rows} this "
                             f"estimator needs; pass a larger subsample or more points.")
    if nres > 1 and n_sub == n:
        raise DeepscopeError(f"nres={nres} resamples of all {n} points (subsample={subsample}) would all be the "
                             f"same; pass subsample < 1 (Brown et al. use nres=20, subsample=0.9) or nres=1.")

    def search(data: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return knn(data, k, precomputed=precomputed, max_bytes=max_bytes, dtype=dtype)

    if n_sub == n:
        fits = [fit(search(X, n_neighbors)[0])]
    else:
        fits = []
        width = _reusable_width(n_neighbors, n_sub, n) if nres > 1 else None
        dist, idx = search(X, width) if width else (None, None)
        for sub in _subsamples(n, n_sub, nres, seed):
            sub = sub.to(X.device)
            r = _within(dist, idx, sub, n_neighbors) if width else None
            if r is None:
                r = search(X[sub][:, sub] if precomputed else X[sub], n_neighbors)[0]
            fits.append(fit(r))

    estimates = tuple(d for d, _ in fits)
    values = torch.tensor(estimates, dtype=torch.float64)
    return IDEstimate(dimension=float(values.mean()), std=float(values.std(correction=0)),
                      n_used=min(used for _, used in fits), estimates=estimates, method=method,
                      settings=dict(settings, nres=nres, subsample=subsample, seed=seed, precomputed=precomputed,
                                    n_points=n))


def _subsamples(n: int, n_sub: int, nres: int, seed: int) -> list[torch.Tensor]:
    """The ``nres`` random subsets (CPU int64 indices) drawn from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g)[:n_sub] for _ in range(nres)]


def _reusable_width(j: int, n_sub: int, n: int, *, budget: float = 1e-3) -> int | None:
    """Neighbours K to find once on all n points so a resample of n_sub keeps j of them for every point.

    A point keeps each of its K neighbours with probability s = n_sub/n, so it has fewer than j in
    the resample with probability P(Binomial(K, s) < j); pick the smallest K that makes the expected
    number of such points at most ``budget`` (they trigger a fresh search). None if K would exceed
    4j + 32 or n − 1: then searching each resample is cheaper.
    """
    s = n_sub / n
    for K in range(j, min(4 * j + 32, n - 1) + 1):
        tail = sum(math.comb(K, i) * s ** i * (1 - s) ** (K - i) for i in range(j))
        if n_sub * tail <= budget:
            return K
    return None


def _within(dist: torch.Tensor, idx: torch.Tensor, sub: torch.Tensor, j: int) -> torch.Tensor | None:
    """Each resampled point's j nearest neighbours inside the resample, read off the full-set lists.

    The lists are sorted by distance, so the first j entries that fall inside the resample are its
    j nearest neighbours there. None if some point has fewer than j in-sample entries in its list.
    """
    K = idx.shape[1]
    inside = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    inside[sub] = True
    positions = torch.arange(K, device=idx.device).expand(len(sub), K)
    positions = torch.where(inside[idx[sub]], positions, K).sort(dim=1).values[:, :j]
    if bool((positions == K).any()):
        return None
    return dist[sub].gather(1, positions)
