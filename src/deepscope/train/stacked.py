"""Many seeds in one model: S ESL MLPs trained together as one :class:`StackedMLP`, each as the Trainer trains it alone.

Member m has its own :class:`TrainConfig` (it may differ from the others in ``seed``, ``lr`` and
``weight_decay`` only) and its own training data (or all members share one set). What is a
member's own, exactly as :class:`~deepscope.train.Trainer` does it for the same config alone:

- its initialisation (the member models are given, e.g. ``build_model('mlp', seed=s)``);
- its shuffling: each epoch a ``randperm`` from its generator seeded ``derive_seed(seed, 'shuffle')``,
  its batches the contiguous slices of its shuffled data (one gather per epoch for all members);
- its loss, the mean cross-entropy of its batch, and its gradient: the backward pass is of
  Σ_m loss_m, and loss_m depends on member m's parameters only;
- its optimiser step: SGD, Adam and AdamW act elementwise, so PyTorch's fused step over one flat
  buffer of all stacked parameters is each member's own step (members with different learning
  rates or weight decays: the step is taken with lr 1 and no decay, member m's decay applied as
  the optimiser applies it — L2 in the gradient for SGD/Adam, p ← p (1 − lr_m λ_m) for AdamW —
  and its displacement scaled by lr_m, which is exact since each update is lr times a step);
- its stop rules: after each epoch a member whose loss is below ``stop_loss`` stops, one whose
  loss is not finite is diverged; either leaves the stack (its tensors written back to its model,
  its rows of every tensor and of the optimiser state dropped), so its final weights, epochs and
  iterations are those it would have alone, and the others go on (and run faster).

What is shared: dropout masks come from one stream for the whole stack (:func:`dropout_mask`), so
with dropout a member matches its single run in distribution, not number for number; without
dropout it matches up to floating-point rounding. Cross-entropy only (integer class labels); no
callbacks, augmentation or held-out evaluation during training (held-out data is evaluated once,
at the end). Used by ``deepscope esl --seeds`` (He & Su, PNAS 2023's MLP, one model per seed).
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from deepscope.data._rng import derive_seed
from deepscope.errors import DeepscopeError
from deepscope.models.mlp import MLP
from deepscope.models.stacked_mlp import StackedMLP, check_members
from deepscope.train.config import TrainConfig, as_train_config
from deepscope.train.evaluate import evaluate, is_classification
from deepscope.train.inputs import as_tensor
from deepscope.train.optim import build_optimizer
from deepscope.train.trainer import SMALL_STEP_FLOPS, TrainResult, _check_pair

__all__ = ["MEMBER_FIELDS", "StackedTrainer"]

MEMBER_FIELDS = ("seed", "lr", "weight_decay")  # the TrainConfig fields in which members may differ
Data = torch.Tensor | np.ndarray


class _MemberOptimizer:
    """The optimiser of the stack: PyTorch's fused step over one flat buffer of every stacked parameter.

    :func:`~deepscope.train.optim.build_optimizer` puts the stacked parameters (member m's tensors at
    row m of each) in one :class:`~deepscope.train.optim.FlatParameters` buffer. With one learning
    rate and decay for all members they are the optimiser's own; otherwise it steps with lr 1 and no
    decay, and :meth:`step` applies member m's decay and scales its displacement by lr_m.
    """

    def __init__(self, model: StackedMLP, config: TrainConfig, lrs: Sequence[float], decays: Sequence[float],
                 state: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.uniform = len(set(lrs)) == 1 and len(set(decays)) == 1
        self.optimizer = build_optimizer(config.optimizer, model.parameters(), lr=lrs[0] if self.uniform else 1.0,
                                         momentum=config.momentum, weight_decay=decays[0] if self.uniform else 0.0)
        self.flat = self.optimizer.flat
        self.lrs, self.decays = list(lrs), list(decays)
        if not self.uniform:
            self.lr_entries, self.decay_entries = self._entries(lrs), self._entries(decays)
        if state is not None:
            self.optimizer.state[self.flat.param] = dict(state)

    def _entries(self, values: Sequence[float]) -> torch.Tensor:
        """A per-member value at every entry of the flat buffer (member m's value on row m of each parameter)."""
        column = torch.tensor(values, dtype=self.flat.param.dtype, device=self.flat.param.device)[:, None]
        return torch.cat([column.expand(len(values), p[0].numel()).reshape(-1) for p in self.flat.params])

    def _rows(self, buffer: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """The entries of ``buffer`` (laid out as the flat parameters) that belong to ``members``."""
        parts, offset, rows = [], 0, len(self.lrs)
        for p in self.flat.params:
            size = rows * p[0].numel()
            parts.append(buffer[offset:offset + size].view(rows, -1)[members].reshape(-1))
            offset += size
        return torch.cat(parts)

    def scale_lr(self, factor: float) -> None:
        """A learning-rate milestone: every member's rate times ``factor``."""
        self.lrs = [lr * factor for lr in self.lrs]
        if self.uniform:
            for group in self.optimizer.param_groups:
                group["lr"] *= factor
        else:
            self.lr_entries *= factor

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    @torch.no_grad()
    def step(self) -> None:
        if self.uniform:
            self.optimizer.step()
            return
        flat = self.flat.param.data
        if self.config.optimizer == "adamw":
            flat.mul_(1.0 - self.lr_entries * self.decay_entries)
        else:
            self.flat.param.grad.addcmul_(flat, self.decay_entries)
        before = flat.clone()
        self.optimizer.step()
        flat.copy_(before.lerp_(flat, self.lr_entries))

    def kept(self, model: StackedMLP, members: torch.Tensor) -> _MemberOptimizer:
        """This optimiser for ``model`` after ``model.keep(members)``: the members' rates, decays and state."""
        numel = self.flat.param.numel()
        state = {key: self._rows(value, members) if torch.is_tensor(value) and value.numel() == numel else value
                 for key, value in self.optimizer.state[self.flat.param].items()}
        keep = members.tolist()
        return _MemberOptimizer(model, self.config, [self.lrs[m] for m in keep], [self.decays[m] for m in keep], state)


@dataclasses.dataclass
class _Active:
    """The members still in the stack, in stack order: who they are, their shuffling streams, and where each
    one's data begins in the flattened x and y."""

    members: list[int]
    shuffles: list[torch.Generator]
    starts: torch.Tensor

    def kept(self, positions: torch.Tensor) -> _Active:
        keep = positions.tolist()
        return _Active([self.members[p] for p in keep], [self.shuffles[p] for p in keep], self.starts[positions])


def _stacked_data(data: Data | Sequence[Data], members: int, what: str) -> tuple[torch.Tensor, bool]:
    """``data`` as [rows, n, ...] and whether it is shared: one row for every member (a tensor), or one row per
    member (a sequence)."""
    if isinstance(data, (list, tuple)):
        if len(data) != members:
            raise DeepscopeError(f"{what}: got {len(data)} data sets for {members} members; pass one per member, or "
                                 f"one tensor for all.")
        parts = [as_tensor(part, f"{what}[{i}]") for i, part in enumerate(data)]
        if any(p.shape != parts[0].shape or p.dtype != parts[0].dtype for p in parts):
            raise DeepscopeError(f"{what}: every member's data must have one shape and dtype; got "
                                 f"{sorted({(tuple(p.shape), str(p.dtype)) for p in parts})}.")
        return torch.stack(parts), False
    return as_tensor(data, what).unsqueeze(0), True


@dataclasses.dataclass
class StackedTrainer:
    """Train ``models`` (MLPs of one architecture) together, member m with ``configs[m]`` on its data.

    ``x``/``y``: one tensor (or array) for all members, or a sequence with one per member (same
    shapes); integer class labels. ``eval_x``/``eval_y``: held-out data shared by all, evaluated
    once at the end. ``configs`` differ only in :data:`MEMBER_FIELDS`; ``augment`` and
    ``eval_every`` are not supported. :meth:`fit` leaves each model with its trained weights and
    returns one :class:`TrainResult` per member (``train_seconds``: the stack's time until the
    member left it).
    """

    models: Sequence[MLP]
    x: Data | Sequence[Data]
    y: Data | Sequence[Data]
    configs: Sequence[TrainConfig | Mapping[str, Any]]
    eval_x: Data | None = None
    eval_y: Data | None = None

    def __post_init__(self) -> None:
        self.configs = [as_train_config(c) for c in self.configs]
        for c in self.configs:
            c.validate()
        members = len(self.models)
        check_members(self.models)
        if len(self.configs) != members:
            raise DeepscopeError(f"pass one TrainConfig per model; got {len(self.configs)} for {members} models.")
        self._check_configs()
        self.x, self.shared_x = _stacked_data(self.x, members, "x")
        self.y, shared_y = _stacked_data(self.y, members, "y")
        if self.shared_x != shared_y:
            raise DeepscopeError("pass x and y alike: both one tensor shared by all members, or both one per member.")
        for x, y in zip(self.x, self.y):
            _check_pair(x, y, "x", "y")
        if not is_classification(self.y):
            raise DeepscopeError("the stacked trainer trains classifiers: y must hold integer class ids.")
        if (self.eval_x is None) != (self.eval_y is None):
            raise DeepscopeError("pass both eval_x and eval_y (held-out inputs and labels), or neither.")
        self.device = device = torch.device(self.configs[0].device)
        for model in self.models:
            model.to(device)
        self.x, self.y = self.x.to(device), self.y.to(device)
        if self.eval_x is not None:
            self.eval_x = as_tensor(self.eval_x, "eval_x").to(device)
            self.eval_y = as_tensor(self.eval_y, "eval_y").to(device)
            _check_pair(self.eval_x, self.eval_y, "eval_x", "eval_y")

    def _check_configs(self) -> None:
        first = self.configs[0]
        for f in dataclasses.fields(TrainConfig):
            values = [getattr(c, f.name) for c in self.configs]
            if f.name not in MEMBER_FIELDS and any(v != values[0] for v in values):
                raise DeepscopeError(f"TrainConfig.{f.name} differs between members ({values}); stacked members may "
                                     f"differ only in {', '.join(MEMBER_FIELDS)}.")
        for name in ("augment", "eval_every"):
            if getattr(first, name) is not None:
                raise DeepscopeError(f"TrainConfig.{name} is not supported by the stacked trainer; set it to None "
                                     f"(or train the members one by one with Trainer).")

    def fit(self) -> list[TrainResult]:
        """Train every member until its own stop rule or the shared epoch / iteration limit (see the module
        docstring); returns one result per member, in order."""
        threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self.cpu_threads())
        try:
            return self._loop()
        finally:
            torch.set_num_threads(threads)

    def cpu_threads(self) -> int:
        """Intra-op threads for a CPU run: ``threads`` of the configs, else :meth:`Trainer.cpu_threads`'s rule for one
        member's step (1 thread below SMALL_STEP_FLOPS).

        The stacked step is S small steps side by side: its operations are S times larger, but each still
        takes microseconds, and splitting them across threads costs more than it saves (on this 2-core
        machine, shared with other jobs, two threads made the ten-seed quick start 15× slower).
        """
        config = self.configs[0]
        if config.threads is not None:
            return config.threads
        params = sum(p.numel() for p in self.models[0].parameters())
        step_flops = 6 * min(config.batch_size, self.x.shape[1]) * params
        return 1 if step_flops < SMALL_STEP_FLOPS else torch.get_num_threads()

    def _generator(self, seed: int, name: str) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(derive_seed(seed, name))

    def _loop(self) -> list[TrainResult]:
        c = self.configs[0]
        seeds = [cfg.seed for cfg in self.configs]
        results = [TrainResult(0, 0, math.nan, [], 0.0) for _ in seeds]
        stack = StackedMLP(self.models)
        opt = _MemberOptimizer(stack, c, [cfg.lr for cfg in self.configs], [cfg.weight_decay for cfg in self.configs])
        n = self.x.shape[1]
        active = _Active(list(range(len(seeds))), [self._generator(seed, "shuffle") for seed in seeds],
                         torch.arange(len(seeds), device=self.device) * (0 if self.shared_x else n))
        dropout = self._generator(seeds[0], f"stacked dropout {seeds}")
        show = c.progress if c.progress is not None else sys.stderr.isatty()
        bar = tqdm(total=c.epochs, disable=not show, desc=f"train {len(seeds)} stacked", unit="epoch", leave=False)
        start, it = time.perf_counter(), 0
        stack.train()
        for epoch in range(c.epochs):
            if c.lr_milestones and epoch in c.lr_milestones:
                opt.scale_lr(c.lr_gamma)
            xs, ys = self._shuffled(active)
            total, seen = torch.zeros(len(active.members), device=self.device), 0
            for lo in range(0, n, min(c.batch_size, n)):
                if c.max_iterations is not None and it >= c.max_iterations:
                    break
                xb, yb = xs[:, lo:lo + c.batch_size], ys[:, lo:lo + c.batch_size]
                losses = F.cross_entropy(stack(xb, dropout).transpose(1, 2), yb, reduction="none").mean(1)
                opt.zero_grad()
                losses.sum().backward()
                opt.step()
                total += losses.detach() * yb.shape[1]
                seen += yb.shape[1]
                it += 1
            leaving = self._stop_rules(results, active.members, [t / seen for t in total.tolist()], epoch)
            bar.update(1)
            if (c.max_iterations is not None and it >= c.max_iterations) or len(leaving) == len(active.members):
                break
            if leaving:
                self._finish(stack, [active.members[p] for p in leaving], leaving, results, it, start)
                kept = torch.tensor([p for p in range(len(active.members)) if p not in leaving], device=self.device)
                stack.keep(kept)
                opt, active = opt.kept(stack, kept), active.kept(kept)
        bar.close()
        self._finish(stack, active.members, list(range(len(active.members))), results, it, start)
        return results

    def _shuffled(self, active: _Active) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's shuffled data of every active member, [S, n, ...] and [S, n], in one gather."""
        n = self.x.shape[1]
        perm = torch.stack([torch.randperm(n, device=self.device, generator=g) for g in active.shuffles])
        index = (perm + active.starts[:, None]).view(-1)
        flat_x, flat_y = self.x.flatten(0, 1), self.y.flatten(0, 1)
        return (flat_x.index_select(0, index).view(len(perm), n, *flat_x.shape[1:]),
                flat_y.index_select(0, index).view(len(perm), n))

    def _stop_rules(self, results: list[TrainResult], members: list[int], losses: list[float], epoch: int
                    ) -> list[int]:
        """Record each member's epoch loss; return the stack positions of those that stop or diverged."""
        leaving = []
        for position, (member, loss) in enumerate(zip(members, losses)):
            result = results[member]
            result.epoch_losses.append(loss)
            if not math.isfinite(loss):
                result.diverged = True
                result.message = (f"training diverged: the epoch-{epoch + 1} loss is {loss}; lower the learning "
                                  f"rate (now {self.configs[member].lr}) or normalise the inputs.")
                leaving.append(position)
            elif self.configs[member].stop_loss is not None and loss < self.configs[member].stop_loss:
                result.stopped_early = True
                leaving.append(position)
        return leaving

    def _finish(self, stack: StackedMLP, members: list[int], positions: list[int], results: list[TrainResult],
                iterations: int, start: float) -> None:
        """Members leave the stack: their weights written back, their results completed and evaluated."""
        seconds = time.perf_counter() - start
        for member, position in zip(members, positions):
            model, result = stack.write(position, self.models[member]), results[member]
            result.epochs_run, result.iterations, result.train_seconds = len(result.epoch_losses), iterations, seconds
            result.final_train_loss = result.epoch_losses[-1] if result.epoch_losses else math.nan
            batch = self.configs[member].batch_size
            if self.eval_x is not None:
                scores = evaluate(model, self.eval_x, self.eval_y, batch)
                result.eval_history.append({"epoch": result.epochs_run, "iteration": iterations, **scores})
                result.final_eval_loss, result.final_eval_accuracy = scores["loss"], scores["accuracy"]
            row = 0 if self.shared_x else member
            result.final_train_accuracy = evaluate(model, self.x[row], self.y[row], batch)["accuracy"]
