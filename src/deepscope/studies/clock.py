"""Where the time of a measured training run goes: the measuring callbacks, and the rest (training).

Studies that measure at checkpoints report both, since the measuring must not dominate a run.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deepscope.train import Trainer, TrainResult, TrainState


@dataclass
class SplitClock:
    """Seconds spent in measuring callbacks and in the rest of the training runs, summed over runs."""

    train_seconds: float = 0.0
    measure_seconds: float = 0.0

    def measuring(self, callback: Callable[[TrainState], Any]) -> Callable[[TrainState], None]:
        """``callback``, its time counted as measuring."""
        def timed(state: TrainState) -> None:
            start = time.perf_counter()
            try:
                callback(state)
            finally:
                self.measure_seconds += time.perf_counter() - start
        return timed

    def fit(self, trainer: Trainer) -> TrainResult:
        """``trainer.fit()``; its wall time less the measuring done meanwhile counts as training."""
        measured, start = self.measure_seconds, time.perf_counter()
        outcome = trainer.fit()
        self.train_seconds += time.perf_counter() - start - (self.measure_seconds - measured)
        return outcome
