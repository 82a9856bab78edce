"""Exact k-nearest neighbours by chunked brute force in torch, under a memory cap.

The search never holds more than one block of ``rows × n`` scores (``max_bytes``), so it runs on
n = 50,000 points on a laptop and on a GPU alike. Within a block the squared Euclidean distance
is expanded as ‖a − b‖² = ‖a‖² − 2 a·b + ‖b‖², one matrix product per block, and ``torch.topk``
picks each row's candidates. Two things keep that fast expansion honest:

* the data are centred first (distances do not change under translation), which removes the
  catastrophic cancellation of ‖a‖² − 2 a·b + ‖b‖² for data far from the origin;
* more candidates than asked for are kept, and their distances are recomputed exactly, in
  float64, from the differences a − b; the k smallest of those are returned. So the returned
  distances are exact for the returned indices, and float32 rounding in the search can only
  matter when more than ``k + max(2, k // 4)`` points are within float32 resolution of the k-th
  one (pass ``dtype=torch.float64`` for such data).

Wider data (p ≥ 64 features) is first searched in r + 1 dimensions, r = min(64, ⌊p/4⌋): the
coordinates P = x·V on an orthonormal basis V near the data's leading r principal directions, plus
the norm ρ of what V leaves out. Because ‖x_a − x_b‖² = ‖P_a − P_b‖² + ‖r_a − r_b‖² ≥ ‖P_a − P_b‖² +
(ρ_a − ρ_b)², the distance between the points (P, ρ) is a lower bound of the true distance. A
point's k nearest among its k + max(2, k // 4) lower-bound candidates, measured exactly, are
certified when the k-th of them is no farther than the next candidate's lower bound (less a
rounding slack); every point that is not certified is searched again in full. The answer is the
same, at a fraction of the cost when the spectrum decays fast (low-rank data plus small noise: the
score products shrink from p to r + 2 columns); when the first block of points certifies less than
half, the full search runs for all instead (the first block's pre-search is then wasted).

Float32 points stay float32 (a 10,000 × 65,536 activation is 2.6 GB, not 5.2): the search is in
float32 anyway, and the exact distances of the candidates are taken in float64 from the rows.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features

DEFAULT_MAX_BYTES = 1 << 25
"""Default cap, in bytes, on one block of the search (32 MiB): blocks of a few hundred rows stay
in cache for the top-k that follows the product; measured on 2 cores at n = 10,000, 32 MiB was
15-25% faster than 16 or 256 MiB at D = 100 and D = 1000."""

SEARCH_DTYPES = (torch.float32, torch.float64)

PROJECTION_RANK = 64
"""Most principal directions of the lower-bound pre-search: it uses r = min(64, ⌊p/4⌋) of them."""

MIN_PROJECTION_RANK = 16
"""The pre-search runs when r >= this, i.e. from p = 64 features on."""


def knn(X: Any, k: int, *, exclude_self: bool = True, precomputed: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES, dtype: torch.dtype = torch.float32
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest neighbours of every row of ``X`` among the rows of ``X``.

    Args:
        X: points [n, p] (torch or numpy, any device), or with ``precomputed=True`` a symmetric
            [n, n] matrix of pairwise distances with a zero diagonal.
        k: neighbours per point.
        exclude_self: leave each point out of its own neighbour list. Other points at distance 0
            (duplicates) are kept, with distance 0.
        precomputed: ``X`` is a distance matrix; its entries are used as they are.
        max_bytes: cap on the memory of one block of the search (its scores and the float64
            differences of its candidates); the work is split into as many row blocks as that
            needs, down to one row per block.
        dtype: float32 (fast) or float64 (exact ranking too) for the blocked search; returned
            distances are float64 either way.

    Returns:
        ``(distances, indices)``, both [n, k] on ``X``'s device: float64 distances sorted
        ascending along each row, and int64 indices of those neighbours.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DeepscopeError(f"k must be a positive integer number of neighbours; got {k!r}.")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise DeepscopeError(f"max_bytes must be a positive integer; got {max_bytes!r}.")
    if dtype not in SEARCH_DTYPES:
        raise DeepscopeError(f"dtype must be torch.float32 or torch.float64 for the search; got {dtype}.")
    min_rows = k + 1 if exclude_self else k
    if precomputed:
        return _knn_precomputed(as_distance_matrix(X, min_rows=min_rows), k, exclude_self, max_bytes)
    return _knn_points(as_points(X, min_rows=min_rows), k, exclude_self, max_bytes, dtype)


def as_points(X: Any, *, min_rows: int = 2) -> torch.Tensor:
    """``X`` as checked points [n, p]: float32 and float64 tensors keep their dtype (a wide float32
    activation is not doubled in memory; exact distances are taken in float64 from its rows), anything
    else becomes float64."""
    dtype = X.dtype if isinstance(X, torch.Tensor) and X.dtype in SEARCH_DTYPES else torch.float64
    return as_features(X, min_rows=min_rows, dtype=dtype)


def as_distance_matrix(D: Any, *, min_rows: int = 2) -> torch.Tensor:
    """Return ``D`` as a float64 [n, n] tensor after checking it is a distance matrix.

    Raises :class:`DeepscopeError` unless ``D`` is square, finite, non-negative, symmetric and
    (near) zero on the diagonal, both up to 1e-3 of its largest entry: that admits the rounding of
    ``torch.cdist`` and rejects similarity or kernel matrices. :func:`knn` masks the diagonal when it excludes self.
    Small distances in a matrix made by the ‖a‖² − 2ab + ‖b‖² expansion (``torch.cdist``'s default
    for large inputs, especially in float32) can be pure rounding; prefer ``torch.pdist`` or
    ``torch.cdist(..., compute_mode="donot_use_mm_for_euclid_dist")``, or pass the points instead.
    """
    if getattr(D, "ndim", 2) > 2:
        raise DeepscopeError(f"distances must be a 2-D [n, n] matrix; got shape {tuple(D.shape)}.")
    D = as_features(D, name="distances", min_rows=min_rows)
    n, m = D.shape
    if n != m:
        raise DeepscopeError(f"distances must be a square [n, n] matrix of pairwise distances; got shape "
                             f"({n}, {m}). Pass precomputed=False to give points [n, p] instead.")
    if bool((D < 0).any()):
        raise DeepscopeError("distances has negative entries; pass Euclidean distances (e.g. torch.cdist(X, X)).")
    tolerance = 1e-3 * float(D.max())
    if float(D.diagonal().max()) > tolerance:
        raise DeepscopeError(f"distances must be 0 on the diagonal (a point's distance to itself); the largest "
                             f"diagonal entry is {float(D.diagonal().max()):.3g}. Pass a distance matrix, "
                             f"not a similarity or kernel matrix.")
    if not torch.allclose(D, D.T, rtol=0.0, atol=tolerance):
        raise DeepscopeError("distances is not symmetric; pass pairwise distances d(i, j) = d(j, i) "
                             "(symmetrise with (D + D.T) / 2 if it came out of a lossy computation).")
    return D


def _rows_per_block(max_bytes: int, bytes_per_row: int) -> int:
    return max(1, max_bytes // bytes_per_row)


def _knn_precomputed(D: torch.Tensor, k: int, exclude_self: bool, max_bytes: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    n = D.shape[0]
    rows = _rows_per_block(max_bytes, n * D.element_size())
    dists, idx = [], []
    for start in range(0, n, rows):
        block = D[start:start + rows]
        if exclude_self:
            block = block.clone()
            block.diagonal(offset=start).fill_(float("inf"))
        d, i = torch.topk(block, k, dim=1, largest=False, sorted=True)
        dists.append(d)
        idx.append(i)
    return torch.cat(dists), torch.cat(idx)


def _with_margin(k: int) -> int:
    """Candidates kept per point for exact measurement: k plus a margin against rounding."""
    return k + max(2, k // 4)


def _knn_points(X: torch.Tensor, k: int, exclude_self: bool, max_bytes: int, dtype: torch.dtype
                ) -> tuple[torch.Tensor, torch.Tensor]:
    n, p = X.shape
    centred = X - X.mean(dim=0)
    every = torch.arange(n, device=X.device)
    found = None
    rank = min(PROJECTION_RANK, p // 4)
    if rank >= MIN_PROJECTION_RANK and n > 4 * rank:
        found = _projected_search(X, centred, rank, k, exclude_self, max_bytes, dtype)
    if found is None:
        return _full_search(X, centred, every, k, exclude_self, max_bytes, dtype)
    dist, idx, certified = found
    rest = every[~certified]
    if len(rest):
        dist[rest], idx[rest] = _full_search(X, centred, rest, k, exclude_self, max_bytes, dtype)
    return dist, idx


def _full_search(X: torch.Tensor, centred: torch.Tensor, queries: torch.Tensor, k: int, exclude_self: bool,
                 max_bytes: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """k-NN of the rows ``queries``: float32/64 candidates in all p dimensions, then exact distances."""
    n_candidates = min(_with_margin(k), len(X) - int(exclude_self))
    dists, idx = [], []
    for rows, _, candidates in _blocks(centred.to(dtype), queries, n_candidates, exclude_self, max_bytes):
        d, i = _exact_nearest(X, rows, candidates, k, max_bytes)
        dists.append(d)
        idx.append(i)
    return torch.cat(dists), torch.cat(idx)


def _projected_search(X: torch.Tensor, centred: torch.Tensor, rank: int, k: int, exclude_self: bool,
                      max_bytes: int, dtype: torch.dtype
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """k-NN through the (rank + 1)-d lower bound (module docstring), and which rows it certified.

    None when the first block certifies fewer than half its rows: the spectrum is too flat for the
    bound to pay, and a full search of every row is cheaper than finishing this one.
    """
    n = X.shape[0]
    U = _lower_bound_coordinates(centred, _principal_basis(centred, rank), max_bytes)
    sq_norms = U.square().sum(dim=1)
    # rounding of the expanded lower bound in `dtype`: a generous multiple of the dot-product error bound
    slack = 8 * U.shape[1] * torch.finfo(dtype).eps * (sq_norms + sq_norms.max())
    available = n - int(exclude_self)
    n_candidates = min(_with_margin(k), available)
    n_scores = min(n_candidates + 1, available)  # one more: the bound on everything not measured
    dists, idx, certified = [], [], []
    for rows, scores, candidates in _blocks(U.to(dtype), torch.arange(n, device=X.device), n_scores,
                                            exclude_self, max_bytes):
        d, i = _exact_nearest(X, rows, candidates[:, :n_candidates], k, max_bytes)
        if n_scores > n_candidates:
            bound = scores[:, n_candidates].to(torch.float64) + sq_norms[rows] - slack[rows]
            certified.append(d[:, -1].square() <= bound)
        else:
            certified.append(torch.ones(len(rows), dtype=torch.bool, device=X.device))
        if len(certified) == 1 and 2 * int(certified[0].sum()) < len(rows):
            return None
        dists.append(d)
        idx.append(i)
    return torch.cat(dists), torch.cat(idx), torch.cat(certified)


def _lower_bound_coordinates(centred: torch.Tensor, basis: torch.Tensor, max_bytes: int) -> torch.Tensor:
    """Rows (P, ρ) in float64: P = x·V on the orthonormal basis V, ρ = ‖x‖² − ‖P‖² clamped, square-rooted;
    taken over row blocks in float64 so a float32 input is never copied whole in float64."""
    rows = _rows_per_block(max_bytes, centred.shape[1] * 8)
    parts = []
    for block in centred.split(rows):
        block = block.to(torch.float64)
        P = block @ basis
        rho = (block.square().sum(dim=1) - P.square().sum(dim=1)).clamp_min(0.0).sqrt()
        parts.append(torch.cat([P, rho.unsqueeze(1)], dim=1))
    return torch.cat(parts)


def _principal_basis(centred: torch.Tensor, rank: int) -> torch.Tensor:
    """An orthonormal float64 basis [p, rank] near the leading principal directions.

    One step of subspace iteration, Q R = Sᵀ S G, on a deterministic stride S of about 2048 rows
    of the centred data, from a Gaussian G of a private fixed-seed generator (the randomized range
    finder of Halko, Martinsson & Tropp 2011). Any orthonormal basis keeps the lower bound valid;
    a better one only certifies more points.
    """
    sample = centred[::max(1, len(centred) // 2048)]
    start = torch.randn(centred.shape[1], rank, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    product = sample.T @ (sample @ start.to(device=centred.device, dtype=centred.dtype))
    return torch.linalg.qr(product.to(torch.float64)).Q


def _blocks(points: torch.Tensor, queries: torch.Tensor, m: int, exclude_self: bool, max_bytes: int
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """For blocks of query rows: (rows, scores [b, m], candidates [b, m]), the m smallest scores
    ‖b‖² − 2 a·b in ascending order, a ranging over the block, b over all ``points``.

    The score is the squared distance less the row constant ‖a‖², which does not change a row's
    ranking; one product per block gives it, with rows [a, 1] against rows [−2b, ‖b‖²]. A block holds
    its scores and its own rows (for wide data the rows matter: every block reads all the keys once).
    """
    n = len(points)
    keys = torch.cat([-2.0 * points, points.square().sum(dim=1, keepdim=True)], dim=1)
    rows_per_block = _rows_per_block(max_bytes, (n + points.shape[1] + 1) * points.element_size())
    for start in range(0, len(queries), rows_per_block):
        rows = queries[start:start + rows_per_block]
        block = points[rows]
        scores = torch.cat([block, torch.ones_like(block[:, :1])], dim=1) @ keys.T
        if exclude_self:
            scores[torch.arange(len(rows), device=rows.device), rows] = float("inf")
        values, candidates = torch.topk(scores, m, dim=1, largest=False, sorted=True)
        del block, scores  # free the block before the caller allocates: held across the yield, the heap grew
        yield rows, values, candidates


def _exact_nearest(X: torch.Tensor, rows: torch.Tensor, candidates: torch.Tensor, k: int, max_bytes: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest of each row's candidates, by distances computed from differences in float64, in
    sub-blocks of rows whose differences fit in ``max_bytes``."""
    m, p = candidates.shape[1], X.shape[1]
    step = _rows_per_block(max_bytes, m * p * 8)
    exact = []
    for lo in range(0, len(rows), step):
        chosen = candidates[lo:lo + step]
        # advanced indexing: a parallel row gather (index_select was 20x slower for wide rows on CPU)
        differences = X[chosen.flatten()].view(*chosen.shape, p).to(torch.float64)
        exact.append(torch.linalg.vector_norm(differences.sub_(X[rows[lo:lo + step]].to(torch.float64)
                                                               .unsqueeze(1)), dim=2))
    d, order = torch.topk(torch.cat(exact), k, dim=1, largest=False, sorted=True)
    return d, candidates.gather(1, order)
