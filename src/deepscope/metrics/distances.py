"""Squared Euclidean distances by the expansion ‖a − b‖² = ‖a‖² − 2 a·b + ‖b‖², one matrix product.

Shared by the diffusion kernels, the pairwise-KDE information bounds and RBF CKA. Centre the data
first (distances do not change under translation) to keep the expansion's cancellation small.
"""
from __future__ import annotations

import torch


def squared_distance_block(Xi: torch.Tensor, Xj: torch.Tensor, sq_i: torch.Tensor, sq_j: torch.Tensor,
                           diagonal: bool = False) -> torch.Tensor:
    """‖x_i − x_j‖² for the rows of Xi against the rows of Xj (squared norms given), clamped at 0;
    ``diagonal`` marks a block on the diagonal (Xi is Xj), whose diagonal is set to exactly 0."""
    D2 = torch.mm(Xi, Xj.T).mul_(-2.0).add_(sq_i[:, None]).add_(sq_j[None, :]).clamp_(min=0.0)
    if diagonal:
        D2.fill_diagonal_(0.0)
    return D2


def squared_distances(X: torch.Tensor) -> torch.Tensor:
    """Dense squared Euclidean distances ‖x_i − x_j‖² of X [n, p] (centred first), in X's dtype and device."""
    Xc = X - X.mean(dim=0)
    sq = (Xc * Xc).sum(dim=1)
    return squared_distance_block(Xc, Xc, sq, sq, diagonal=True)
