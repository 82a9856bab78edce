"""How far training moves a network: relative parameter change and the empirical neural tangent kernel.

Lazy training (Jacot, Gabriel & Hongler 2018; Chizat, Oyallon & Bach 2019): as width grows the
parameters move less relative to their initial size and the empirical NTK
Θ(x, x') = J(x) J(x')ᵀ, J = ∂f/∂θ, stays near its value at initialisation.

- :func:`relative_change` gives both forms in use: the global ‖θ_T − θ_0‖₂ / ‖θ_0‖₂ and the
  DL_theory_exp seed's ratio of sums of per-tensor Frobenius norms Σ_p ‖θ_p(T) − θ_p(0)‖ / Σ_p ‖θ_p(0)‖,
  plus each tensor's own ratio.
- :func:`empirical_ntk` computes Θ on a probe set with ``torch.func`` without materialising J:
  for each output row r of J (a sample i and an output k), one vector-Jacobian product gives
  J_r = ∂f_k(x_i)/∂θ, and one Jacobian-vector product with tangent J_r over the whole probe set
  gives the column Θ[:, :, i, k] = J J_rᵀ. Memory is one parameter-sized vector per row in flight.
- :func:`kernel_distance` is 1 − ⟨Θ₀, Θ₁⟩_F / (‖Θ₀‖_F ‖Θ₁‖_F) (Fort et al. 2020): 0 for kernels
  that differ by a positive factor, up to 1 for orthogonal ones.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jvp, vjp

from deepscope.errors import DeepscopeError


@dataclass(frozen=True)
class RelativeChange:
    """``global_`` = ‖θ_T − θ_0‖/‖θ_0‖; ``sum_of_norms`` = Σ‖Δθ_p‖/Σ‖θ_p(0)‖ (the seed's form); ``per_tensor``."""

    global_: float
    sum_of_norms: float
    per_tensor: dict[str, float]

    def __float__(self) -> float:
        return self.global_

    def __str__(self) -> str:
        return f"relative change {self.global_:.4g} (sum of per-tensor norms {self.sum_of_norms:.4g})"


def _params(state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if isinstance(state, nn.Module):
        return {name: p.detach() for name, p in state.named_parameters()}
    if isinstance(state, Mapping):
        return {name: torch.as_tensor(p).detach() for name, p in state.items()}
    raise DeepscopeError(f"expected a model or a mapping of parameter tensors; got {type(state).__name__}.")


def relative_change(initial: nn.Module | Mapping[str, torch.Tensor],
                    final: nn.Module | Mapping[str, torch.Tensor]) -> RelativeChange:
    """How far the parameters moved from ``initial`` to ``final`` (models or ``{name: tensor}``), in float64."""
    a, b = _params(initial), _params(final)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise DeepscopeError("initial and final must have the same parameter names and shapes (two states of one "
                             "architecture).")
    if not a:
        raise DeepscopeError("the model has no parameters to compare.")
    start = {k: float(a[k].double().norm()) for k in a}
    moved = {k: float((b[k].double() - a[k].double()).norm()) for k in a}
    total0 = math.sqrt(sum(v * v for v in start.values()))
    if total0 == 0:
        raise DeepscopeError("the initial parameters are all zero, so a relative change is undefined.")
    per_tensor = {k: moved[k] / start[k] if start[k] > 0 else math.inf for k in a}
    return RelativeChange(math.sqrt(sum(v * v for v in moved.values())) / total0,
                          sum(moved.values()) / sum(start.values()), per_tensor)


def empirical_ntk(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Θ[i, j, k, l] = ⟨∂f_k(x_i)/∂θ, ∂f_l(x_j)/∂θ⟩ over the trainable parameters, shape [n, n, K, K].

    ``model`` maps a batch [n, ...] to outputs [n, K] and is evaluated as it is (call ``model.eval()``
    first for BatchNorm or dropout). Cost: n·K vector-Jacobian products on one sample and as many
    Jacobian-vector products on the whole probe set; keep the probe set small (tens of points).
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[0] < 1:
        raise DeepscopeError(f"x must be a tensor batch [n, ...] with n >= 1; got {getattr(x, 'shape', type(x))}.")
    if not torch.isfinite(x).all():
        raise DeepscopeError("x holds NaN or inf; the kernel of non-finite inputs is undefined.")
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise DeepscopeError("the model has no trainable parameters, so its tangent kernel is empty.")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name: b for name, b in model.named_buffers()}

    def f(theta: dict[str, torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, {**theta, **buffers}, (batch,))
        if out.ndim != 2 or out.shape[0] != batch.shape[0]:
            raise DeepscopeError(f"the model must return outputs [n, K]; got shape {tuple(out.shape)}.")
        return out

    n = x.shape[0]
    out = f(params, x[:1])
    K = out.shape[1]
    kernel = torch.empty(n, n, K, K, dtype=out.dtype, device=out.device)
    for i in range(n):
        _, pullback = vjp(lambda theta: f(theta, x[i:i + 1]), params)
        for k in range(K):
            cotangent = torch.zeros(1, K, dtype=out.dtype, device=out.device)
            cotangent[0, k] = 1.0
            (row,) = pullback(cotangent)                     # J_r = ∂f_k(x_i)/∂θ as parameter-shaped tensors
            _, column = jvp(lambda theta: f(theta, x), (params,), (row,))
            kernel[:, i, :, k] = column                      # Θ[j, i, l, k] = ⟨J_{j,l}, J_r⟩
    return kernel


def kernel_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """1 − ⟨a, b⟩_F / (‖a‖_F ‖b‖_F) for two kernels of the same shape (Fort et al. 2020)."""
    if a.shape != b.shape:
        raise DeepscopeError(f"kernels must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}.")
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    norm = float(a.norm() * b.norm())
    if norm == 0:
        raise DeepscopeError("a kernel is all zero, so the distance between directions is undefined.")
    return 1.0 - float(a @ b) / norm
