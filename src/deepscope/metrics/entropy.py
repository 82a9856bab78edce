"""Entropies of a representation: diffusion spectral entropy (DSE), its variants, and binned entropy.

Liao, Liu et al. 2023, "Assessing Neural Network Representations During Training Using Noise-Resilient
Diffusion Spectral Entropy" (arXiv 2312.04823), define for points X and diffusion time t

    S_D(X, t) = −Σ_i α_i log₂ α_i,    α_i = |λ_i|^t / Σ_j |λ_j|^t,

with λ_i the eigenvalues of the diffusion operator P = D^{−1} G of a Gaussian kernel (see
:mod:`deepscope.metrics.diffusion`). As in the authors' package (``dse-dsmi`` 1.1, defaults σ = 10,
t = 1, at most 10,000 points, base-2 logarithm) every α_i is shifted by ε = 2.2e-16 (float64 machine
epsilon) before the logarithm: DSE = −Σ_i (α_i + ε) log₂(α_i + ε), which lies in [0, log₂ n].

For large n the same quantity is estimated without the O(n³) eigendecomposition. With μ_i = |λ_i|^t and
S = Σ_i μ_i,

    DSE = −Σ_i (μ_i/S) log₂(μ_i/S) = log₂ S − tr f(K) / S,    f(λ) = |λ|^t log₂ |λ|^t  (f(0) = 0),

and tr f(K) comes from stochastic Lanczos quadrature (:mod:`deepscope.metrics.slq`) on the matrix-free
operator. S is exact where cheap: K is positive semi-definite, so S = tr K = Σ_i 1/q_i for t = 1 and
S = ‖K‖_F² for t = 2; for other t it is estimated from the same probes (the error bar then follows by the
delta method). The ε shift is left out there (it changes the value by < n·ε·52, 6e-10 bits at n = 50,000).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features
from deepscope.metrics._summary import Summarized
from deepscope.metrics.diffusion import (DiffusionOperator, Sigma, diffusion_kernel, diffusion_spectrum,
                                         gaussian_kernel, knn_adjacency, resolve_sigma, standardize_features,
                                         subsample_rows, symmetric_eigenvalues)
from deepscope.metrics.discrete import Correction, discrete_entropy, joint_codes, uniform_bin
from deepscope.metrics.slq import stochastic_lanczos_quadrature

Method = Literal["exact", "slq", "auto"]

AUTO_EXACT_MAX_N = 4096
"""``method='auto'`` decomposes exactly up to this many points and uses SLQ beyond."""

_EPS = torch.finfo(torch.float64).eps


@dataclass(frozen=True, repr=False)
class DiffusionEntropy(Summarized):
    """A DSE value in bits, with what produced it; ``float(result)`` is ``value``.

    ``stderr`` is 0 for the exact path and the standard error over probes for SLQ (it leaves out the
    quadrature and float32 rounding error, below 1e-6 relative in the test cases, which only matters when
    the sketch has absorbed nearly all the variance); ``n`` counts the points used after subsampling;
    ``sigma`` is the bandwidth used.
    """

    value: float
    stderr: float
    method: Literal["exact", "slq"]
    n: int
    sigma: float

    def __float__(self) -> float:
        return float(self.value)

    def summary(self) -> str:
        error = f" ± {self.stderr:.2g}" if self.method == "slq" else ""
        return f"DSE {self.value:.4g}{error} bits ({self.method}, n={self.n}, sigma={self.sigma:.4g})"


def _shifted_entropy(weights: torch.Tensor) -> float:
    """−Σ (p + ε) log₂(p + ε) of p = w / Σ w, ε = float64 machine epsilon (the reference package's form)."""
    w = weights.to(torch.float64)
    p = w / w.sum() + _EPS
    return float(-(p * torch.log2(p)).sum())


def _prepare(X: Any, *, standardize: bool, sigma: Sigma | None, max_n: int | None,
             seed: int) -> tuple[torch.Tensor, float]:
    """Validated float64 points on their device, z-scored if asked, then the bandwidth resolved on all of
    them (NaN when ``sigma`` is None), then a subsample of ``max_n`` rows drawn with ``seed``."""
    if max_n is not None and (isinstance(max_n, bool) or not isinstance(max_n, int) or max_n < 1):
        raise DeepscopeError(f"max_n must be a positive number of points or None; got {max_n!r}.")
    Z = as_features(X, min_rows=1)
    if standardize:
        Z = standardize_features(Z)
    bandwidth = math.nan if sigma is None else resolve_sigma(Z, sigma, seed)
    if max_n is not None and Z.shape[0] > max_n:
        Z = Z[subsample_rows(Z.shape[0], max_n, seed, Z.device)]
    return Z, bandwidth


def _check_t(t: float) -> None:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
        raise DeepscopeError(f"t (diffusion time) must be a positive number, usually 1 or 2; got {t!r}.")


def _slq_entropy(Z: torch.Tensor, sigma: float, t: float, *, num_probes: int, num_steps: int, sketch_size: int,
                 seed: int) -> tuple[float, float]:
    """DSE = log₂ S − tr f(K)/S by stochastic Lanczos quadrature; returns (value, standard error)."""
    op = DiffusionOperator(Z, sigma)
    quad = stochastic_lanczos_quadrature(op.matmul, op.n, num_probes=num_probes, num_steps=num_steps,
                                         sketch_size=sketch_size, known=op.top_eigenvector[:, None], seed=seed,
                                         dtype=torch.float64, device=op.device)
    F = quad.samples(lambda lam: torch.xlogy(lam.abs() ** t, lam.abs() ** t) / math.log(2))
    exact_S = op.trace_power(t)
    S = torch.full_like(F, exact_S) if exact_S is not None else quad.samples(lambda lam: lam.abs() ** t)
    s, f = float(S.mean()), float(F.mean())
    grad = torch.tensor([1 / (s * math.log(2)) + f / s**2, -1 / s], dtype=torch.float64)
    var = float(grad @ torch.cov(torch.stack([S, F])) @ grad) / F.numel() if F.numel() > 1 else math.nan
    return math.log2(s) - f / s, math.sqrt(max(var, 0.0))


def estimate_diffusion_spectral_entropy(X: Any, sigma: Sigma = 10.0, t: float = 1, max_n: int | None = 10000,
                                        seed: int = 0, *, standardize: bool = False, method: Method = "exact",
                                        matrix_entry: bool = False, num_probes: int = 32, num_steps: int = 10,
                                        sketch_size: int = 16) -> DiffusionEntropy:
    """Diffusion spectral entropy of the points X [n, p] (Liao, Liu et al. 2023), with how it was computed.

    DSE = −Σ_i (α_i + ε) log₂(α_i + ε), α_i = |λ_i|^t / Σ_j |λ_j|^t, λ the eigenvalues of
    K = D^{−1/2} G D^{−1/2}, G_ij = exp(−‖x_i − x_j‖²/(2σ²)).

    Args:
        X: points [n, p] (torch or numpy, any device; computed on X's device in float64, SLQ in float32).
        sigma: kernel bandwidth, a positive number (paper default 10; not scale-invariant) or ``'median'``
            (median pairwise distance, see :func:`deepscope.metrics.diffusion.median_distance`).
        t: diffusion time (powers the eigenvalue magnitudes).
        max_n: with more points, a subsample of ``max_n`` rows drawn with ``seed`` is used (None: all).
        seed: seeds the subsamples and the SLQ probes (private generators; global RNGs are untouched).
        standardize: z-score every feature first (constant features become 0), so that σ means the same
            across layers of different scale.
        method: ``'exact'`` (LAPACK eigenvalues in float64, O(n³)), ``'slq'`` (stochastic Lanczos quadrature, matrix-free,
            O(n² p) once plus O(n²·(num_probes + sketch_size)) per Lanczos step), or ``'auto'`` (exact up to
            ``AUTO_EXACT_MAX_N`` points, SLQ beyond).
        matrix_entry: the paper's matrix-entry variant instead: row-normalise K (P' = D_K^{−1} K) and take the
            ε-shifted entropy of the n² normalised |P'_ij| (at most 2 log₂ n); needs no spectrum, always exact.
        num_probes, num_steps, sketch_size: SLQ accuracy knobs (Rademacher probes, Lanczos steps, Hutch++
            sketch columns); the reported stderr shrinks as 1/√num_probes.
    """
    _check_t(t)
    if method not in ("exact", "slq", "auto"):
        raise DeepscopeError(f"method must be 'exact', 'slq' or 'auto'; got {method!r}.")
    if matrix_entry and method == "slq":
        raise DeepscopeError("The matrix-entry variant needs no spectrum and is always computed exactly; "
                             "use method='exact' (or 'auto') with matrix_entry=True.")
    Z, bandwidth = _prepare(X, standardize=standardize, sigma=sigma, max_n=max_n, seed=seed)
    n = Z.shape[0]
    if matrix_entry:
        K = diffusion_kernel(Z, bandwidth)
        P = K.div_(K.sum(dim=1, keepdim=True)).abs_()
        return DiffusionEntropy(_shifted_entropy(P.flatten()), 0.0, "exact", n, bandwidth)
    if method == "slq" or (method == "auto" and n > AUTO_EXACT_MAX_N):
        value, stderr = _slq_entropy(Z, bandwidth, t, num_probes=num_probes, num_steps=num_steps,
                                     sketch_size=sketch_size, seed=seed)
        return DiffusionEntropy(value, stderr, "slq", n, bandwidth)
    lam = diffusion_spectrum(Z, bandwidth)
    return DiffusionEntropy(_shifted_entropy(lam.abs() ** t), 0.0, "exact", n, bandwidth)


def diffusion_spectral_entropy(X: Any, sigma: Sigma = 10.0, t: float = 1, max_n: int | None = 10000,
                               seed: int = 0, *, standardize: bool = False, method: Method = "exact",
                               matrix_entry: bool = False, num_probes: int = 32, num_steps: int = 10,
                               sketch_size: int = 16) -> float:
    """Diffusion spectral entropy of X in bits: the ``value`` of :func:`estimate_diffusion_spectral_entropy`
    (same arguments and defaults as there and as ``dse-dsmi`` 1.1's ``diffusion_spectral_entropy``)."""
    return estimate_diffusion_spectral_entropy(
        X, sigma, t, max_n, seed, standardize=standardize, method=method, matrix_entry=matrix_entry,
        num_probes=num_probes, num_steps=num_steps, sketch_size=sketch_size).value


def adjacency_spectral_entropy(X: Any, sigma: Sigma = 10.0, *, normalized: bool = False, knn: int | None = None,
                               max_n: int | None = 10000, seed: int = 0, standardize: bool = False) -> float:
    """Spectral entropy of a graph adjacency matrix (the ablations of Liao, Liu et al. 2023).

    H = −Σ_i (α_i + ε) log₂(α_i + ε), α_i = |λ_i| / Σ_j |λ_j| (no diffusion power), λ the eigenvalues of

    - the Gaussian adjacency G_ij = exp(−‖x_i − x_j‖²/(2σ²)) (``knn=None``), or its degree-normalised form
      D^{−1/2} G D^{−1/2} (``normalized=True``, equal to DSE at t = 1);
    - the binary kNN adjacency A_ij = 1 if x_j is among the ``knn`` nearest points of x_i, the point itself
      included (``knn=k``, ``sigma`` unused); A is not symmetric, so its complex eigenvalues are used.

    Exact (O(n³)); ``max_n``, ``seed`` and ``standardize`` as in :func:`estimate_diffusion_spectral_entropy`.
    """
    if knn is not None and normalized:
        raise DeepscopeError("normalized=True applies to the Gaussian adjacency only (every row of the kNN "
                             "adjacency already has knn ones); pass knn=None or normalized=False.")
    Z, bandwidth = _prepare(X, standardize=standardize, sigma=None if knn is not None else sigma, max_n=max_n,
                            seed=seed)
    if knn is not None:
        lam = torch.linalg.eigvals(knn_adjacency(Z, knn))
    else:
        A = diffusion_kernel(Z, bandwidth) if normalized else gaussian_kernel(Z, bandwidth)
        lam = symmetric_eigenvalues(A)
    return _shifted_entropy(lam.abs())


def binned_entropy(X: Any, bins: int = 2, *, correction: Correction = None) -> float:
    """Plug-in Shannon entropy (bits) of X after equal-width binning of every feature (the "classic Shannon
    entropy" baseline of Liao, Liu et al. 2023).

    Each feature is min-max scaled and cut into ``bins`` bins (a constant feature falls in one bin), each row's
    tuple of bins is one symbol, and H = −Σ_s p_s log₂ p_s over the symbol frequencies. With p ≫ log₂ n nearly
    every row is its own symbol and H → log₂ n: the curse of dimensionality that motivates DSE. Binning and
    plug-in entropy are the shared :mod:`deepscope.metrics.discrete` helpers, without the package's ε shift
    (a difference below 1e-11 bits here).

    The plug-in value underestimates H by ≈ (m − 1)/(2n ln 2) bits for m occupied bins (Miller 1955);
    ``correction="miller-madow"`` adds (m̂ − 1)/(2n ln 2) back, m̂ the symbols seen (the default, None, keeps
    the plug-in value of ``dse-dsmi``).
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise DeepscopeError(f"bins must be a positive integer (bins per feature); got {bins!r}.")
    Z = as_features(X, min_rows=1)
    return discrete_entropy(joint_codes(uniform_bin(Z, bins)), base=2.0, correction=correction)
