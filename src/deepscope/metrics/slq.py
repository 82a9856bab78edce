"""Stochastic Lanczos quadrature (SLQ): tr f(A) for a symmetric operator known only through A @ V.

Quadrature. For a symmetric A [n, n] and a start vector s, k steps of Lanczos from s/‖s‖ give a
tridiagonal T_k = Y Θ Yᵀ whose eigenvalues θ_i (Ritz values) and squared first eigenvector entries
τ_i² = Y_{1i}² are the nodes and weights of the k-point Gauss quadrature of the spectral measure of A
seen from s (Golub & Meurant 1994):

    sᵀ f(A) s ≈ ‖s‖² Σ_{i=1..k} τ_i² f(θ_i),    exact when f is a polynomial of degree ≤ 2k − 1.

Trace. With Rademacher probes z (E[z zᵀ] = I), E[zᵀ f(A) z] = tr f(A) (Hutchinson 1989); averaging
the quadratures of m probes estimates tr f(A) with standard error std_j / √m (Ubaru, Chen & Saad 2017,
"Fast estimation of tr(f(A)) via stochastic Lanczos quadrature"). The probe variance is 2 Σ_{i≠j} f(A)_ij²
and is dominated by a few large eigenvalues of f(A) when the spectrum is low-rank-like, so, as in Hutch++
(Meyer, Musco, Musco & Woodruff 2021), an optional sketch Q (orthonormal basis of A^{q+1} Ω for r random
columns Ω, plus any known vectors) splits the trace into a deterministic and a random part:

    tr f(A) = Σ_{i≤r} q_iᵀ f(A) q_i  +  E[(Pz)ᵀ f(A) (Pz)],    P = I − Q Qᵀ,

each quadratic form by Lanczos quadrature from q_i or from the projected probe Pz. The estimate stays
unbiased (up to quadrature error) and the standard error comes from the projected probes only.

Implementation. All start vectors run as one block: each Lanczos step is one call ``matvec(V)`` with V of
shape [n, r + m], so a kernel or Hessian operator reuses one pass over its data for all of them. The basis
is fully re-orthogonalised (classical Gram–Schmidt, twice; O(n (r+m) k) memory), which keeps the Ritz
values free of the ghost copies plain Lanczos produces in finite precision. When a start vector's Krylov
space is exhausted (β_j ≈ 0, e.g. A has fewer than k distinct eigenvalues) its recursion stops there:
its quadrature is then exact and the remaining nodes get weight zero.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._summary import Summarized

Matvec = Callable[[torch.Tensor], torch.Tensor]
"""A symmetric linear operator: ``matvec(V)`` returns A @ V for V of shape [n, m]. For an operator that
only takes vectors, wrap it: ``lambda V: torch.stack([mv(v) for v in V.T], dim=1)``."""

SpectralFunction = Callable[[torch.Tensor], torch.Tensor]
"""An elementwise function f applied to a float64 tensor of Ritz values."""


@dataclass(frozen=True, repr=False)
class TraceEstimate(Summarized):
    """A stochastic estimate of tr f(A) and its standard error over probes; ``float(result)`` is ``value``."""

    value: float
    stderr: float
    num_probes: int

    def __float__(self) -> float:
        return float(self.value)

    def summary(self) -> str:
        return f"trace {self.value:.6g} ± {self.stderr:.2g} ({self.num_probes} probes)"


@dataclass(frozen=True)
class LanczosQuadrature:
    """Gauss quadrature rules of the spectral measure of A seen from each of c start vectors.

    ``nodes[j]`` are the Ritz values from start vector s_j and ``weights[j]`` their weights ‖s_j‖² τ²
    (float64, shape [c, k]), so Σ_i weights[j, i] f(nodes[j, i]) ≈ s_jᵀ f(A) s_j.
    """

    nodes: torch.Tensor
    weights: torch.Tensor

    def quadratic_forms(self, f: SpectralFunction) -> torch.Tensor:
        """Estimates of s_jᵀ f(A) s_j for every start vector, shape [c] (float64)."""
        return (self.weights * f(self.nodes)).sum(dim=1)


@dataclass(frozen=True)
class StochasticQuadrature:
    """SLQ rules for tr f(A): the sketch part (deterministic) and the projected probes (random).

    ``samples(f)[j]`` = Σ_i q_iᵀ f(A) q_i + (P z_j)ᵀ f(A) (P z_j) is probe j's unbiased estimate of tr f(A);
    the weights of ``probes`` divided by n, pooled, give a smoothed spectral density of A off the sketch.
    """

    sketch: LanczosQuadrature
    probes: LanczosQuadrature

    def samples(self, f: SpectralFunction) -> torch.Tensor:
        """Per-probe estimates of tr f(A), shape [m] (float64)."""
        return self.sketch.quadratic_forms(f).sum() + self.probes.quadratic_forms(f)

    def trace(self, f: SpectralFunction) -> TraceEstimate:
        """Mean over probes of the estimates of tr f(A), with its standard error (NaN for one probe)."""
        s = self.samples(f)
        m = s.numel()
        stderr = float(s.std(correction=1)) / math.sqrt(m) if m > 1 else math.nan
        return TraceEstimate(value=float(s.mean()), stderr=stderr, num_probes=m)


def lanczos_quadrature(matvec: Matvec, start: torch.Tensor, num_steps: int) -> LanczosQuadrature:
    """Run ``num_steps`` Lanczos steps from every column of ``start`` [n, c] at once; return the rules.

    ``matvec`` must be symmetric and accept/return [n, c] tensors of ``start``'s dtype and device. The
    recursion coefficients and the tridiagonal eigenproblems are in float64 whatever that dtype. A zero
    start column gets an all-zero-weight rule.
    """
    n, c = start.shape
    k = min(num_steps, n)
    dtype, device = start.dtype, start.device
    norms = torch.linalg.vector_norm(start.to(torch.float64), dim=0)
    basis = torch.zeros(c, k, n, dtype=dtype, device=device)  # basis[p, j] = Lanczos vector j of start vector p
    basis[:, 0] = (start / torch.where(norms > 0, norms, torch.ones_like(norms)).to(dtype)).T
    alpha = torch.zeros(c, k, dtype=torch.float64)
    beta = torch.zeros(c, max(k - 1, 0), dtype=torch.float64)
    scale = torch.zeros(c, dtype=torch.float64)
    tol = 100 * torch.finfo(dtype).eps
    for j in range(k):
        q = basis[:, j]
        w = matvec(q.T)
        if w.shape != (n, c):
            raise DeepscopeError(f"matvec must map an [n, c] = {(n, c)} block to the same shape; got "
                                 f"{tuple(w.shape)}. Return A @ V for the whole block V.")
        w = w.T
        a = (q * w).sum(dim=1)
        w = w - a[:, None] * q
        if j > 0:
            w = w - beta[:, j - 1].to(dtype=dtype, device=device)[:, None] * basis[:, j - 1]
        for _ in range(2):  # full re-orthogonalisation against q_1..q_j (classical Gram-Schmidt, twice)
            done = basis[:, : j + 1]
            w = w - torch.bmm(done.transpose(1, 2), torch.bmm(done, w[:, :, None]))[:, :, 0]
        alpha[:, j] = a.to(torch.float64).cpu()
        if j == k - 1:
            break
        b = torch.linalg.vector_norm(w, dim=1).to(torch.float64).cpu()
        scale = torch.maximum(scale, torch.maximum(alpha[:, j].abs(), b))
        live = b > tol * scale  # an exhausted Krylov space stops: beta = 0 and q = 0 from here on
        b = torch.where(live, b, torch.zeros_like(b))
        beta[:, j] = b
        inv = torch.where(live, 1.0 / torch.where(live, b, torch.ones_like(b)), torch.zeros_like(b))
        basis[:, j + 1] = w * inv.to(dtype=dtype, device=device)[:, None]
    nodes = torch.empty(c, k, dtype=torch.float64)
    weights = torch.zeros(c, k, dtype=torch.float64)
    norms2 = norms.cpu() ** 2
    for p in range(c):
        stopped = torch.nonzero(beta[p] == 0)
        length = int(stopped[0]) + 1 if stopped.numel() else k
        a, b = alpha[p, :length], beta[p, : length - 1]
        theta, Y = torch.linalg.eigh(torch.diag(a) + torch.diag(b, 1) + torch.diag(b, -1))
        nodes[p] = theta[0]  # unused slots hold a real node with weight zero, so f stays finite there
        nodes[p, :length] = theta
        weights[p, :length] = norms2[p] * Y[0] ** 2
    return LanczosQuadrature(nodes=nodes, weights=weights)


def stochastic_lanczos_quadrature(matvec: Matvec, n: int, *, num_probes: int = 16, num_steps: int = 20,
                                  sketch_size: int = 0, power_iterations: int = 1,
                                  known: torch.Tensor | None = None, seed: int = 0,
                                  dtype: torch.dtype = torch.float64,
                                  device: torch.device | str = "cpu") -> StochasticQuadrature:
    """Quadrature rules for tr f(A) from ``num_probes`` Rademacher probes, optionally deflated by a sketch.

    ``sketch_size`` r > 0 adds an orthonormal basis of A^{power_iterations+1} Ω (Ω: r Rademacher columns;
    costs r·(power_iterations+1) extra columns of products) whose part of the trace is computed by
    quadrature and removed from the probes (Hutch++). ``known`` [n, j] adds vectors known to span (nearly)
    an invariant subspace, e.g. a known top eigenvector. All random numbers come from a CPU
    ``torch.Generator`` seeded with ``seed`` (the same on any device), never from the global RNG.
    """
    if n < 1 or num_probes < 1 or num_steps < 1 or sketch_size < 0 or power_iterations < 0:
        raise DeepscopeError(f"SLQ needs n >= 1, num_probes >= 1, num_steps >= 1, sketch_size >= 0 and "
                             f"power_iterations >= 0; got n={n}, num_probes={num_probes}, num_steps={num_steps}, "
                             f"sketch_size={sketch_size}, power_iterations={power_iterations}.")
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def rademacher(cols: int) -> torch.Tensor:
        return (torch.randint(0, 2, (n, cols), generator=gen) * 2 - 1).to(dtype=dtype, device=device)

    probes = rademacher(num_probes)
    parts = [] if known is None else [known.to(dtype=dtype, device=device).reshape(n, -1)]
    if sketch_size:
        Y = matvec(rademacher(sketch_size))
        for _ in range(power_iterations):
            Y = matvec(torch.linalg.qr(Y.to(torch.float64)).Q.to(dtype))
        parts.append(Y)
    if parts:
        Q = torch.linalg.qr(torch.cat(parts, dim=1).to(torch.float64)).Q
        probes = (probes.to(torch.float64) - Q @ (Q.T @ probes.to(torch.float64))).to(dtype)
        start = torch.cat([Q.to(dtype), probes], dim=1)
    else:
        start = probes
    rules = lanczos_quadrature(matvec, start, num_steps)
    r = start.shape[1] - num_probes
    return StochasticQuadrature(sketch=LanczosQuadrature(rules.nodes[:r], rules.weights[:r]),
                                probes=LanczosQuadrature(rules.nodes[r:], rules.weights[r:]))


def slq_trace(matvec: Matvec, n: int, f: SpectralFunction, **options: Any) -> TraceEstimate:
    """Estimate tr f(A) = Σ_i f(λ_i) of a symmetric operator by stochastic Lanczos quadrature.

    ``options`` are those of :func:`stochastic_lanczos_quadrature`. The error bar is the standard error over
    probes; it leaves out the quadrature bias, which vanishes for polynomials of degree < 2·num_steps and is
    small for f smooth on the spectrum.
    """
    return stochastic_lanczos_quadrature(matvec, n, **options).trace(f)
