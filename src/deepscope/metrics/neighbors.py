"""Exact k-nearest neighbours in torch, under a memory cap, on any device.

Every answer is exact: the returned distances are float64 distances summed from the differences of
the rows, and no point left out is nearer than the k-th (ties excepted), because each row's list is
*certified* before it is returned. The search is a multi-step k-NN (Seidl & Kriegel, "Optimal
multi-step k-nearest neighbor search", SIGMOD 1998): points are ranked by a cheap lower bound of
their distance, and measured exactly, in the order of their bounds, only while a bound can still
beat the k-th distance d measured so far.

Scores. Each stage ranks, for a row a, the points b by ‖u_b‖² − 2 u_a·u_b = ‖u_a − u_b‖² − ‖u_a‖² over
points u whose distances bound the true ones from below: one matrix product per block of rows, in
float32 (``dtype``). The data are centred first, which removes the cancellation of that expansion
for data far from the origin; what is left is bounded: a computed score is within
rate · (‖u_a‖² + 2‖u_b‖²) of the exact one (``_Stage.of``).

Stages, each handing on the rows it does not certify:

1. The low-rank filter, for p ≥ 64 features. u = (P, ρ): the coordinates P = (x − x̄)·V on an
   orthonormal basis V of r ≤ min(64, ⌊p/4⌋) leading principal directions (a randomized range finder
   on about 2,048 rows, cut where the spectrum reaches the noise it leaves out), and the norm ρ of
   what V leaves out. Because ‖x_a − x_b‖² = ‖P_a − P_b‖² + ‖R_a − R_b‖² ≥ ‖P_a − P_b‖² + (ρ_a − ρ_b)²
   (R the residuals, ρ = ‖R‖), ‖u_a − u_b‖ is a lower bound of the distance. A row scans its 4k
   smallest scores, recomputes those candidates' bounds exactly in float64 from (P, ρ), and measures
   them in that order while the bound is within d² (``_measure_needed``). It is certified when the
   next score's horizon (``_Stage.horizon``) is beyond d², so no point it did not scan can be nearer;
   when d = 0; or when it scanned every point. Otherwise it scans twice as many, keeping what it
   measured, up to n / 64 candidates.
2. The full search in ``dtype`` (u = the centred points, so the bound is the distance itself less the
   rounding allowance), one round of k + max(2, k // 4) candidates.
3. The full search in float64, for the rows float32 rounding could not vouch for (points whose
   spread dwarfs their neighbour distances); it never gives up.

Stages 1 and 2 try their first 256 rows first and give up on all rows when they certify fewer than
half (isotropic data for the filter; float32 too coarse for the full search), so a stage that cannot
pay costs only that probe.

Selection. With few columns (the filter's r + 2) the product is cheap next to a pass over its
output, so the points are taken in groups of 32 whose minima alone are kept, tile by cache-sized
tile, and only the best groups are scored again (``_smallest_scores``: exact, not a heuristic).

Memory. ``max_bytes`` caps one block's scores (or group minima) and the chunks of points taken for
them; tiles, rescored groups and the float64 copies of measured rows stay within about 1 MiB each.
The data are never copied whole: a float32 input stays float32 (a 10,000 × 65,536 activation is
2.6 GB, not 5.2), the projection and the measurements take float64 copies of small blocks, and a
full search centres (and rounds) the rows as it takes them, all at once only below 256 columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features

DEFAULT_MAX_BYTES = 1 << 25
"""Default cap, in bytes, on one block of the search (32 MiB)."""

SEARCH_DTYPES = (torch.float32, torch.float64)

_EPS64 = torch.finfo(torch.float64).eps

PROJECTION_RANK = 64
"""Most principal directions of the lower-bound filter: it looks for min(64, ⌊p/4⌋) of them."""

MIN_PROJECTION_RANK = 16
"""The filter runs when min(64, ⌊p/4⌋) >= this, i.e. from p = 64 features on, and n exceeds 4 times that."""

BASIS_SAMPLE = 2048
"""Rows (about) of the deterministic stride on which the filter's basis is found."""

BASIS_ITERATIONS = 1
"""Subspace iterations for the filter's basis (a second one did not lower the measurements on the
ResNet-18 stem activation of ``benchmarks/id_speed.py``)."""

RANK_TAIL = 0.25
"""The filter's basis drops trailing directions that hold at most this share of the variance it leaves out."""

PROBE_ROWS = 256
"""A stage that is not final runs on its first this many rows, and goes on only if it certifies half."""

FILTER_WIDTH = 4
"""The filter's first round scans this many candidates per neighbour asked for (it measures fewer)."""

FILTER_SHARE = 64
"""The filter hands a row on to the full search once it would scan more than n / FILTER_SHARE
candidates for it: its bound is then too loose for that row to pay."""

GROUP = 32
"""Keys per group in the selection of the smallest scores (see ``_smallest_scores``)."""

GROUPED_MAX_COLUMNS = 256
"""Groups are used up to this many score columns; beyond, the product outweighs a pass over its output."""

GROUPED_BLOCK_ROWS = 256
"""Most query rows per block of the grouped selection (its tiles are then 256 rows by 1,024 keys)."""

TILE_ELEMENTS = 1 << 18
"""Scores per tile of the grouped selection (1 MiB in float32: a tile is reduced while in cache)."""

MEASURE_ELEMENTS, MEASURE_COLUMNS = 1 << 17, 4096
"""float64 elements (1 MiB) and columns per sub-block of the exact measurement and of the projection."""


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
        max_bytes: cap on the memory of one block of the search (its scores, or their group
            minima); the work is split into as many row blocks as that needs, down to one row per
            block.
        dtype: float32 (fast) or float64 for the scores of the search. The answer is exact either
            way: rows that float32 rounding cannot vouch for are searched again in float64.
            Returned distances are float64.

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
    """Candidates scanned per point in the first round of a full search: k plus a margin, so that
    near-ties at the k-th score seldom cost a second round."""
    return k + max(2, k // 4)


@dataclass(frozen=True)
class _Stage:
    """One stage of the search: points u whose distances bound the true ones from below, and how far
    their computed scores can be trusted.

    The points are ``source`` [n, q] as they are (the filter's (P, ρ), already in ``dtype``), or, with
    a ``mean``, the data's rows centred and rounded to ``dtype`` as they are taken (:meth:`take`: a
    full search never copies the data whole); ‖u_a − u_b‖ ≤ ‖x_a − x_b‖ for every pair (equal in a
    full search). ``sq_norms`` are their squared norms in float64, ``key_sq`` the same rounded to
    ``dtype``, the keys of the scores. ``exact``: the filter's points in float64, each within
    ``error[a]`` (a distance) of what exact arithmetic would give; None in a full search. ``rate``
    scales the rounding allowance of a score (:meth:`of`). ``first`` is how many candidates the
    first round scans; ``share`` caps the candidates a row may scan, as n / share (0: one round); a
    ``final`` stage answers every row.
    """

    source: torch.Tensor
    mean: torch.Tensor | None
    dtype: torch.dtype
    key_sq: torch.Tensor
    sq_norms: torch.Tensor
    exact: torch.Tensor | None
    error: torch.Tensor
    rate: float
    first: int
    share: int
    final: bool

    @classmethod
    def of(cls, source: torch.Tensor, mean: torch.Tensor | None, dtype: torch.dtype, sq_norms: torch.Tensor,
           exact: torch.Tensor | None, error: torch.Tensor, p: int, first: int, share: int, final: bool) -> _Stage:
        """A computed score is a dot product of q + 1 terms in ``dtype``, of points rounded to that
        dtype, with a squared norm rounded to it; the selection compares values of up to three such
        evaluations (``_smallest_scores``). A sum of t terms is within t·u·Σ|terms| of its exact value
        in any order of summation (u = eps/2), and Σ|terms| ≤ ‖u_a‖² + 2‖u_b‖² here; ``rate`` =
        4·(q + 1)·eps, plus 8·p·eps64 for the float64 sums over p features, covers all of it with a
        margin, so a point's squared distance is at least score + ‖u_a‖² − rate·(‖u_a‖² + 2‖u_b‖²)."""
        rate = 4 * (source.shape[1] + 1) * _product_eps(dtype) + 8 * p * _EPS64
        return cls(source, mean, dtype, sq_norms.to(dtype), sq_norms, exact, error, rate, first, share, final)

    def take(self, index: torch.Tensor | slice) -> torch.Tensor:
        """The points u of the rows ``index``, in ``dtype``."""
        if self.mean is None:
            return self.source[index]
        wide = torch.promote_types(self.source.dtype, self.dtype)  # centre in the wider type, then round once
        return (self.source[index].to(wide) - self.mean.to(wide)).to(self.dtype)

    def lower(self, rows: torch.Tensor, candidates: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Lower bounds [b, m] of the squared distances from ``rows`` to their ``candidates``: the
        float64 distance of the exact points less their errors, or the score's bound (:meth:`of`)."""
        sq_a, sq_b = self.sq_norms[rows].unsqueeze(1), self.sq_norms[candidates]
        if self.exact is None:
            return scores.to(torch.float64) + sq_a - self.rate * (sq_a + 2 * sq_b)
        step = _rows_per_block(8 * MEASURE_ELEMENTS, 8 * candidates.shape[1] * self.exact.shape[1])
        gap = torch.cat([torch.linalg.vector_norm(self.exact[chosen] - self.exact[own].unsqueeze(1), dim=2)
                         for chosen, own in zip(candidates.split(step), rows.split(step))])
        slack = self.error[rows].unsqueeze(1) + self.error[candidates] + 8 * self.exact.shape[1] * gap * _EPS64
        return (gap - slack).clamp_min(0.0).square()

    def horizon(self, rows: torch.Tensor, score: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
        """A lower bound of the squared distance from each row a to every point b whose computed score
        is at least ``score``, as far as it matters next to a k-th squared distance ``d2``: either
        ‖u_b‖ > ‖u_a‖ + d, so b is farther than d anyway, or ‖u_b‖² ≤ (‖u_a‖ + d)² in the score's
        allowance (:meth:`of`); less the points' errors (the largest, for b)."""
        sq_a = self.sq_norms[rows]
        bound = score.to(torch.float64) + sq_a - self.rate * (sq_a + 2 * (sq_a.sqrt() + d2.sqrt()).square())
        return (bound.clamp_min(0.0).sqrt() - self.error[rows] - self.error.max()).clamp_min(0.0).square()


def _projection_error(sq_norms: torch.Tensor, p: int, rank: int) -> torch.Tensor:
    """How far each row's float64 (P, ρ) can be from exact arithmetic's, as a distance: P's error is
    at most √r·γ·‖x‖ and ρ² = ‖x‖² − ‖P‖² is within (2 + 2√(r + 1))·γ·‖x‖² (γ = p·eps64, the bound of
    a float64 sum over p features), hence ρ within the square root of that."""
    gamma = p * _EPS64
    return (rank ** 0.5 * gamma + ((2 + 2 * (rank + 1) ** 0.5) * gamma) ** 0.5) * sq_norms.sqrt()


def _product_eps(dtype: torch.dtype) -> float:
    """Machine epsilon of matrix products in ``dtype``: float32 products may run in TF32 (2⁻¹⁰) or
    bfloat16 (2⁻⁷) when torch's float32 matmul precision allows it."""
    if dtype != torch.float32:
        return torch.finfo(dtype).eps
    return {"highest": torch.finfo(torch.float32).eps, "high": 2.0 ** -10}.get(torch.get_float32_matmul_precision(),
                                                                              2.0 ** -7)


def _knn_points(X: torch.Tensor, k: int, exclude_self: bool, max_bytes: int, dtype: torch.dtype
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k-NN in up to three stages (module docstring), each handing on the rows it did not
    certify: the low-rank filter, the full search in ``dtype``, the full search in float64."""
    n, p = X.shape
    dist = torch.empty(n, k, dtype=torch.float64, device=X.device)
    idx = torch.empty(n, k, dtype=torch.int64, device=X.device)
    rows = torch.arange(n, device=X.device)
    mean = X.mean(dim=0).to(torch.float64)
    rank = min(PROJECTION_RANK, p // 4)
    filtered = rank >= MIN_PROJECTION_RANK and n > 4 * rank
    P, sq_norms = _project(X, mean, _principal_basis(X, mean, rank) if filtered else None, max_bytes)
    if filtered:
        U = torch.cat([P, (sq_norms - P.square().sum(dim=1)).clamp_min(0.0).sqrt().unsqueeze(1)], dim=1)
        stage = _Stage.of(U.to(dtype), None, dtype, U.square().sum(dim=1), U, _projection_error(sq_norms, p, P.shape[1]),
                          p, first=FILTER_WIDTH * k, share=FILTER_SHARE, final=False)
        rows = _certify(X, stage, rows, k, exclude_self, max_bytes, dist, idx)
        del P, U, stage
    for stage_dtype in [dtype] if dtype == torch.float64 else [dtype, torch.float64]:
        if len(rows):
            stage = _Stage.of(X, mean, stage_dtype, sq_norms, None, torch.zeros_like(sq_norms), p,
                              first=_with_margin(k), share=0, final=stage_dtype == torch.float64)
            rows = _certify(X, stage, rows, k, exclude_self, max_bytes, dist, idx)
    return dist, idx


def _certify(X: torch.Tensor, stage: _Stage, rows: torch.Tensor, k: int, exclude_self: bool, max_bytes: int,
             dist: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Fill ``dist`` and ``idx`` for the rows this stage certifies; return the others.

    A stage that is not final gives up on a row once it would scan more than n / ``share``
    candidates (a full search scans once), and on all the rows when it certifies fewer than half of
    the first ``PROBE_ROWS``: its bound is too loose, or its rounding too coarse, to pay.
    """
    n = len(X)
    if stage.final:
        return _rounds(X, stage, rows, k, n, exclude_self, max_bytes, dist, idx)
    limit = max(stage.first, n // stage.share) if stage.share else stage.first
    head = rows[:PROBE_ROWS]
    left = _rounds(X, stage, head, k, limit, exclude_self, max_bytes, dist, idx)
    if 2 * len(left) > len(head):
        return rows
    return torch.cat([left, _rounds(X, stage, rows[len(head):], k, limit, exclude_self, max_bytes, dist, idx)])


def _rounds(X: torch.Tensor, stage: _Stage, rows: torch.Tensor, k: int, limit: int, exclude_self: bool,
            max_bytes: int, dist: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Multi-step k-NN over rounds: scan ``first``, then twice as many, ... candidates by computed
    score (while that is at most ``limit``), and measure, in the order of their lower bounds, those
    whose bound is within the k-th measured distance d (:func:`_measure_needed`). A row is certified
    when no point outside its scanned candidates can be nearer either, d² ≤ horizon (``_Stage``);
    when d = 0; or when every point was scanned. Fills ``dist`` and ``idx`` for the certified rows and
    returns the others; a row keeps what it had measured into the next round."""
    available = len(X) - int(exclude_self)
    width = stage.first
    seen_sq = torch.empty(len(rows), 0, dtype=torch.float64, device=X.device)
    seen = torch.empty(len(rows), 0, dtype=torch.int64, device=X.device)
    while len(rows) and min(width, available) <= limit:
        n_scan = min(width, available)
        n_scores = min(n_scan + 1, available)  # one more: the horizon beyond the scanned candidates
        failing, failing_sq, failing_seen, offset = [], [], [], 0
        for block, scores, candidates in _smallest_scores(stage, rows, n_scores, exclude_self, max_bytes):
            before = slice(offset, offset + len(block))
            offset += len(block)
            lower, order = stage.lower(block, candidates[:, :n_scan], scores[:, :n_scan]).sort(dim=1)
            sq, chosen = _measure_needed(X, block, candidates.gather(1, order), lower, seen_sq[before], seen[before],
                                         k, max_bytes)
            d2, nearest = torch.topk(sq, k, dim=1, largest=False, sorted=True)
            certified = d2[:, -1] == 0
            if n_scores > n_scan:
                certified |= d2[:, -1] <= stage.horizon(block, scores[:, n_scan], d2[:, -1])
            else:  # every other point was scanned
                certified[:] = True
            dist[block[certified]] = d2[certified].sqrt()
            idx[block[certified]] = chosen.gather(1, nearest)[certified]
            failing.append(block[~certified])
            failing_sq.append(sq[~certified])
            failing_seen.append(chosen[~certified])
        most = max(part.shape[1] for part in failing_seen)
        rows = torch.cat(failing)
        seen_sq = torch.cat([F.pad(part, (0, most - part.shape[1]), value=float("inf")) for part in failing_sq])
        seen = torch.cat([F.pad(part, (0, most - part.shape[1]), value=-1) for part in failing_seen])
        width *= 2
    return rows


def _measure_needed(X: torch.Tensor, rows: torch.Tensor, candidates: torch.Tensor, lower: torch.Tensor,
                    sq: torch.Tensor, chosen: torch.Tensor, k: int, max_bytes: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Measure, among ``candidates`` (sorted by their ``lower`` bounds), the first k and then every one
    whose bound is within the k-th smallest squared distance measured so far, until none is left;
    ``sq`` and ``chosen`` hold what each row had measured already. Returns them with the new
    measurements appended; rows that measure fewer than others are padded with (+inf, index −1)."""
    while True:
        count = torch.isfinite(sq).sum(dim=1, keepdim=True)
        kth = torch.topk(sq, k, dim=1, largest=False).values[:, -1:] if sq.shape[1] >= k else torch.full_like(
            count, float("inf"), dtype=torch.float64)
        unmeasured = ~_within_rows(candidates, chosen)
        needed = unmeasured & torch.where(count >= k, lower <= kth, unmeasured.cumsum(dim=1) <= k - count)
        width = int(needed.sum(dim=1).max())
        if width == 0:
            return sq, chosen
        order = torch.sort(needed.to(torch.uint8), dim=1, descending=True, stable=True).indices[:, :width]
        picked, valid = candidates.gather(1, order), needed.gather(1, order)
        measured = torch.full(picked.shape, float("inf"), dtype=torch.float64, device=X.device)
        measured[valid] = _measure(X, rows.unsqueeze(1).expand_as(picked)[valid], picked[valid], max_bytes)
        sq, chosen = torch.cat([sq, measured], dim=1), torch.cat([chosen, picked.masked_fill_(~valid, -1)], dim=1)


def _within_rows(values: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """Whether each entry of ``values`` [b, m] is among its row's entries of ``pool`` [b, M]."""
    if pool.shape[1] == 0:
        return torch.zeros_like(values, dtype=torch.bool)
    pool = pool.sort(dim=1).values
    return pool.gather(1, torch.searchsorted(pool, values).clamp_max_(pool.shape[1] - 1)) == values


def _project(X: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor | None, max_bytes: int
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """P = (x − mean)·V on the orthonormal ``basis`` V (none: P has no columns) and ‖x − mean‖², for
    every row, in float64. Taken over blocks of rows and columns of ``MEASURE_ELEMENTS`` values (and
    of ``max_bytes``), so a float32 input is never copied whole in float64 and each float64 block
    stays in cache."""
    n, p = X.shape
    columns = min(p, MEASURE_COLUMNS)
    P = torch.zeros(n, 0 if basis is None else basis.shape[1], dtype=torch.float64, device=X.device)
    sq = torch.zeros(n, dtype=torch.float64, device=X.device)
    step = _rows_per_block(min(max_bytes, 8 * MEASURE_ELEMENTS), 8 * columns)
    for lo in range(0, n, step):
        for start in range(0, p, columns):
            part = X[lo:lo + step, start:start + columns].to(torch.float64) - mean[start:start + columns]
            if basis is not None:
                P[lo:lo + step].addmm_(part, basis[start:start + columns])
            sq[lo:lo + step] += part.square_().sum(dim=1)
    return P, sq


def _principal_basis(X: torch.Tensor, mean: torch.Tensor, rank: int) -> torch.Tensor:
    """An orthonormal float64 basis [p, r ≤ rank] of the leading principal directions.

    ``BASIS_ITERATIONS`` steps of subspace iteration, V ← orth(Sᵀ S V), on a deterministic stride S of
    about ``BASIS_SAMPLE`` rows of the centred data, from a Gaussian V of a private fixed-seed
    generator (the randomized range finder with power iterations of Halko, Martinsson & Tropp 2011);
    then Rayleigh–Ritz: V is turned to the principal directions of S within its span, with variances
    λ_1 ≥ … ≥ λ_rank, and cut to the fewest leading r whose dropped tail λ_(r+1) + … + λ_rank is at most
    ``RANK_TAIL`` of the variance that V leaves out anyway (‖S‖² − Σ λ). Directions at that noise
    floor would widen every score product and barely tighten the bound (ρ² grows by at most a
    quarter). Any orthonormal basis keeps the lower bound valid; a better one only leaves fewer
    candidates to measure.
    """
    sample = X[::max(1, len(X) // BASIS_SAMPLE)] - mean.to(X.dtype)
    basis = torch.randn(X.shape[1], rank, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    basis = basis.to(X.device)
    for _ in range(BASIS_ITERATIONS):
        basis = torch.linalg.qr((sample.T @ (sample @ basis.to(X.dtype))).to(torch.float64)).Q
    projected = (sample @ basis.to(X.dtype)).to(torch.float64)
    variances, rotation = torch.linalg.eigh(projected.T @ projected)
    variances, rotation = variances.flip(0).clamp_min(0.0), rotation.flip(1)
    left_out = float(sample.square().sum(dtype=torch.float64)) - float(variances.sum())
    tails = variances.flip(0).cumsum(0).flip(0)  # tails[j] = λ_(j+1) + … + λ_rank
    kept = max(1, int((tails > RANK_TAIL * max(left_out, 0.0)).sum()))
    return basis @ rotation[:, :kept]


def _smallest_scores(stage: _Stage, queries: torch.Tensor, m: int, exclude_self: bool, max_bytes: int
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """For blocks of query rows: (rows, scores [b, m], candidates [b, m]), the m smallest scores
    ‖u_b‖² − 2 u_a·u_b of the ``stage``'s points in ascending order, a ranging over the block, b over
    all points (b ≠ a with ``exclude_self``).

    The score is the squared distance less the row constant ‖u_a‖², which does not change a row's
    ranking: one matrix product per block. With few columns that product is cheap next to a pass
    over its output, so the points are taken in groups of ``GROUP`` and, tile by cache-sized tile,
    only each group's smallest score is kept; the scores of the m + 1 groups with the smallest
    minima are then computed again and ranked. That is exact: a score outside those groups is no
    smaller than its group's minimum, hence than the (m + 1)-th smallest minimum, and each of the
    m + 1 groups holds a score at most that large, so at least m others than the row's own. With
    many columns, or when the groups would cover every point, each block's scores are ranked whole,
    the points taken a chunk of a quarter of ``max_bytes`` at a time.
    """
    n, q = stage.source.shape
    size = torch.finfo(stage.dtype).bits // 8
    kept = m + int(exclude_self)
    if q >= GROUPED_MAX_COLUMNS or kept * GROUP >= n:
        chunk = _rows_per_block(max_bytes // 4, q * size)
        for rows in queries.split(_rows_per_block(max_bytes, (n + q) * size)):
            block = stage.take(rows)
            scores = block.new_empty(len(rows), n)
            for lo in range(0, n, chunk):
                scores[:, lo:lo + chunk] = torch.addmm(stage.key_sq[lo:lo + chunk], block,
                                                       stage.take(slice(lo, lo + chunk)).T, alpha=-2.0)
            if exclude_self:
                scores[torch.arange(len(rows), device=rows.device), rows] = float("inf")
            values, candidates = torch.topk(scores, m, dim=1, largest=False, sorted=True)
            del scores, block  # free them before the caller allocates: held across the yield, the heap grew
            yield rows, values, candidates
        return
    n_groups = -(-n // GROUP)
    # keys [-2b, ‖b‖²] against rows [a, 1]: one product gives the score; whole groups, the padding
    # made of keys whose score is +inf
    points = stage.take(slice(None))
    keys = torch.cat([-2.0 * points, stage.key_sq.unsqueeze(1)], dim=1)
    padding = keys.new_zeros(n_groups * GROUP - n, q + 1)
    padding[:, -1] = float("inf")
    keys = torch.cat([keys, padding])
    members = torch.arange(GROUP, device=points.device)
    tile_elements = min(TILE_ELEMENTS, max_bytes // size)
    per_row = (n_groups + q + kept * GROUP) * size  # its group minima, its row, its rescored groups
    for rows in queries.split(min(GROUPED_BLOCK_ROWS, _rows_per_block(max_bytes, per_row))):
        block = torch.cat([points[rows], torch.ones_like(points[rows, :1])], dim=1)
        chunk = GROUP * max(1, tile_elements // (len(rows) * GROUP))
        tile = points.new_empty(chunk, len(rows))
        minima = points.new_empty(n_groups, len(rows))
        transposed = block.T.contiguous()
        for lo in range(0, n_groups * GROUP, chunk):
            part = tile[:min(chunk, n_groups * GROUP - lo)]
            torch.mm(keys[lo:lo + len(part)], transposed, out=part)
            torch.amin(part.view(-1, GROUP, len(rows)), dim=1, out=minima[lo // GROUP:(lo + len(part)) // GROUP])
        groups = torch.topk(minima, kept, dim=0, largest=False, sorted=False).indices.T
        del tile, minima
        candidates = (groups.unsqueeze(2) * GROUP + members).reshape(len(rows), kept * GROUP)
        scores = points.new_empty(candidates.shape)
        step = _rows_per_block(size * tile_elements, size * kept * GROUP * (q + 1))
        for lo in range(0, len(rows), step):  # the chosen groups' keys, a tile's worth at a time
            chosen = candidates[lo:lo + step]
            scores[lo:lo + step] = torch.bmm(keys[chosen], block[lo:lo + step, :, None])[..., 0]
        if exclude_self:
            scores.masked_fill_(candidates == rows.unsqueeze(1), float("inf"))
        values, order = torch.topk(scores, m, dim=1, largest=False, sorted=True)
        yield rows, values, candidates.gather(1, order)


def _measure(X: torch.Tensor, first: torch.Tensor, second: torch.Tensor, max_bytes: int) -> torch.Tensor:
    """Squared distances between the rows ``first[i]`` and ``second[i]`` of ``X``, summed from float64
    differences over sub-blocks of pairs and columns whose float64 copies fit in ``MEASURE_ELEMENTS``
    values (and in ``max_bytes``)."""
    p = X.shape[1]
    columns = min(p, MEASURE_COLUMNS)
    step = _rows_per_block(min(max_bytes, 8 * MEASURE_ELEMENTS), 16 * columns)
    sq = torch.zeros(len(first), dtype=torch.float64, device=X.device)
    for lo in range(0, len(first), step):
        a, b = first[lo:lo + step], second[lo:lo + step]
        for start in range(0, p, columns):
            # advanced indexing: a parallel gather of the rows' columns (index_select was 20x slower for
            # wide rows on CPU); cdist without the matrix-product expansion: from the differences
            pair = [X[rows, start:start + columns].to(torch.float64).unsqueeze(1) for rows in (a, b)]
            sq[lo:lo + step] += torch.cdist(*pair, compute_mode="donot_use_mm_for_euclid_dist")[:, 0, 0].square_()
    return sq
