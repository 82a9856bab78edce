"""Does training compress? The information plane (Shwartz-Ziv & Tishby, "Opening the black box of deep
neural networks via information", 2017; Saxe et al., "On the information bottleneck theory of deep
learning", ICLR 2018).

Claim (as Saxe et al. replicate it): the last hidden layers of a tanh network go through a compression
phase — I(X;T) falls after its peak — while those of the same ReLU network do not; compression follows
the saturation of tanh, not generalisation. Saxe et al. show it by binning on the 12-bit task and by
the pairwise KDE upper bound on MNIST (network 784-1024-20-20-20-10, as in their code, artemyk/ibsgd).

Data (``dataset``), a fixed set of n distinct inputs, X uniform over them:

- ``tishby12``: a 12-bit task of the same kind as Tishby's (whose data file is not available offline):
  all 4,096 inputs x ∈ {0, 1}¹², z = 2x − 1, and the label 1[zᵀAz + bᵀz > median] with A (12×12) and
  b (12) standard normal drawn from ``task_seed``: a quadratic (not linearly separable) rule with
  exactly 2,048 inputs per class.
- ``mnist``: the 5,000 embedded MNIST images (:func:`deepscope.data.load_dataset`, its 4,000/1,000
  split pooled), flattened to 784 pixels in [0, 1], 10 classes; ``task_seed`` is not used. The
  ``mnist`` preset trains Saxe et al.'s MNIST network 784-1024-20-20-20-10.

``train_fraction`` of the inputs train the network (Tishby: 85%); the information plane is measured on
all n of them. Every input is distinct, so X is the input's index and a deterministic layer has
H(T|X) = 0: the binned I(X;T) = H(T_binned) ≤ log₂ n (12 bits for the 12-bit task, log₂ 5000 ≈ 12.3
for MNIST).

Networks: hidden widths ``hidden`` (Tishby's 10-7-5-4-3), tanh and ReLU, trained from the same
initialisation per seed by mini-batch SGD (or Adam). At log-spaced epochs (0 included) one capture of
all inputs gives each hidden layer T and: I(X;T), I(T;Y) by binning (``bins`` equal-width bins on
[−1, 1] for tanh and on [0, max] for ReLU, Shwartz-Ziv & Tishby's 30), by the pairwise KDE upper
bound with noise variance ``noise_var`` (Saxe et al.'s 0.1), and DSE(T), DSMI(T;Y) (Liao, Liu et al.
2023, σ = ``sigma``), on a fixed subsample of ``kde_points`` inputs for the two kernel estimators.

Verdicts (thresholds fixed before any run), per activation and estimator, on the last hidden layer,
each estimate averaged over seeds: compression = (peak − final)/peak of the I(X;T)-like curve (binned
I(X;T), KDE upper bound on I(X;T~), DSE(T)). Saxe et al.'s finding, tested with every estimator: tanh
compresses, compression ≥ ``COMPRESSION`` = 0.1; ReLU does not, compression < 0.1. For binning and the
KDE bound this is the published claim; for DSE (whose paper argues it avoids binning's artefacts, and
makes no information-plane claim) it asks whether DSE shows the same.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.config import ConfigError, setting
from deepscope.data import load_dataset
from deepscope.metrics.entropy import diffusion_spectral_entropy
from deepscope.metrics.information import binned_information_plane, kde_information_plane
from deepscope.metrics.mutual_information import diffusion_spectral_mutual_information
from deepscope.models import build_model
from deepscope.probe import capture
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.clock import SplitClock
from deepscope.studies.verdict import Evidence, Verdict, check
from deepscope.train import Schedule, TrainConfig, Trainer, TrainState
from deepscope.train.config import check_device
from deepscope.train.optim import OPTIMIZERS

NAME = "info-plane"
CLAIM = ("The last hidden layers of a tanh network compress (I(X;T) falls after its peak) while a ReLU network's do "
         "not, by binning and by the KDE bound; DSE is held to the same test (Shwartz-Ziv & Tishby 2017; "
         "Saxe et al., ICLR 2018).")
COMPRESSION = 0.1    # (peak - final) / peak of an I(X;T)-like curve of the last hidden layer: compression when >= this
MIN_SEEDS = 2
ACTIVATIONS = ("tanh", "relu")
ESTIMATES = ("bin", "kde", "dse")    # I(X;T)-like: binned I(X;T), KDE-upper I(X;T~), DSE(T); with I(T;Y) beside
ESTIMATE_NAMES = {"bin": "binning", "kde": "KDE upper bound", "dse": "DSE"}
QUANTITIES = {"bin": "the binned I(X;T)", "kde": "the KDE upper bound on I(X;T~)", "dse": "DSE(T)"}
AXES = {"bin": ("I(X;T)", "I(T;Y)"), "kde": ("I(X;T~) KDE", "I(T~;Y) KDE"), "dse": ("DSE(T)", "DSMI(T;Y)")}


@dataclass(frozen=True)
class Task:
    """A data choice: what it is, its number of (distinct) inputs, input features and classes."""

    description: str
    inputs: int
    features: int
    classes: int


TASKS = {"tishby12": Task("the generated 12-bit task", 4096, 12, 2),
         "mnist": Task("embedded MNIST, its 4,000/1,000 split pooled", 5000, 784, 10)}


@dataclass
class InfoPlaneConfig:
    """The task, the two networks and the estimators. Defaults: the quick CPU preset."""

    dataset: str = setting("tishby12", "data: tishby12 (the generated 12-bit task, 4,096 inputs) or mnist (the "
                                       "5,000 embedded MNIST images)", choices=tuple(TASKS))
    hidden: list[int] = setting([10, 7, 5, 4, 3], "hidden widths (Tishby: 10-7-5-4-3)", item_min=1, nonempty=True)
    train_fraction: float = setting(0.85, "fraction of the inputs used for training (Tishby: 0.85)", gt=0, max=1)
    optimizer: str = setting("sgd", "optimizer", choices=OPTIMIZERS)
    lr: float = setting(0.1, "learning rate", gt=0)
    momentum: float = setting(0.9, "SGD momentum", min=0, lt=1)
    batch_size: int = setting(256, "mini-batch size", min=1)
    epochs: int = setting(2000, "training epochs", min=1)
    checkpoints: int = setting(25, "log-spaced measuring epochs, 0 and the last included (about this many, at most "
                                   "epochs + 1)", min=2)
    bins: int = setting(30, "equal-width bins of the binning estimator (Tishby: 30)", min=2)
    noise_var: float = setting(0.1, "noise variance of the KDE estimator (Saxe et al.: 0.1)", gt=0)
    sigma: float = setting(1.0, "Gaussian kernel bandwidth of DSE/DSMI", gt=0)
    kde_points: int = setting(512, "inputs (a fixed random subset, every class in it) for the KDE and DSE "
                                   "estimators; at most the task's inputs", min=16)
    seeds: int = setting(3, "initialisations per activation (seeds seed, seed+1, ...)", min=1)
    task_seed: int = setting(0, "seed of the quadratic labelling rule (tishby12 only)", min=0)
    seed: int = setting(0, "first seed of the split, the initialisations and the data order", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)


def check_config(config: InfoPlaneConfig) -> None:
    """Rules across fields: the kernel estimators' subset fits in the task, the checkpoints in the run, momentum
    goes with SGD."""
    inputs = TASKS[config.dataset].inputs
    if config.kde_points > inputs:
        raise ConfigError("kde_points", f"is {config.kde_points} but {config.dataset} has {inputs} inputs; pass at "
                                        f"most {inputs}")
    if config.checkpoints > config.epochs + 1:
        raise ConfigError("checkpoints", f"is {config.checkpoints} but a run of {config.epochs} epochs (--epochs) "
                                         f"can be measured at only {config.epochs + 1} (epochs 0 to {config.epochs}); "
                                         f"pass at most {config.epochs + 1}")
    if config.momentum and config.optimizer != "sgd":
        raise ConfigError("momentum", f"is {config.momentum:g} but momentum is an SGD setting and the optimizer is "
                                      f"{config.optimizer} (--optimizer); pass 0")


def twelve_bit_task(task_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All 4,096 inputs {0, 1}¹² as float [4096, 12] and labels 1[zᵀAz + bᵀz > median], z = 2x − 1."""
    codes = torch.arange(4096)
    x = ((codes[:, None] >> torch.arange(12)) & 1).to(torch.float32)
    g = torch.Generator().manual_seed(task_seed)
    A, b = torch.randn(12, 12, generator=g, dtype=torch.float64), torch.randn(12, generator=g, dtype=torch.float64)
    z = 2 * x.double() - 1
    score = ((z @ A) * z).sum(1) + z @ b
    return x, (score > score.median()).long()


def task_data(config: InfoPlaneConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The task's n distinct inputs, flattened to float [n, features], and their labels (see the module docstring).

    Every row is a different input, so with X the row index a deterministic layer T has H(T|X) = 0 and the
    binned I(X;T) is H(T_binned) (:func:`deepscope.metrics.information.binned_information_plane`).
    """
    if config.dataset == "tishby12":
        x, y = twelve_bit_task(config.task_seed)
    else:
        parts = [load_dataset("mnist", split=split) for split in ("train", "test")]
        x, y = torch.cat([p.x.flatten(1) for p in parts]), torch.cat([p.y for p in parts])
    return x.to(config.device), y.to(config.device)


@dataclass
class Checkpoint:
    """Per hidden layer at one epoch: the three estimates and their I(T;Y) partners, plus accuracies."""

    epoch: int
    train_accuracy: float
    test_accuracy: float
    layers: dict[str, dict[str, float]]   # layer -> {bin_x, bin_y, kde_x, kde_y, dse_x, dse_y}


@dataclass
class InfoPlaneResult:
    config: InfoPlaneConfig
    runs: dict[str, list[list[Checkpoint]]]   # activation -> seeds -> checkpoints
    train_seconds: float = 0.0
    measure_seconds: float = 0.0
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    @property
    def last_layer(self) -> str:
        return f"hidden{len(self.config.hidden)}"

    def mean_curve(self, activation: str, key: str, layer: str | None = None) -> tuple[list[int], list[float]]:
        """Epochs and the mean over seeds of ``key`` (e.g. 'bin_x') of ``layer`` (default: the last hidden)."""
        layer = layer or self.last_layer
        seeds = self.runs[activation]
        epochs = [c.epoch for c in seeds[0]]
        return epochs, [float(np.mean([run[i].layers[layer][key] for run in seeds])) for i in range(len(epochs))]

    def compression(self, activation: str, estimate: str) -> float:
        """(peak − final)/peak of the seed-mean I(X;T)-like curve of the last hidden layer."""
        _, curve = self.mean_curve(activation, f"{estimate}_x")
        peak = max(curve)
        return (peak - curve[-1]) / peak if peak > 0 else math.nan

    def summary(self) -> dict[str, Any]:
        return {"runs": {a: [[asdict(c) for c in run] for run in seeds] for a, seeds in self.runs.items()},
                "compression": {f"{a}/{e}": self.compression(a, e) for a in self.runs for e in ESTIMATES},
                "train_seconds": self.train_seconds, "measure_seconds": self.measure_seconds,
                "config": asdict(self.config), "run_id": self.run_id}


# -- the experiment ----------------------------------------------------------------------------------------

def run(config: InfoPlaneConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> InfoPlaneResult:
    """Both networks for every seed, measured at every checkpoint; recorded in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: InfoPlaneConfig, sink: Run | None, progress: bool | None) -> InfoPlaneResult:
    x, y = task_data(config)
    splits = [_split(config, config.seed + s, y) for s in range(config.seeds)]   # all checked before any training
    result, clock = InfoPlaneResult(config, {a: [] for a in ACTIVATIONS}), SplitClock()
    for s, (train, test, subset) in enumerate(splits):
        for activation in ACTIVATIONS:
            result.runs[activation].append(_train_and_measure(config, activation, config.seed + s, x, y, train, test,
                                                              subset, result, clock, sink, progress))
    result.train_seconds, result.measure_seconds = clock.train_seconds, clock.measure_seconds
    return result


def _split(config: InfoPlaneConfig, seed: int, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seed ``seed``'s training inputs (the first ``train_fraction`` of a seeded order), test inputs (the rest)
    and the kernel estimators' subset (the first ``kde_points``), which must hold every class."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = max(1, round(config.train_fraction * len(y)))
    subset = order[:config.kde_points]
    classes = TASKS[config.dataset].classes
    missing = classes - len(torch.unique(y[subset]))
    if missing:
        raise ConfigError("kde_points", f"is {config.kde_points}, which leaves {missing} of the {classes} classes out "
                                        f"of the subset the KDE and DSE estimators measure (seed {seed}); pass more")
    return order[:cut], order[cut:], subset


def _train_and_measure(config: InfoPlaneConfig, activation: str, seed: int, x: torch.Tensor, y: torch.Tensor,
                       train: torch.Tensor, test: torch.Tensor, subset: torch.Tensor, result: InfoPlaneResult,
                       clock: SplitClock, sink: Run | None, progress: bool | None) -> list[Checkpoint]:
    task = TASKS[config.dataset]
    model = build_model("mlp", in_features=task.features, num_classes=task.classes, hidden=config.hidden,
                        activation=activation, batchnorm=False, seed=seed).to(config.device)
    layers = [f"hidden{i}" for i in range(1, len(config.hidden) + 1)]
    checkpoints: list[Checkpoint] = []

    def measure(state: TrainState) -> None:
        features = capture(state.model, x, [*layers, "logits"])
        predicted = features["logits"].argmax(1)
        estimates = {}
        for layer in layers:
            T = features[layer]
            # tanh: bins on its range; ReLU (Saxe et al.): bins from 0 to the largest activation
            value_range = (-1.0, 1.0) if activation == "tanh" else (0.0, max(float(T.max()), 1e-12))
            binned = binned_information_plane(T, y, bins=config.bins, value_range=value_range)
            kde = kde_information_plane(T[subset], y[subset], noise_var=config.noise_var)
            estimates[layer] = {"bin_x": binned.i_xt, "bin_y": binned.i_ty, "kde_x": kde.i_xt, "kde_y": kde.i_ty,
                                "dse_x": diffusion_spectral_entropy(T[subset], config.sigma, seed=seed),
                                "dse_y": diffusion_spectral_mutual_information(T[subset], clusters=y[subset],
                                                                               sigma=config.sigma, seed=seed)}
        accuracies = [float((predicted[idx] == y[idx]).double().mean()) if len(idx) else math.nan
                      for idx in (train, test)]
        checkpoints.append(Checkpoint(state.step.epoch, *accuracies, estimates))
        if sink is not None:
            step, epoch = state.step.iteration, state.step.epoch
            sink.log_many([(step, f"{activation}/seed={seed}/{layer}", key, value, epoch)
                           for layer, values in estimates.items() for key, value in values.items()])

    train_config = TrainConfig(optimizer=config.optimizer, lr=config.lr, momentum=config.momentum,
                               batch_size=config.batch_size, epochs=config.epochs, stop_loss=None, seed=seed,
                               device=config.device, progress=progress)
    outcome = clock.fit(Trainer(model, x[train], y[train], train_config, callbacks=[clock.measuring(measure)],
                                schedule=Schedule.log_spaced(config.checkpoints, config.epochs, unit="epoch")))
    if outcome.diverged:
        result.diverged, result.message = True, f"the {activation} network (seed {seed}): {outcome.message}"
    return checkpoints


def from_summary(config: InfoPlaneConfig, summary: dict[str, Any], run_id: str) -> InfoPlaneResult:
    runs = {a: [[Checkpoint(**c) for c in run] for run in seeds] for a, seeds in summary["runs"].items()}
    return InfoPlaneResult(config, runs, summary["train_seconds"], summary["measure_seconds"], run_id=run_id,
                           reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: InfoPlaneResult) -> list[Verdict]:
    """Per estimator, Saxe et al.'s finding: the tanh network's last hidden layer compresses (compression
    = (peak − final)/peak of the seed-mean I(X;T)-like curve ≥ ``COMPRESSION``), the ReLU network's does not
    (< ``COMPRESSION``); binning first, then the KDE upper bound, then DSE."""
    evidence = Evidence(len(result.runs["tanh"]), MIN_SEEDS, "seeds", "a seed average")
    verdicts = []
    for estimate in ESTIMATES:
        name = ESTIMATE_NAMES[estimate]
        quantity = f"(peak - final) / peak of {QUANTITIES[estimate]}, last hidden layer"
        verdicts += [check(f"tanh: the last hidden layer compresses ({name})", quantity,
                           result.compression("tanh", estimate), COMPRESSION, ">=", evidence),
                     check(f"ReLU: the last hidden layer does not compress ({name})", quantity,
                           result.compression("relu", estimate), COMPRESSION, "<", evidence)]
    return verdicts


# -- output --------------------------------------------------------------------------------------------------

def report(result: InfoPlaneResult) -> str:
    c = result.config
    task = TASKS[c.dataset]
    lines = [f"information plane: {task.description} ({task.inputs:,} inputs, {c.train_fraction:.0%} for training), "
             f"MLP {task.features}-{'-'.join(map(str, c.hidden))}-{task.classes}, {c.optimizer} lr {c.lr:g} "
             f"batch {c.batch_size}, {c.epochs} epochs, {c.seeds} seed(s); binning {c.bins} bins on all inputs, KDE "
             f"(noise variance {c.noise_var:g}) and DSE (sigma {c.sigma:g}) on {c.kde_points}",
             f"time: training {result.train_seconds:.1f} s, measuring {result.measure_seconds:.1f} s", "",
             f"last hidden layer ({result.last_layer}), mean over seeds; compression = (peak - final) / peak",
             f"{'network':>8} {'estimate':>9} {'at epoch 0':>11} {'peak':>8} {'final':>8} {'compression':>12} "
             f"{'final I(T;Y)':>13} {'test acc':>9}"]
    for activation in ACTIVATIONS:
        _, accuracy = _accuracy(result, activation)
        for estimate in ESTIMATES:
            _, curve = result.mean_curve(activation, f"{estimate}_x")
            _, info_y = result.mean_curve(activation, f"{estimate}_y")
            lines.append(f"{activation:>8} {estimate:>9} {curve[0]:>11.3f} {max(curve):>8.3f} {curve[-1]:>8.3f} "
                         f"{result.compression(activation, estimate):>12.3f} {info_y[-1]:>13.3f} "
                         f"{accuracy[-1]:>9.3f}")
    return "\n".join(lines)


def _accuracy(result: InfoPlaneResult, activation: str) -> tuple[list[int], list[float]]:
    seeds = result.runs[activation]
    return ([c.epoch for c in seeds[0]],
            [float(np.mean([run[i].test_accuracy for run in seeds])) for i in range(len(seeds[0]))])


def figure(result: InfoPlaneResult, path: str | Path) -> Path:
    """The information plane of every hidden layer (seed means), one panel per network and estimator,
    points coloured by epoch (log scale), as Shwartz-Ziv & Tishby and Saxe et al. draw it."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for row, activation in zip(axes, ACTIVATIONS):
        for ax, estimate in zip(row, ESTIMATES):
            for i in range(1, len(result.config.hidden) + 1):
                epochs, xs = result.mean_curve(activation, f"{estimate}_x", f"hidden{i}")
                _, ys = result.mean_curve(activation, f"{estimate}_y", f"hidden{i}")
                ax.plot(xs, ys, color="grey", lw=0.5)
                points = ax.scatter(xs, ys, c=np.log1p(epochs), cmap="viridis", s=14)
            ax.set_xlabel(f"{AXES[estimate][0]} (bits)")
            ax.set_ylabel(f"{AXES[estimate][1]} (bits)")
            ax.set_title(f"{activation}, {estimate}", fontsize=9)
    for row in axes:
        fig.colorbar(points, ax=row[-1], label="log(1 + epoch)")
    return save_figure(fig, path, dpi=100)


STUDY = Study(
    name=NAME, claim=CLAIM, config=InfoPlaneConfig,
    presets={
        "quick": Preset("Tishby's 12-10-7-5-4-3-2 with tanh and with ReLU on the generated 12-bit task, SGD lr 0.1 "
                        "momentum 0.9, batch 256, 2,000 epochs, 3 seeds, about 25 log-spaced checkpoints, KDE and DSE on "
                        "512 inputs"),
        "paper": Preset("GPU run: Saxe et al.'s longer training, 10,000 epochs, 5 seeds, 60 checkpoints, the KDE and "
                        "DSE on all 4,096 inputs",
                        {"epochs": 10000, "seeds": 5, "checkpoints": 60, "kde_points": 4096}),
        "tiny": Preset("seconds, for tests: 30 epochs, 2 seeds, 5 checkpoints, 64 points for KDE/DSE",
                       {"epochs": 30, "seeds": 2, "checkpoints": 5, "kde_points": 64}),
        "mnist": Preset("Saxe et al.'s MNIST network 784-1024-20-20-20-10 with tanh and with ReLU "
                        "on the 5,000 embedded MNIST images, 80% for training; Adam 1e-3 (theirs: SGD 1e-3 for "
                        "10,000 epochs), batch 128, 30 epochs, 2 seeds, about 6 checkpoints, KDE and DSE on 512 "
                        "images",
                        {"dataset": "mnist", "hidden": [1024, 20, 20, 20], "train_fraction": 0.8, "optimizer": "adam",
                         "momentum": 0.0, "lr": 1e-3, "batch_size": 128, "epochs": 30, "checkpoints": 6, "seeds": 2}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=261,
    below_minimum={"seeds": 1},
)
