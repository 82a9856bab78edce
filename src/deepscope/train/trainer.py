"""The training loop: in-memory tensors batched by index, callbacks on a checkpoint schedule.

The loop is short on purpose (after open_lth): probing and logging happen in callbacks with one
signature, ``callback(state: TrainState)``, fired before every scheduled update and once after
the last one. Data that fits in memory stays on the device and each epoch is one shuffled gather
followed by contiguous slices, so a step costs forward + backward + optimizer (+ the optional
on-device augmentation) and nothing else; the epoch's loss is summed on the device and read once
per epoch. Held-out data (``eval_x``, ``eval_y``) is evaluated every ``config.eval_every`` epochs
and at the end, in eval mode without gradients, without touching the run's random streams.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepscope.data._rng import derive_seed
from deepscope.errors import DeepscopeError
from deepscope.train.config import TrainConfig, as_train_config
from deepscope.train.evaluate import evaluate, is_classification
from deepscope.train.inputs import as_tensor
from deepscope.train.optim import build_optimizer
from deepscope.train.schedule import Schedule, Step

__all__ = ["TrainConfig", "TrainResult", "TrainState", "Trainer"]


@dataclass
class TrainState:
    """What a callback sees: the model, the step, and the loss history so far."""

    model: nn.Module
    step: Step
    epoch_losses: list[float]
    finished: bool = False


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    ``eval_history`` has one row per held-out evaluation: ``{'epoch', 'iteration', 'loss',
    'accuracy'}`` (accuracy None for regression); the ``final_eval_*`` fields repeat its last row
    (None without held-out data). ``final_train_accuracy`` is measured on the training data in eval
    mode after the last step (None for regression); ``final_train_loss`` is the last epoch's mean
    training loss as seen during training (train mode, augmented batches).
    """

    epochs_run: int
    iterations: int
    final_train_loss: float
    epoch_losses: list[float]
    train_seconds: float
    diverged: bool = False
    stopped_early: bool = False
    message: str = ""
    eval_history: list[dict[str, Any]] = field(default_factory=list)
    final_eval_loss: float | None = None
    final_eval_accuracy: float | None = None
    final_train_accuracy: float | None = None


Callback = Callable[[TrainState], None]
SMALL_STEP_FLOPS = 1e8


def _check_pair(x: torch.Tensor, y: torch.Tensor, x_name: str, y_name: str) -> None:
    """One target per row; class ids as a vector."""
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise DeepscopeError(f"{x_name} has {x.shape[0] if x.ndim else 0} rows but {y_name} has "
                             f"{y.shape[0] if y.ndim else 0}; pass one target per row.")
    if x.shape[0] == 0:
        raise DeepscopeError(f"{x_name} is empty; pass at least one sample.")
    if is_classification(y) and y.ndim != 1:
        raise DeepscopeError(f"integer {y_name} are class ids and must be [n]; got shape {tuple(y.shape)}. "
                             f"Pass float targets for regression.")


@dataclass
class Trainer:
    """Train ``model`` on ``x``, ``y`` with cross-entropy (integer ``y``) or MSE (float ``y``).

    ``x``/``y`` (and ``eval_x``/``eval_y``) may be tensors or numpy arrays (numpy floats become
    float32, integers int64; see :func:`deepscope.train.inputs.as_tensor`). ``config`` may be a
    :class:`TrainConfig` or a mapping of its fields. ``optimizer`` may be a ready
    ``torch.optim.Optimizer`` (then ``config.optimizer``, ``lr``, ``momentum`` and ``weight_decay``
    are ignored). The run is reproducible from ``config.seed``: shuffling and augmentation have
    their own generators (seeds derived from ``config.seed`` with the names 'shuffle' and
    'augment', so their streams are independent), and dropout draws from a forked global RNG
    seeded with ``config.seed``, so the caller's RNG state is left as it was.
    """

    model: nn.Module
    x: torch.Tensor | np.ndarray
    y: torch.Tensor | np.ndarray
    config: TrainConfig | Mapping[str, Any] = field(default_factory=TrainConfig)
    callbacks: Sequence[Callback] = ()
    schedule: Schedule | None = None
    optimizer: torch.optim.Optimizer | None = None
    eval_x: torch.Tensor | np.ndarray | None = None
    eval_y: torch.Tensor | np.ndarray | None = None

    def __post_init__(self) -> None:
        self.config = c = as_train_config(self.config)
        c.validate()
        self.x, self.y = as_tensor(self.x, "x"), as_tensor(self.y, "y")
        _check_pair(self.x, self.y, "x", "y")
        self._check_eval_data()
        if c.augment is not None and (self.x.ndim != 4 or not self.x.is_floating_point()):
            raise DeepscopeError(f"TrainConfig.augment applies to float image batches [n, C, H, W]; x is "
                                 f"{self.x.dtype} of shape {tuple(self.x.shape)}. Set augment=None.")
        device = torch.device(c.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeepscopeError("device 'cuda' was asked for but torch sees no CUDA device; use --device cpu.")
        self.device = device
        self.model.to(device)
        self.x, self.y = self.x.to(device), self.y.to(device)
        if self.eval_x is not None:
            self.eval_x, self.eval_y = self.eval_x.to(device), self.eval_y.to(device)
        self.loss_fn = nn.functional.cross_entropy if is_classification(self.y) else nn.functional.mse_loss
        if self.optimizer is None:
            self.optimizer = build_optimizer(c.optimizer, self.model.parameters(), lr=c.lr, momentum=c.momentum,
                                             weight_decay=c.weight_decay)

    def _check_eval_data(self) -> None:
        """Held-out data: both parts or neither, shaped and typed like the training data."""
        if (self.eval_x is None) != (self.eval_y is None):
            raise DeepscopeError("pass both eval_x and eval_y (held-out inputs and targets), or neither.")
        if self.eval_x is None:
            if self.config.eval_every is not None:
                raise DeepscopeError(f"TrainConfig.eval_every={self.config.eval_every} evaluates held-out data; "
                                     f"pass eval_x and eval_y to the Trainer, or set eval_every=None.")
            return
        self.eval_x, self.eval_y = as_tensor(self.eval_x, "eval_x"), as_tensor(self.eval_y, "eval_y")
        _check_pair(self.eval_x, self.eval_y, "eval_x", "eval_y")
        if self.eval_x.shape[1:] != self.x.shape[1:] or self.eval_x.dtype != self.x.dtype:
            raise DeepscopeError(f"eval_x must look like x: {self.x.dtype} samples of shape {tuple(self.x.shape[1:])}; "
                                 f"got {self.eval_x.dtype} of shape {tuple(self.eval_x.shape[1:])}.")
        if is_classification(self.eval_y) != is_classification(self.y) or self.eval_y.shape[1:] != self.y.shape[1:]:
            raise DeepscopeError(f"eval_y must look like y: {self.y.dtype} targets of shape {tuple(self.y.shape[1:])} "
                                 f"per sample; got {self.eval_y.dtype} of shape {tuple(self.eval_y.shape[1:])}.")

    def cpu_threads(self) -> int:
        """Intra-op threads for a CPU run: ``config.threads``, else 1 when a step is small.

        A step of a small network is a hundred or so operations on tensors of a few thousand
        elements; splitting each across threads costs more in synchronisation than it saves.
        "Small" is a step of fewer than SMALL_STEP_FLOPS ≈ 6 · batch · parameters floating-point
        operations; larger steps keep PyTorch's default.
        """
        if self.config.threads is not None:
            return self.config.threads
        params = sum(p.numel() for p in self.model.parameters())
        step_flops = 6 * min(self.config.batch_size, self.x.shape[0]) * params
        return 1 if step_flops < SMALL_STEP_FLOPS else torch.get_num_threads()

    def fit(self) -> TrainResult:
        """Run until ``epochs`` are done, ``max_iterations`` updates are made, or the epoch loss falls below
        ``stop_loss``. A last, partial epoch's loss is the mean over the samples it used."""
        self.config.validate()
        threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self.cpu_threads())
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                torch.manual_seed(self.config.seed)
                return self._loop()
        finally:
            torch.set_num_threads(threads)

    def _fire(self, state: TrainState) -> None:
        for callback in self.callbacks:
            callback(state)

    def _generator(self, name: str) -> torch.Generator:
        """A generator on the run's device for the stream ``name`` of ``config.seed``."""
        return torch.Generator(device=self.device).manual_seed(derive_seed(self.config.seed, name))

    def _evaluate(self, result: TrainResult, epoch: int, iteration: int) -> None:
        """Append one held-out evaluation to ``result.eval_history``."""
        scores = evaluate(self.model, self.eval_x, self.eval_y, self.config.batch_size)
        result.eval_history.append({"epoch": epoch, "iteration": iteration, **scores})

    def _loop(self) -> TrainResult:
        c, n = self.config, self.x.shape[0]
        bs = min(c.batch_size, n)
        per_epoch = math.ceil(n / bs)
        shuffle = self._generator("shuffle")
        augment_stream = self._generator("augment") if c.augment is not None else None
        losses: list[float] = []
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn
        show = c.progress if c.progress is not None else sys.stderr.isatty()
        bar = tqdm(total=c.epochs, disable=not show, desc="train", unit="epoch", leave=False)
        result = TrainResult(0, 0, math.nan, losses, 0.0)
        start = time.perf_counter()
        it = 0
        model.train()
        if c.eval_every is not None:
            self._evaluate(result, 0, 0)
        for epoch in range(c.epochs):
            if c.lr_milestones and epoch in c.lr_milestones:
                for group in opt.param_groups:
                    group["lr"] *= c.lr_gamma
            perm = torch.randperm(n, device=self.device, generator=shuffle)
            xs, ys = self.x[perm], self.y[perm]
            total, seen = torch.zeros((), device=self.device), 0
            for lo in range(0, n, bs):
                if c.max_iterations is not None and it >= c.max_iterations:
                    break
                step = Step(it, per_epoch)
                if self.schedule is not None and self.schedule.due(step, is_epoch_end=lo == 0):
                    self._checkpoint(step, losses)
                xb, yb = xs[lo:lo + bs], ys[lo:lo + bs]
                if augment_stream is not None:
                    xb = c.augment(xb, augment_stream)
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * xb.shape[0]
                seen += xb.shape[0]
                it += 1
            epoch_loss = float(total) / seen
            losses.append(epoch_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{epoch_loss:.3g}")
            if c.eval_every is not None and (epoch + 1) % c.eval_every == 0:
                self._evaluate(result, epoch + 1, it)
            if not math.isfinite(epoch_loss):
                result.diverged = True
                result.message = (f"training diverged: the epoch-{epoch + 1} loss is {epoch_loss}; "
                                  f"lower the learning rate (now {c.lr}) or normalise the inputs.")
                break
            if c.stop_loss is not None and epoch_loss < c.stop_loss:
                result.stopped_early = True
                break
            if c.max_iterations is not None and it >= c.max_iterations:
                break
        bar.close()
        result.train_seconds = time.perf_counter() - start
        result.epochs_run, result.iterations = len(losses), it
        result.final_train_loss = losses[-1] if losses else math.nan
        self._finish_evaluation(result)
        self._fire(TrainState(model, Step(it, per_epoch), losses, finished=True))
        return result

    def _finish_evaluation(self, result: TrainResult) -> None:
        """The final held-out row (unless the last epoch already has one) and the final train accuracy."""
        if self.eval_x is not None:
            if not result.eval_history or result.eval_history[-1]["epoch"] != result.epochs_run:
                self._evaluate(result, result.epochs_run, result.iterations)
            result.final_eval_loss = result.eval_history[-1]["loss"]
            result.final_eval_accuracy = result.eval_history[-1]["accuracy"]
        if is_classification(self.y):
            result.final_train_accuracy = evaluate(self.model, self.x, self.y, self.config.batch_size)["accuracy"]

    def _checkpoint(self, step: Step, losses: list[float]) -> None:
        was_training = self.model.training
        self._fire(TrainState(self.model, step, losses))
        self.model.train(was_training)
