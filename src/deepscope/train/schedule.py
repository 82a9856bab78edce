"""Checkpoint schedules: at which training iterations callbacks fire.

Iteration ``i`` means "before the i-th update"; iteration 0 is the initial model and the last
iteration (the number of updates made) is the trained model. A schedule is a predicate over
iterations built from a list, a period, or log-spaced points (phenomena live on different time
scales: edge of stability every few steps, grokking over 10^4-10^5 steps).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.errors import DeepscopeError


@dataclass(frozen=True)
class Step:
    """A training position that knows both its iteration and its epoch (after open_lth)."""

    iteration: int
    iterations_per_epoch: int

    @property
    def epoch(self) -> int:
        """Completed epochs at this iteration."""
        return self.iteration // self.iterations_per_epoch

    @property
    def in_epoch(self) -> int:
        """Iterations into the current epoch."""
        return self.iteration % self.iterations_per_epoch


class Schedule:
    """A set of checkpoint iterations, optionally given in epochs."""

    def __init__(self, iterations: Iterable[int] = (), every: int | None = None, unit: str = "iteration") -> None:
        if unit not in ("iteration", "epoch"):
            raise DeepscopeError(f"schedule unit must be 'iteration' or 'epoch'; got {unit!r}.")
        if every is not None and every < 1:
            raise DeepscopeError(f"schedule period must be >= 1; got {every}.")
        self.points = frozenset(int(i) for i in iterations)
        self.every = every
        self.unit = unit

    @classmethod
    def at(cls, points: Iterable[int], unit: str = "iteration") -> "Schedule":
        """Fire exactly at these iterations (or epochs)."""
        return cls(points, unit=unit)

    @classmethod
    def periodic(cls, every: int, unit: str = "iteration") -> "Schedule":
        """Fire every ``every`` iterations (or epochs), starting at 0."""
        return cls(every=every, unit=unit)

    @classmethod
    def log_spaced(cls, count: int, last: int, unit: str = "iteration") -> "Schedule":
        """About ``count`` points spaced evenly in log(1 + i) from 0 to ``last``, both included."""
        if count < 2 or last < 1:
            raise DeepscopeError(f"log_spaced needs count >= 2 and last >= 1; got {count}, {last}.")
        points = np.unique(np.round(np.expm1(np.linspace(0.0, np.log1p(last), count))).astype(int))
        return cls(points.tolist(), unit=unit)

    def due(self, step: Step, *, is_epoch_end: bool) -> bool:
        """True when a checkpoint falls at ``step``."""
        if self.unit == "epoch":
            if not is_epoch_end:
                return False
            t = step.epoch
        else:
            t = step.iteration
        return t in self.points or (self.every is not None and t % self.every == 0)
