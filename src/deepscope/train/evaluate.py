"""Held-out evaluation: mean loss and accuracy of a model on tensors, in eval mode without gradients."""
from __future__ import annotations

import torch
from torch import nn

EVAL_BATCH_SIZE = 1024  # evaluation batches are at least this large (no gradients to keep)


def is_classification(y: torch.Tensor) -> bool:
    """Integer targets are class ids (cross-entropy); floating ones are regression targets (MSE)."""
    return not y.is_floating_point()


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict[str, float | None]:
    """``{'loss': mean loss, 'accuracy': fraction correct}`` of ``model`` on (x, y).

    The loss is the training loss: cross-entropy for integer ``y`` (averaged over samples) or MSE
    (averaged over all target entries); accuracy is argmax agreement, None for regression. Runs in
    eval mode under ``no_grad`` in batches of max(batch_size, EVAL_BATCH_SIZE), inside a forked RNG
    so that nothing it might draw shifts the caller's random streams; the model's train/eval mode is
    restored afterwards.
    """
    classify = is_classification(y)
    step = max(batch_size, EVAL_BATCH_SIZE)
    devices = [x.device] if x.device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
            correct = torch.zeros((), dtype=torch.int64, device=x.device)
            for lo in range(0, len(x), step):
                out, target = model(x[lo:lo + step]), y[lo:lo + step]
                if classify:
                    loss_sum += nn.functional.cross_entropy(out, target, reduction="sum")
                    correct += (out.argmax(dim=1) == target).sum()
                else:
                    loss_sum += nn.functional.mse_loss(out, target, reduction="sum")
    finally:
        model.train(was_training)
    count = len(y) if classify else y.numel()
    return {"loss": float(loss_sum) / count, "accuracy": int(correct) / len(y) if classify else None}
