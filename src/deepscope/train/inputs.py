"""Training inputs and targets as tensors: numpy arrays converted once, dtypes checked."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError


def as_tensor(value: Any, what: str) -> torch.Tensor:
    """``value`` as a tensor fit for training.

    Numpy arrays: floating -> float32, integer -> int64 (class ids, or token ids for an embedding).
    Tensors: floating dtypes are kept (a float64 model gets float64 data), integers become int64.
    Booleans, complex numbers and other types raise a DeepscopeError naming ``what``.
    """
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return torch.tensor(value, dtype=torch.float32)  # a copy: the caller's array is never shared
        if kind in "iu":
            return torch.tensor(value, dtype=torch.int64)
        raise DeepscopeError(f"{what} must hold real numbers (float) or integer ids; got a numpy array of dtype "
                             f"{value.dtype}. Convert it, e.g. {what}.astype(np.float32) or .astype(np.int64).")
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            return value
        if value.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64):
            return value.to(torch.int64)
        raise DeepscopeError(f"{what} must hold real numbers (float) or integer ids; got a tensor of dtype "
                             f"{value.dtype}. Convert it, e.g. {what}.float() or {what}.long().")
    raise DeepscopeError(f"{what} must be a torch.Tensor or a numpy array; got {type(value).__name__}.")
