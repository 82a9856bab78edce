"""Symmetric label noise as in LE-SDE (Zhang, Wang & Su, NeurIPS 2021; seed ``zjiayao/le_sde``).

For each class k with n_k samples, m_k = int(p · n_k) of its samples, drawn without replacement,
are relabelled to the other classes: the drawn samples are cut into K - 1 consecutive near-equal
chunks (boundaries floor(j · m_k / (K - 1))), and chunk j goes to the j-th other class in
increasing id order. With K = 3 that is the seed's rule: the first m_k // 2 move to one other class,
the rest to the remaining one. At p = (K - 1)/K every class keeps as many of its own labels as it
receives from each other class (the LE-SDE phase transition sits at p = 2/3 for K = 3).
"""
from __future__ import annotations

import numbers

import torch

from deepscope.errors import DeepscopeError


def check_fraction(fraction: object) -> float:
    """``fraction`` as a float in [0, 1], or a DeepscopeError naming the ``label_noise`` option."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 <= fraction <= 1:
        raise DeepscopeError(f"label_noise must be a fraction in [0, 1] of each class's training labels to "
                             f"move to the other classes; got {fraction!r}.")
    return float(fraction)


def move_labels(labels: torch.Tensor, fraction: float, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A copy of int64 ``labels`` with ``fraction`` of each class moved to the other classes (see module doc).

    The draws come from ``generator`` (CPU); ``labels`` must hold ids 0..num_classes-1.
    """
    fraction = check_fraction(fraction)
    if num_classes < 2 and fraction > 0:
        raise DeepscopeError(f"label noise needs at least 2 classes to move labels between; got {num_classes}.")
    noisy = labels.clone()
    for k in range(num_classes):
        members = torch.nonzero(labels == k).flatten()
        m = int(fraction * len(members) + 1e-9)  # 1e-9: 0.3 * 10 = 2.999... must count as 3
        drawn = members[torch.randperm(len(members), generator=generator)[:m]]
        others = [c for c in range(num_classes) if c != k]
        bounds = [j * m // len(others) for j in range(len(others) + 1)]
        for j, other in enumerate(others):
            noisy[drawn[bounds[j]:bounds[j + 1]]] = other
    return noisy
