"""Curvature of the loss: top Hessian eigenvalues (sharpness), Hessian trace and spectral density.

Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient descent on neural networks typically occurs at the edge of
stability", ICLR 2021, track the sharpness λ_max(∇²L) of the full-batch training loss: for a quadratic, GD
with step size η is stable iff λ_max < 2/η, and on networks λ_max rises ("progressive sharpening") until it
hovers at about 2/η. All three quantities here are computed from Hessian-vector products alone
(:class:`deepscope.metrics.hvp.HessianOperator`), for the mean loss over the data given.

* :func:`hessian_eigenvalues` — the k largest eigenvalues by Lanczos (1950) with full reorthogonalisation.
  After j products from q_1 = v0/‖v0‖ the basis Q_j = [q_1..q_j] and tridiagonal T_j = Q_jᵀ H Q_j = S Θ Sᵀ give
  Ritz pairs (θ_i, u_i = Q_j s_i) with residual r_i = ‖H u_i − θ_i u_i‖ = β_j |S_{ji}| (Parlett 1998, "The
  symmetric eigenvalue problem", §13.2), and H symmetric has an eigenvalue within r_i of θ_i. The run stops
  once r_i ≤ ``tol`` · ‖T_j‖₂ for each of the k largest, so every returned value is within ``tol`` (relative)
  of an eigenvalue; the actual error is about r_i²/gap, far smaller. The sharper Kato–Temple estimate
  r_i²/δ_i with the Ritz gap δ_i would stop sooner, but it stops at λ_2 when a warm start is nearly orthogonal
  to the new top eigenvector (after two top eigenvalues cross), so it is not used. If the Krylov space closes
  (β_j = 0: an invariant subspace found), the recursion restarts from a random vector orthogonal to it, so
  repeated eigenvalues are found. As for any Krylov method, an eigenvalue whose eigenvector the start (nearly)
  misses can be passed over; for k > 1 ask for one more than you need.
  Measured (``benchmarks/curvature_speed.py``, a 62k-parameter MLP, float32, tol 1e-4): 17 products from a
  random start (error 2e-7), 9 from the previous top eigenvector 10 GD steps earlier (error 6e-7); SciPy's
  ``eigsh`` (ARPACK, ~20 vectors before its first test) takes 21 and 21; power iteration stopped as PyHessian
  does (relative change < tol) takes 31 and 5 but is off by 4e-4 and 2.4e-4.
* :func:`hessian_trace` — Hutchinson (1989): tr H = E[zᵀ H z] over Rademacher probes z, with the standard
  error over probes (optionally Hutch++-deflated, Meyer et al. 2021); via :mod:`deepscope.metrics.slq`.
* :func:`hessian_spectrum` — the spectral density (1/P) Σ_i δ(λ − λ_i) by stochastic Lanczos quadrature
  (Ghorbani, Krishnan & Xiao 2019, "An investigation into neural net optimization via Hessian eigenvalue
  density"; Ubaru, Chen & Saad 2017), via :mod:`deepscope.metrics.slq`.

Random numbers come from a CPU ``torch.Generator`` seeded with ``seed``; global RNGs are untouched.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.metrics._summary import Summarized
from deepscope.metrics.hvp import HessianOperator, LossFn
from deepscope.metrics.slq import TraceEstimate, slq_trace, stochastic_lanczos_quadrature

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True, repr=False, eq=False)
class HessianEigenvalues(Summarized):
    """The k largest Hessian eigenvalues; ``float(result)`` is the top one (the sharpness).

    Attributes:
        eigenvalues: descending, k of them.
        eigenvectors: unit eigenvectors [dim, k] (flat over the trainable parameters, their dtype and
            device), column i for ``eigenvalues[i]``; column 0 is the ``v0`` for a warm start next time.
        num_products: Hessian-vector products used.
        converged: whether every Ritz pair's residual fell to ``tol`` · ‖T‖₂ within ``max_iter`` products.
    """

    eigenvalues: tuple[float, ...]
    eigenvectors: torch.Tensor
    num_products: int
    converged: bool

    def __float__(self) -> float:
        return float(self.eigenvalues[0])

    def summary(self) -> str:
        rest = "" if len(self.eigenvalues) == 1 else " (top " + ", ".join(f"{e:.4g}" for e in self.eigenvalues) + ")"
        state = "converged" if self.converged else "NOT converged"
        return f"Hessian λ_max {self.eigenvalues[0]:.6g}{rest}: {self.num_products} products, {state}"


@dataclass(frozen=True, repr=False, eq=False)
class HessianSpectrum(Summarized):
    """The Hessian's spectral density by stochastic Lanczos quadrature, as nodes and weights.

    ``nodes`` [probes, steps] are Ritz values and ``weights`` (same shape, float64, summing to 1) their
    masses, so ∫ f dμ ≈ Σ weights · f(nodes) for μ = (1/P) Σ_i δ_{λ_i}, and tr f(H) ≈ P Σ weights · f(nodes),
    P the number of trainable parameters. :meth:`density` smooths them into a curve.
    """

    nodes: torch.Tensor
    weights: torch.Tensor
    num_products: int

    def density(self, grid: torch.Tensor | Sequence[float], sigma: float) -> torch.Tensor:
        """ρ(t) = Σ_i w_i N(t; θ_i, σ²) on ``grid`` (float64), the quadrature smoothed by Gaussians of width σ."""
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise DeepscopeError(f"sigma must be a positive width (same units as the eigenvalues, e.g. 1% of "
                                 f"their range); got {sigma!r}.")
        t = torch.as_tensor(grid, dtype=torch.float64).reshape(-1, 1)
        kernel = torch.exp(-0.5 * ((t - self.nodes.reshape(1, -1)) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        return kernel @ self.weights.reshape(-1)

    def summary(self) -> str:
        m, s = self.nodes.shape
        live = self.nodes[self.weights > 0]
        return (f"Hessian spectrum on [{float(live.min()):.4g}, {float(live.max()):.4g}] from {m} probe(s) x {s} "
                f"Lanczos steps ({self.num_products} products)")


def hessian_eigenvalues(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, k: int = 1, *,
                        batch_size: int | None = None, tol: float = 1e-4, max_iter: int = 200, seed: int = 0,
                        v0: torch.Tensor | None = None, eval_mode: bool = True) -> HessianEigenvalues:
    """The k largest (algebraic) eigenvalues of the Hessian of the mean loss over (x, y), and their eigenvectors.

    Lanczos with full reorthogonalisation (see the module docstring), stopping once each of the k Ritz pairs
    has residual <= ``tol`` · ‖T‖₂ (‖T‖₂ ≈ the largest |eigenvalue|), or after ``max_iter`` products (memory:
    one vector of the parameters' size per product).

    Args:
        model, loss_fn, x, y, batch_size, eval_mode: as in :class:`~deepscope.metrics.hvp.HessianOperator`
            (``loss_fn(outputs, y)`` is the mean loss over a batch; ``batch_size=None``: one batch).
        k: how many eigenvalues, 1 <= k < number of trainable parameters.
        tol: relative accuracy guaranteed for each eigenvalue (the actual error is usually far smaller).
        max_iter: most Hessian-vector products to spend.
        seed: seeds the random start (and any restart vectors).
        v0: start vector [dim], e.g. ``previous.eigenvectors[:, 0]`` a few training steps ago (warm start);
            None for a random start.
    """
    op = HessianOperator(model, loss_fn, x, y, batch_size=batch_size, eval_mode=eval_mode)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < op.dim:
        raise DeepscopeError(f"k must be an integer with 1 <= k < {op.dim} (the number of trainable parameters); "
                             f"got {k!r}. For the whole spectrum of a model this small, decompose the dense "
                             f"Hessian (torch.func.hessian); for its shape, use hessian_spectrum.")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise DeepscopeError(f"tol must be a relative accuracy in (0, 1), e.g. 1e-4; got {tol!r}.")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < k:
        raise DeepscopeError(f"max_iter must be an integer number of products >= k = {k}; got {max_iter!r}.")
    generator = torch.Generator().manual_seed(seed)
    start = _start_vector(v0, op.dim) if v0 is not None else torch.randn(op.dim, generator=generator,
                                                                        dtype=torch.float64)
    values, vectors, converged = _lanczos_top(op.matvec, start.to(dtype=op.dtype, device=op.device), k, tol=tol,
                                              max_iter=min(max_iter, op.dim), generator=generator)
    return HessianEigenvalues(tuple(values.tolist()), vectors, op.count, converged)


def hessian_trace(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, num_probes: int = 100,
                  sketch_size: int = 0, batch_size: int | None = None, seed: int = 0,
                  eval_mode: bool = True) -> TraceEstimate:
    """Hutchinson's estimate of tr H = E[zᵀ H z] from ``num_probes`` Rademacher probes z, ± its standard error.

    Each probe costs one Hessian-vector product; the standard error is std_j(z_jᵀ H z_j) / √num_probes.
    ``sketch_size`` r > 0 applies Hutch++ (Meyer, Musco, Musco & Woodruff 2021): the trace on the span of
    H² Ω (Ω: r random columns, 2r extra products) is taken exactly and the probes see only the rest, which
    removes the variance of the few large outlier eigenvalues typical of network Hessians.
    Other arguments as in :func:`hessian_eigenvalues`.
    """
    op = HessianOperator(model, loss_fn, x, y, batch_size=batch_size, eval_mode=eval_mode)
    return slq_trace(op.matvec, op.dim, _identity, num_probes=num_probes, num_steps=1, sketch_size=sketch_size,
                     seed=seed, dtype=op.dtype, device=op.device)


def hessian_spectrum(model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, num_probes: int = 8,
                     num_steps: int = 30, batch_size: int | None = None, seed: int = 0,
                     eval_mode: bool = True) -> HessianSpectrum:
    """The Hessian's spectral density by stochastic Lanczos quadrature: ``num_steps`` Lanczos steps from each
    of ``num_probes`` Rademacher probes (num_probes · num_steps products).

    Each probe z gives the Gauss quadrature of the spectral measure seen from z: nodes θ (Ritz values) and
    weights τ² (squared first components of T's eigenvectors), exact for polynomials of degree < 2·num_steps;
    pooled over probes with weight 1/num_probes they estimate μ = (1/P) Σ_i δ_{λ_i}. Extreme nodes converge to
    the extreme eigenvalues; a discrete spectrum with at most ``num_steps`` distinct values is recovered exactly.
    Other arguments as in :func:`hessian_eigenvalues`.
    """
    op = HessianOperator(model, loss_fn, x, y, batch_size=batch_size, eval_mode=eval_mode)
    quad = stochastic_lanczos_quadrature(op.matvec, op.dim, num_probes=num_probes, num_steps=num_steps, seed=seed,
                                         dtype=op.dtype, device=op.device)
    return HessianSpectrum(quad.probes.nodes, quad.probes.weights / (op.dim * num_probes), op.count)


def _identity(lam: torch.Tensor) -> torch.Tensor:
    return lam


def _start_vector(v0: Any, dim: int) -> torch.Tensor:
    """``v0`` checked: a finite, non-zero tensor of ``dim`` entries."""
    if not isinstance(v0, torch.Tensor) or v0.numel() != dim:
        shape = tuple(v0.shape) if isinstance(v0, torch.Tensor) else type(v0).__name__
        raise DeepscopeError(f"v0 must be a tensor of {dim} entries (flat over the trainable parameters, e.g. "
                             f"result.eigenvectors[:, 0] from an earlier call); got {shape}.")
    v0 = v0.detach().reshape(-1)
    if not bool(torch.isfinite(v0).all()) or not bool((v0 != 0).any()):
        raise DeepscopeError("v0 must be finite and not all zeros; pass an earlier eigenvector, or None for a "
                             "random start.")
    return v0


def _lanczos_top(matvec: Matvec, start: torch.Tensor, k: int, *, tol: float, max_iter: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The k largest Ritz pairs of a symmetric operator by Lanczos with full reorthogonalisation.

    Returns (eigenvalues float64 [k] descending, unit eigenvectors [n, k] in ``start``'s dtype, converged).
    The basis grows by doubling up to ``max_iter`` vectors; T's eigenproblem is solved in float64.
    """
    n, dtype, device = start.numel(), start.dtype, start.device
    eps = 100 * torch.finfo(dtype).eps
    basis = torch.empty(min(max(2 * k, 16), max_iter), n, dtype=dtype, device=device)
    alphas: list[float] = []
    betas: list[float] = []
    q = start / torch.linalg.vector_norm(start)
    converged = False
    for j in range(max_iter):
        if j == basis.shape[0]:
            basis = torch.cat([basis, torch.empty_like(basis)])[:max_iter]
        basis[j] = q
        w = matvec(q)
        alphas.append(float(q.double() @ w.double()))
        w = _orthogonalise(w, basis[:j + 1])
        b = float(torch.linalg.vector_norm(w))
        theta, S = torch.linalg.eigh(_tridiagonal(alphas, betas))
        scale = float(theta.abs().max())
        closed = b <= eps * max(scale, b)
        if j + 1 == n or (j + 1 >= k and not closed and _within(theta, S, b, k, tol * scale)):
            converged = True
            break
        if closed:  # invariant subspace: go on from a random direction outside it
            w = _orthogonalise(torch.randn(n, generator=generator, dtype=torch.float64).to(dtype=dtype,
                                                                                          device=device),
                               basis[:j + 1])
            betas.append(0.0)
            q = w / torch.linalg.vector_norm(w)
        else:
            betas.append(b)
            q = w / b
    steps = len(alphas)
    top = torch.argsort(theta, descending=True)[:k]
    vectors = basis[:steps].T @ S[:, top].to(dtype=dtype, device=device)
    return theta[top], vectors / torch.linalg.vector_norm(vectors, dim=0), converged


def _tridiagonal(alphas: list[float], betas: list[float]) -> torch.Tensor:
    """The symmetric tridiagonal matrix (float64) with diagonal ``alphas`` and off-diagonal ``betas``."""
    b = torch.tensor(betas, dtype=torch.float64)
    return torch.diag(torch.tensor(alphas, dtype=torch.float64)) + torch.diag(b, 1) + torch.diag(b, -1)


def _orthogonalise(w: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """w minus its projection on the rows of the orthonormal ``basis`` (classical Gram–Schmidt, twice)."""
    for _ in range(2):
        w = w - basis.T @ (basis @ w)
    return w


def _within(theta: torch.Tensor, S: torch.Tensor, beta: float, k: int, bound: float) -> bool:
    """Whether the k largest Ritz pairs all have residual r_i = β |S_last,i| <= ``bound``."""
    return bool((beta * S[-1, torch.argsort(theta, descending=True)[:k]].abs() <= bound).all())
