"""Optimisers by name, stepping all parameters at once in one flat buffer.

``sgd`` is real SGD (the seed silently built Adam for it). For the built-in optimisers the
model's parameters and gradients are re-pointed into one contiguous buffer each
(:class:`FlatParameters`), so an update is a handful of whole-buffer operations instead of a loop
over tensors: on the small networks of the separation and lazy-training studies the per-tensor
overhead of ``torch.optim`` is a large part of a step. The arithmetic is PyTorch's:

- SGD: g ← ∇ + λθ; b ← μ b + g (b₁ = g); θ ← θ − η b.
- Adam (Kingma & Ba 2015; λ as L2 in the gradient): g ← ∇ + λθ; m ← β₁m + (1−β₁)g;
  v ← β₂v + (1−β₂)g²; θ ← θ − η/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε).
- AdamW (Loshchilov & Hutter 2019): θ ← (1 − ηλ)θ, then Adam's update without the L2 term.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from deepscope.errors import DeepscopeError

OPTIMIZERS = ("sgd", "adam", "adamw")


class FlatParameters:
    """One contiguous buffer for the values and one for the gradients of ``params``.

    Each parameter becomes a view into ``data`` and its ``.grad`` a view into ``grad``; backward
    accumulates into those views in place, so ``grad.zero_()`` clears every gradient at once.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter]) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise DeepscopeError("the model has no trainable parameters.")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise DeepscopeError("all trainable parameters must share one dtype and device; move the model with "
                                 "model.to(device, dtype) first.")
        self.data = torch.cat([p.detach().reshape(-1) for p in self.params])
        self.grad = torch.zeros_like(self.data)
        offset = 0
        for p in self.params:
            k = p.numel()
            p.data = self.data[offset:offset + k].view_as(p)
            p.grad = self.grad[offset:offset + k].view_as(p)
            offset += k


class FlatOptimizer(torch.optim.Optimizer):
    """SGD / Adam / AdamW over a :class:`FlatParameters` buffer (see the module docstring)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], kind: str, *, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.flat = FlatParameters(params)
        super().__init__(self.flat.params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, betas=betas,
                                                eps=eps))
        self.kind = kind
        self.t = 0
        self.buffers = [torch.zeros_like(self.flat.data) for _ in range(2 if kind != "sgd" else int(momentum > 0))]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every gradient at once (the views must stay, so this never sets them to None)."""
        del set_to_none
        self.flat.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        if closure is not None:
            raise DeepscopeError("this optimizer takes no closure.")
        group = self.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        theta, g = self.flat.data, self.flat.grad
        self.t += 1
        if self.kind == "adamw" and wd:
            theta.mul_(1.0 - lr * wd)
        if wd and self.kind != "adamw":
            g = g.add(theta, alpha=wd)
        if self.kind == "sgd":
            if self.buffers:
                buf = self.buffers[0]
                if self.t == 1:
                    buf.copy_(g)
                else:
                    buf.mul_(group["momentum"]).add_(g)
                g = buf
            theta.add_(g, alpha=-lr)
            return None
        beta1, beta2 = group["betas"]
        m, v = self.buffers
        m.lerp_(g, 1.0 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        denom = (v.sqrt() / math.sqrt(1.0 - beta2 ** self.t)).add_(group["eps"])
        theta.addcdiv_(m, denom, value=-lr / (1.0 - beta1 ** self.t))
        return None


def build_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.0,
                    weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """SGD (with optional momentum), Adam (L2 weight decay in the gradient) or AdamW (decoupled)."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise DeepscopeError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)} "
                             f"or pass a torch.optim.Optimizer.")
    if lr <= 0:
        raise DeepscopeError(f"learning rate must be positive; got {lr}.")
    if momentum and key != "sgd":
        raise DeepscopeError(f"momentum is an SGD setting; {name} has its own (betas).")
    return FlatOptimizer(params, key, lr=lr, momentum=momentum, weight_decay=weight_decay)
