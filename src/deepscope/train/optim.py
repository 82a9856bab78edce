"""Optimisers by name, stepping all parameters at once in one flat buffer.

``sgd`` is real SGD (the seed silently built Adam for it). For the built-in optimisers the
model's parameters and gradients are re-pointed into one contiguous buffer each
(:class:`FlatParameters`), and PyTorch's own fused SGD / Adam / AdamW update that single tensor:
one kernel per step instead of one per parameter tensor, which on the small networks of the
separation and lazy-training studies is a large share of a step. The arithmetic is unchanged
(Adam: Kingma & Ba 2015 with weight decay as L2 in the gradient; AdamW: Loshchilov & Hutter
2019, decoupled).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from deepscope.errors import DeepscopeError

OPTIMIZERS = ("sgd", "adam", "adamw")


class FlatParameters:
    """One contiguous Parameter holding the values of ``params``, and one buffer their gradients.

    Each parameter becomes a view into ``param`` and its ``.grad`` a view into ``param.grad``;
    backward accumulates into those views in place, so zeroing ``param.grad`` clears them all.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter]) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise DeepscopeError("the model has no trainable parameters.")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise DeepscopeError("all trainable parameters must share one dtype and device; move the model with "
                                 "model.to(device, dtype) first.")
        self.param = torch.nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.params]))
        self.param.grad = torch.zeros_like(self.param)
        offset = 0
        for p in self.params:
            k = p.numel()
            p.data = self.param.data[offset:offset + k].view_as(p)
            p.grad = self.param.grad[offset:offset + k].view_as(p)
            offset += k


def _zero_flat_grad(self: torch.optim.Optimizer, set_to_none: bool = True) -> None:
    """Zero the flat gradient in place; it is never set to None, since the parameters' ``.grad`` are views of it."""
    del set_to_none
    for group in self.param_groups:
        for p in group["params"]:
            p.grad.zero_()


_FLAT = {name: type(f"Flat{cls.__name__}", (cls,), {"zero_grad": _zero_flat_grad,
                                                     "__doc__": f"{cls.__name__} over a FlatParameters buffer."})
         for name, cls in (("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW))}


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam (L2 weight decay in the gradient) or AdamW (decoupled) over
    :class:`FlatParameters` of ``params``; the optimizer's ``flat`` attribute holds the buffer."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise DeepscopeError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)} "
                             f"or pass a torch.optim.Optimizer.")
    if lr <= 0:
        raise DeepscopeError(f"learning rate must be positive; got {lr}.")
    if momentum and key != "sgd":
        raise DeepscopeError(f"momentum is an SGD setting; {name} has its own (betas).")
    flat = FlatParameters(params)
    settings = {"lr": lr, "weight_decay": weight_decay, "fused": True}
    if key == "sgd":
        settings["momentum"] = momentum
    optimizer = _FLAT[key]([flat.param], **settings)
    optimizer.flat = flat
    return optimizer
