"""Models with named probe points, built by name."""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models.mlp import MLP

MODELS = ("mlp",)


def build_model(name: str, *, in_features: int, num_classes: int, hidden_dim: int = 100, depth: int = 6,
                hidden: Sequence[int] | None = None, p: float = 0.0, activation: str = "relu",
                batchnorm: bool = True) -> nn.Module:
    """Build a model by name. ``mlp``: ``depth`` linear layers of width ``hidden_dim`` (or ``hidden``)."""
    if name != "mlp":
        raise DeepscopeError(f"unknown model {name!r}; available: {', '.join(MODELS)}.")
    if hidden is None:
        if depth < 1:
            raise DeepscopeError(f"depth must be >= 1 (the number of linear layers); got {depth}.")
        hidden = [hidden_dim] * (depth - 1)
    return MLP(in_features, num_classes, hidden, p=p, activation=activation, batchnorm=batchnorm)


__all__ = ["MLP", "MODELS", "build_model"]
