"""Class means and within-/between-class scatter, shared by separation fuzziness and neural collapse.

Notation (He & Su, PNAS 2023; Papyan, Han & Donoho, PNAS 2020): rows x_1..x_n in R^p with labels
y_i in 0..K-1 (K = max label + 1), n_k rows in class k,

    global mean        x̄ = (1/n) Σ_i x_i                         (μ_G in Papyan et al.)
    class means        x̄_k = (1/n_k) Σ_{i: y_i = k} x_i            (μ_k)
    centred means      c_k = x̄_k − x̄, stacked as the rows of M ∈ R^{K×p}
    within-class       SS_w = (1/n) Σ_i (x_i − x̄_{y_i})(x_i − x̄_{y_i})^T        (Σ_W)
    between-class      SS_b(w) = Σ_k w_k c_k c_k^T = M^T diag(w) M

with class weights w_k = n_k/n for separation fuzziness (SS_b of He & Su) and w_k = 1/K for
Papyan's Σ_B; the two coincide when the classes are balanced.

Both metrics need Tr(SS_w · SS_b(w)^+), which :meth:`ClassScatter.trace_ratio` computes from the
K×p matrix diag(√w) M and an n×r product (r ≤ min(K, p)), never forming a p×p matrix, so it stays
cheap for p in the thousands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features, as_labels


@dataclass(frozen=True, eq=False)
class ClassScatter:
    """Validated features with their class statistics (build it with :func:`class_scatter`).

    Attributes: ``X`` [n, p] float64 features; ``y`` [n] int64 labels on ``X``'s device;
    ``counts`` [K] float64 class sizes n_k; ``means`` [K, p] class means x̄_k;
    ``global_mean`` [p] the global mean x̄.
    """

    X: torch.Tensor
    y: torch.Tensor
    counts: torch.Tensor
    means: torch.Tensor
    global_mean: torch.Tensor

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return self.means.shape[0]

    @property
    def n(self) -> int:
        """n, the number of rows."""
        return self.X.shape[0]

    @property
    def centred_means(self) -> torch.Tensor:
        """M ∈ R^{K×p} with rows c_k = x̄_k − x̄."""
        return self.means - self.global_mean

    def within(self) -> torch.Tensor:
        """SS_w = (1/n) Σ_i (x_i − x̄_{y_i})(x_i − x̄_{y_i})^T as an explicit p×p matrix."""
        Z = self.X - self.means[self.y]
        return Z.T @ Z / self.n

    def between(self, class_weights: torch.Tensor) -> torch.Tensor:
        """SS_b(w) = Σ_k w_k c_k c_k^T = M^T diag(w) M as an explicit p×p matrix."""
        M = self.centred_means
        return M.T @ (class_weights[:, None] * M)

    def trace_ratio(self, class_weights: torch.Tensor, rtol: float | None = None) -> float:
        """Tr(SS_w · SS_b(w)^+) without forming a p×p matrix.

        Write SS_b(w) = A^T A with A = diag(√w) M ∈ R^{K×p} and take the thin SVD A = U S V^T.
        Then SS_b^+ = V S^{-2} V^T (over the kept singular values), and with z_i = x_i − x̄_{y_i}

            Tr(SS_w SS_b^+) = (1/n) Σ_i z_i^T V S^{-2} V^T z_i = (1/n) ‖Z V S^{-1}‖_F²,

        an n×r product with r ≤ min(K, p). Z V is formed as X V − (x̄_k V)[y], so no n×p copy
        is made. The pseudo-inverse drops eigenvalues s_j² of SS_b at or below ``rtol`` · s_1²,
        as ``torch.linalg.pinv(SS_b, rtol=rtol)`` does for the p×p matrix; the default
        ``rtol`` = p · eps(float64) is pinv's own default for a p×p matrix. Computing s_j from A
        rather than from SS_b keeps the null directions of SS_b (rank ≤ K − 1 under size weights)
        at rounding level eps² · s_1², far below any such tolerance.

        Returns +inf when SS_b(w) = 0 (every class mean equals the global mean: no between-class
        separation at all, the limit of the ratio as the means merge).
        """
        if rtol is None:
            rtol = self.X.shape[1] * torch.finfo(torch.float64).eps
        A = class_weights.sqrt()[:, None] * self.centred_means
        _, s, Vh = torch.linalg.svd(A, full_matrices=False)
        if float(s[0]) == 0.0:
            return float("inf")
        keep = s**2 > rtol * s[0] ** 2
        P = Vh[keep].T / s[keep]                      # V S^{-1}, p×r
        ZP = self.X @ P - (self.means @ P)[self.y]    # Z V S^{-1}, n×r
        return float((ZP**2).sum() / self.n)


def class_scatter(X: Any, y: Any, *, name: str = "X") -> ClassScatter:
    """Validate features ``X`` [n, p] and labels ``y`` [n] and compute class sizes and means.

    Classes are 0..K−1 with K = max(y) + 1. Raises :class:`DeepscopeError` when a class id in
    that range has no rows (its mean would be undefined) or when there are fewer than two
    classes; all arithmetic is float64 on ``X``'s device.
    """
    X = as_features(X, name=name).detach()
    y = as_labels(y, X.shape[0])
    K = int(y.max()) + 1
    counts = torch.bincount(y, minlength=K)
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        raise DeepscopeError(
            f"class ids {empty[:10]}{' ...' if len(empty) > 10 else ''} in 0..{K - 1} have no rows "
            f"(K is taken as max(label) + 1 = {K}); relabel the classes contiguously as 0..K-1, "
            f"e.g. y = torch.unique(y, return_inverse=True)[1].")
    if K < 2:
        raise DeepscopeError("all rows have label 0, but class separation needs at least 2 classes; "
                             "pass labels with ids 0..K-1 for K >= 2.")
    y = y.to(X.device)
    counts = counts.to(device=X.device, dtype=torch.float64)
    means = torch.zeros(K, X.shape[1], dtype=torch.float64, device=X.device).index_add_(0, y, X)
    means /= counts[:, None]
    return ClassScatter(X=X, y=y, counts=counts, means=means, global_mean=X.mean(dim=0))
