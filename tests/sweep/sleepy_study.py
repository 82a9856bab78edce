"""A test-only study registered through DEEPSCOPE_STUDIES: it sleeps, logs and can fail, so sweeps can be
interrupted and killed at a known moment without training anything."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from deepscope.config import setting
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.verdict import check


@dataclass
class SleepyConfig:
    seconds: float = setting(0.05, "how long the run sleeps", min=0)
    value: float = setting(1.0, "the number it measures", min=0)
    rows: int = setting(10, "metric rows it logs", min=0)
    fail: bool = setting(False, "raise an error instead of finishing")
    seed: int = setting(0, "seed", min=0)


@dataclass
class SleepyResult:
    config: SleepyConfig
    value: float
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def summary(self) -> dict:
        return {"value": self.value}


def _body(config: SleepyConfig, sink) -> SleepyResult:
    for step in range(config.rows):
        if sink is not None:
            sink.log(step, "", "value", config.value + step)
    time.sleep(config.seconds)
    if config.fail:
        raise RuntimeError("asked to fail")
    return SleepyResult(config, config.value + config.seed)


def run(config: SleepyConfig, store=None, *, force: bool = False, progress=None) -> SleepyResult:
    return record(STUDY, config, store, lambda sink: _body(config, sink), force=force)


def verdict(result: SleepyResult):
    return check("the value is at least 1", "value", result.value, 1.0, ">=")


def restore(config: SleepyConfig, summary: dict, run_id: str) -> SleepyResult:
    return SleepyResult(config, summary["value"], run_id=run_id, reused=True)


def figure(result: SleepyResult, path: Path) -> Path:
    from deepscope.report.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.bar([0], [result.value])
    return save_figure(fig, path)


STUDY = Study(name="sleepy", claim="a test study that sleeps", config=SleepyConfig,
              presets={"quick": Preset("defaults"), "paper": Preset("defaults"), "tiny": Preset("defaults")},
              run=run, verdict=verdict, figure=figure, report=lambda r: f"value {r.value}", restore=restore,
              quick_seconds=0.1)
