"""Regularisation against the intrinsic dimension of activations and generalisation (Brown, Juravsky,
Caterini & Loaiza-Ganem, "Relating Regularization and Generalization through the Intrinsic Dimension of
Activations", arXiv 2211.13239, 2022 — the act_ids seed, seeds.md §3).

Two one-dimensional grids around one base setting, as the paper's: weight decay over
``weight_decays`` (with the base ``dropout``) and dropout over ``dropouts`` (with the base
``weight_decay``). Every grid point is a full ``deepscope id`` run (:mod:`deepscope.studies.intrinsic`),
recorded in the store under study ``id`` (and reused from it when it already finished); this study reads
the trained network's LLID, PID and validation accuracy of each and computes the paper's three views:

- LLID against the regulariser: Pearson r(LLID, log10 wd) over the weight-decay grid and r(LLID, dropout)
  over the dropout grid. The paper finds r from −0.77 to −0.99 (CIFAR-10/100, seeds.md §3.4);
- validation accuracy against PID/LLID over every distinct grid point: the paper finds r = 0.92–0.96;
- PID and validation accuracy collapse past a threshold of the regulariser: at the strongest setting of a
  grid both are at most ``COLLAPSE`` = 0.9 of their best over that grid (the paper: PID 79 and accuracy
  0.70 at wd 1e-2 on CIFAR-10 against up to ~110 and 0.95).

Each correlation comes with a bootstrap 95% interval: grid points resampled with replacement
``BOOTSTRAP`` times (resamples whose regulariser or ratio is constant are skipped), percentiles 2.5 and
97.5. Thresholds, fixed before any run: the interval of r(LLID, regulariser) lies inside [−1, −0.5]
(strongly negative: the paper's weakest is −0.77) and that of r(accuracy, PID/LLID) inside [0.5, 1];
each needs at least ``MIN_POINTS`` grid points.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.config import setting
from deepscope.errors import DeepscopeError
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies import intrinsic
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.bootstrap import bootstrap_interval
from deepscope.studies.verdict import Evidence, Verdict, check, check_interval

NAME = "id-sweep"
CLAIM = ("Weight decay and dropout lower the last hidden layer's intrinsic dimension (LLID), validation accuracy "
         "rises with PID/LLID, and PID and accuracy collapse past a threshold of regularisation (Brown et al. 2022).")
LLID_RANGE = (-1.0, -0.5)     # the 95% interval of r(LLID, regulariser) must lie inside
ACC_RANGE = (0.5, 1.0)        # the 95% interval of r(val accuracy, PID/LLID) must lie inside
COLLAPSE = 0.9                # at the strongest regulariser PID and accuracy are at most this share of their best
MIN_POINTS = 4                # grid points a correlation needs
MIN_COLLAPSE_POINTS = 3       # grid points a collapse needs
BOOTSTRAP = 2000
SWEEPS = (("weight_decay", "weight decay"), ("dropout", "dropout"))


def _check_dropouts(values: list[float]) -> None:
    if any(v >= 1 for v in values):
        raise DeepscopeError(f"holds {max(values):g}; dropout probabilities must be below 1 (the paper: 0 to 0.8)")


@dataclass
class IDSweepConfig(intrinsic.IDConfig):
    """The base ``id`` setting (its ``weight_decay`` and ``dropout`` are the fixed value of the other grid)
    plus the two grids. Defaults: the quick CPU preset."""

    epochs: int = setting(8, "training epochs of each grid point", min=1)
    checkpoints: int = setting(4, "log-spaced checkpoints of each grid point (the views use the last)", min=2)
    nres: int = setting(10, "TwoNN resamples per estimate (act_ids: 20)", min=1)
    weight_decays: list[float] = setting([1e-5, 1e-4, 5e-4, 2e-3, 1e-2],
                                         "weight-decay grid, run with the base --dropout (the paper: 1e-6..1e-2)",
                                         item_gt=0, distinct=True)
    dropouts: list[float] = setting([0.0, 0.2, 0.4, 0.6, 0.8],
                                    "dropout grid, run with the base --weight-decay (the paper: 0..0.8)",
                                    item_min=0, distinct=True, check=_check_dropouts)


def check_config(config: IDSweepConfig) -> None:
    intrinsic.check_config(config)


def point_config(config: IDSweepConfig, regulariser: str, value: float) -> intrinsic.IDConfig:
    """The ``id`` config of one grid point: the base setting with ``regulariser`` set to ``value``."""
    base = {f.name: getattr(config, f.name) for f in dataclasses.fields(intrinsic.IDConfig)}
    return intrinsic.IDConfig(**{**base, regulariser: value})


@dataclass
class Point:
    """One grid point: its regulariser and value, its ``id`` run, and the trained network's numbers."""

    regulariser: str
    value: float
    run_id: str | None
    llid: float
    pid: float
    pid_layer: str
    accuracy: float


@dataclass
class IDSweepResult:
    config: IDSweepConfig
    points: list[Point]
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def sweep(self, regulariser: str) -> list[Point]:
        return sorted((p for p in self.points if p.regulariser == regulariser), key=lambda p: p.value)

    def distinct(self) -> list[Point]:
        """Every grid point once (the two grids may share their base point: it is one run)."""
        seen: dict[Any, Point] = {}
        for p in self.points:
            seen.setdefault(p.run_id or (p.regulariser, p.value), p)
        return list(seen.values())

    def summary(self) -> dict[str, Any]:
        return {"points": [asdict(p) for p in self.points], "run_id": self.run_id, "config": asdict(self.config)}


# -- the experiment ----------------------------------------------------------------------------------------

def run(config: IDSweepConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> IDSweepResult:
    """Run (or reuse) the ``id`` run of every grid point and collect their last checkpoints."""
    return record(STUDY, config, store, lambda sink: _run(config, store, sink, force, progress), force=force)


def _run(config: IDSweepConfig, store: Store | None, sink: Run | None, force: bool,
         progress: bool | None) -> IDSweepResult:
    points = []
    grid = [(reg, v) for reg, _ in SWEEPS for v in (config.weight_decays if reg == "weight_decay"
                                                     else config.dropouts)]
    for regulariser, value in grid:
        result = intrinsic.run(point_config(config, regulariser, value), store, force=force, progress=progress)
        if result.diverged:
            raise DeepscopeError(f"the grid point {regulariser}={value:g} diverged ({result.message}); lower --lr")
        pid = result.pid[-1]
        layer = next(name for name in result.hidden if result.ids[name][-1] == pid)
        point = Point(regulariser, value, result.run_id, result.llid[-1], pid, layer, result.accuracy[-1])
        points.append(point)
        if sink is not None:
            sink.log_many([(0, f"{regulariser}={value:g}", name, getattr(point, name))
                           for name in ("llid", "pid", "accuracy")])
    return IDSweepResult(config, points)


def from_summary(config: IDSweepConfig, summary: dict[str, Any], run_id: str) -> IDSweepResult:
    return IDSweepResult(config, [Point(**p) for p in summary["points"]], run_id=run_id, reused=True)


# -- the views -----------------------------------------------------------------------------------------------

def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; NaN when either variable is constant."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _axis(regulariser: str, values: list[float]) -> np.ndarray:
    """The regulariser as correlated: log10 of the weight decay (its grid is geometric), dropout as it is."""
    return np.log10(values) if regulariser == "weight_decay" else np.asarray(values, dtype=float)


def _correlation(claim: str, quantity: str, x: np.ndarray, y: np.ndarray, allowed: tuple[float, float],
                 paper: str, seed: int) -> Verdict:
    r = pearson(x, y)
    verdict = check_interval(claim, quantity, r, bootstrap_interval(pearson, x, y, resamples=BOOTSTRAP, seed=seed), allowed,
                             Evidence(len(x), MIN_POINTS, "grid points", "a correlation"))
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; the paper: {paper}", verdict.reason)


def llid_vs_regulariser(result: IDSweepResult, regulariser: str, label: str) -> Verdict:
    points = result.sweep(regulariser)
    x = _axis(regulariser, [p.value for p in points])
    quantity = f"Pearson r(LLID, {'log10 ' if regulariser == 'weight_decay' else ''}{label})"
    return _correlation(f"{label} lowers LLID", quantity, x, np.asarray([p.llid for p in points]), LLID_RANGE,
                        "r = -0.77 to -0.99", result.config.seed)


def accuracy_vs_ratio(result: IDSweepResult) -> Verdict:
    points = result.distinct()
    return _correlation("validation accuracy rises with PID/LLID", "Pearson r(val accuracy, PID/LLID)",
                        np.asarray([p.pid / p.llid for p in points]), np.asarray([p.accuracy for p in points]),
                        ACC_RANGE, "r = 0.92 (CIFAR-100), 0.96 (CIFAR-10)", result.config.seed)


def collapse(result: IDSweepResult, regulariser: str, label: str) -> Verdict:
    """max(PID, accuracy at the strongest setting / their best over the grid) against ``COLLAPSE``."""
    points = result.sweep(regulariser)
    claim = f"PID and validation accuracy collapse at the strongest {label}"
    quantity = "max(PID, val accuracy) at the strongest / best over the grid"
    evidence = Evidence(len(points), MIN_COLLAPSE_POINTS, "grid points", "a collapse")
    if not points:
        return check(claim, quantity, math.nan, COLLAPSE, "<=", evidence)
    last = points[-1]
    pid_share = last.pid / max(p.pid for p in points)
    acc_share = last.accuracy / max(p.accuracy for p in points)
    verdict = check(claim, quantity, max(pid_share, acc_share), COLLAPSE, "<=", evidence)
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; at {label} {last.value:g}: PID {last.pid:.1f} "
                   f"({pid_share:.2f} of the best), accuracy {last.accuracy:.3f} ({acc_share:.2f} of the best)",
                   verdict.reason)


def verdict(result: IDSweepResult) -> list[Verdict]:
    return [*(llid_vs_regulariser(result, reg, label) for reg, label in SWEEPS), accuracy_vs_ratio(result),
            *(collapse(result, reg, label) for reg, label in SWEEPS)]


# -- output --------------------------------------------------------------------------------------------------

def report(result: IDSweepResult) -> str:
    c = result.config
    lines = [f"regularisation vs intrinsic dimension: {c.dataset} n={c.data_length}, {c.model}, {c.optimizer} lr "
             f"{c.lr:g}, {c.epochs} epochs; base weight decay {c.weight_decay:g}, base dropout {c.dropout:g}", "",
             f"{'regulariser':>13} {'value':>8} {'LLID':>7} {'PID':>7} {'PID at':>8} {'PID/LLID':>9} {'val acc':>8} "
             f"{'id run':>17}"]
    for reg, label in SWEEPS:
        for p in result.sweep(reg):
            lines.append(f"{label:>13} {p.value:>8g} {p.llid:>7.2f} {p.pid:>7.2f} {p.pid_layer:>8} "
                         f"{p.pid / p.llid:>9.2f} {p.accuracy:>8.3f} {p.run_id or '-':>17}")
    return "\n".join(lines)


def figure(result: IDSweepResult, path: str | Path) -> Path:
    """LLID and PID (left axis) and accuracy (right) against each regulariser; accuracy against PID/LLID."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (reg, label) in zip(axes, SWEEPS):
        points = result.sweep(reg)
        x = [p.value for p in points]
        ax.plot(x, [p.llid for p in points], "o-", label="LLID")
        ax.plot(x, [p.pid for p in points], "s--", label="PID")
        if reg == "weight_decay":
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("intrinsic dimension")
        twin = ax.twinx()
        twin.plot(x, [p.accuracy for p in points], "k^:", label="val accuracy")
        twin.set_ylabel("validation accuracy")
        ax.legend(loc="center left", fontsize=7)
        twin.legend(loc="lower left", fontsize=7)
    every = result.distinct()
    axes[2].scatter([p.pid / p.llid for p in every], [p.accuracy for p in every],
                    c=["C0" if p.regulariser == "weight_decay" else "C1" for p in every])
    axes[2].set_xlabel("PID / LLID")
    axes[2].set_title("blue: weight-decay grid, orange: dropout grid", fontsize=9)
    axes[2].set_ylabel("validation accuracy")
    return save_figure(fig, path, dpi=110)


STUDY = Study(
    name=NAME, claim=CLAIM, config=IDSweepConfig,
    presets={
        "quick": Preset("LeNet-5 on 4,000 embedded MNIST digits, 8 epochs of SGD lr 0.05 momentum 0.9 per point; "
                        "weight decay 1e-5..1e-2 (dropout 0) and dropout 0..0.8 (wd 5e-4): 9 distinct id runs"),
        "paper": Preset("GPU runs: act_ids' CIFAR-10 grids, each point act_ids' ResNet-18 recipe (200 epochs, "
                        "needs --root): weight decay 1e-6..1e-2 and block dropout 0..0.8",
                        {"dataset": "cifar10", "data_length": 50000, "model": "resnet18", "lr": 0.1, "epochs": 200,
                         "lr_milestones": [60, 120, 160], "augment": True, "checkpoints": 10, "nres": 20,
                         "weight_decays": [1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2],
                         "dropouts": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}),
        "tiny": Preset("seconds, for tests: an MLP 32-16 on 300 digits, 2 epochs, 4 x 4 points",
                       {"dataset": "digits", "data_length": 300, "model": "mlp", "hidden": [32, 16], "epochs": 2,
                        "checkpoints": 2, "id_per_class": 20, "nres": 2, "weight_decays": [1e-4, 1e-3, 1e-2, 1e-1],
                        "dropouts": [0.0, 0.3, 0.6, 0.9]}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=69,
    below_minimum={"weight_decays": [1e-4, 1e-2], "dropouts": [0.0, 0.5]},
)
