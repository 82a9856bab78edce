"""Optimisers by name. ``sgd`` is real SGD (the seed silently built Adam for it)."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from deepscope.errors import DeepscopeError

OPTIMIZERS = ("sgd", "adam", "adamw")


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0, device: str | torch.device = "cpu") -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam (L2 weight decay inside the gradient) or AdamW (decoupled).

    Adam/AdamW use the fused kernels, which run one pass over all parameters per step.
    """
    key = name.lower()
    if lr <= 0:
        raise DeepscopeError(f"learning rate must be positive; got {lr}.")
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if key in ("adam", "adamw"):
        cls = torch.optim.Adam if key == "adam" else torch.optim.AdamW
        fused = torch.device(device).type in ("cpu", "cuda")
        return cls(params, lr=lr, weight_decay=weight_decay, fused=fused)
    raise DeepscopeError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)} "
                         f"or pass a torch.optim.Optimizer.")
