"""The LE-SDE logger: many independent trials of batch-size-1 SGD on one LeNet-5 architecture, run together.

Zhang, Wang & Su ("Imitating Deep Learning Dynamics via Locally Elastic Stochastic Differential
Equations", NeurIPS 2021) log, per trial, a fresh LeNet-5 trained by SGD with batch size 1: at every
iteration one training example drawn uniformly with replacement, its logits and loss recorded before
the update, then the update; the validation loss and accuracy on a schedule. The seed runs the trials
one after another, which is what makes it take days.

Here the T trials run as one computation on stacked parameters (every tensor of the LeNet gets a
leading trial axis): convolutions as ``unfold`` + batched matrix products, the fully connected layers as
batched matrix products, one backward pass for the sum of the T independent losses (each trial's
gradient only reaches its own parameters), and one fused update of all tensors. Trial t is seeded
alone: its initialisation is ``build_model('lenet', seed=seeds[t])`` and its sequence of drawn
examples comes from its own generator seeded with ``seeds[t]``, so a trial run here equals the same
trial run by itself with a plain loop (:func:`plain_trial`: forward, backward, ``optimizer.step()``)
up to floating-point rounding — the tests check this.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import stack_module_state

from deepscope.models import build_model
from deepscope.models.lenet import LeNet

KERNEL = 5  # LeNet's convolutions are 5x5
EVAL_CHUNK = 1024  # validation images x trials evaluated at a time


def _lenet(seed: int, num_classes: int) -> LeNet:
    return build_model("lenet", in_channels=1, num_classes=num_classes, input_size=32, seed=seed)


def columns(images: torch.Tensor) -> torch.Tensor:
    """The 5x5 patches of images [n, C, H, W] as columns [n, C·25, (H-4)(W-4)] (im2col)."""
    return F.unfold(images, KERNEL)


def _conv(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, cols: torch.Tensor | None = None
          ) -> torch.Tensor:
    """Per-trial valid 5x5 convolution: h [T, B, C, H, W] (or [1, B, ...]: the same images for every trial),
    weight [T, O, C, 5, 5], bias [T, O] -> [T, B, O, H-4, W-4]; ``cols`` [T, B, C·25, L]: h's columns, if
    already at hand."""
    t, b, c, height, width = h.shape
    if cols is None:
        cols = columns(h.reshape(t * b, c, height, width)).reshape(t, b, c * KERNEL * KERNEL, -1)
    trials, out_channels = weight.shape[:2]
    out = weight.reshape(trials, 1, out_channels, -1) @ cols + bias[:, None, :, None]
    return out.reshape(trials, b, out_channels, height - KERNEL + 1, width - KERNEL + 1)


def _pool(h: torch.Tensor) -> torch.Tensor:
    t, b = h.shape[:2]
    return F.max_pool2d(F.relu(h).flatten(0, 1), 2).unflatten(0, (t, b))


class _TrialLinear(torch.autograd.Function):
    """Per-trial affine map h [T, B, d_in] -> h Wᵀ + b, W [T, d_out, d_in], b [T, d_out].

    Its own backward because with one image per trial (B = 1) the weight gradient gᵀh is an outer
    product, which a broadcast multiply computes several times faster on CPU than a batched matrix
    product with inner dimension 1 (and contiguous, so the update is fast too).
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h, weight)
        return torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, weight = ctx.saved_tensors
        grad_weight = grad[:, 0, :, None] * h[:, 0, None, :] if h.shape[1] == 1 else grad.transpose(1, 2) @ h
        return grad @ weight, grad_weight, grad.sum(1)


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """h [T, B, d_in], weight [T, d_out, d_in], bias [T, d_out] -> [T, B, d_out]."""
    return _TrialLinear.apply(h, weight, bias)


def stacked_lenet(params: dict[str, torch.Tensor], x: torch.Tensor, cols: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """The logits [T, B, K] of T LeNet-5s (parameters stacked on a leading axis, named as in
    :class:`deepscope.models.lenet.LeNet`), trial t applied to its own images x[t] ([T, B, 1, 32, 32]), or
    every trial to the same images x[0] when x is [1, B, 1, 32, 32]; ``cols``: x's :func:`columns`, if
    already at hand ([T or 1, B, 25, 784])."""
    h = _pool(_conv(x, params["conv1.conv.weight"], params["conv1.conv.bias"], cols))
    h = _pool(_conv(h, params["conv2.conv.weight"], params["conv2.conv.bias"])).flatten(2)
    h = F.relu(_linear(h, params["fc1.linear.weight"], params["fc1.linear.bias"]))
    h = F.relu(_linear(h, params["fc2.linear.weight"], params["fc2.linear.bias"]))
    return _linear(h, params["logits.weight"], params["logits.bias"])


@dataclass
class TrialLog:
    """What the logger records, trial-major.

    ``sample`` [T, n_iter]: the drawn training index; ``logits`` [T, n_iter, K] and ``loss`` [T, n_iter]:
    that example's logits and loss before the update; ``eval_steps`` [E]: the iterations (updates done)
    at which ``val_loss`` and ``val_accuracy`` [T, E] were measured on the validation set.
    """

    sample: np.ndarray
    logits: np.ndarray
    loss: np.ndarray
    eval_steps: np.ndarray
    val_loss: np.ndarray
    val_accuracy: np.ndarray
    diverged: bool = False


def draws(seed: int, n_train: int, iterations: int) -> torch.Tensor:
    """The training indices one trial draws, uniformly with replacement, from its own seeded generator."""
    return torch.randint(n_train, (iterations,), generator=torch.Generator().manual_seed(seed))


def eval_schedule(iterations: int, evaluations: int) -> list[int]:
    """``evaluations`` iteration counts spread evenly over 0..iterations, both ends included (0: none)."""
    return sorted({int(round(v)) for v in np.linspace(0, iterations, evaluations)}) if evaluations else []


def _evaluate(params: dict[str, torch.Tensor], x_val: torch.Tensor, y_val: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy [T] of every trial on the whole validation set."""
    trials = next(iter(params.values())).shape[0]
    chunk = max(1, EVAL_CHUNK // trials)
    loss = torch.zeros(trials, dtype=torch.float64, device=x_val.device)
    correct = torch.zeros(trials, dtype=torch.float64, device=x_val.device)
    with torch.no_grad():
        for lo in range(0, len(x_val), chunk):
            xb, yb = x_val[lo:lo + chunk], y_val[lo:lo + chunk]
            out = stacked_lenet(params, xb[None])
            loss += F.cross_entropy(out.flatten(0, 1), yb.repeat(trials), reduction="none").view(trials, -1).sum(1).double()
            correct += (out.argmax(-1) == yb).sum(1).double()
    return (loss / len(x_val)).cpu(), (correct / len(x_val)).cpu()


def log_trials(x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, seeds: list[int],
               iterations: int, lr: float, evaluations: int) -> TrialLog:
    """Run ``len(seeds)`` trials of batch-size-1 SGD (step ``lr``, ``iterations`` updates) together.

    x [n, 1, 32, 32] and y [n] are the training images and (possibly noisy) labels; the validation
    loss and accuracy are measured at ``evaluations`` evenly spaced iteration counts (0 and the end
    included; 0 evaluations: none). A trial whose loss stops being finite makes the log ``diverged``.
    """
    num_classes = int(max(int(y.max()), int(y_val.max()))) + 1
    params, _ = stack_module_state([_lenet(seed, num_classes) for seed in seeds])
    params = {name: p.detach().to(x.device).requires_grad_(True) for name, p in params.items()}
    tensors = list(params.values())
    index = torch.stack([draws(seed, len(x), iterations) for seed in seeds]).to(x.device)    # [T, n_iter]
    trials = len(seeds)
    patches = columns(x)            # the first convolution's input columns, once for all draws
    logits = torch.empty(trials, iterations, num_classes)
    losses = torch.empty(trials, iterations)
    schedule = eval_schedule(iterations, evaluations)
    val_loss, val_acc = [], []
    for it in range(iterations + 1):
        if it in schedule:
            loss_t, acc_t = _evaluate(params, x_val, y_val)
            val_loss.append(loss_t)
            val_acc.append(acc_t)
        if it == iterations:
            break
        drawn = index[:, it]
        out = stacked_lenet(params, x[drawn][:, None], patches[drawn][:, None])[:, 0]    # [T, K]
        loss = F.cross_entropy(out, y[drawn], reduction="none")
        grads = torch.autograd.grad(loss.sum(), tensors)                              # trial t's loss only reaches trial t
        with torch.no_grad():
            torch._foreach_add_(tensors, grads, alpha=-lr)
        logits[:, it] = out.detach().cpu()
        losses[:, it] = loss.detach().cpu()
    empty = torch.empty(trials, 0, dtype=torch.float64)
    log = TrialLog(index.cpu().numpy(), logits.numpy(), losses.numpy(), np.asarray(schedule, dtype=int),
                   torch.stack(val_loss, 1).numpy() if val_loss else empty.numpy(),
                   torch.stack(val_acc, 1).numpy() if val_acc else empty.numpy())
    log.diverged = not bool(np.isfinite(log.loss).all())
    return log


def plain_trial(x: torch.Tensor, y: torch.Tensor, *, seed: int, iterations: int, lr: float,
                num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One trial the plain way, as the seed runs it: a LeNet-5 module, per iteration forward, backward and
    ``optimizer.step()`` on the drawn example. Returns its logged logits [n_iter, K] and losses [n_iter]."""
    model = _lenet(seed, num_classes).to(x.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    logits, losses = [], []
    for i in draws(seed, len(x), iterations).tolist():
        optimizer.zero_grad()
        out = model(x[i:i + 1])
        loss = F.cross_entropy(out, y[i:i + 1])
        loss.backward()
        optimizer.step()
        logits.append(out.detach()[0].cpu())
        losses.append(loss.detach().cpu())
    return torch.stack(logits).numpy(), torch.stack(losses).numpy()
