"""Neural collapse NC1–NC4 (Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
phase of deep learning training", PNAS 2020), for the features of any layer.

With global mean μ_G, class means μ_k, centred means M ∈ R^{K×p} (rows μ_k − μ_G),
Σ_W = (1/n) Σ_i (h_i − μ_{y_i})(h_i − μ_{y_i})^T and Σ_B = (1/K) Σ_k (μ_k − μ_G)(μ_k − μ_G)^T
(see :mod:`deepscope.metrics.scatter`), collapse means: within-class variability vanishes (NC1),
the centred means form a simplex equiangular tight frame, equal norms and pairwise cosines
−1/(K−1) (NC2), the classifier rows align with them (NC3), and the classifier acts as a
nearest-class-centre rule (NC4). Every measure below is 0 at perfect collapse.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features
from deepscope.metrics._summary import Summarized
from deepscope.metrics.scatter import class_scatter


@dataclass(frozen=True, repr=False)
class NeuralCollapse(Summarized):
    """NC1–NC4 of one layer's features (Papyan, Han & Donoho 2020).

    - ``nc1`` = Tr(Σ_W Σ_B^+)/K, within-class variability relative to the between-class spread.
      Σ_B weights every class by 1/K as in the paper, so on balanced classes nc1 = D/K with D
      the separation fuzziness; on imbalanced classes the two differ. +inf when all μ_k = μ_G.
    - ``nc2_equinorm`` = std_k ‖μ_k − μ_G‖ / mean_k ‖μ_k − μ_G‖ (coefficient of variation of
      the centred-mean norms; population std).
    - ``nc2_equiangular`` = std over pairs k < k' of cos(μ_k − μ_G, μ_k' − μ_G) (population
      std over the K(K−1)/2 pairs; the same over ordered pairs k ≠ k').
    - ``nc2_maxangle`` = mean over k ≠ k' of |cos(μ_k − μ_G, μ_k' − μ_G) + 1/(K−1)|, the
      distance of the cosines from the simplex value −1/(K−1).
    - ``nc2_etf_distance`` = ‖ M M^T/‖M M^T‖_F − J/‖J‖_F ‖_F with J = I − 11^T/K
      (‖J‖_F = √(K−1)), the Gram of the centred means against the simplex-ETF Gram.
    - ``nc3`` = ‖ W/‖W‖_F − M/‖M‖_F ‖_F² for a classifier W ∈ R^{K×p}; None without one.
    - ``nc4`` = fraction of rows i with argmax_k (W h_i + b)_k ≠ argmin_k ‖h_i − μ_k‖, the
      classifier's disagreement with the nearest-class-centre (NCC) rule; None without W.
    - ``ncc_accuracy`` = fraction of rows with argmin_k ‖h_i − μ_k‖ = y_i (always reported).
    - ``num_classes`` = K.

    The cosine-based NC2 fields are nan when some μ_k = μ_G (an undefined direction); the
    norm-based ones are nan when all of them are.
    """

    nc1: float
    nc2_equinorm: float
    nc2_equiangular: float
    nc2_maxangle: float
    nc2_etf_distance: float
    nc3: float | None
    nc4: float | None
    ncc_accuracy: float
    num_classes: int

    def as_metrics(self) -> dict[str, float]:
        """The measured values by name, leaving out those not computed (nc3/nc4 without a classifier)."""
        return {k: float(v) for k, v in asdict(self).items() if v is not None and k != "num_classes"}

    def summary(self) -> str:
        return ", ".join(f"{k} {v:.4g}" for k, v in self.as_metrics().items()) + f" (K={self.num_classes})"


def neural_collapse(X: Any, y: Any, weight: Any = None, bias: Any = None, *,
                    rtol: float | None = None) -> NeuralCollapse:
    """Neural-collapse measures of features ``X`` [n, p] with labels ``y`` [n] in 0..K−1.

    ``weight`` [K, p] and optional ``bias`` [K] are a linear classifier on these features
    (e.g. the last ``nn.Linear``); they enable ``nc3`` and ``nc4``. ``rtol`` is the
    pseudo-inverse's relative cut-off on the eigenvalues of Σ_B (default p · eps). The fields and
    their formulas are documented on :class:`NeuralCollapse`. Raises :class:`DeepscopeError` for
    bad input, empty class ids in 0..max(y), fewer than two classes, or a classifier whose shape
    does not match.
    """
    if weight is None and bias is not None:
        raise DeepscopeError("a classifier bias was given without its weight; pass weight=[K, p] too "
                             "(e.g. weight=fc.weight, bias=fc.bias).")
    s = class_scatter(X, y)
    K, M, X = s.num_classes, s.centred_means, s.X
    nc1 = s.trace_ratio(torch.full((K,), 1.0 / K, dtype=torch.float64, device=X.device), rtol) / K

    norms = M.norm(dim=1)
    unit = M / norms[:, None]
    i, j = torch.triu_indices(K, K, offset=1, device=X.device)
    cos = (unit @ unit.T)[i, j]
    gram = M @ M.T
    simplex = torch.eye(K, dtype=torch.float64, device=X.device) - 1.0 / K
    etf = gram / torch.linalg.norm(gram) - simplex / math.sqrt(K - 1)

    # argmin_k ‖h − μ_k‖² = argmax_k [(h − μ_G)·c_k − ‖c_k‖²/2] with c_k = μ_k − μ_G.
    ncc = (X @ M.T - (M @ s.global_mean + 0.5 * norms**2)).argmax(dim=1)
    nc3 = nc4 = None
    if weight is not None:
        W, b = _classifier(weight, bias, K, X.shape[1], X.device)
        nc3 = float(torch.linalg.norm(W / torch.linalg.norm(W) - M / torch.linalg.norm(M)) ** 2)
        nc4 = float(((X @ W.T + b).argmax(dim=1) != ncc).double().mean())
    return NeuralCollapse(
        nc1=nc1,
        nc2_equinorm=float(norms.std(correction=0) / norms.mean()),
        nc2_equiangular=float(cos.std(correction=0)),
        nc2_maxangle=float((cos + 1.0 / (K - 1)).abs().mean()),
        nc2_etf_distance=float(torch.linalg.norm(etf)),
        nc3=nc3,
        nc4=nc4,
        ncc_accuracy=float((ncc == s.y).double().mean()),
        num_classes=K,
    )


def _classifier(weight: Any, bias: Any, K: int, p: int,
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a linear classifier: W [K, p] and b [K] (zeros when None), float64 on ``device``."""
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().to(device)
    W = as_features(weight, name="weight", min_rows=1).to(device)
    if tuple(W.shape) != (K, p):
        raise DeepscopeError(f"weight must be [K classes, p features] = [{K}, {p}] to match the labels and "
                             f"features; got {tuple(W.shape)}. Pass the last linear layer's weight "
                             f"(nn.Linear(p, K).weight has this shape).")
    if bias is None:
        return W, torch.zeros(K, dtype=torch.float64, device=device)
    b = torch.as_tensor(bias.detach() if isinstance(bias, torch.Tensor) else np.asarray(bias),
                        dtype=torch.float64, device=device).reshape(-1)
    if b.shape[0] != K:
        raise DeepscopeError(f"bias must have one entry per class, [{K}]; got shape {tuple(b.shape)}. "
                             f"Pass the bias of the same linear layer as weight.")
    if not bool(torch.isfinite(b).all()):
        raise DeepscopeError("bias has NaN or inf entries; pass a finite classifier bias (or none).")
    return W, b
