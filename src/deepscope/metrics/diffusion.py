"""Gaussian-kernel graphs on a point cloud: bandwidth policy, kernels and the diffusion operator.

Diffusion spectral entropy (Liao, Liu et al. 2023, "Assessing Neural Network Representations During
Training Using Noise-Resilient Diffusion Spectral Entropy", arXiv 2312.04823) is built on

    G_ij = exp(−‖x_i − x_j‖² / (2σ²)),   q_i = Σ_j G_ij,   K = D^{−1/2} G D^{−1/2}  (D = diag q),

K being the symmetric form of the random-walk (diffusion-maps α = 0) operator P = D^{−1} G: K = D^{1/2} P
D^{−1/2}, so both have the same eigenvalues. G is positive definite (a Gaussian kernel on distinct
points), hence so is its congruent K: the spectrum lies in [0, 1], the top eigenvalue is 1 with
eigenvector √q. The paper's kernel carries a factor 1/(σ√(2π)); it cancels in K and in every normalised
spectrum, so it is left out here.

D^{−1/2} G D^{−1/2} is computed as a row and column scaling of G (elementwise), never as products of
dense matrices. Squared distances use ‖a‖² + ‖b‖² − 2 aᵀb on mean-centred data (one matrix product),
clamped at 0, with an exact 0 on the diagonal.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics.distances import squared_distance_block, squared_distances

MEDIAN_MAX_POINTS = 2048
"""The median bandwidth is taken over the pairs of at most this many points (a seeded subsample)."""

Sigma = float | str
"""A bandwidth: a positive number, or ``'median'`` (see :func:`resolve_sigma`)."""


def standardize_features(X: torch.Tensor) -> torch.Tensor:
    """Z-score every feature: (x − mean) / std with the population std (ddof = 0).

    A constant feature has std 0 and becomes all zeros (it adds nothing to any distance) instead of NaN.
    """
    centred = X - X.mean(dim=0)
    std = centred.pow(2).mean(dim=0).sqrt()
    return centred / torch.where(std > 0, std, torch.ones_like(std))


def subsample_rows(n: int, size: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``size`` distinct row indices out of ``n``, uniformly at random from a CPU ``torch.Generator``
    seeded with ``seed`` (the same rows on any device; the global RNGs are not touched)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randperm(n, generator=gen)[:size].to(device)


def gaussian_kernel(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Dense Gaussian affinity G_ij = exp(−‖x_i − x_j‖² / (2σ²)) of X [n, p], in X's dtype and device."""
    return squared_distances(X).mul_(-0.5 / sigma**2).exp_()


def diffusion_kernel(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Dense symmetric diffusion operator K = D^{−1/2} G D^{−1/2}, D = diag(Σ_j G_ij), by row/column scaling."""
    G = gaussian_kernel(X, sigma)
    s = G.sum(dim=1).rsqrt_()
    return G.mul_(s[:, None]).mul_(s[None, :])


NUMPY_EIGVALSH_MAX_N = 3000
"""Below this size a CPU matrix goes to ``numpy.linalg.eigvalsh`` instead of ``torch.linalg.eigvalsh``."""


def symmetric_eigenvalues(A: torch.Tensor) -> torch.Tensor:
    """All eigenvalues (ascending) of a symmetric matrix, in its dtype and on its device.

    Both routes are LAPACK's symmetric divide-and-conquer solver and agree to rounding (~1e-15). On CPU,
    below ``NUMPY_EIGVALSH_MAX_N`` rows numpy's build (OpenBLAS) was 1.4-4x faster than torch's (MKL) on the
    2-core machine of benchmarks/speed_dse.py, and torch's 1.3x faster at 4000 rows; other devices use torch.
    """
    if A.device.type == "cpu" and A.shape[0] < NUMPY_EIGVALSH_MAX_N:
        return torch.from_numpy(np.linalg.eigvalsh(A.numpy()))
    return torch.linalg.eigvalsh(A)


def diffusion_spectrum(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """All eigenvalues (ascending) of K = D^{−1/2} G D^{−1/2}, equal to those of P = D^{−1} G.

    Exact: dense kernel + :func:`symmetric_eigenvalues` in X's dtype (pass float64 for reproducible entropies).
    """
    return symmetric_eigenvalues(diffusion_kernel(X, sigma))


def knn_adjacency(X: torch.Tensor, k: int) -> torch.Tensor:
    """Binary kNN adjacency A_ij = 1 if ‖x_i − x_j‖ ≤ the k-th smallest distance from x_i, else 0.

    The point itself (distance 0) counts as the first neighbour, as in the reference package, so each row
    has k ones (more on ties); A is not symmetric.
    """
    if not 1 <= k <= X.shape[0]:
        raise DeepscopeError(f"knn must be between 1 and the number of points ({X.shape[0]}); got {k}.")
    D2 = squared_distances(X)
    kth = torch.kthvalue(D2, k, dim=1).values
    return (D2 <= kth[:, None]).to(X.dtype)


def median_distance(X: torch.Tensor, seed: int = 0, max_points: int = MEDIAN_MAX_POINTS) -> float:
    """Median of the Euclidean distances ‖x_i − x_j‖ over all pairs i < j.

    With more than ``max_points`` rows the pairs are those of a subsample of ``max_points`` rows drawn
    without replacement by :func:`subsample_rows` with ``seed``. For an even number of pairs the median is
    the mean of the two middle values (as ``numpy.median``). Computed in float64.
    """
    n = X.shape[0]
    Z = X[subsample_rows(n, max_points, seed, X.device)] if n > max_points else X
    Z = Z.to(torch.float64)
    iu = torch.triu_indices(Z.shape[0], Z.shape[0], offset=1, device=Z.device)
    d = squared_distances(Z)[iu[0], iu[1]].sqrt_()
    if d.numel() == 0:
        raise DeepscopeError("The median bandwidth needs at least 2 points; pass a numeric sigma instead.")
    lo = torch.kthvalue(d, (d.numel() + 1) // 2).values
    hi = torch.kthvalue(d, d.numel() // 2 + 1).values
    return float((lo + hi) / 2)


def resolve_sigma(X: torch.Tensor, sigma: Sigma, seed: int = 0) -> float:
    """Turn a bandwidth policy into a number: a positive number as is, ``'median'`` via :func:`median_distance`.

    A fixed σ (the paper's default is 10) is not scale-invariant: DSE(cX) ≠ DSE(X). ``'median'`` scales with
    the data, so DSE(cX, 'median') = DSE(X, 'median') and layers of different width and scale compare.
    """
    if isinstance(sigma, str):
        if sigma != "median":
            raise DeepscopeError(f"sigma must be a positive number or 'median'; got {sigma!r}.")
        value = median_distance(X, seed)
        if not value > 0:
            raise DeepscopeError("The median pairwise distance is 0 (most points coincide), so it cannot be a "
                                 "bandwidth; pass a positive numeric sigma instead.")
        return value
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (math.isfinite(sigma) and sigma > 0):
        raise DeepscopeError(f"sigma must be a positive finite number or 'median'; got {sigma!r}.")
    return float(sigma)


def _available_bytes(device: torch.device) -> int:
    """Free memory on ``device`` (CUDA: free device memory; CPU: available physical memory; 4 GiB if unknown)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


class DiffusionOperator:
    """K = D^{−1/2} G D^{−1/2} as a linear operator V ↦ K V, for spectra too large to decompose densely.

    Layout. The symmetric kernel is cut into square blocks of ``block_size`` rows; only blocks (I, J) with
    I ≤ J are evaluated (each serves K_IJ V_J and K_IJᵀ V_I), in ``dtype`` (float32 by default). If they fit
    in ``max_dense_bytes`` (default: half the free memory of X's device; n²/2 entries) they are computed once
    and kept, otherwise every product recomputes them (memory O(block_size²), time O(n² p) per product).

    Precision. Degrees and tr K² are accumulated in float64. In float32, a product with G carries rounding
    noise of order ε₃₂·|K||v| ≈ 1e-7, which shows up as spurious eigenvalues near 1e-7 and biases low
    entropies (measured: +0.25% on a DSE of 0.1 bit, 8 standard errors). When the data are small against σ
    (max_i ‖x_i − x̄‖² ≤ σ², e.g. the paper's σ = 10 on bounded features) the kernel is therefore stored as
    G = a aᵀ ⊙ (1 + E) with a_i = exp(−‖x_i‖²/(2σ²)) and E_ij = expm1(x_iᵀx_j/σ²) (x centred), exact in
    real arithmetic, so K = c cᵀ + D_c E D_c with c = a/√q: the rank-one part is applied in float64 and the
    float32 noise scales with |E| (≤ e − 1, usually ≪ 1) instead of |G|. Otherwise G itself is stored.
    """

    def __init__(self, X: torch.Tensor, sigma: float, *, dtype: torch.dtype = torch.float32,
                 block_size: int = 2048, max_dense_bytes: int | None = None) -> None:
        n = X.shape[0]
        self.n = n
        self.dtype = dtype
        self.device = X.device
        Xc = (X - X.mean(dim=0)).to(torch.float64)
        sq = (Xc * Xc).sum(dim=1)
        self._sigma2 = sigma**2
        self.split = bool(sq.max() <= self._sigma2)
        a = torch.exp(-0.5 * sq / self._sigma2) if self.split else torch.ones_like(sq)
        self._X = Xc.to(dtype)
        self._sq = sq.to(dtype)
        self._starts = list(range(0, n, block_size))
        self._size = block_size
        pairs = [(i, j) for i in range(len(self._starts)) for j in range(i, len(self._starts))]
        elem = torch.finfo(dtype).bits // 8
        budget = _available_bytes(self.device) // 2 if max_dense_bytes is None else max_dense_bytes
        self._pairs = pairs
        self.dense = sum(self._len(i) * self._len(j) for i, j in pairs) * elem <= budget
        self._stored = {pair: self._compute_block(*pair) for pair in pairs} if self.dense else None
        # q = a ⊙ (Σ_j a_j + E a) when split, q = G 1 otherwise
        Ma = self._apply(a[:, None])[:, 0]
        self.degrees = a * (a.sum() + Ma) if self.split else Ma
        self._c = a * self.degrees.rsqrt()

    def _slice(self, i: int) -> slice:
        return slice(self._starts[i], min(self._starts[i] + self._size, self.n))

    def _len(self, i: int) -> int:
        return self._slice(i).stop - self._starts[i]

    def _compute_block(self, i: int, j: int) -> torch.Tensor:
        si, sj = self._slice(i), self._slice(j)
        Xi, Xj = self._X[si], self._X[sj]
        if self.split:
            return torch.mm(Xi, Xj.T).div_(self._sigma2).expm1_()
        D2 = squared_distance_block(Xi, Xj, self._sq[si], self._sq[sj], diagonal=i == j)
        return D2.mul_(-0.5 / self._sigma2).exp_()

    def _blocks(self) -> Iterator[tuple[tuple[int, int], torch.Tensor]]:
        """The blocks (I, J), I ≤ J, of the stored matrix: kept ones, or each recomputed on the fly."""
        for pair in self._pairs:
            yield pair, (self._stored[pair] if self._stored is not None else self._compute_block(*pair))

    def _apply(self, W: torch.Tensor) -> torch.Tensor:
        """M W for the stored matrix M (E when split, G otherwise), computed in W's dtype (float64 W: each
        block is converted, for the one-off passes that must not carry float32 accumulation error)."""
        Y = torch.zeros_like(W)
        for (i, j), B in self._blocks():
            si, sj = self._slice(i), self._slice(j)
            B = B.to(W.dtype)
            Y[si].addmm_(B, W[sj])
            if i != j:
                Y[sj].addmm_(B.T, W[si])
        return Y

    @property
    def top_eigenvector(self) -> torch.Tensor:
        """√q / ‖√q‖, the eigenvector of K for its top eigenvalue 1 (float64, [n])."""
        u = self.degrees.sqrt()
        return u / torch.linalg.vector_norm(u)

    def matmul(self, V: torch.Tensor) -> torch.Tensor:
        """K V for V [n, m] (returned in V's dtype): c ⊙ (M (c ⊙ V)), plus c (cᵀV) in float64 when split."""
        c = self._c[:, None]
        W = c * V.to(torch.float64)
        Y = self._apply(W.to(self.dtype)).to(torch.float64)
        if self.split:
            Y = Y + W.sum(dim=0, keepdim=True)
        return (c * Y).to(V.dtype)

    def trace_power(self, t: float) -> float | None:
        """tr K^t exactly where it is cheap: t = 1 gives Σ_i K_ii = Σ_i 1/q_i (G_ii = 1); t = 2 gives
        ‖K‖_F² = Σ_ij c_i² c_j² (β + M_ij)² in one pass over the blocks (β = 1 when split, else 0).
        Other t: None (estimate it instead)."""
        if t == 1:
            return float((1.0 / self.degrees).sum())
        if t != 2:
            return None
        c2 = self._c**2
        beta = 1.0 if self.split else 0.0
        total = 0.0
        for (i, j), B in self._blocks():
            si, sj = self._slice(i), self._slice(j)
            part = float((B.to(torch.float64) + beta).square_() @ c2[sj] @ c2[si])
            total += part if i == j else 2 * part
        return total
