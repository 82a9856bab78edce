"""The training loop: in-memory tensors batched by index, callbacks on a checkpoint schedule.

The loop is short on purpose (after open_lth): evaluation, probing and logging happen in
callbacks with one signature, ``callback(state: TrainState)``, fired before every scheduled
update and once after the last one. Data that fits in memory stays on the device and each epoch
is one shuffled gather followed by contiguous slices, so a step costs forward + backward +
optimizer and nothing else; the epoch's loss is summed on the device and read once per epoch.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from deepscope.errors import DeepscopeError
from deepscope.train.optim import build_optimizer
from deepscope.train.schedule import Schedule, Step


@dataclass
class TrainConfig:
    """Hyperparameters of one training run."""

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 100
    epochs: int = 100
    stop_loss: float | None = 1e-3
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    threads: int | None = None  # CPU intra-op threads; None: 1 for small steps (see Trainer.cpu_threads)


@dataclass
class TrainState:
    """What a callback sees: the model, the step, and the loss history so far."""

    model: nn.Module
    step: Step
    epoch_losses: list[float]
    finished: bool = False


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`."""

    epochs_run: int
    iterations: int
    final_train_loss: float
    epoch_losses: list[float]
    train_seconds: float
    diverged: bool = False
    stopped_early: bool = False
    message: str = ""


Callback = Callable[[TrainState], None]
SMALL_STEP_FLOPS = 1e8


@dataclass
class Trainer:
    """Train ``model`` on tensors ``x``, ``y`` with cross-entropy (integer ``y``) or MSE (float ``y``).

    ``optimizer`` may be a ready ``torch.optim.Optimizer`` (then ``config.optimizer``, ``lr``,
    ``momentum`` and ``weight_decay`` are ignored). The run is reproducible from ``config.seed``:
    the shuffling has its own generator and dropout draws from a forked global RNG, so the caller's
    RNG state is left as it was.
    """

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    config: TrainConfig = field(default_factory=TrainConfig)
    callbacks: Sequence[Callback] = ()
    schedule: Schedule | None = None
    optimizer: torch.optim.Optimizer | None = None

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise DeepscopeError(f"x has {self.x.shape[0]} rows but y has {self.y.shape[0]}; pass one target per row.")
        if self.x.shape[0] == 0:
            raise DeepscopeError("no training data: x is empty.")
        if self.config.batch_size < 1 or self.config.epochs < 0:
            raise DeepscopeError(f"batch_size must be >= 1 and epochs >= 0; got {self.config.batch_size}, "
                                 f"{self.config.epochs}.")
        device = torch.device(self.config.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeepscopeError("device 'cuda' was asked for but torch sees no CUDA device; use --device cpu.")
        self.device = device
        self.model.to(device)
        self.x = self.x.to(device)
        self.y = self.y.to(device)
        self.loss_fn = nn.functional.cross_entropy if not self.y.is_floating_point() else nn.functional.mse_loss
        if self.optimizer is None:
            c = self.config
            self.optimizer = build_optimizer(c.optimizer, self.model.parameters(), lr=c.lr, momentum=c.momentum,
                                             weight_decay=c.weight_decay)

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
        """Run until ``epochs`` are done or the epoch loss falls below ``stop_loss``."""
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

    def _loop(self) -> TrainResult:
        c, n = self.config, self.x.shape[0]
        bs = min(c.batch_size, n)
        per_epoch = math.ceil(n / bs)
        generator = torch.Generator(device=self.device).manual_seed(c.seed)
        losses: list[float] = []
        model, opt, loss_fn = self.model, self.optimizer, self.loss_fn
        show = c.progress if c.progress is not None else sys.stderr.isatty()
        bar = tqdm(total=c.epochs, disable=not show, desc="train", unit="epoch", leave=False)
        result = TrainResult(0, 0, math.nan, losses, 0.0)
        start = time.perf_counter()
        it = 0
        model.train()
        for epoch in range(c.epochs):
            perm = torch.randperm(n, device=self.device, generator=generator)
            xs, ys = self.x[perm], self.y[perm]
            total = torch.zeros((), device=self.device)
            for lo in range(0, n, bs):
                step = Step(it, per_epoch)
                if self.schedule is not None and self.schedule.due(step, is_epoch_end=lo == 0):
                    self._checkpoint(step, losses)
                xb, yb = xs[lo:lo + bs], ys[lo:lo + bs]
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * xb.shape[0]
                it += 1
            epoch_loss = float(total) / n
            losses.append(epoch_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{epoch_loss:.3g}")
            if not math.isfinite(epoch_loss):
                result.diverged = True
                result.message = (f"training diverged: the epoch-{epoch + 1} loss is {epoch_loss}; "
                                  f"lower the learning rate (now {c.lr}) or normalise the inputs.")
                break
            if c.stop_loss is not None and epoch_loss < c.stop_loss:
                result.stopped_early = True
                break
        bar.close()
        result.train_seconds = time.perf_counter() - start
        result.epochs_run, result.iterations = len(losses), it
        result.final_train_loss = losses[-1] if losses else math.nan
        self._fire(TrainState(model, Step(it, per_epoch), losses, finished=True))
        return result

    def _checkpoint(self, step: Step, losses: list[float]) -> None:
        was_training = self.model.training
        self._fire(TrainState(self.model, step, losses))
        self.model.train(was_training)
