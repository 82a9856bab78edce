"""Diffusion spectral entropy and mutual information through training (Liao, Liu et al., "Assessing
neural network representations during training using noise-resilient diffusion spectral entropy",
arXiv 2312.04823, 2023; the DSE seed).

Claim: with real labels, the diffusion spectral mutual information between the penultimate features Z
and the labels, DSMI(Z; Y), rises with training and tracks validation accuracy; a network trained on
permanently shuffled labels (the seed's "wronglabel" control) keeps DSMI(Z; Y_true) near zero and its
accuracy at chance. DSE(Z) is reported beside them (the paper: it rises in supervised training).

Two runs of the same MLP (:mod:`deepscope.models.mlp`) from the same initialisation, one on the true
training labels and one on a fixed random permutation of them. At log-spaced epochs (0 included) one
capture of a fixed evaluation set (``eval_points`` test images drawn once with the seed) gives Z (the last hidden
layer) and: DSE(Z), the binned Shannon entropy CSE(Z), DSMI(Z; Y) and CSMI(Z; Y) against the true
labels, DSMI(Z; X) and CSMI(Z; X) against spectral clusters of the inputs (computed once, K clusters),
and the accuracy on the whole test split. With ``layers = all`` the same capture also gives every
other probe point of the MLP (``input``, ``hidden1`` .., ``logits``: :func:`deepscope.probe.probe_points`),
each measured alike and stored per layer; the verdicts stay on the penultimate layer. DSE/DSMI as in
:mod:`deepscope.metrics.entropy` and :mod:`deepscope.metrics.mutual_information` (σ = ``sigma``, t = ``t``;
the seed's defaults 10 and 1).

Verdicts (thresholds fixed before any run):

- true labels: Spearman ρ between DSMI(Z; Y) and test accuracy over the checkpoints has a 95%
  bootstrap interval inside [0.5, 1] (a strong positive association; at least ``MIN_CHECKPOINTS``);
- shuffled labels: DSMI(Z; Y_true) stays near zero: its largest value over the checkpoints is at most
  10% of the true-label run's final DSMI(Z; Y);
- shuffled labels: the final test accuracy is at chance, at most 1/K + 0.05.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.entropy import binned_entropy, diffusion_spectral_entropy
from deepscope.metrics.mutual_information import (NegativeEstimateWarning, binned_mutual_information,
                                                  diffusion_spectral_mutual_information, reference_clusters)
from deepscope.models import build_model
from deepscope.probe import capture, probe_points
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.bootstrap import bootstrap_interval, spearman
from deepscope.studies.clock import SplitClock
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, check_interval
from deepscope.train import Schedule, TrainConfig, Trainer, TrainState
from deepscope.train.config import check_device
from deepscope.train.evaluate import evaluate
from deepscope.train.optim import OPTIMIZERS

NAME = "dse"
CLAIM = ("DSMI between the penultimate features and the labels rises with training and tracks accuracy; on "
         "shuffled labels it stays near zero and accuracy at chance (Liao, Liu et al. 2023).")
RHO_RANGE = (0.5, 1.0)      # the 95% bootstrap interval of Spearman rho(DSMI(Z;Y), accuracy) must lie inside
SHUFFLED_FRACTION = 0.1     # shuffled-label DSMI(Z;Y_true) at most this fraction of the true-label final DSMI
CHANCE_MARGIN = 0.05        # shuffled-label final accuracy at most 1/K + this
MIN_CHECKPOINTS = 5
RUNS = ("true", "shuffled")
MEASURES = ("dse", "cse", "dsmi_zy", "csmi_zy", "dsmi_zx", "csmi_zx")
LAYER_CHOICES = ("penultimate", "all")


@dataclass
class DSEConfig:
    """The two training runs and what is measured. Defaults: the quick CPU preset."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(2000, "training images (a stratified subset)", min=1)
    data_size: int | None = setting(10, "resize images to data_size x data_size (none: as stored)", min=1)
    hidden_dim: int = setting(128, "width of the hidden layers", min=1)
    depth: int = setting(4, "linear layers (depth - 1 hidden layers)", min=2)
    optimizer: str = setting("adam", "optimizer (the seed: AdamW)", choices=OPTIMIZERS)
    lr: float = setting(1e-3, "learning rate", gt=0)
    batch_size: int = setting(100, "mini-batch size", min=1)
    epochs: int = setting(40, "training epochs", min=1)
    checkpoints: int = setting(12, "log-spaced measuring epochs, 0 and the last included (about this many, at most "
                                   "epochs + 1)", min=2)
    eval_points: int = setting(500, "test images on which Z is measured (a seeded random subset of the test split)",
                               min=10)
    sigma: float = setting(10.0, "Gaussian kernel bandwidth of DSE/DSMI (the seed: 10)", gt=0)
    t: float = setting(1.0, "diffusion time (the seed: 1)", gt=0)
    bins: int = setting(2, "bins per feature of the classic (binned) entropy CSE (the seed: 2)", min=2)
    layers: str = setting("penultimate", "probe points measured: penultimate (Z, the last hidden layer) or all "
                                         "(input, every hidden layer, logits; the verdicts stay on Z)",
                          choices=LAYER_CHOICES)
    seed: int = setting(0, "seed of the data subset, the initialisation, the label permutation and the order",
                        min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


def check_config(config: DSEConfig) -> None:
    """Rules across fields: the checkpoints fit in the run."""
    if config.checkpoints > config.epochs + 1:
        raise ConfigError("checkpoints", f"is {config.checkpoints} but a run of {config.epochs} epochs (--epochs) "
                                         f"can be measured at only {config.epochs + 1} (epochs 0 to {config.epochs}); "
                                         f"pass at most {config.epochs + 1}")


@dataclass
class Checkpoint:
    """One epoch of one run: test accuracy, the measures of Z (``values``) and, with ``layers = all``, those of
    every probe point in forward order, Z's included (``layers``; empty otherwise)."""

    epoch: int
    accuracy: float
    values: dict[str, float]
    layers: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class DSEResult:
    config: DSEConfig
    runs: dict[str, list[Checkpoint]]
    num_classes: int
    train_seconds: float = 0.0
    measure_seconds: float = 0.0
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def series(self, run: str, key: str, layer: str | None = None) -> list[float]:
        """``key`` (a measure or 'accuracy') of ``run`` at every checkpoint; of Z, or of probe point ``layer``."""
        if key == "accuracy":
            return [c.accuracy for c in self.runs[run]]
        return [c.values[key] if layer is None else c.layers[layer][key] for c in self.runs[run]]

    @property
    def layers(self) -> list[str]:
        """Every probe point measured (``layers = all``), Z's included, in forward order; empty otherwise."""
        return list(self.runs[RUNS[0]][0].layers)

    def summary(self) -> dict[str, Any]:
        return {"runs": {k: [asdict(c) for c in v] for k, v in self.runs.items()}, "num_classes": self.num_classes,
                "train_seconds": self.train_seconds, "measure_seconds": self.measure_seconds,
                "config": asdict(self.config), "run_id": self.run_id}


# -- the experiment ----------------------------------------------------------------------------------------

def run(config: DSEConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> DSEResult:
    """Both training runs, measured at every checkpoint; recorded in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: DSEConfig, sink: Run | None, progress: bool | None) -> DSEResult:
    train, test = classification_data(config), classification_data(config, split="test")
    if config.eval_points > len(test.x):
        raise ConfigError("eval_points", f"is {config.eval_points} but the test split has {len(test.x)} images")
    chosen = torch.randperm(len(test.x), generator=torch.Generator().manual_seed(config.seed))[:config.eval_points]
    x_eval, y_eval = test.x[chosen], test.y[chosen]
    if len(torch.unique(y_eval)) < test.num_classes:
        raise ConfigError("eval_points", f"= {config.eval_points} leaves a class out of the evaluation set; pass "
                                         f"more so that every class of the {test.num_classes} is measured")
    x_clusters = reference_clusters(x_eval.flatten(1), n_clusters=test.num_classes, seed=config.seed)
    permuted = train.y[torch.randperm(len(train.y), generator=torch.Generator().manual_seed(config.seed))]
    result, clock = DSEResult(config, {}, test.num_classes), SplitClock()
    for name, labels in zip(RUNS, (train.y, permuted)):
        result.runs[name] = _train_and_measure(config, name, train.x, labels, (x_eval, y_eval, x_clusters), test,
                                               result, clock, sink, progress)
    result.train_seconds, result.measure_seconds = clock.train_seconds, clock.measure_seconds
    return result


def _train_and_measure(config: DSEConfig, name: str, x: torch.Tensor, y: torch.Tensor, evaluation: tuple,
                       test: Any, result: DSEResult, clock: SplitClock, sink: Run | None,
                       progress: bool | None) -> list[Checkpoint]:
    x_eval, y_eval, x_clusters = evaluation
    model = build_model("mlp", in_features=int(np.prod(x.shape[1:])), num_classes=result.num_classes,
                        hidden_dim=config.hidden_dim, depth=config.depth, seed=config.seed).to(config.device)
    points = probe_points(model)
    penultimate = points[-2]
    measured = points if config.layers == "all" else [penultimate]
    checkpoints: list[Checkpoint] = []

    def measure(state: TrainState) -> None:
        features = capture(state.model, x_eval, measured)
        by_layer = {layer: _measures(features[layer], y_eval, x_clusters, config) for layer in measured}
        accuracy = float(evaluate(state.model, test.x, test.y, 1024)["accuracy"])
        checkpoints.append(Checkpoint(state.step.epoch, accuracy, by_layer[penultimate],
                                      by_layer if config.layers == "all" else {}))
        if sink is not None:
            step, epoch = state.step.iteration, state.step.epoch
            sink.log_many([(step, f"{name}/{layer}", key, value, epoch) for layer, values in by_layer.items()
                           for key, value in values.items()] + [(step, name, "test_accuracy", accuracy, epoch)])

    train_config = TrainConfig(optimizer=config.optimizer, lr=config.lr, batch_size=config.batch_size, epochs=config.epochs,
                               stop_loss=None, seed=config.seed, device=config.device, progress=progress)
    outcome = clock.fit(Trainer(model, x, y, train_config, callbacks=[clock.measuring(measure)],
                                schedule=Schedule.log_spaced(config.checkpoints, config.epochs, unit="epoch")))
    if outcome.diverged:
        result.diverged, result.message = True, f"the {name}-label run: {outcome.message}"
    return checkpoints


def _measures(Z: torch.Tensor, y_eval: torch.Tensor, x_clusters: torch.Tensor, config: DSEConfig) -> dict[str, float]:
    """DSE(Z), CSE(Z), and DSMI/CSMI of Z against the true labels (``_zy``) and the input clusters (``_zx``)."""
    with warnings.catch_warnings():  # a negative binned MI is reported as 0 (see binned_mutual_information)
        warnings.simplefilter("ignore", NegativeEstimateWarning)
        return {"dse": diffusion_spectral_entropy(Z, config.sigma, config.t, seed=config.seed),
                "cse": binned_entropy(Z, config.bins),
                "dsmi_zy": diffusion_spectral_mutual_information(Z, clusters=y_eval, sigma=config.sigma, t=config.t,
                                                                 seed=config.seed),
                "csmi_zy": binned_mutual_information(Z, clusters=y_eval, bins=config.bins, seed=config.seed),
                "dsmi_zx": diffusion_spectral_mutual_information(Z, clusters=x_clusters, sigma=config.sigma,
                                                                 t=config.t, seed=config.seed),
                "csmi_zx": binned_mutual_information(Z, clusters=x_clusters, bins=config.bins, seed=config.seed)}


def from_summary(config: DSEConfig, summary: dict[str, Any], run_id: str) -> DSEResult:
    runs = {k: [Checkpoint(**c) for c in v] for k, v in summary["runs"].items()}
    return DSEResult(config, runs, summary["num_classes"], summary["train_seconds"], summary["measure_seconds"],
                     run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: DSEResult) -> list[Verdict]:
    dsmi, accuracy = result.series("true", "dsmi_zy"), result.series("true", "accuracy")
    rho = spearman(dsmi, accuracy)
    interval = bootstrap_interval(spearman, dsmi, accuracy, seed=result.config.seed)
    tracks = check_interval("DSMI(Z;Y) tracks test accuracy (true labels)", "Spearman rho(DSMI(Z;Y), accuracy)",
                            rho, interval, RHO_RANGE,
                            Evidence(len(dsmi), MIN_CHECKPOINTS, "checkpoints", "a correlation over training"))
    final = dsmi[-1]
    peak = max(result.series("shuffled", "dsmi_zy"))
    near_zero = check("DSMI(Z;Y_true) stays near zero on shuffled labels",
                      "largest shuffled-label DSMI(Z;Y) / final true-label DSMI(Z;Y)",
                      peak / final if final > 0 else float("nan"), SHUFFLED_FRACTION, "<=")
    chance = 1.0 / result.num_classes
    at_chance = check("accuracy stays at chance on shuffled labels", "final test accuracy (shuffled labels)",
                      result.series("shuffled", "accuracy")[-1], chance + CHANCE_MARGIN, "<=")
    return [tracks, near_zero, at_chance]


# -- output --------------------------------------------------------------------------------------------------

def report(result: DSEResult) -> str:
    c = result.config
    lines = [f"DSE/DSMI through training: {c.dataset} n={c.data_length}, MLP depth {c.depth} width {c.hidden_dim}, "
             f"{c.optimizer} lr {c.lr:g}, {c.epochs} epochs; Z = last hidden layer on {c.eval_points} test images, "
             f"sigma {c.sigma:g}, t {c.t:g}, CSE with {c.bins} bins per feature",
             f"time: training {result.train_seconds:.1f} s, measuring {result.measure_seconds:.1f} s"]
    for name in RUNS:
        lines += ["", f"{name} labels", f"{'epoch':>6} {'test acc':>8} " + " ".join(f"{m:>8}" for m in MEASURES)]
        for cp in result.runs[name]:
            lines.append(f"{cp.epoch:>6} {cp.accuracy:>8.4f} " + " ".join(f"{cp.values[m]:>8.3f}" for m in MEASURES))
    if result.layers:
        lines += ["", "every probe point at the last epoch",
                  f"{'run':>8} {'layer':>8} " + " ".join(f"{m:>8}" for m in MEASURES)]
        for name in RUNS:
            for layer, values in result.runs[name][-1].layers.items():
                lines.append(f"{name:>8} {layer:>8} " + " ".join(f"{values[m]:>8.3f}" for m in MEASURES))
    return "\n".join(lines)


def figure(result: DSEResult, path: str | Path) -> Path:
    """Per run: DSE, DSMI(Z;Y), DSMI(Z;X) (solid) and their binned counterparts (dashed) against epoch, with
    test accuracy on a second axis; with ``layers = all`` two more rows, DSE and DSMI(T;Y) of every probe
    point T against epoch (one line per layer)."""
    rows = 3 if result.layers else 1
    fig, grid = plt.subplots(rows, 2, figsize=(11, 3.8 * rows), sharey="row", squeeze=False)
    axes = grid[0]
    for ax, name in zip(axes, RUNS):
        epochs = [cp.epoch for cp in result.runs[name]]
        for key, binned, colour in (("dse", "cse", "C0"), ("dsmi_zy", "csmi_zy", "C1"), ("dsmi_zx", "csmi_zx", "C2")):
            ax.plot(epochs, result.series(name, key), color=colour, marker=".", label=key.upper())
            ax.plot(epochs, result.series(name, binned), color=colour, ls="--", label=binned.upper())
        twin = ax.twinx()
        twin.plot(epochs, result.series(name, "accuracy"), color="k", lw=1, label="test accuracy")
        twin.set_ylim(0, 1)
        twin.set_ylabel("test accuracy")
        ax.set_title(f"{name} labels")
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("bits")
    axes[0].legend(fontsize=7, ncol=2)
    for row, (key, label) in zip(grid[1:], (("dse", "DSE(T)"), ("dsmi_zy", "DSMI(T;Y)"))):
        for ax, name in zip(row, RUNS):
            epochs = [cp.epoch for cp in result.runs[name]]
            for layer in result.layers:
                ax.plot(epochs, result.series(name, key, layer), marker=".", label=layer)
            ax.set_title(f"{name} labels: {label} of every probe point", fontsize=9)
            ax.set_xlabel("epoch")
        row[0].set_ylabel(f"{label} (bits)")
        row[0].legend(fontsize=7)
    return save_figure(fig, path, dpi=100)


STUDY = Study(
    name=NAME, claim=CLAIM, config=DSEConfig,
    presets={
        "quick": Preset("MLP depth 4 width 128 on 2,000 embedded MNIST images at 10x10, Adam 1e-3, 40 epochs, true "
                        "and shuffled labels; Z on 500 test images at about 12 log-spaced epochs"),
        "paper": Preset("GPU run: the seed's training recipe where an MLP allows it: CIFAR-10 under --root (50,000 "
                        "images, 32x32), AdamW at 1e-4, batch 128, 200 epochs, Z on 10,000 test images; "
                        "their ResNet-50/ViT backbones and 224-pixel resizing are not reproduced",
                        {"dataset": "cifar10", "data_length": 50000, "data_size": None, "hidden_dim": 512,
                         "optimizer": "adamw", "lr": 1e-4, "batch_size": 128, "epochs": 200, "checkpoints": 30, "eval_points": 10000}),
        "tiny": Preset("seconds, for tests: 200 digits, width 32, 12 epochs, 6 checkpoints, 100 test points",
                       {"dataset": "digits", "data_length": 200, "data_size": 8, "hidden_dim": 32, "depth": 3,
                        "epochs": 12, "checkpoints": 6, "eval_points": 100, "batch_size": 50}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=16,
    below_minimum={"checkpoints": 2},
)
