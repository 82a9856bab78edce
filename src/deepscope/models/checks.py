"""Checks of model options and inputs shared by the model constructors, each raising DeepscopeError."""
from __future__ import annotations

import torch

from deepscope.errors import DeepscopeError


def positive_int(model: str, option: str, value: object) -> int:
    """``value`` as an int, or an error when it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DeepscopeError(f"{model}: option {option} must be an integer >= 1; got {value!r}. "
                             f"Pass a positive whole number.")
    return value


def probability(model: str, option: str, value: object) -> float:
    """``value`` as a float, or an error when it is not a dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise DeepscopeError(f"{model}: option {option} is a dropout probability and must be in [0, 1); "
                             f"got {value!r}. Use 0 to switch dropout off.")
    return float(value)


def check_images(model: str, x: torch.Tensor, channels: int, size: int | None = None) -> None:
    """Raise unless ``x`` is a float image batch [n, channels, H, W] (with H = W = ``size`` when given)."""
    expected = f"[n, {channels}, {size or 'H'}, {size or 'W'}]"
    if (x.dim() != 4 or x.shape[1] != channels or not x.is_floating_point()
            or (size is not None and tuple(x.shape[2:]) != (size, size))):
        raise DeepscopeError(f"{model} expects a float image batch {expected}; got a {x.dtype} tensor of shape "
                             f"{list(x.shape)}. Reshape/resize the input or rebuild the model with matching options.")
