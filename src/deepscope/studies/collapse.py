"""Neural collapse in the terminal phase of training (Papyan, Han & Donoho, "Prevalence of neural
collapse during the terminal phase of deep learning training", PNAS 117, 2020).

Claim: trained past zero training error (the terminal phase, TPT), the last hidden layer's features
collapse — NC1: the within-class variability Tr(Σ_W Σ_B⁺)/K vanishes; NC2: the centred class means
approach a simplex equiangular tight frame; NC3: the classifier's rows align with them; NC4: the
classifier decides as the nearest class centre.

An MLP (BatchNorm before every Linear; :mod:`deepscope.models.mlp`) is trained with SGD, momentum
and weight decay long past zero training error. At log-spaced epochs (0 included) one capture of
the training set gives every probe point's features: NC1–NC4 of the last hidden layer against the
effective classifier (the head's BatchNorm folded in, ``MLP.effective_classifier``), NC1 of every
layer (intermediate collapse), and the train accuracy; the test accuracy is measured beside it.
The measures are :func:`deepscope.metrics.collapse.neural_collapse`.

Verdicts (thresholds fixed before any run), comparing the last checkpoint with the first one at
zero training error (the start of the TPT); each needs ``MIN_TPT_CHECKPOINTS`` checkpoints in the
TPT and is UNDECIDED when training error never reaches zero:

- NC1 falls by at least an order of magnitude: NC1(end)/NC1(TPT start) <= 0.1;
- NC2 approaches the simplex ETF: the distance of the class means' normalised Gram from the simplex
  ETF's, ‖MMᵀ/‖MMᵀ‖_F − J/‖J‖_F‖_F, at the end is at most half its value at the TPT start;
- NC3 approaches self-duality: ‖W/‖W‖_F − M/‖M‖_F‖²_F at the end is at most half its TPT-start value;
- NC4 goes to zero: at most 1% of the training points are classified differently from the nearest
  class centre at the end.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.config import check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.collapse import neural_collapse
from deepscope.models import build_model
from deepscope.probe import capture, probe_points
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.clock import SplitClock
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, undecided
from deepscope.train import Schedule, TrainConfig, Trainer, TrainState
from deepscope.train.config import check_device
from deepscope.train.evaluate import evaluate

NAME = "collapse"
CLAIM = ("Trained past zero training error, the last hidden layer collapses: within-class variability vanishes "
         "(NC1), class means approach a simplex ETF (NC2), the classifier aligns with them (NC3) and acts as a "
         "nearest-class-centre rule (NC4) (Papyan, Han & Donoho, PNAS 2020).")
NC1_FALL = 0.1            # NC1(end) / NC1(TPT start) at most this: an order of magnitude
APPROACH = 0.5            # NC2 and NC3 at the end at most this fraction of their TPT-start values
NC4_END = 0.01            # at most 1% of training points disagree with the nearest class centre at the end
MIN_TPT_CHECKPOINTS = 3   # checkpoints at zero training error, the first included


@dataclass
class CollapseConfig:
    """One training run measured into its terminal phase. Defaults: the quick CPU preset."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(1000, "training images (a stratified subset)", min=1)
    data_size: int | None = setting(10, "resize images to data_size x data_size (none: as stored)", min=1)
    hidden_dim: int = setting(128, "width of the hidden layers", min=1)
    depth: int = setting(4, "linear layers (depth - 1 hidden layers)", min=2)
    lr: float = setting(0.05, "SGD learning rate", gt=0)
    momentum: float = setting(0.9, "SGD momentum (Papyan et al.: 0.9)", min=0, lt=1)
    weight_decay: float = setting(5e-4, "weight decay (Papyan et al.: 5e-4)", min=0)
    batch_size: int = setting(100, "mini-batch size", min=1)
    lr_decay: bool = setting(True, "divide the learning rate by 10 at 1/3 and 2/3 of the epochs (Papyan et al.)")
    epochs: int = setting(1000, "training epochs, long past zero training error", min=1)
    checkpoints: int = setting(30, "log-spaced measuring epochs, 0 and the last included (about this many)", min=2)
    seed: int = setting(0, "seed of the data subset, the initialisation and the data order", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


@dataclass
class Checkpoint:
    """The measures at one epoch: the last hidden layer's NC1–NC4, every layer's NC1, the accuracies."""

    epoch: int
    train_accuracy: float
    test_accuracy: float
    nc: dict[str, float]
    nc1_by_layer: list[tuple[str, float]]  # (probe point, NC1) in forward order


@dataclass
class CollapseResult:
    config: CollapseConfig
    checkpoints: list[Checkpoint]
    train_seconds: float = 0.0
    measure_seconds: float = 0.0
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""
    last_layer: str = field(default="")

    def zero_error(self) -> Checkpoint | None:
        """The first checkpoint at zero training error (the start of the terminal phase), or None."""
        return next((c for c in self.checkpoints if c.train_accuracy == 1.0), None)

    def summary(self) -> dict[str, Any]:
        start = self.zero_error()
        return {"checkpoints": [asdict(c) for c in self.checkpoints], "last_layer": self.last_layer,
                "zero_error_epoch": None if start is None else start.epoch, "train_seconds": self.train_seconds,
                "measure_seconds": self.measure_seconds, "config": asdict(self.config), "run_id": self.run_id}


# -- the experiment ----------------------------------------------------------------------------------------

def run(config: CollapseConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> CollapseResult:
    """Train and measure at every checkpoint; record everything in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: CollapseConfig, sink: Run | None, progress: bool | None) -> CollapseResult:
    train, test = classification_data(config), classification_data(config, split="test")
    model = build_model("mlp", in_features=int(np.prod(train.x.shape[1:])), num_classes=train.num_classes,
                        hidden_dim=config.hidden_dim, depth=config.depth, seed=config.seed).to(config.device)
    points = probe_points(model)
    result = CollapseResult(config, [], last_layer=points[-2])

    def measure(state: TrainState) -> None:
        features = capture(state.model, train.x, points)
        weight, bias = state.model.effective_classifier()
        nc = neural_collapse(features[result.last_layer], train.y, weight=weight, bias=bias).as_metrics()
        by_layer = [(p, neural_collapse(features[p], train.y).nc1) for p in points[:-1]]
        train_accuracy = float((features[points[-1]].argmax(1) == train.y).double().mean())
        test_accuracy = float(evaluate(state.model, test.x, test.y, 1024)["accuracy"])
        epoch = state.step.epoch
        result.checkpoints.append(Checkpoint(epoch, train_accuracy, test_accuracy, nc, by_layer))
        if sink is not None:
            rows = [(state.step.iteration, result.last_layer, name, value, epoch) for name, value in nc.items()]
            rows += [(state.step.iteration, p, "nc1", value, epoch) for p, value in by_layer]
            rows += [(state.step.iteration, "", name, value, epoch)
                     for name, value in (("train_accuracy", train_accuracy), ("test_accuracy", test_accuracy))]
            sink.log_many(rows)

    schedule = Schedule.log_spaced(config.checkpoints, config.epochs, unit="epoch")
    milestones = sorted({m for m in (config.epochs // 3, 2 * config.epochs // 3) if m >= 1}) if config.lr_decay else []
    train_config = TrainConfig(optimizer="sgd", lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, batch_size=config.batch_size, epochs=config.epochs,
                               lr_milestones=milestones or None, stop_loss=None, seed=config.seed,
                               device=config.device, progress=progress)
    clock = SplitClock()
    outcome = clock.fit(Trainer(model, train.x, train.y, train_config, callbacks=[clock.measuring(measure)],
                                schedule=schedule))
    result.train_seconds, result.measure_seconds = clock.train_seconds, clock.measure_seconds
    result.diverged, result.message = outcome.diverged, outcome.message
    return result


def from_summary(config: CollapseConfig, summary: dict[str, Any], run_id: str) -> CollapseResult:
    return CollapseResult(config, [Checkpoint(**c) for c in summary["checkpoints"]], summary["train_seconds"],
                          summary["measure_seconds"], run_id=run_id, reused=True, last_layer=summary["last_layer"])


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: CollapseResult) -> list[Verdict]:
    start, end = result.zero_error(), result.checkpoints[-1]
    claims = [("NC1 falls by an order of magnitude in the terminal phase", "NC1(end) / NC1(TPT start)", "nc1",
               NC1_FALL),
              ("the class means approach a simplex ETF (NC2)", "ETF distance (end) / (TPT start)", "nc2_etf_distance",
               APPROACH),
              ("the classifier aligns with the class means (NC3)", "NC3 (end) / (TPT start)", "nc3", APPROACH)]
    nc4 = ("the classifier becomes the nearest-class-centre rule (NC4)", "NCC disagreement at the end")
    if start is None:
        reason = (f"training error never reached zero (train accuracy {end.train_accuracy:.4f} at epoch "
                  f"{end.epoch}); train longer (--epochs) or at a higher --lr")
        return [undecided(c, q, math.nan, t, "<=", reason) for c, q, _, t in claims] + \
            [undecided(*nc4, math.nan, NC4_END, "<=", reason)]
    evidence = Evidence(sum(c.epoch >= start.epoch for c in result.checkpoints), MIN_TPT_CHECKPOINTS,
                        "checkpoints at zero training error", "the terminal phase")
    verdicts = [check(c, q, end.nc[key] / start.nc[key] if start.nc[key] > 0 else math.nan, t, "<=", evidence)
                for c, q, key, t in claims]
    return verdicts + [check(*nc4, end.nc["nc4"], NC4_END, "<=", evidence)]


# -- output --------------------------------------------------------------------------------------------------

def report(result: CollapseResult) -> str:
    c = result.config
    start = result.zero_error()
    lines = [f"neural collapse: {c.dataset} n={c.data_length}, MLP depth {c.depth} width {c.hidden_dim}, SGD lr "
             f"{c.lr:g} momentum {c.momentum:g} wd {c.weight_decay:g}, batch {c.batch_size}, {c.epochs} epochs; "
             f"NC of {result.last_layer} on the training set",
             f"training error reaches zero at epoch {start.epoch}" if start else "training error never reaches zero",
             f"time: training {result.train_seconds:.1f} s, measuring {result.measure_seconds:.1f} s", "",
             f"{'epoch':>6} {'train acc':>9} {'test acc':>8} {'NC1':>10} {'NC2 ETF':>9} {'equinorm':>9} "
             f"{'equiangle':>9} {'NC3':>9} {'NC4':>7}"]
    for cp in result.checkpoints:
        mark = "  <- zero training error" if start is not None and cp.epoch == start.epoch else ""
        lines.append(f"{cp.epoch:>6} {cp.train_accuracy:>9.4f} {cp.test_accuracy:>8.4f} {cp.nc['nc1']:>10.4g} "
                     f"{cp.nc['nc2_etf_distance']:>9.4f} {cp.nc['nc2_equinorm']:>9.4f} "
                     f"{cp.nc['nc2_equiangular']:>9.4f} {cp.nc['nc3']:>9.4f} {cp.nc['nc4']:>7.4f}{mark}")
    end = result.checkpoints[-1]
    lines.append("\nNC1 by layer at the end (intermediate collapse): "
                 + ", ".join(f"{p} {v:.4g}" for p, v in end.nc1_by_layer))
    return "\n".join(lines)


def figure(result: CollapseResult, path: str | Path) -> Path:
    """NC1, NC2 (ETF distance, equinorm, equiangularity, max-angle), NC3 and NC4 against epoch on log axes,
    with train/test error beside them and the zero-training-error epoch marked (as Papyan et al.'s figures).

    Every NC measure is 0 at a simplex ETF (equal norms, pairwise cosines −1/(K−1)); the dotted lines are
    the claims' targets: NC1 at 0.1 ×, NC2's ETF distance and NC3 at 0.5 × their values at the start of the
    terminal phase, NC4 at 1%.
    """
    epochs = np.array([max(c.epoch, 1) for c in result.checkpoints])  # epoch 0 drawn at 1 on the log axis
    fig, axes = plt.subplots(1, 5, figsize=(16, 3.2))
    panels = [("NC1: Tr(Σ_W Σ_B⁺)/K", ("nc1",)),
              ("NC2: 0 at the simplex ETF", ("nc2_etf_distance", "nc2_equinorm", "nc2_equiangular", "nc2_maxangle")),
              ("NC3: ‖W/‖W‖ − M/‖M‖‖²", ("nc3",)), ("NC4: NCC disagreement", ("nc4",))]
    for ax, (title, keys) in zip(axes, panels):
        for key in keys:
            ax.plot(epochs, [max(c.nc[key], 1e-6) for c in result.checkpoints], marker=".", label=key)
        ax.set_title(title, fontsize=9)
        ax.set_yscale("log")
    start = result.zero_error()
    targets = [(axes[3], NC4_END, "claim: NC4 ≤ 1%")]
    if start is not None:
        targets += [(axes[0], NC1_FALL * start.nc["nc1"], f"claim: {NC1_FALL:g} × TPT start"),
                    (axes[1], APPROACH * start.nc["nc2_etf_distance"], f"claim: ETF dist. {APPROACH:g} × TPT start"),
                    (axes[2], APPROACH * start.nc["nc3"], f"claim: {APPROACH:g} × TPT start")]
    for ax, level, label in targets:
        ax.axhline(level, color="black", ls=":", lw=1.2, label=label)
    axes[4].plot(epochs, [1 - c.train_accuracy for c in result.checkpoints], marker=".", label="train error")
    axes[4].plot(epochs, [1 - c.test_accuracy for c in result.checkpoints], marker=".", label="test error")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        if start is not None:
            ax.axvline(max(start.epoch, 1), color="grey", ls="--", lw=1)
    return save_figure(fig, path, dpi=100)


STUDY = Study(
    name=NAME, claim=CLAIM, config=CollapseConfig,
    presets={
        "quick": Preset("MLP depth 4 width 128 (BatchNorm) on 1,000 embedded MNIST images at 10x10; SGD lr 0.05, "
                        "momentum 0.9, wd 5e-4, batch 100, 1,000 epochs, lr / 10 at 1/3 and 2/3; about 30 "
                        "log-spaced checkpoints"),
        "paper": Preset("GPU run: Papyan et al.'s optimiser (SGD, momentum 0.9, wd 5e-4, batch 128, 350 epochs) on "
                        "full MNIST under --root at 28x28, MLP width 1024; their VGG/ResNet nets and the step "
                        "decay of the learning rate at 1/3 and 2/3 of training are not reproduced",
                        {"data_length": 60000, "data_size": None, "hidden_dim": 1024, "epochs": 350,
                         "batch_size": 128}),
        "tiny": Preset("seconds, for tests: 100 digits, width 32, 60 epochs, 8 checkpoints",
                       {"dataset": "digits", "data_length": 100, "data_size": 8, "hidden_dim": 32, "depth": 3,
                        "epochs": 60, "checkpoints": 8, "batch_size": 50}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary,
    quick_seconds=26,
    below_minimum={"checkpoints": 2},
)
