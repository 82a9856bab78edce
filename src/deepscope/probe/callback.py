"""A training callback that measures named metrics on captured layers at each checkpoint."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from deepscope.metrics.registry import compute, resolve
from deepscope.probe.capture import capture
from deepscope.train.trainer import TrainState

Row = tuple[int, str, str, float]


class MetricProbe:
    """At every checkpoint: one capture of ``points`` on ``x``, then every metric on every layer.

    Rows ``(iteration, layer, metric, value)`` are kept in ``rows`` and passed to ``sink``
    (e.g. ``run.log``, called as ``sink(iteration, layer, metric, value, epoch=epoch)``) as they
    are produced, so the store has both the iteration and the epoch of every checkpoint. ``final=False`` skips the call after the last step,
    for callers that measure the trained model themselves.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, metrics: Sequence[str],
                 points: Sequence[str] | None = None, *, sink: Callable[..., None] | None = None,
                 batch_size: int = 1024, final: bool = True) -> None:
        resolve(metrics)  # fail before training, not at the first checkpoint
        self.x, self.y, self.metrics, self.points = x, y, list(metrics), points
        self.sink, self.batch_size, self.final = sink, batch_size, final
        self.rows: list[Row] = []

    def __call__(self, state: TrainState) -> None:
        if state.finished and not self.final:
            return
        features = capture(state.model, self.x, self.points, batch_size=self.batch_size)
        for layer, values in compute(features, self.y, self.metrics).items():
            for metric, value in values.items():
                row = (state.step.iteration, layer, metric, float(value))
                self.rows.append(row)
                if self.sink is not None:
                    self.sink(*row, epoch=state.step.epoch)
