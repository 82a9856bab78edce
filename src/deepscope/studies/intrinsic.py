"""Intrinsic dimension (ID) of every layer through training (Ansuini, Laio, Macke & Zoccolan, "Intrinsic
dimension of data representations in deep neural networks", NeurIPS 2019; Brown, Juravsky, Caterini &
Loaiza-Ganem, "Relating Regularization and Generalization through the Intrinsic Dimension of Activations",
arXiv 2211.13239, 2022 — the ``act_ids`` seed, seeds.md §3).

At each checkpoint of a log-spaced schedule (step 0 and the trained model included) one capture of the
probe points on a fixed evaluation set (up to ``id_per_class`` images per class of the test split, as
act_ids' ``combined_total_per_class``) feeds every layer's TwoNN estimate, in act_ids' variant
(:func:`deepscope.metrics.intrinsic_dim.twonn`: drop r1 = 0 and r1 = r2, fit the smallest ``fraction``
of the ratios through the origin, mean over ``nres`` resamples of ``subsample`` of the points). The ID of
the (normalised) inputs is measured once. With the paper's meanings (the seed's README swaps them):

    LLID(t) = ID of the last hidden layer at step t,    PID(t) = max over the hidden layers of their ID.

Verdicts (thresholds fixed here before any run):

- hunchback (Ansuini et al. 2019): on the trained network the ID profile over depth rises then falls: the
  peak ID is at least ``HUNCH_MARGIN`` × the input's ID and at least ``HUNCH_MARGIN`` × the LLID, i.e.
  min(PID / ID_input, PID / LLID) >= 1.05 (5% above the resampling noise of TwoNN, a few per cent);
  at least ``MIN_LAYERS`` hidden layers;
- LLID falls over training after its early rise (Brown et al. 2022, Fig. 1/5): LLID at the last checkpoint
  is at most ``LLID_FALL`` = 0.9 of its largest value over the run (at least ``MIN_CHECKPOINTS``); the
  detail says whether and how far it rose first.

Dropout (``dropout``) follows act_ids: after every hidden probe point (ResNet-18: each stage's output,
and before the classifier — the seed's runs had ``fc_dropout`` equal to ``block_dropout``, its bug 1),
so the measured activations are those before dropout and dropout is off when they are captured.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.intrinsic_dim import twonn
from deepscope.models import build_model
from deepscope.probe import capture
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check
from deepscope.train import Augment, Schedule, TrainConfig, Trainer, TrainState
from deepscope.train.config import check_device
from deepscope.train.optim import OPTIMIZERS

NAME = "id"
CLAIM = ("The intrinsic dimension of a trained network's layers rises then falls over depth, and the last hidden "
         "layer's ID falls during training after an early rise (Ansuini et al., NeurIPS 2019; Brown et al. 2022).")
HUNCH_MARGIN = 1.05     # min(PID / ID_input, PID / LLID) on the trained net must be at least this
LLID_FALL = 0.9         # final LLID / largest LLID over the run must be at most this
MIN_LAYERS = 2          # hidden layers a rise-then-fall profile needs (input < peak > last)
MIN_CHECKPOINTS = 4     # checkpoints a rise-then-fall over training needs
OUTPUT = "logits"       # the output probe point: not a hidden layer (its ID is measured only when asked)
MODELS = ("lenet", "mlp", "resnet18")


@dataclass
class IDConfig:
    """One training run with the ID of every layer at each checkpoint. Defaults: the quick CPU preset."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(4000, "training samples (stratified subset)", min=1)
    data_size: int | None = setting(None, "resize images to data_size x data_size (none: as stored)", min=1)
    model: str = setting("lenet", "network: lenet (CNN), mlp (hidden widths --hidden) or resnet18 (act_ids)",
                         choices=MODELS)
    hidden: list[int] = setting([512, 512, 256, 128], "hidden widths of the mlp (mlp only; no BatchNorm)",
                                item_min=1)
    width: int = setting(64, "channels of resnet18's first stage (resnet18 only; act_ids: 64)", min=1)
    dropout: float = setting(0.0, "dropout after every hidden probe point (act_ids' block_dropout)", min=0, lt=1)
    optimizer: str = setting("sgd", "optimizer", choices=OPTIMIZERS)
    lr: float = setting(0.05, "learning rate", gt=0)
    momentum: float = setting(0.9, "SGD momentum", min=0, lt=1)
    weight_decay: float = setting(5e-4, "weight decay (L2 in the gradient for sgd/adam, decoupled for adamw)", min=0)
    batch_size: int = setting(128, "mini-batch size", min=1)
    epochs: int = setting(10, "training epochs", min=1)
    lr_milestones: list[int] | None = setting(None, "epochs at which the lr is multiplied by --lr-gamma "
                                                    "(none: constant lr)", item_min=1, distinct=True)
    lr_gamma: float = setting(0.2, "lr factor at each milestone (act_ids' MultiStepLR: 0.2)", gt=0, max=1)
    augment: bool = setting(False, "random crop (padding 4) and horizontal flip of training images")
    checkpoints: int = setting(12, "log-spaced checkpoints from step 0 to the last step", min=2)
    steps: list[int] | None = setting(None, "explicit checkpoint iterations instead of --checkpoints", item_min=0,
                                      distinct=True)
    layers: list[str] | None = setting(None, "probe points to measure (none: every hidden one; `deepscope models`)")
    id_per_class: int = setting(1000, "evaluation images per class of the test split (act_ids: 1,000)", min=1)
    nres: int = setting(20, "TwoNN resamples per estimate (act_ids: 20)", min=1)
    subsample: float = setting(0.9, "share of the evaluation points in each resample (act_ids: 0.9)", gt=0, max=1)
    fraction: float = setting(0.9, "share of the sorted ratios r2/r1 kept in the TwoNN fit (act_ids: 0.9)",
                              gt=0, max=1)
    seed: int = setting(0, "seed of the data subset, the initialisation, the training and the resamples", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


def iterations(config: IDConfig) -> int:
    """Updates in the run: epochs × ⌈data_length / batch_size⌉."""
    return config.epochs * math.ceil(config.data_length / min(config.batch_size, config.data_length))


def checkpoint_steps(config: IDConfig) -> list[int]:
    """The checkpoint iterations: ``steps`` as given, or ``checkpoints`` log-spaced from 0 to the last step."""
    if config.steps is not None:
        return sorted(config.steps)
    return sorted(Schedule.log_spaced(config.checkpoints, iterations(config)).points)


def _probe_names(config: IDConfig) -> list[str]:
    """The model's probe points (built on a stand-in input shape: the names do not depend on it)."""
    return list(_build(config, channels=1, side=32, features=4, classes=2).probe_points())


def check_config(config: IDConfig) -> None:
    """Rules across settings, checked before anything is loaded or trained."""
    last = iterations(config)
    if config.steps is not None and max(config.steps) > last:
        raise ConfigError("steps", f"asks for iteration {max(config.steps)} but the run has {last} iterations "
                                   f"({config.epochs} epochs x {math.ceil(last / config.epochs)} per epoch); "
                                   f"pass steps up to {last} or more --epochs")
    if config.lr_milestones is not None and max(config.lr_milestones) >= config.epochs:
        raise ConfigError("lr_milestones", f"names epoch {max(config.lr_milestones)} but the run has "
                                           f"{config.epochs} epochs; pass milestones below --epochs")
    if config.nres > 1 and config.subsample >= 1:
        raise ConfigError("subsample", f"is {config.subsample:g}, so the {config.nres} resamples (--nres) would all "
                                       f"be the same points; pass a share below 1 (act_ids: 0.9) or --nres 1")
    if config.layers is not None:
        names = _probe_names(config)
        unknown = [name for name in config.layers if name not in names]
        if unknown:
            raise ConfigError("layers", f"names {', '.join(map(repr, unknown))}, not probe points of "
                                        f"{config.model}; choose among {', '.join(names)}")
        if not [name for name in config.layers if name not in ("input", OUTPUT)]:
            raise ConfigError("layers", f"names no hidden layer of {config.model}; LLID and PID need at least one "
                                        f"of {', '.join(n for n in names if n not in ('input', OUTPUT))}")


# -- the experiment ----------------------------------------------------------------------------------------

def _build(config: IDConfig, *, channels: int, side: int, features: int, classes: int) -> nn.Module:
    if config.model == "lenet":
        return build_model("lenet", in_channels=channels, num_classes=classes, input_size=side, seed=config.seed)
    if config.model == "resnet18":
        return build_model("resnet18", in_channels=channels, num_classes=classes, width=config.width,
                           block_dropout=config.dropout, fc_dropout=config.dropout, seed=config.seed)
    return build_model("mlp", in_features=features, num_classes=classes, hidden=config.hidden, p=config.dropout,
                       batchnorm=False, seed=config.seed)


def _dropout_hook(p: float):
    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return F.dropout(output, p, training=module.training)
    return hook


def _model(config: IDConfig, x: torch.Tensor, classes: int) -> nn.Module:
    """The network for inputs ``x``; for lenet, dropout after each hidden probe point by forward hooks
    (resnet18 and mlp have their own dropout layers)."""
    if config.model in ("lenet", "resnet18") and x.ndim != 4:
        raise ConfigError("model", f"{config.model} takes images [n, C, H, W] but {config.dataset} gives samples of "
                                   f"shape {tuple(x.shape[1:])}; pick --model mlp or an image data set")
    if config.model == "lenet" and (x.shape[-1] != x.shape[-2] or x.shape[-1] < 16):
        raise ConfigError("model", f"lenet needs square images of at least 16x16; got {tuple(x.shape[2:])}. Pass "
                                   f"--data-size 28 or larger")
    model = _build(config, channels=x.shape[1] if x.ndim == 4 else 1, side=x.shape[-1], features=x[0].numel(),
                   classes=classes).to(config.device)
    if config.model == "lenet" and config.dropout > 0:
        for name, module in model.probe_points().items():
            if name != OUTPUT:
                module.register_forward_hook(_dropout_hook(config.dropout))
    return model


def evaluation_set(y: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first ``per_class`` samples of each class, in their original order."""
    keep = torch.zeros(len(y), dtype=torch.bool, device=y.device)
    for c in torch.unique(y):
        keep[torch.nonzero(y == c).flatten()[:per_class]] = True
    return torch.nonzero(keep).flatten()


def _data(config: IDConfig):
    """Training (x, y, classes) and the evaluation (x, y), both standardised with the training statistics."""
    train = classification_data(config, normalize=True)
    test = classification_data(config, split="test")
    shape = (1, -1, 1, 1) if test.x.ndim == 4 else (1, -1)
    mean, std = train.meta["normalize_mean"], train.meta["normalize_std"]
    x_eval = (test.x - mean.view(shape)) / torch.where(std > 0, std, torch.ones_like(std)).view(shape)
    keep = evaluation_set(test.y, config.id_per_class)
    return train.x, train.y, train.num_classes, x_eval[keep], test.y[keep]


@dataclass
class IDResult:
    """The ID of every measured layer at every checkpoint, the input's ID and the evaluation accuracy."""

    config: IDConfig
    steps: list[int]
    layers: list[str]
    ids: dict[str, list[float]]
    stds: dict[str, list[float]]
    input_id: float
    input_std: float
    accuracy: list[float]
    n_eval: int
    train_loss: float = math.nan
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    @property
    def hidden(self) -> list[str]:
        """The measured hidden layers, in forward order (LLID is the last, PID the peak)."""
        return [name for name in self.layers if name not in ("input", OUTPUT)]

    @property
    def llid(self) -> list[float]:
        """LLID at each checkpoint: the ID of the last hidden layer."""
        return list(self.ids[self.hidden[-1]]) if self.hidden else []

    @property
    def pid(self) -> list[float]:
        """PID at each checkpoint: the largest ID over the hidden layers."""
        return [max(self.ids[name][i] for name in self.hidden) for i in range(len(self.steps))] if self.hidden else []

    def profile(self, i: int = -1) -> list[float]:
        """The ID over depth at checkpoint ``i``: the input's, then each hidden layer's."""
        return [self.input_id, *(self.ids[name][i] for name in self.hidden)]

    def summary(self) -> dict[str, Any]:
        return {"steps": self.steps, "layers": self.layers, "ids": self.ids, "stds": self.stds,
                "input_id": self.input_id, "input_std": self.input_std, "accuracy": self.accuracy,
                "n_eval": self.n_eval, "train_loss": self.train_loss, "llid": self.llid, "pid": self.pid,
                "llid_layer": self.hidden[-1] if self.hidden else None, "run_id": self.run_id,
                "config": asdict(self.config)}


@dataclass
class _Monitor:
    """Trainer callback: at an ID checkpoint one capture feeds every layer's TwoNN and the accuracy."""

    config: IDConfig
    x: torch.Tensor
    y: torch.Tensor
    points: list[str]
    id_steps: set[int]
    result: IDResult
    sink: Run | None
    done: set[int] = field(default_factory=set)

    def __call__(self, state: TrainState) -> None:
        step = state.step.iteration
        if step in self.id_steps and step not in self.done:
            self.done.add(step)
            self._measure(state.model, step, state.step.epoch)

    def _measure(self, model: nn.Module, step: int, epoch: int) -> None:
        c = self.config
        features = capture(model, self.x, self.points, batch_size=256)
        accuracy = float((features[OUTPUT].argmax(1) == self.y).float().mean())
        rows = [(step, "model", "val_accuracy", accuracy, epoch)]
        self.result.steps.append(step)
        self.result.accuracy.append(accuracy)
        for name in self.result.layers:
            estimate = twonn(features[name], c.fraction, c.nres, c.subsample, c.seed)
            self.result.ids[name].append(estimate.dimension)
            self.result.stds[name].append(estimate.std)
            rows += [(step, name, "twonn", estimate.dimension, epoch), (step, name, "twonn_std", estimate.std, epoch)]
        if self.sink is not None:
            self.sink.log_many(rows)


def run(config: IDConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> IDResult:
    """Train once, measuring the ID of every layer at each checkpoint; record everything in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: IDConfig, sink: Run | None, progress: bool | None) -> IDResult:
    x, y, classes, x_eval, y_eval = _data(config)
    model = _model(config, x, classes)
    names = list(model.probe_points())
    layers = config.layers or [name for name in names if name not in ("input", OUTPUT)]
    layers = [name for name in names if name in layers]  # forward order
    n_sub = round(config.subsample * len(x_eval))
    if n_sub < 3:
        raise ConfigError("subsample", f"keeps {n_sub} of the {len(x_eval)} evaluation points; TwoNN needs at "
                                       f"least 3. Raise --subsample or --id-per-class")
    data_id = twonn(x_eval.flatten(1), config.fraction, config.nres, config.subsample, config.seed)
    if sink is not None:
        sink.log_many([(0, "input", "twonn", data_id.dimension, 0), (0, "input", "twonn_std", data_id.std, 0)])
    result = IDResult(config, [], layers, {n: [] for n in layers}, {n: [] for n in layers}, data_id.dimension,
                      data_id.std, [], len(x_eval))
    train = TrainConfig(optimizer=config.optimizer, lr=config.lr, momentum=config.momentum,
                        weight_decay=config.weight_decay, batch_size=config.batch_size, epochs=config.epochs,
                        lr_milestones=config.lr_milestones, lr_gamma=config.lr_gamma, stop_loss=None,
                        seed=config.seed, device=config.device, progress=progress,
                        augment=Augment() if config.augment and x.ndim == 4 else None)
    id_steps = set(checkpoint_steps(config))
    monitor = _Monitor(config, x_eval, y_eval, list(dict.fromkeys([*layers, OUTPUT])), id_steps, result, sink)
    outcome = Trainer(model, x, y, train, callbacks=[monitor], schedule=Schedule.at(id_steps)).fit()
    result.train_loss = outcome.final_train_loss
    result.diverged, result.message = outcome.diverged, outcome.message
    return result


def from_summary(config: IDConfig, summary: dict[str, Any], run_id: str) -> IDResult:
    return IDResult(config, summary["steps"], summary["layers"], summary["ids"], summary["stds"],
                    summary["input_id"], summary["input_std"], summary["accuracy"], summary["n_eval"],
                    summary["train_loss"], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def hunchback(result: IDResult) -> Verdict:
    """min(PID / ID_input, PID / LLID) on the last checkpoint against ``HUNCH_MARGIN``."""
    claim = "the ID profile over depth rises then falls (hunchback)"
    quantity = "min(PID / input ID, PID / LLID), trained net"
    hidden = result.hidden
    evidence = Evidence(len(hidden), MIN_LAYERS, "hidden layers", "a rise then a fall")
    if not hidden or not result.steps:
        return check(claim, quantity, math.nan, HUNCH_MARGIN, ">=", evidence)
    last = [result.ids[name][-1] for name in hidden]
    peak = int(np.argmax(last))
    ratio = min(last[peak] / result.input_id, last[peak] / last[-1])
    verdict = check(claim, quantity, ratio, HUNCH_MARGIN, ">=", evidence)
    profile = ", ".join(f"{name} {value:.1f}" for name, value in zip(["input", *hidden], [result.input_id, *last]))
    return _with_detail(verdict, f"peak at {hidden[peak]}; ID: {profile}")


def llid_falls(result: IDResult) -> Verdict:
    """LLID at the last checkpoint over its largest value against ``LLID_FALL``."""
    claim = "LLID falls over training after its early rise"
    quantity = "final LLID / largest LLID"
    llid = result.llid
    evidence = Evidence(len(llid), MIN_CHECKPOINTS, "checkpoints", "a rise then a fall over training")
    if not llid:
        return check(claim, quantity, math.nan, LLID_FALL, "<=", evidence)
    peak = int(np.argmax(llid))
    verdict = check(claim, quantity, llid[-1] / llid[peak], LLID_FALL, "<=", evidence)
    rise = llid[peak] / llid[0]
    return _with_detail(verdict, f"LLID {llid[0]:.2f} at step 0, largest {llid[peak]:.2f} at step "
                                 f"{result.steps[peak]} (a rise of {100 * (rise - 1):.0f}%), {llid[-1]:.2f} at the end")


def _with_detail(verdict: Verdict, more: str) -> Verdict:
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; {more}", verdict.reason)


def verdict(result: IDResult) -> list[Verdict]:
    return [hunchback(result), llid_falls(result)]


# -- output --------------------------------------------------------------------------------------------------

def report(result: IDResult) -> str:
    c = result.config
    model = {"lenet": "LeNet-5", "mlp": f"MLP {c.hidden}", "resnet18": f"ResNet-18 (width {c.width})"}[c.model]
    lines = [f"intrinsic dimension through training: {c.dataset} n={c.data_length}, {model}"
             f"{f', dropout {c.dropout:g}' if c.dropout else ''}, {c.optimizer} lr {c.lr:g} wd {c.weight_decay:g}, "
             f"{c.epochs} epochs; TwoNN on {result.n_eval} test points ({c.nres} resamples of {c.subsample:g})",
             f"input ID {result.input_id:.2f} ± {result.input_std:.2f}", ""]
    width = max(9, *(len(n) + 1 for n in result.layers))
    lines.append(f"{'step':>7} {'val acc':>8}" + "".join(f"{n:>{width}}" for n in result.layers)
                 + f"{'LLID':>8}{'PID':>8}")
    llid, pid = result.llid, result.pid
    for i, step in enumerate(result.steps):
        lines.append(f"{step:>7} {result.accuracy[i]:>8.3f}" + "".join(f"{result.ids[n][i]:>{width}.2f}"
                                                                      for n in result.layers)
                     + (f"{llid[i]:>8.2f}{pid[i]:>8.2f}" if llid else ""))
    return "\n".join(lines)


def figure(result: IDResult, path: str | Path) -> Path:
    """Left: ID over depth at each checkpoint (colour = step). Right: LLID, PID and accuracy over steps."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    steps = np.asarray(result.steps)
    norm = plt.matplotlib.colors.Normalize(vmin=np.log1p(steps.min()), vmax=np.log1p(max(steps.max(), 1)))
    cmap = plt.get_cmap("viridis")
    names = ["input", *result.hidden]
    for i, step in enumerate(steps):
        left.plot(range(len(names)), result.profile(i), "o-", ms=3, color=cmap(norm(np.log1p(step))))
    left.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    left.set_ylabel("intrinsic dimension (TwoNN)")
    left.set_title("ID over depth; colour: step (log)", fontsize=9)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=left, label="log(1 + step)")
    x = steps + 1
    if result.hidden:
        right.plot(x, result.llid, "o-", ms=3, label=f"LLID ({result.hidden[-1]})")
        right.plot(x, result.pid, "s--", ms=3, label="PID")
    right.set_xscale("log")
    right.set_xlabel("step + 1")
    right.set_ylabel("intrinsic dimension")
    twin = right.twinx()
    twin.plot(x, result.accuracy, color="k", lw=1, label="val accuracy")
    twin.set_ylabel("validation accuracy")
    twin.set_ylim(0, 1)
    right.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower left", fontsize=8)
    return save_figure(fig, path, dpi=110)


STUDY = Study(
    name=NAME, claim=CLAIM, config=IDConfig,
    presets={
        "quick": Preset("LeNet-5 on 4,000 embedded MNIST digits, SGD lr 0.05 momentum 0.9 wd 5e-4, batch 128, "
                        "10 epochs; TwoNN (20 resamples of 0.9) of every layer on the 1,000 test digits at 12 "
                        "log-spaced checkpoints"),
        "paper": Preset("GPU run: act_ids' CIFAR-10 recipe (needs --root): ResNet-18, SGD 0.1 momentum 0.9 wd 5e-4, "
                        "batch 128, 200 epochs, lr x0.2 at epochs 60/120/160, crop+flip; ID on 1,000 test images per "
                        "class at 30 log-spaced checkpoints",
                        {"dataset": "cifar10", "data_length": 50000, "model": "resnet18", "lr": 0.1,
                         "epochs": 200, "lr_milestones": [60, 120, 160], "augment": True, "checkpoints": 30}),
        "paper-cifar100": Preset("GPU run: the same recipe on CIFAR-100 (100 test images per class; act_ids also "
                                 "rotates by up to 15 degrees, which deepscope's augmentation does not)",
                                 {"dataset": "cifar100", "data_length": 50000, "model": "resnet18", "lr": 0.1,
                                  "epochs": 200, "lr_milestones": [60, 120, 160], "augment": True,
                                  "checkpoints": 30}),
        "mlp-mnist1d": Preset("an MLP 512-512-256-128 on MNIST-1D for 30 epochs: a deeper stack than LeNet's, "
                              "on signals whose ID the first layer raises",
                              {"dataset": "mnist1d", "model": "mlp", "epochs": 30}),
        "tiny": Preset("seconds, for tests: an MLP 32-16 on 300 digits, 3 epochs, 5 checkpoints, 2 resamples",
                       {"dataset": "digits", "data_length": 300, "model": "mlp", "hidden": [32, 16], "epochs": 3,
                        "checkpoints": 5, "id_per_class": 20, "nres": 2}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=18,
    below_minimum={"checkpoints": 3, "layers": ["hidden2"]},
)
