"""The equi-separation law (He & Su, "A Law of Data Separation in Deep Learning", PNAS 2023).

Claim: in a trained feed-forward network the separation fuzziness D_l = Tr(SS_w · SS_b^+) of the
representation at layer l decays geometrically with depth, log D_l ≈ log D_0 + l · log ρ, so the
Pearson correlation between the layer index and log D_l is close to −1 (the paper's criterion:
r ≤ −0.99). D is measured on the raw input (layer 0) and each hidden post-activation, not on the
logits, on the training subset with the model in eval mode.

``run(config, store)`` trains and measures; ``verdict(result)`` checks the claim; ``figure``
draws log D per layer with the fitted line.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepscope.data import Dataset, load_dataset
from deepscope.errors import DeepscopeError
from deepscope.metrics.collapse import neural_collapse
from deepscope.metrics.registry import compute
from deepscope.metrics.separation import SeparationFit, layerwise_separation
from deepscope.models import build_model
from deepscope.probe.callback import MetricProbe
from deepscope.probe.capture import capture
from deepscope.store import Store
from deepscope.studies.verdict import Verdict, check
from deepscope.train import Schedule, TrainConfig, Trainer, TrainResult

STUDY = "esl"
THRESHOLD = -0.99  # the paper's criterion on the Pearson correlation of (layer, log D)

# The seed's dataset names, accepted alongside deepscope's registry names.
DATASET_ALIASES = {"mnist": "mnist", "fashionmnist": "fashion-mnist", "fakedata": "fakedata", "cifar10": "cifar10"}


@dataclass
class ESLConfig:
    """One ESL experiment. Defaults are the seed README's quick start."""

    dataset: str = field(default="mnist", metadata={
        "help": "data set: mnist (embedded 5k subset, or full IDX under --root), fashion-mnist, fakedata, cifar10 "
                "(converted to grayscale), or any name from `deepscope datasets`"})
    data_length: int = field(default=1000, metadata={"help": "number of training samples (random subset)"})
    batch_size: int = field(default=100, metadata={"help": "mini-batch size (>= data_length: full batch)"})
    data_size: int = field(default=10, metadata={"help": "resize images to data_size x data_size"})
    hidden_dim: int = field(default=100, metadata={"help": "width of every hidden layer"})
    depth: int = field(default=6, metadata={"help": "number of linear layers (depth-1 hidden layers)"})
    width_list: list[int] | None = field(default=None, metadata={
        "help": "hidden widths, one per hidden layer (overrides hidden_dim and depth)"})
    p: float = field(default=0.05, metadata={"help": "dropout probability after each hidden layer"})
    activation: str = field(default="relu", metadata={"help": "hidden activation", "choices": ["relu", "tanh"]})
    batchnorm: bool = field(default=True, metadata={"help": "BatchNorm1d before every Linear, as in the paper"})
    opt: str = field(default="adam", metadata={"help": "optimizer", "choices": ["adam", "sgd", "adamw"]})
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    momentum: float = field(default=0.0, metadata={"help": "SGD momentum"})
    weight_decay: float = field(default=0.0, metadata={"help": "weight decay (L2 for adam/sgd, decoupled for adamw)"})
    num_epochs: int = field(default=100, metadata={"help": "maximum number of epochs"})
    stop_loss: float | None = field(default=1e-3, metadata={"help": "stop when the epoch train loss falls below"})
    seed: int = field(default=0, metadata={"help": "seed of the data subset, the initialisation and the batches"})
    device: str = field(default="cpu", metadata={"help": "cpu or cuda"})
    root: str | None = field(default=None, metadata={"help": "directory holding data files (IDX, CIFAR batches)"})
    measure_on: str = field(default="train", metadata={
        "help": "where D is measured: the training subset (as in the paper) or the test split",
        "choices": ["train", "test"]})
    metrics: list[str] = field(default_factory=list, metadata={
        "help": "extra per-layer metrics, comma-separated (see `deepscope metrics --list`)"})
    every: int | None = field(default=None, metadata={
        "help": "also measure every k epochs during training (None: only at the end)"})

    def dataset_name(self) -> str:
        key = self.dataset.lower().replace("_", "").replace("-", "")
        return DATASET_ALIASES.get(key, self.dataset)

    def hidden_widths(self) -> list[int]:
        if self.width_list is not None:
            return list(self.width_list)
        if self.depth < 2:
            raise DeepscopeError(f"depth must be >= 2 to have a hidden layer to measure; got {self.depth}.")
        return [self.hidden_dim] * (self.depth - 1)


@dataclass
class ESLResult:
    """What one ESL run measured. ``history`` holds (iteration, layer, metric, value) checkpoint rows."""

    config: ESLConfig
    layers: list[str]
    log_d: list[float]
    slope: float
    intercept: float
    ratio: float
    pearson_r: float
    r2: float
    nc: dict[str, float | None]
    epochs_run: int
    iterations: int
    final_train_loss: float
    train_seconds: float
    diverged: bool
    run_id: str | None = None
    reused: bool = False
    message: str = ""
    extra: dict[str, dict[str, float]] = field(default_factory=dict)
    history: list[tuple[int, str, str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON object `deepscope esl --json` prints."""
        return {
            "log_d": self.log_d, "layers": self.layers, "slope": self.slope, "intercept": self.intercept,
            "ratio": self.ratio, "pearson_r": self.pearson_r, "r2": self.r2, "epochs_run": self.epochs_run,
            "iterations": self.iterations,
            "final_train_loss": self.final_train_loss, "train_seconds": self.train_seconds,
            "diverged": self.diverged, "run_id": self.run_id, "reused": self.reused, "nc": self.nc,
            "metrics": self.extra, "verdict": verdict(self).to_dict(), "config": asdict(self.config),
        }


# -- the steps of one experiment, shared by `run` and the seed-compatible `ESL` class ------------------

def load_data(config: ESLConfig, split: str = "train", dataset: Any = None) -> Dataset:
    """The training subset (or the test split) the experiment uses."""
    name = dataset if dataset is not None else config.dataset_name()
    grayscale = isinstance(name, str) and name == "cifar10"
    n = config.data_length if split == "train" else None
    return load_dataset(name, n=n, size=config.data_size, grayscale=grayscale, seed=config.seed, split=split,
                        root=config.root, device=config.device)


def build(config: ESLConfig, data: Dataset) -> nn.Module:
    """The MLP for this data; initialised from ``config.seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_model("mlp", in_features=math.prod(data.input_shape), num_classes=data.num_classes,
                           hidden=config.hidden_widths(), p=config.p, activation=config.activation,
                           batchnorm=config.batchnorm)


def train_config(config: ESLConfig, progress: bool | None = None) -> TrainConfig:
    return TrainConfig(optimizer=config.opt, lr=config.lr, momentum=config.momentum,
                       weight_decay=config.weight_decay, batch_size=config.batch_size, epochs=config.num_epochs,
                       stop_loss=config.stop_loss, seed=config.seed, device=config.device, progress=progress)


def measured_points(model: nn.Module) -> list[str]:
    """The seed's layers: the raw input and every hidden post-activation, not the logits."""
    return [name for name in model.probe_points() if name != "logits"]


def measure(model: nn.Module, data: Dataset) -> tuple[SeparationFit, dict[str, torch.Tensor]]:
    """log D per measured layer and its log-linear fit, plus the captured features."""
    features = capture(model, data.x, measured_points(model))
    return layerwise_separation(features, data.y), features


def collapse_of_last_hidden(model: nn.Module, features: dict[str, torch.Tensor], y: torch.Tensor
                            ) -> dict[str, float | None]:
    """NC1-NC4 of the last hidden layer against the model's effective (BatchNorm-folded) classifier."""
    weight, bias = model.effective_classifier()
    last = list(features)[-1]
    return neural_collapse(features[last], y, weight=weight, bias=bias).as_metrics()


# -- the study ---------------------------------------------------------------------------------------------

def run(config: ESLConfig, store: Store | None = None, *, force: bool = False, progress: bool | None = None,
        dataset: Any = None) -> ESLResult:
    """Train the MLP, measure log D per layer, fit the law; record everything in ``store``."""
    if store is not None:
        handle = store.start(STUDY, asdict(config), seed=config.seed, force=force)
        if handle.reused:
            return from_summary(config, handle.results()["summary"], handle.id)
        with handle:
            result = _run(config, progress, dataset, sink=handle.log)
            result.run_id = handle.id
            _log_final(handle, result)
            if result.diverged:
                handle.diverge(result.message)
            else:
                handle.finish({"summary": result.summary()})
            return result
    return _run(config, progress, dataset)


def _run(config: ESLConfig, progress: bool | None, dataset: Any, sink=None) -> ESLResult:
    data = load_data(config, dataset=dataset)
    eval_data = data if config.measure_on == "train" or dataset is not None else load_data(config, "test")
    model = build(config, data)
    names = ["separation", *config.metrics]
    probe = MetricProbe(eval_data.x, eval_data.y, names, measured_points(model), sink=sink, final=False)
    schedule = Schedule.periodic(config.every, unit="epoch") if config.every else None
    trainer = Trainer(model, data.x, data.y, train_config(config, progress), callbacks=[probe] if schedule else [],
                      schedule=schedule)
    outcome: TrainResult = trainer.fit()
    if outcome.diverged:
        nan = math.nan
        return ESLResult(config, [], [], nan, nan, nan, nan, nan, {}, outcome.epochs_run, outcome.iterations,
                         outcome.final_train_loss, outcome.train_seconds, True, message=outcome.message,
                         history=probe.rows)
    fit, features = measure(model, eval_data)
    extra = compute(features, eval_data.y, config.metrics) if config.metrics else {}
    return ESLResult(config, fit.layers, fit.log_d, fit.slope, fit.intercept, fit.ratio, fit.pearson_r, fit.r2,
                     collapse_of_last_hidden(model, features, eval_data.y), outcome.epochs_run,
                     outcome.iterations, outcome.final_train_loss, outcome.train_seconds, False, extra=extra,
                     history=probe.rows)


def _log_final(handle, result: ESLResult) -> None:
    """The final model's numbers, at step = iterations run (checkpoint rows were streamed by the probe)."""
    final = result.iterations
    for layer, value in zip(result.layers, result.log_d):
        handle.log(final, layer, "log_d", value)
    for name in ("slope", "intercept", "ratio", "pearson_r", "r2", "final_train_loss", "train_seconds"):
        handle.log(final, "", name, getattr(result, name))
    for name, value in result.nc.items():
        if value is not None:
            handle.log(final, result.layers[-1] if result.layers else "", name, value)
    for layer, values in result.extra.items():
        for name, value in values.items():
            handle.log(final, layer, name, value)


def from_summary(config: ESLConfig, summary: dict[str, Any], run_id: str) -> ESLResult:
    """Rebuild a finished run's result from the store instead of training again."""
    keys = ("layers", "log_d", "slope", "intercept", "ratio", "pearson_r", "r2", "nc", "epochs_run",
            "iterations", "final_train_loss", "train_seconds", "diverged")
    return ESLResult(config, **{k: summary[k] for k in keys}, run_id=run_id, reused=True,
                     extra=summary.get("metrics", {}))


def verdict(result: ESLResult) -> Verdict:
    """The law holds when Pearson r(layer, log D) <= -0.99."""
    return check("log D decays linearly with depth (equi-separation law)", "Pearson r", result.pearson_r,
                 THRESHOLD, "<=")


def figure(result: ESLResult, path: str | Path, title: str | None = None) -> Path:
    """log D per layer with the least-squares line and r in the legend (3 significant digits)."""
    from deepscope.report.figures import plot_separation
    return plot_separation(result.log_d, result.slope, result.intercept, result.pearson_r, path,
                           title=title or f"{result.config.dataset}: {len(result.log_d)} layers")
