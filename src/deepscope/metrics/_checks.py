"""Input validation shared by every metric: arrays in (torch or numpy, any device), tensors out."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError


def as_features(X: Any, *, name: str = "X", min_rows: int = 2,
                dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Return ``X`` as a 2-D tensor [n, p] of ``dtype`` on its own device, after checking it.

    Raises :class:`DeepscopeError` for 1-D input, NaN/inf rows or fewer than ``min_rows`` rows.
    Higher-dimensional input [n, ...] is flattened per row (a conv feature map becomes one vector).
    """
    if isinstance(X, np.ndarray) or not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(np.asarray(X))
        except (TypeError, ValueError) as exc:
            raise DeepscopeError(f"{name} must be a numeric array [n, p]; got {type(X).__name__} ({exc}).") from exc
    if X.ndim < 2:
        raise DeepscopeError(
            f"{name} must be 2-D [n points, p features]; got shape {tuple(X.shape)}. "
            f"For one feature per point use X.reshape(-1, 1); for one point use X.reshape(1, -1).")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if not (X.is_floating_point() or X.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                                                  torch.bool)):
        raise DeepscopeError(f"{name} must be real-valued; got dtype {X.dtype}.")
    X = X.to(dtype)
    if X.shape[0] < min_rows:
        raise DeepscopeError(f"{name} has {X.shape[0]} rows but this estimator needs at least {min_rows}; "
                             f"pass more points.")
    bad = ~torch.isfinite(X).all(dim=1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten()[:5].tolist()
        raise DeepscopeError(f"{name} has {int(bad.sum())} row(s) with NaN or inf (first: {rows}); "
                             f"drop or impute them before measuring (e.g. X[torch.isfinite(X).all(1)]).")
    return X


def as_labels(y: Any, n: int, *, name: str = "y") -> torch.Tensor:
    """Return integer labels as a 1-D int64 tensor of length ``n`` (on CPU), after checking them."""
    y = torch.as_tensor(np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y))
    if y.ndim != 1:
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1:
        raise DeepscopeError(f"{name} must be 1-D integer class labels; got shape {tuple(y.shape)}.")
    if y.shape[0] != n:
        raise DeepscopeError(f"{name} has {y.shape[0]} labels but the features have {n} rows; "
                             f"pass one label per row.")
    if y.is_floating_point():
        if not bool(torch.all(y == torch.round(y))):
            raise DeepscopeError(f"{name} must hold integer class ids; got non-integer values.")
    elif y.dtype == torch.bool:
        pass
    y = y.to(torch.int64)
    if n and int(y.min()) < 0:
        raise DeepscopeError(f"{name} has negative class ids; use ids 0..K-1.")
    return y
