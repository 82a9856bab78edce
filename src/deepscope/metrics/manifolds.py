"""Point clouds of known intrinsic dimension, for checking ID estimators.

Flat cases (cube, ball, sphere, Gaussian) and the curved benchmark manifolds of
Hein & Audibert, "Intrinsic dimensionality estimation of submanifolds in R^d", ICML 2005, and
Campadelli, Casiraghi, Ceruti & Rozza, "Intrinsic dimension estimation: relevant techniques and a
benchmark framework", Math. Probl. Eng. 2015 (the M and Mp sets tabulated by scikit-dimension's
``BenchmarkManifolds``), written here from their definitions. Every generator takes a ``seed`` for
its own ``torch.Generator``, returns float64 [n, D] on the CPU, and has its dimension in its name
or its ``d`` argument. :func:`embed` places a cloud in more ambient dimensions.
"""
from __future__ import annotations

import math
from typing import Literal

import torch

from deepscope.errors import DeepscopeError


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _check_size(n: int, d: int) -> None:
    if n < 1 or d < 1:
        raise DeepscopeError(f"need n >= 1 points and dimension d >= 1; got n={n}, d={d}.")


def hypercube(n: int, d: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` points uniform in the unit cube [0, 1]^d (intrinsic dimension d)."""
    _check_size(n, d)
    return torch.rand(n, d, generator=_generator(seed), dtype=torch.float64)


def ball(n: int, d: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` points uniform in the unit d-ball: a uniform direction times a radius U^{1/d}."""
    _check_size(n, d)
    g = _generator(seed)
    direction = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    radius = torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1.0 / d)
    return direction * radius


def sphere(n: int, d: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` points uniform on the unit sphere S^d in R^{d+1} (intrinsic dimension d)."""
    _check_size(n, d)
    X = torch.randn(n, d + 1, generator=_generator(seed), dtype=torch.float64)
    return torch.nn.functional.normalize(X, dim=1)


def gaussian(n: int, d: int, *, seed: int = 0) -> torch.Tensor:
    """``n`` draws of a standard normal in R^d (Campadelli's M12 "Norm", intrinsic dimension d)."""
    _check_size(n, d)
    return torch.randn(n, d, generator=_generator(seed), dtype=torch.float64)


def swiss_roll(n: int, *, seed: int = 0) -> torch.Tensor:
    """Hein–Audibert M7 roll (2-D in R^3): (t cos t, h, t sin t), t ~ U[3π/2, 9π/2], h ~ U[0, 21]."""
    _check_size(n, 2)
    g = _generator(seed)
    t = 1.5 * math.pi * (1.0 + 2.0 * torch.rand(n, generator=g, dtype=torch.float64))
    h = 21.0 * torch.rand(n, generator=g, dtype=torch.float64)
    return torch.stack([t * torch.cos(t), h, t * torch.sin(t)], dim=1)


def helix(n: int, *, seed: int = 0) -> torch.Tensor:
    """Hein–Audibert M5 helix (1-D in R^3): ((2 + cos 8t) cos t, (2 + cos 8t) sin t, sin 8t), t ~ U[0, 2π]."""
    _check_size(n, 1)
    t = 2.0 * math.pi * torch.rand(n, generator=_generator(seed), dtype=torch.float64)
    ring = 2.0 + torch.cos(8.0 * t)
    return torch.stack([ring * torch.cos(t), ring * torch.sin(t), torch.sin(8.0 * t)], dim=1)


def curved(n: int, d: int = 12, *, copies: int = 3, seed: int = 0) -> torch.Tensor:
    """Hein–Audibert M8, a highly curved d-manifold in R^{2·d·copies} (d = 12 → R^72 by default).

    With p ~ U[0, 1]^d, coordinate pair i (i = 0..d−1) is p_{i+1} · (cos 2πp_i, sin 2πp_i), indices
    modulo d; the 2d coordinates are repeated ``copies`` times.
    """
    _check_size(n, d)
    if copies < 1:
        raise DeepscopeError(f"copies must be >= 1; got {copies}.")
    p = torch.rand(n, d, generator=_generator(seed), dtype=torch.float64)
    radius = p.roll(-1, dims=1)
    angle = 2.0 * math.pi * p
    pairs = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=2).reshape(n, 2 * d)
    return pairs.repeat(1, copies)


def paraboloid(n: int, d: int = 3, *, seed: int = 0) -> torch.Tensor:
    """Campadelli's Mp paraboloid: a d-manifold in R^{3(d+1)} with a heavy-tailed (Burr-type) density.

    With E_0..E_d ~ Exp(1), x_i = 1 / (1 + E_i / E_0) (i = 1..d) and s = Σ x_i²; the point is
    (x, s, sin x, sin s, x², s²). Mp1/Mp2/Mp3 are d = 3, 6, 9.
    """
    _check_size(n, d)
    E = torch.empty(n, d + 1, dtype=torch.float64).exponential_(1.0, generator=_generator(seed))
    x = 1.0 / (1.0 + E[:, 1:] / E[:, :1])
    base = torch.cat([x, x.square().sum(dim=1, keepdim=True)], dim=1)
    return torch.cat([base, torch.sin(base), base.square()], dim=1)


def embed(X: torch.Tensor, ambient: int, *, how: Literal["pad", "rotate", "linear"] = "pad",
          seed: int = 0) -> torch.Tensor:
    """Place a cloud [n, p] in R^ambient (ambient >= p).

    ``pad`` appends zero columns; ``rotate`` multiplies by a random [p, ambient] matrix with
    orthonormal rows (an isometry onto a random p-plane); ``linear`` multiplies by a random
    Gaussian [p, ambient] matrix (a generic linear embedding: distances change, dimension does not).
    """
    n, p = X.shape
    if ambient < p:
        raise DeepscopeError(f"ambient dimension {ambient} is smaller than the cloud's {p} columns.")
    if how == "pad":
        return torch.cat([X, X.new_zeros(n, ambient - p)], dim=1)
    M = torch.randn(ambient, p, generator=_generator(seed), dtype=torch.float64).to(X)
    if how == "rotate":
        return X @ torch.linalg.qr(M).Q.T
    if how == "linear":
        return X @ M.T
    raise DeepscopeError(f"how must be 'pad', 'rotate' or 'linear'; got {how!r}.")
