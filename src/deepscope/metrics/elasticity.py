"""Local elasticity: how much one SGD step on x moves the network at x′ (He & Su, "The Local Elasticity
of Neural Networks", ICLR 2020).

One SGD step on (x, y) with step size η moves the parameters w to w⁺ = w − η ∇_w ℓ(f(x; w), y). Its
impact on an input x′ is the change of the network's output there, Δ_x f(x′) = f(x′; w⁺) − f(x′; w),
and the relative impact (He & Su's relative similarity S_rel, here for vector outputs with the
Euclidean norm) is

    S(x, x′) = ‖Δ_x f(x′)‖ / ‖Δ_x f(x)‖.

A network is locally elastic when S is larger for x′ of x's class than for x′ of other classes. To
first order in η, Δ_x f(x′) = −η Θ(x′, x) g + O(η²), with g = ∂ℓ/∂f(x) and Θ the empirical neural
tangent kernel, so as η → 0

    S(x, x′) → ‖Θ(x′, x) g‖ / ‖Θ(x, x) g‖,

which for a scalar output is He & Su's kernelised similarity |K(x, x′)| / K(x, x). For a linear model
f(x) = W φ(x), Θ(x′, x) = φ(x′)ᵀφ(x) I and the step is exactly first order, so
S = |φ(x)ᵀφ(x′)| / ‖φ(x)‖² for every η.

- :func:`step_impact`: S from the finite step (per-sample gradients and the stepped networks
  evaluated together with ``torch.func.vmap``), an [n, n] matrix, S[i, j] = S(x_i, x_j).
- :func:`ntk_impact`: the first-order S, Θ(x′, x) g as a Jacobian-vector product with the per-sample
  gradient (equal to contracting :func:`deepscope.metrics.dynamics.empirical_ntk` with g).
- :func:`local_elasticity`: the class-by-class mean of S off the diagonal, the same-class and
  other-class means and their ratio (locally elastic when > 1).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from deepscope.errors import DeepscopeError

LOSSES = ("ce", "mse")


def _loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """ℓ(outputs [n, K], labels [n]): cross-entropy, or the mean squared error against one-hot targets."""
    if name == "ce":
        return F.cross_entropy
    if name == "mse":
        return lambda out, y: F.mse_loss(out, torch.eye(out.shape[1], dtype=out.dtype, device=out.device)[y])  # vmap-safe one-hot
    raise DeepscopeError(f"loss must be one of {LOSSES}; got {name!r}.")


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or x.shape[0] < 2:
        raise DeepscopeError(f"x must be a tensor batch [n, ...] with n >= 2; got {getattr(x, 'shape', type(x))}.")
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0],) or y.dtype != torch.long:
        raise DeepscopeError(f"y must be int64 class ids [n] matching x ({x.shape[0]} rows); got "
                             f"{getattr(y, 'dtype', type(y))} {tuple(getattr(y, 'shape', ()))}.")
    if not torch.isfinite(x).all():
        raise DeepscopeError("x holds NaN or inf; the impact of a step on non-finite inputs is undefined.")


def _state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise DeepscopeError("the model has no trainable parameters, so an SGD step changes nothing.")
    return params, dict(model.named_buffers())


def _ratio(change: torch.Tensor) -> torch.Tensor:
    """[n, n, K] output changes (row i: the step on x_i) -> ‖change[i, j]‖ / ‖change[i, i]‖."""
    norms = change.norm(dim=-1)
    own = norms.diagonal()
    if not bool((own > 0).all()):
        raise DeepscopeError("a step left the output at its own input unchanged (zero loss gradient), so its "
                             "relative impact is undefined; use inputs the network does not fit exactly.")
    return norms / own[:, None]


ChangeFn = Callable[[Callable[..., torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]], torch.Tensor]


def _impact(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, chunk: int, change: ChangeFn
            ) -> torch.Tensor:
    """S from ``change(f, θ, g)``: the output changes [m, n, K] on all of x caused by per-sample gradients g
    (stacked, m of them); the per-sample gradients are taken ``chunk`` at a time."""
    _check(x, y)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise DeepscopeError(f"chunk must be an integer >= 1; got {chunk!r}.")
    params, buffers = _state(model)
    loss_fn = _loss(loss)

    def f(theta: dict[str, torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**theta, **buffers}, (batch,))

    def one_loss(theta: dict[str, torch.Tensor], xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss_fn(f(theta, xi[None]), yi[None])

    rows = []
    for start in range(0, x.shape[0], chunk):
        grads = vmap(grad(one_loss), in_dims=(None, 0, 0))(params, x[start:start + chunk], y[start:start + chunk])
        with torch.no_grad():
            rows.append(change(f, params, grads))
    return _ratio(torch.cat(rows))


def step_impact(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, *, loss: str = "ce",
                chunk: int = 16) -> torch.Tensor:
    """S[i, j] = ‖f(x_j; w − η∇ℓ_i) − f(x_j; w)‖ / ‖f(x_i; w − η∇ℓ_i) − f(x_i; w)‖, shape [n, n].

    ``ℓ_i`` is the loss (``'ce'`` or ``'mse'`` against one-hot targets) of the single example
    (x_i, y_i); the model is used as it is (call ``.eval()`` for BatchNorm or dropout, ``.double()`` for
    small steps: the change is a difference of two outputs). ``chunk`` stepped networks are
    evaluated at a time (vmapped over their stacked parameters). The model itself is not changed.
    """
    if not lr > 0:
        raise DeepscopeError(f"lr (the SGD step size) must be > 0; got {lr!r}.")

    def change(f: Callable[..., torch.Tensor], params: dict[str, torch.Tensor],
               grads: dict[str, torch.Tensor]) -> torch.Tensor:
        stepped = {name: params[name] - lr * grads[name] for name in params}
        return vmap(f, in_dims=(0, None))(stepped, x) - f(params, x)

    return _impact(model, x, y, loss, chunk, change)


def ntk_impact(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: str = "ce",
               chunk: int = 16) -> torch.Tensor:
    """The first-order impact S[i, j] = ‖Θ(x_j, x_i) g_i‖ / ‖Θ(x_i, x_i) g_i‖, g_i = ∂ℓ_i/∂f(x_i), [n, n].

    The limit of :func:`step_impact` as the step shrinks (module doc). Θ(x_j, x_i) g_i = J(x_j) J(x_i)ᵀ g_i
    = J(x_j) ∇_w ℓ_i is computed as one Jacobian-vector product over all of x with the per-sample
    gradient as tangent: the contraction of :func:`deepscope.metrics.dynamics.empirical_ntk` with g_i
    (the tests check the two agree) at 1/K of its cost, without building the [n, n, K, K] kernel.
    """
    def change(f: Callable[..., torch.Tensor], params: dict[str, torch.Tensor],
               grads: dict[str, torch.Tensor]) -> torch.Tensor:
        return vmap(lambda tangent: jvp(lambda theta: f(theta, x), (params,), (tangent,))[1])(grads)

    return _impact(model, x, y, loss, chunk, change)


@dataclass(frozen=True)
class LocalElasticity:
    """The class-by-class mean impact and its same-class vs other-class summary.

    ``matrix[a, b]`` is the mean of S(x, x′) over x in class a and x′ ≠ x in class b (NaN where a class
    has no such pair); ``same`` and ``other`` are the means of S over all same-class and all
    other-class pairs; ``ratio = same / other`` (locally elastic when > 1).
    """

    matrix: torch.Tensor
    same: float
    other: float
    ratio: float

    def __float__(self) -> float:
        return self.ratio

    def __str__(self) -> str:
        return f"local elasticity: same-class impact {self.same:.4g}, other-class {self.other:.4g}, ratio {self.ratio:.4g}"


def local_elasticity(impact: torch.Tensor, y: torch.Tensor) -> LocalElasticity:
    """Summarise an impact matrix S [n, n] (from :func:`step_impact` or :func:`ntk_impact`) by the labels y."""
    if not isinstance(impact, torch.Tensor) or impact.ndim != 2 or impact.shape[0] != impact.shape[1]:
        raise DeepscopeError(f"impact must be a square matrix [n, n]; got {getattr(impact, 'shape', type(impact))}.")
    if not isinstance(y, torch.Tensor) or y.shape != (impact.shape[0],):
        raise DeepscopeError(f"y must be class ids [n] with n = {impact.shape[0]}; got {getattr(y, 'shape', y)}.")
    y = y.to(impact.device).long()
    off = ~torch.eye(len(y), dtype=torch.bool, device=impact.device)
    same = (y[:, None] == y[None, :]) & off
    other = y[:, None] != y[None, :]
    if not same.any() or not other.any():
        raise DeepscopeError("local elasticity compares same-class with other-class pairs; y needs at least two "
                             "samples of one class and at least two classes.")
    values = impact.double()
    k = int(y.max()) + 1
    member = torch.nn.functional.one_hot(y, k).double().T               # [K, n]
    pair = member[:, None, :, None] * member[None, :, None, :] * off.double()   # [K, K, n, n]
    counts = pair.sum((2, 3))
    matrix = (pair * values).sum((2, 3)) / counts.where(counts > 0, torch.full_like(counts, float("nan")))
    same_mean, other_mean = float(values[same].mean()), float(values[other].mean())
    return LocalElasticity(matrix, same_mean, other_mean, same_mean / other_mean)
