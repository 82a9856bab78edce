"""Hessian-vector products of a network's loss over a data set, matrix-free.

For trainable parameters θ ∈ ℝᴾ (those with ``requires_grad``, flattened in ``model.parameters()`` order),
data (x_i, y_i), i = 1..n, split into batches B_b of n_b points, and ``loss_fn`` returning the mean loss over
a batch, the loss is the mean over the whole set and its Hessian a weighted sum of the batch Hessians:

    L(θ) = Σ_b (n_b / n) L_b(θ),    H v = Σ_b (n_b / n) ∇²L_b(θ) v.

Each batch product is Pearlmutter's (1994, "Fast exact multiplication by the Hessian") reverse-over-reverse
identity ∇²L v = ∇_θ ⟨∇_θ L, v⟩: one backward pass that keeps its graph, then one more through it. With a
single batch the graph of ∇L is built once and reused by every product (measured on CPU, torch 2.13, the
62k-parameter MLP of ``benchmarks/curvature_speed.py`` at n = 2000: 21–33 ms a product reused, 43–49 ms
rebuilt, 52 ms by ``torch.func.jvp`` over ``torch.func.grad``, which also fails on ``F.mse_loss``); with
several batches it is rebuilt per batch, so memory stays that of one batch. A block of c vectors reuses each
batch's graph for all c columns, one product at a time (``is_grads_batched`` would be ~30% faster but relies on
vmap support of every operation in the model).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from deepscope.errors import DeepscopeError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss_fn(outputs, y)`` → the mean loss over a batch, a scalar (e.g. ``torch.nn.functional.cross_entropy``)."""


class HessianOperator:
    """The Hessian of the mean loss of ``model`` over (x, y) as a symmetric linear operator on flat vectors.

    ``matvec(v)`` takes v of shape [dim] or a block [dim, c] and returns H v of the same shape, in the
    parameters' dtype and device; ``count`` is the number of products done so far (c per block). Batches of
    ``batch_size`` points (None: one batch) are moved to the parameters' device one at a time.

    With ``eval_mode=True`` every product runs the model in eval mode (BatchNorm uses its running statistics,
    dropout is off), so H is deterministic; with ``eval_mode=False`` it runs in the model's own mode and any
    BatchNorm running statistics a forward pass updates are put back afterwards. Either way each module's
    training flag is restored after every product.

    With one batch the operator holds the graph of ∇L from its first product on: it is a snapshot of the
    parameters then (changing them in place afterwards makes autograd raise); build a new operator after
    a training step.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                 batch_size: int | None = None, eval_mode: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise DeepscopeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if not callable(loss_fn):
            raise DeepscopeError(f"loss_fn must be a callable loss_fn(outputs, y) returning the mean loss over a "
                                 f"batch (e.g. torch.nn.functional.cross_entropy); got {type(loss_fn).__name__}.")
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise DeepscopeError("model has no trainable parameters (none with requires_grad=True), so its loss has "
                                 "no Hessian; unfreeze the parameters to measure, e.g. p.requires_grad_(True).")
        dtypes = {p.dtype for p in self.params}
        if len(dtypes) > 1:
            raise DeepscopeError(f"the trainable parameters mix dtypes {sorted(map(str, dtypes))}; flat Hessian "
                                 f"vectors need one. Convert the model first, e.g. model.float().")
        _check_data(x, y)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise DeepscopeError(f"batch_size must be a positive number of points per batch, or None for one batch; "
                                 f"got {batch_size!r}.")
        self.model, self.loss_fn, self.x, self.y = model, loss_fn, x, y
        self.eval_mode = eval_mode
        self.n = x.shape[0]
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        self.dtype, self.device = self.params[0].dtype, self.params[0].device
        self.count = 0
        self._gradient: tuple[torch.Tensor, ...] | None = None  # ∇L with its graph, kept when there is one batch

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """H v for v [dim] or H V for a block V [dim, c] (each column one product)."""
        if v.ndim not in (1, 2) or v.shape[0] != self.dim:
            raise DeepscopeError(f"v must have shape [dim] or [dim, c] with dim = {self.dim} (the trainable "
                                 f"parameters); got {tuple(v.shape)}.")
        V = v.reshape(self.dim, -1).to(dtype=self.dtype, device=self.device)
        out = torch.zeros_like(V)
        with torch.enable_grad(), _measuring(self.model, self.eval_mode):
            for gradient in self._batch_gradients():
                for j in range(V.shape[1]):
                    keep = self._gradient is not None or j + 1 < V.shape[1]
                    out[:, j] += self._product(gradient, V[:, j], retain=keep)
        self.count += V.shape[1]
        return out.reshape(v.shape)

    def _batch_gradients(self) -> Iterator[tuple[torch.Tensor, ...]]:
        """∇[(n_b / n) L_b] with its graph, batch by batch (the single batch's is built once and kept)."""
        if self._gradient is not None:
            yield self._gradient
            return
        for start in range(0, self.n, self.batch_size):
            xb = self.x[start:start + self.batch_size].to(self.device)
            yb = self.y[start:start + self.batch_size].to(self.device)
            loss = self.loss_fn(self.model(xb), yb)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise DeepscopeError(f"loss_fn must return the mean loss over the batch, a scalar tensor; got "
                                     f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}"
                                     f". Use a reduction='mean' loss.")
            weighted = loss.reshape(()) * (xb.shape[0] / self.n)
            gradient = torch.autograd.grad(weighted, self.params, create_graph=True, allow_unused=True,
                                           materialize_grads=True)
            if self.batch_size == self.n:
                self._gradient = gradient
            yield gradient

    def _product(self, gradient: tuple[torch.Tensor, ...], v: torch.Tensor, retain: bool) -> torch.Tensor:
        """∇_θ ⟨gradient, v⟩, flat; zero for parameters the gradient does not depend on."""
        pairs = [(g, part.view_as(g)) for g, part in zip(gradient, v.split(self.sizes)) if g.requires_grad]
        if not pairs:  # the loss is at most linear in the parameters
            return torch.zeros_like(v)
        outputs, directions = zip(*pairs)
        hv = torch.autograd.grad(outputs, self.params, directions, retain_graph=bool(retain), allow_unused=True,
                                 materialize_grads=True)
        return torch.cat([h.reshape(-1) for h in hv])


@contextmanager
def _measuring(model: nn.Module, eval_mode: bool) -> Iterator[None]:
    """Run in eval mode (or the model's own mode, restoring BatchNorm statistics), then restore every flag."""
    modes = [(module, module.training) for module in model.modules()]
    saved = [] if eval_mode else [(b, b.detach().clone()) for b in model.buffers()]
    if eval_mode:
        model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def _check_data(x: torch.Tensor, y: torch.Tensor) -> None:
    """Tensors with one row per point, as many rows in x as in y, at least one, and no NaN/inf."""
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor) or value.ndim < 1:
            raise DeepscopeError(f"{name} must be a torch.Tensor with one row per point [n, ...]; got "
                                 f"{type(value).__name__}{'' if not isinstance(value, torch.Tensor) else ' (0-d)'}. "
                                 f"Convert with torch.as_tensor.")
    if x.shape[0] != y.shape[0]:
        raise DeepscopeError(f"x has {x.shape[0]} rows but y has {y.shape[0]}; pass one target per input.")
    if x.shape[0] == 0:
        raise DeepscopeError("the data set is empty (x has 0 rows); the loss is a mean over points, so pass some.")
    for name, value in (("x", x), ("y", y)):
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value.reshape(value.shape[0], -1))).any(dim=1).sum())
            raise DeepscopeError(f"{name} has {bad} row(s) with NaN or inf; the loss and its Hessian would be NaN. "
                                 f"Drop or impute them first (e.g. keep = torch.isfinite({name}).flatten(1).all(1)).")

