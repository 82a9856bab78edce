"""S equal-shaped ESL MLPs as one module: every tensor gets a leading member axis (for training many seeds at once).

The members are :class:`~deepscope.models.mlp.MLP` s of one architecture (He & Su, PNAS 2023:
``[BN -> Linear -> act -> Dropout(p)] x (depth - 1) -> BN -> Linear``) that may differ in their
weights. :class:`StackedMLP` holds member m's tensors at index m of stacked ones and computes all
members in one pass. Inside, activations are laid out [S, F, B] (member, feature, batch), so that
every layer is one operation on contiguous memory, with no transposes between layers:

- Linear: W_m h_m + b_m for every m, one batched matrix product [S, O, I] @ [S, I, B];
- BatchNorm: the [1, S·F, B] view holds the members' channels as S·F channels of B values, so one
  ``F.batch_norm`` normalises each member's channel by its own batch and updates its own running
  statistics;
- activation and dropout in place on the Linear's output where autograd allows it, with one mask
  for every member and layer per forward, drawn by :func:`dropout_mask` (independent entries, 0
  with probability p and 1 / (1 − p) otherwise: the law of ``nn.Dropout``'s; the stream is the
  stack's, not each member's, so a member's masks differ from those of the same seed run alone).

Inputs are [S, B, ...] (member m's batch at ``x[m]``) and logits [S, B, classes]. In eval mode the
stacked forward equals each member's forward. :meth:`StackedMLP.write` copies a member's tensors
back into an MLP; :meth:`StackedMLP.keep` drops members (e.g. those that stopped training).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models.mlp import MLP


def dropout_mask(count: int, p: float, generator: torch.Generator | None = None, *,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 draws: int | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """An inverted-dropout mask of ``count`` independent entries: 0 with probability p, else 1 / (1 − p).

    Drawn by gaps rather than one uniform per entry: with U ~ Uniform(0, 1], G = ⌊log U / log(1 − p)⌋
    is geometric, P(G = g) = (1 − p)^g p — the number of kept entries before the next dropped one — so
    the dropped positions are the partial sums of G + 1, minus 1. That is the law of ``count``
    independent Bernoulli(p) draws from about count · p uniforms instead of ``count`` (20× fewer at
    p = 0.05), in float64 (the partial sums are exact integers). Uniforms are drawn in rounds of
    ``draws`` (default: the expected number left + 8 standard deviations + 16, so one round nearly
    always suffices) until the positions pass ``count``; the rounds do not change the mask. ``out``: a
    tensor of ``count + 1`` entries to draw into (its device and dtype are used).
    """
    if not 0.0 < p < 1.0:
        raise DeepscopeError(f"dropout p must be in (0, 1) for a mask; got {p}.")
    if out is not None and out.numel() != count + 1:
        raise DeepscopeError(f"out must hold count + 1 = {count + 1} entries; it holds {out.numel()}.")
    mask = torch.empty(count + 1, device=device, dtype=dtype) if out is None else out  # the last takes overshoot
    mask.fill_(1.0 / (1.0 - p))
    device = mask.device
    log_keep, start = math.log1p(-p), 0
    while start < count:
        expected = (count - start) * p
        u = 1.0 - torch.rand(draws or int(expected + 8.0 * math.sqrt(expected) + 16), generator=generator,
                             device=device, dtype=torch.float64)
        positions = torch.cumsum(torch.floor(torch.log(u) / log_keep) + 1.0, 0) + (start - 1)
        mask[positions.clamp_(max=count).long()] = 0.0
        start = int(positions[-1]) + 1
    return mask[:count]


class StackedLinear(nn.Module):
    """S ``nn.Linear(I, O)`` as one: ``weight`` [S, O, I], ``bias`` [S, O]; h [S, I, B] -> W h + b [S, O, B]."""

    def __init__(self, members: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in members]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in members]))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(2), self.weight, h)


class StackedBatchNorm(nn.Module):
    """S ``nn.BatchNorm1d(F)`` as one on h [S, F, B]: member m's channel f normalised by its own batch (train mode) or
    running (eval mode) mean and variance, y = γ (h − μ) / sqrt(σ² + ε) + β, its running statistics updated as
    PyTorch does. One ``F.batch_norm`` over the [1, S·F, B] view: S·F channels, each with its B values."""

    def __init__(self, members: Sequence[nn.BatchNorm1d]) -> None:
        super().__init__()
        first = members[0]
        self.eps, self.momentum = first.eps, first.momentum
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in members]))
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in members]))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            self.register_buffer(name, torch.stack([getattr(m, name).detach().clone() for m in members]))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.num_batches_tracked.add_(1)
        return F.batch_norm(h.view(1, -1, h.shape[2]), self.running_mean.view(-1), self.running_var.view(-1),
                            self.weight.reshape(-1), self.bias.reshape(-1), self.training, self.momentum,
                            self.eps).view_as(h)


def _layout(model: MLP) -> list[tuple[str, str, tuple[Any, ...]]]:
    """What must agree between members: each leaf module's name, type, shapes and settings."""
    rows = []
    for name, module in model.named_modules():
        if not list(module.children()):
            shapes = tuple(tuple(t.shape) for t in [*module.parameters(), *module.buffers()])
            settings = tuple(getattr(module, key, None) for key in ("p", "eps", "momentum"))
            rows.append((name, type(module).__name__, (shapes, settings)))
    return rows


def check_members(members: Sequence[nn.Module]) -> None:
    """Raise unless ``members`` are one or more deepscope MLPs of one architecture."""
    if not members or not all(isinstance(m, MLP) for m in members):
        raise DeepscopeError("stacked training takes deepscope MLPs (build_model('mlp', ...)); pass at least one.")
    layout = _layout(members[0])
    odd = next((i for i, m in enumerate(members) if _layout(m) != layout), None)
    if odd is not None:
        raise DeepscopeError(f"member {odd} has another architecture than member 0; stacked members must differ "
                             f"only in their weights (same widths, activation, dropout p and BatchNorm).")


class StackedMLP(nn.Module):
    """``len(members)`` MLPs of one architecture as one module (see the module docstring).

    The members' tensors are copied in; the members are not changed. ``forward(x, generator)`` takes
    member m's batch at ``x[m]`` (x: [S, B, ...]) and returns logits [S, B, classes]; in train mode
    the dropout masks are drawn from ``generator`` (the global RNG when None).
    """

    def __init__(self, members: Sequence[MLP]) -> None:
        super().__init__()
        check_members(members)
        first = members[0]
        self.size = len(members)
        self.linears, self.norms = nn.ModuleList(), nn.ModuleList()
        self.sources: list[tuple[str, nn.Module]] = []   # (module name in a member, the stacked module)
        named = [dict(m.named_modules()) for m in members]
        for block in [f"hidden.{i}" for i in range(len(first.hidden))] + ["head"]:
            linear = StackedLinear([n[f"{block}.linear"] for n in named])
            self.linears.append(linear)
            self.sources.append((f"{block}.linear", linear))
            if f"{block}.bn" in named[0]:
                norm = StackedBatchNorm([n[f"{block}.bn"] for n in named])
                self.norms.append(norm)
                self.sources.append((f"{block}.bn", norm))
        self.activation = type(first.hidden[0].act).__name__ if len(first.hidden) else None
        self.p = first.hidden[0].dropout.p if len(first.hidden) and hasattr(first.hidden[0], "dropout") else 0.0
        self.dropped_width = sum(linear.weight.shape[1] for linear in self.linears[:-1])
        self._mask: torch.Tensor | None = None

    def _dropout_mask(self, count: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        """This forward's dropout mask, drawn into a buffer kept between forwards: a fresh tensor of this size
        per step costs more in page faults than the draw (autograd's version check refuses a backward whose
        mask a later forward has overwritten)."""
        buffer = self._mask
        if buffer is None or buffer.numel() <= count or buffer.device != like.device or buffer.dtype != like.dtype:
            buffer = self._mask = like.new_empty(count + 1)
        return dropout_mask(count, self.p, generator, out=buffer[:count + 1])

    def _activate(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The activation and dropout on a Linear's output, in place where autograd allows: ReLU commutes with
        the mask (m >= 0: relu(h) m = relu(h m)), so both act on h itself; tanh's backward needs its output, so
        its mask makes a new tensor."""
        if self.activation == "ReLU":
            return (h.mul_(mask) if mask is not None else h).relu_()
        h = torch.tanh_(h)
        return h * mask if mask is not None else h

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s, b = x.shape[:2]
        if s != self.size:
            raise DeepscopeError(f"the stack has {self.size} members but x has {s} rows; pass inputs [S, B, ...].")
        h = x.reshape(s, b, -1).transpose(1, 2).contiguous()
        mask = self._dropout_mask(s * b * self.dropped_width, generator, h) if self.training and self.p > 0 else None
        offset = 0
        for i, linear in enumerate(self.linears):
            if self.norms:
                h = self.norms[i](h)
            h = linear(h)
            if i < len(self.linears) - 1:
                part = None if mask is None else mask[offset:offset + h.numel()].view_as(h)
                h = self._activate(h, part)
                offset += h.numel()
        return h.transpose(1, 2)

    @torch.no_grad()
    def write(self, member: int, model: MLP) -> MLP:
        """Copy member ``member``'s parameters and buffers into ``model`` (an MLP of the same architecture)."""
        modules = dict(model.named_modules())
        for name, layer in self.sources:
            target = modules[name]
            for key, tensor in [*target.named_parameters(recurse=False), *target.named_buffers(recurse=False)]:
                tensor.copy_(getattr(layer, key)[member])
        return model

    @torch.no_grad()
    def keep(self, members: torch.Tensor) -> None:
        """Keep only the members at the indices ``members`` (in that order): every parameter and buffer is
        replaced by its rows ``members`` (new Parameters, so autograd sees the new shapes)."""
        for _, layer in self.sources:
            for name, param in list(layer.named_parameters(recurse=False)):
                setattr(layer, name, nn.Parameter(param[members.to(param.device)]))
            for name, buffer in list(layer.named_buffers(recurse=False)):
                setattr(layer, name, buffer[members.to(buffer.device)])
        self.size = len(members)
