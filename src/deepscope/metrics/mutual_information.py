"""Mutual information between a representation and a reference, by size-matched conditional entropies.

Liao, Liu et al. 2023 (arXiv 2312.04823) define the diffusion spectral mutual information

    I_D(X; Y) = S_D(X, t) − Σ_y p(y) S_D(X | Y = y, t).

DSE grows with the number of points, so the unconditional term is estimated at the size of each class,
as in the authors' package (``dse-dsmi`` 1.1): for every cluster c of the reference, with n_c members,

    I = Σ_c (n_c / N) · [ mean_r H(X[S_{c,r}]) − H(X[c]) ],

S_{c,1..R} being R (``num_repetitions``, 5) subsets of n_c rows drawn uniformly without replacement from
all N rows. The scheme is the same for every entropy H: DSE gives DSMI, the binned entropy gives the
classic (binned) MI, the adjacency spectral entropy gives the adjacency MI; it is written once, in
:func:`size_matched_mutual_information`, and the three estimators only choose H.

The reference Y becomes clusters as in the package: integer labels are the clusters; a continuous scalar
is min-max scaled into ``n_clusters`` equal-width bins; a continuous vector is clustered by spectral
clustering (scikit-learn ``SpectralClustering``, nearest-neighbours affinity, ``cluster_qr`` labels).

Subsets are drawn by a :data:`SubsetSampler`; the default (:func:`random_subsets`) uses a private
``torch.Generator``, never a global RNG. The package instead reseeds Python's global ``random`` with its
seed before every cluster's draws; a sampler that reproduces those draws (for comparisons) is::

    def package_sampler(n, size, repetitions):
        rng = random.Random(seed)
        return [rng.sample(range(n), size) for _ in range(repetitions)]
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features, as_labels
from deepscope.metrics.diffusion import Sigma, resolve_sigma, standardize_features
from deepscope.metrics.discrete import Correction, joint_codes, uniform_bin
from deepscope.metrics.entropy import (Method, adjacency_spectral_entropy, binned_entropy,
                                       diffusion_spectral_entropy)

SubsetSampler = Callable[[int, int, int], Sequence[Sequence[int] | torch.Tensor]]
"""``sampler(n, size, repetitions)`` returns ``repetitions`` subsets of ``size`` distinct row indices in 0..n−1."""

Entropy = Callable[[torch.Tensor], float]
"""An entropy estimate of a set of points [m, p] (float64 tensor)."""


class NegativeEstimateWarning(UserWarning):
    """A mutual-information estimate came out below 0 (estimation error) and was reported as 0."""


def random_subsets(seed: int = 0) -> SubsetSampler:
    """A sampler drawing each subset as the first ``size`` entries of a random permutation of 0..n−1, from one
    CPU ``torch.Generator`` seeded with ``seed`` and shared by all clusters (which are visited in label order)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def draw(n: int, size: int, repetitions: int) -> list[torch.Tensor]:
        return [torch.randperm(n, generator=gen)[:size] for _ in range(repetitions)]

    return draw


def _is_integer_dtype(a: torch.Tensor | np.ndarray) -> bool:
    if isinstance(a, torch.Tensor):
        return not a.is_floating_point() and not a.is_complex()
    return bool(np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_)


def reference_clusters(reference: Any, *, discrete: bool | None = None, n_clusters: int = 10,
                       seed: int = 0) -> torch.Tensor:
    """Cluster ids 0..K−1 (int64, CPU) of the N reference rows, as the DSMI reference package assigns them.

    - ``discrete`` (default: a 1-D or [N, 1] reference of integer or bool dtype): each distinct value (row) is
      one cluster;
    - continuous scalar: min-max scaled into ``n_clusters`` equal-width bins (top edge in the last bin);
    - continuous vector [N, d]: ``sklearn.cluster.SpectralClustering(n_clusters, affinity='nearest_neighbors',
      assign_labels='cluster_qr', random_state=seed)``.

    Compute the clusters once and pass them as ``clusters=`` to reuse them across layers or epochs.
    """
    ref = reference if isinstance(reference, torch.Tensor) else np.asarray(reference)
    integer = _is_integer_dtype(ref)
    R = as_features(ref.reshape(-1, 1) if ref.ndim == 1 else ref, name="reference", min_rows=1)
    if discrete is None:
        discrete = R.shape[1] == 1 and integer
    if discrete:
        return joint_codes(R).cpu()
    if R.shape[1] == 1:
        return uniform_bin(R, n_clusters)[:, 0].cpu()
    from sklearn.cluster import SpectralClustering

    labels = SpectralClustering(n_clusters=n_clusters, affinity="nearest_neighbors", assign_labels="cluster_qr",
                                random_state=seed).fit_predict(R.cpu().numpy())
    return torch.as_tensor(labels, dtype=torch.int64)


def size_matched_mutual_information(X: torch.Tensor, clusters: torch.Tensor, entropy: Entropy, *,
                                    num_repetitions: int = 5, sampler: SubsetSampler | None = None,
                                    seed: int = 0) -> float:
    """I = Σ_c (n_c/N) [mean_r H(X[S_{c,r}]) − H(X[c])] for any entropy H (Liao, Liu et al. 2023, §DSMI).

    ``X`` [N, p] float64, ``clusters`` [N] int64 ids; S_{c,r} are the ``num_repetitions`` subsets of n_c rows
    that ``sampler(N, n_c, num_repetitions)`` returns (default: :func:`random_subsets` with ``seed``).
    Clusters are visited in increasing id order.
    """
    if num_repetitions < 1:
        raise DeepscopeError(f"num_repetitions must be at least 1; got {num_repetitions}.")
    n = X.shape[0]
    draw = random_subsets(seed) if sampler is None else sampler
    total = 0.0
    for c in torch.unique(clusters).tolist():
        members = torch.nonzero(clusters == c).flatten()
        size = members.numel()
        conditional = entropy(X[members.to(X.device)])
        subsets = [torch.as_tensor(s, dtype=torch.int64).flatten() for s in draw(n, size, num_repetitions)]
        if not subsets or any(s.numel() != size or int(s.min()) < 0 or int(s.max()) >= n for s in subsets):
            raise DeepscopeError(f"The subset sampler must return subsets of {size} row indices in 0..{n - 1} for "
                                 f"cluster {c}; got sizes {[s.numel() for s in subsets]}.")
        unconditional = sum(entropy(X[s.to(X.device)]) for s in subsets) / len(subsets)
        total += size / n * (unconditional - conditional)
    return total


def _mutual_information(X: Any, reference: Any, entropy_of: Callable[[torch.Tensor], Entropy], *,
                        reference_discrete: bool | None, clusters: Any, n_clusters: int, num_repetitions: int,
                        seed: int, sampler: SubsetSampler | None, standardize: bool = False) -> float:
    """Validate, z-score if asked, assign clusters, then :func:`size_matched_mutual_information` with the
    entropy ``entropy_of(Z)`` built from the whole prepared Z (so a data-driven bandwidth is fixed once)."""
    Z = as_features(X)
    if standardize:
        Z = standardize_features(Z)
    n = Z.shape[0]
    if clusters is not None:
        ids = as_labels(clusters, n, name="clusters")
    elif reference is None:
        raise DeepscopeError("Pass a reference (labels or vectors, one per row of X) or precomputed clusters=.")
    else:
        ids = reference_clusters(reference, discrete=reference_discrete, n_clusters=n_clusters, seed=seed)
        if ids.numel() != n:
            raise DeepscopeError(f"reference has {ids.numel()} rows but X has {n}; pass one reference per point.")
    return size_matched_mutual_information(Z, ids, entropy_of(Z), num_repetitions=num_repetitions,
                                           sampler=sampler, seed=seed)


def diffusion_spectral_mutual_information(
        X: Any, reference: Any = None, *, reference_discrete: bool | None = None, clusters: Any = None,
        sigma: Sigma = 10.0, t: float = 1, n_clusters: int = 10, num_repetitions: int = 5, seed: int = 0,
        standardize: bool = False, max_n: int | None = 10000, method: Method = "exact", matrix_entry: bool = False,
        sampler: SubsetSampler | None = None) -> float:
    """Diffusion spectral mutual information I_D(X; Y) in bits (Liao, Liu et al. 2023).

    I_D = Σ_c (n_c/N) [mean_r DSE(X[S_{c,r}]) − DSE(X[c])] over the clusters c of the reference (see the
    module docstring), with DSE as in :func:`deepscope.metrics.entropy.diffusion_spectral_entropy` (``sigma``,
    ``t``, ``max_n``, ``method``, ``matrix_entry``, ``seed``). A ``'median'`` bandwidth and ``standardize`` are
    computed once on all of X, so every conditional and unconditional entropy uses the same kernel.
    ``clusters`` (ids per row) replaces ``reference``; ``sampler`` replaces the seeded subset draws.
    Defaults follow ``dse-dsmi`` 1.1 (which returns the clusters too; use :func:`reference_clusters` for them).
    """
    def entropy_of(Z: torch.Tensor) -> Entropy:
        bandwidth = resolve_sigma(Z, sigma, seed)
        return lambda S: diffusion_spectral_entropy(S, bandwidth, t, max_n, seed, method=method,
                                                    matrix_entry=matrix_entry)

    return _mutual_information(X, reference, entropy_of, reference_discrete=reference_discrete, clusters=clusters,
                               n_clusters=n_clusters, num_repetitions=num_repetitions, seed=seed, sampler=sampler,
                               standardize=standardize)


def binned_mutual_information(X: Any, reference: Any = None, *, reference_discrete: bool | None = None,
                              clusters: Any = None, bins: int = 2, n_clusters: int = 10, num_repetitions: int = 5,
                              seed: int = 0, sampler: SubsetSampler | None = None,
                              correction: Correction = None) -> float:
    """Classic (binned) Shannon mutual information in bits (the baseline of Liao, Liu et al. 2023).

    The size-matched scheme of the module docstring with H = :func:`deepscope.metrics.entropy.binned_entropy`
    (``bins`` per feature; each subset is min-max scaled anew, as in ``dse-dsmi``'s
    ``classic_shannon_entropy=True``):

        I = Σ_c (n_c/N) · [ mean_r H(X[S_{c,r}]) − H(X[c]) ].

    Bias. A plug-in entropy of n points in m occupied cells is low by ≈ (m − 1)/(2n ln 2) bits (Miller 1955).
    Both terms of cluster c use n_c points, so the plug-in I is low by ≈ Σ_c (n_c/N) (m_S − m_c)/(2 n_c ln 2),
    m_S and m_c the cells occupied by a random subset and by the cluster: whenever the cluster occupies fewer
    cells than a random subset (X depends on the reference), I is underestimated. When X and the reference
    are independent, the cluster is just another random subset, so the estimate is unbiased but scatters
    around 0, below it about half the time. ``correction="miller-madow"`` adds (m̂ − 1)/(2 n_c ln 2) to every
    entropy (m̂ the cells seen), removing the leading bias term; the default (None) keeps the plug-in value,
    comparable with ``dse-dsmi``.

    Binning. Every subset is min-max scaled on its own, so a cluster is not binned like a random subset and the
    estimate is not the mutual information of one fixed binning: it can stay below 0 at any n. For instance, with
    classes shifted apart along a feature, a random subset spans that feature unevenly and fills its cells less
    evenly than one class does (three classes shifted by 3σ along their own axis of four tend to −0.5 bits).

    A negative estimate (no mutual information is negative) is reported as 0, with a
    :class:`NegativeEstimateWarning` giving the raw value; ``dse-dsmi`` returns the negative number.
    """
    value = _mutual_information(X, reference, lambda Z: lambda S: binned_entropy(S, bins, correction=correction),
                                reference_discrete=reference_discrete, clusters=clusters, n_clusters=n_clusters,
                                num_repetitions=num_repetitions, seed=seed, sampler=sampler)
    if value < 0:
        advice = "use more points per class or fewer bins" + ("" if correction else ", or correction='miller-madow'")
        warnings.warn(f"binned mutual information came out {value:.3g} bits, below 0, through the finite-sample "
                      f"bias of plug-in entropies and the separate binning of every subset (see "
                      f"binned_mutual_information's docstring); it is reported as 0. For a firmer estimate {advice}.",
                      NegativeEstimateWarning, stacklevel=2)
        return 0.0
    return value


def adjacency_mutual_information(X: Any, reference: Any = None, *, reference_discrete: bool | None = None,
                                 clusters: Any = None, sigma: Sigma = 10.0, normalized: bool = False,
                                 knn: int | None = None, n_clusters: int = 10, num_repetitions: int = 5,
                                 seed: int = 0, standardize: bool = False, max_n: int | None = 10000,
                                 sampler: SubsetSampler | None = None) -> float:
    """Adjacency spectral mutual information in bits: the size-matched scheme with
    :func:`deepscope.metrics.entropy.adjacency_spectral_entropy` (Gaussian, degree-normalised or kNN adjacency;
    as ``dse-dsmi``'s ``adjacency_spectral_mutual_information``)."""
    def entropy_of(Z: torch.Tensor) -> Entropy:
        bandwidth = resolve_sigma(Z, sigma, seed) if knn is None else sigma  # unused by the kNN adjacency
        return lambda S: adjacency_spectral_entropy(S, bandwidth, normalized=normalized, knn=knn, max_n=max_n,
                                                    seed=seed)

    return _mutual_information(X, reference, entropy_of, reference_discrete=reference_discrete, clusters=clusters,
                               n_clusters=n_clusters, num_repetitions=num_repetitions, seed=seed, sampler=sampler,
                               standardize=standardize)
