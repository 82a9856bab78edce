"""The equi-separation law (He & Su, "A Law of Data Separation in Deep Learning", PNAS 2023).

Claim: in a trained feed-forward network the separation fuzziness D_l = Tr(SS_w · SS_b^+) of the
representation at layer l decays geometrically with depth, log D_l ≈ log D_0 + l · log ρ, so the
Pearson correlation between the layer index and log D_l is close to −1 (the paper's criterion:
r ≤ −0.99). D is measured on the raw input (layer 0) and each hidden post-activation, not on the
logits, on the training subset with the model in eval mode. A line through two points always has
|r| = 1, so the fit needs at least three layers (the paper uses four or more); with fewer the
verdict is UNDECIDED.

``run(config, store)`` trains and measures; ``verdict(result)`` checks the claim; ``figure``
draws log D per layer with the fitted line; ``report`` is the text ``deepscope esl`` prints.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data import Dataset
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.collapse import neural_collapse
from deepscope.metrics.registry import compute, resolve
from deepscope.metrics.separation import SeparationFit, layerwise_separation
from deepscope.models import build_model
from deepscope.probe.callback import MetricProbe
from deepscope.probe.capture import capture
from deepscope.store import Store
from deepscope.studies.base import Mode, Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check
from deepscope.train import Schedule, TrainConfig, Trainer, TrainResult
from deepscope.train.config import check_device
from deepscope.train.optim import OPTIMIZERS

NAME = "esl"
CLAIM = ("Every layer of a trained network shrinks class fuzziness by the same factor: log D falls linearly "
         "with depth, Pearson r(layer, log D) <= -0.99 (He & Su, PNAS 2023).")
THRESHOLD = -0.99  # the paper's criterion on the Pearson correlation of (layer, log D)
MIN_LAYERS = 3     # a fit through two points has |r| = 1 whatever the network does

# The seed's dataset names, accepted alongside deepscope's registry names.
DATASET_ALIASES = {"mnist": "mnist", "fashionmnist": "fashion-mnist", "fakedata": "fakedata", "cifar10": "cifar10"}


def _dataset_name(name: str) -> str:
    return DATASET_ALIASES.get(name.lower().replace("_", "").replace("-", ""), name)


def _check_dataset(name: str) -> None:
    get_dataset_info(_dataset_name(name))


@dataclass
class ESLConfig:
    """One ESL experiment. Defaults are the seed README's quick start."""

    dataset: str = setting("mnist", "data set: mnist (embedded 5k subset, or full IDX under --root), fashion-mnist, "
                                    "fakedata, cifar10 (converted to grayscale), or any name from `deepscope datasets`",
                           check=_check_dataset)
    data_length: int = setting(1000, "number of training samples (stratified random subset)", min=1)
    batch_size: int = setting(100, "mini-batch size (>= data_length: full batch)", min=1)
    data_size: int | None = setting(10, "resize images to data_size x data_size (images only; vectors and "
                                        "tokens are used as they are)", min=1)
    hidden_dim: int = setting(100, "width of every hidden layer", min=1)
    depth: int = setting(6, "number of linear layers (depth-1 hidden layers)", min=2)
    width_list: list[int] | None = setting(None, "hidden widths, one per hidden layer (overrides hidden_dim and "
                                                 "depth)", item_min=1)
    p: float = setting(0.05, "dropout probability after each hidden layer", min=0, lt=1)
    activation: str = setting("relu", "hidden activation", choices=("relu", "tanh"))
    batchnorm: bool = setting(True, "BatchNorm1d before every Linear, as in the paper")
    opt: str = setting("adam", "optimizer", choices=tuple(OPTIMIZERS))
    lr: float = setting(1e-3, "learning rate", gt=0)
    momentum: float = setting(0.0, "SGD momentum", min=0, lt=1)
    weight_decay: float = setting(0.0, "weight decay (L2 for adam/sgd, decoupled for adamw)", min=0)
    num_epochs: int = setting(100, "maximum number of epochs", min=1)
    stop_loss: float | None = setting(1e-3, "stop when the epoch train loss falls below", gt=0)
    seed: int = setting(0, "seed of the data subset, the initialisation and the batches", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)
    measure_on: str = setting("train", "where D is measured: the training subset (as in the paper) or the test split",
                              choices=("train", "test"))
    metrics: list[str] = setting([], "extra per-layer metrics, comma-separated (see `deepscope metrics --list`)",
                                 nonempty=False, check=resolve)
    every: int | None = setting(None, "also measure every k epochs during training (none: only at the end)", min=1)

    def dataset_name(self) -> str:
        return _dataset_name(self.dataset)

    def hidden_widths(self) -> list[int]:
        return list(self.width_list) if self.width_list is not None else [self.hidden_dim] * (self.depth - 1)


def check_config(config: ESLConfig) -> None:
    """Rules across fields: the measurement schedule must fit inside the training."""
    if config.every is not None and config.every > config.num_epochs:
        raise ConfigError("every", f"is {config.every} but training runs at most {config.num_epochs} epochs "
                                   f"(--num-epochs); measure every k <= {config.num_epochs} epochs")


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
    test_accuracy: float | None = None
    train_accuracy: float | None = None
    model: nn.Module | None = field(default=None, repr=False)
    activations: tuple[dict[str, torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The JSON object `deepscope esl --json` prints (the framework adds study, seconds, verdicts)."""
        return {
            "log_d": self.log_d, "layers": self.layers, "slope": self.slope, "intercept": self.intercept,
            "ratio": self.ratio, "pearson_r": self.pearson_r, "r2": self.r2, "epochs_run": self.epochs_run,
            "iterations": self.iterations, "final_train_loss": self.final_train_loss,
            "train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy,
            "train_seconds": self.train_seconds, "diverged": self.diverged, "run_id": self.run_id,
            "reused": self.reused, "nc": self.nc, "metrics": self.extra, "verdict": verdict(self).to_dict(),
            "config": asdict(self.config),
        }


# -- the steps of one experiment, shared by `run` and the seed-compatible `ESL` class ------------------

def load_data(config: ESLConfig, split: str = "train", dataset: Any = None) -> Dataset:
    """The training subset (or the whole test split) the experiment uses, as the MLP's inputs.

    Images are resized to ``data_size`` (CIFAR-10 made grayscale, as the seed does); token
    sequences are one-hot encoded; a too-large ``data_length`` is reported against that setting.
    """
    name = dataset if dataset is not None else config.dataset_name()
    return classification_data(config, split=split, name=name, grayscale=isinstance(name, str) and name == "cifar10")


def load_test(config: ESLConfig, dataset: Any = None) -> Dataset | None:
    """The held-out split for test accuracy (and ``measure_on='test'``), or None where the data has none."""
    if dataset is not None or not get_dataset_info(config.dataset_name()).has_test:
        if config.measure_on == "test":
            raise ConfigError("measure_on", f"is test but {config.dataset} has no test split here; measure on "
                                            f"train (or pass the test images as their own data set)")
        return None
    return load_data(config, "test")


def build(config: ESLConfig, data: Dataset) -> nn.Module:
    """The MLP for this data, initialised from ``config.seed`` (the global RNG is not touched)."""
    return build_model("mlp", in_features=math.prod(data.input_shape), num_classes=data.num_classes,
                       hidden=config.hidden_widths(), p=config.p, activation=config.activation,
                       batchnorm=config.batchnorm, seed=config.seed)


def train_config(config: ESLConfig, progress: bool | None = None) -> TrainConfig:
    return TrainConfig(optimizer=config.opt, lr=config.lr, momentum=config.momentum,
                       weight_decay=config.weight_decay, batch_size=config.batch_size, epochs=config.num_epochs,
                       stop_loss=config.stop_loss, seed=config.seed, device=config.device, progress=progress)


def measured_points(model: nn.Module) -> list[str]:
    """The seed's layers: the raw input and every hidden post-activation, not the logits."""
    return [name for name in model.probe_points() if name != "logits"]


def measure(model: nn.Module, data: Dataset) -> tuple[SeparationFit, dict[str, torch.Tensor]]:
    """log D per measured layer (in forward order) and its log-linear fit, plus the captured features."""
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
    return record(STUDY, config, store, lambda sink: _run(config, progress, dataset, sink), force=force)


def _run(config: ESLConfig, progress: bool | None, dataset: Any, sink=None) -> ESLResult:
    data = load_data(config, dataset=dataset)
    test = load_test(config, dataset)
    eval_data = test if config.measure_on == "test" else data
    model = build(config, data)
    names = ["log_d", *config.metrics]
    probe = MetricProbe(eval_data.x, eval_data.y, names, measured_points(model),
                        sink=None if sink is None else sink.log, final=False)
    schedule = Schedule.periodic(config.every, unit="epoch") if config.every else None
    trainer = Trainer(model, data.x, data.y, train_config(config, progress), callbacks=[probe] if schedule else [],
                      schedule=schedule, eval_x=None if test is None else test.x,
                      eval_y=None if test is None else test.y)
    outcome: TrainResult = trainer.fit()
    if outcome.diverged:
        nan = math.nan
        return ESLResult(config, [], [], nan, nan, nan, nan, nan, {}, outcome.epochs_run, outcome.iterations,
                         outcome.final_train_loss, outcome.train_seconds, True, message=outcome.message,
                         history=probe.rows, model=model)
    fit, features = measure(model, eval_data)
    extra = compute(features, eval_data.y, config.metrics) if config.metrics else {}
    result = ESLResult(config, fit.layers, fit.log_d, fit.slope, fit.intercept, fit.ratio, fit.pearson_r, fit.r2,
                       collapse_of_last_hidden(model, features, eval_data.y), outcome.epochs_run,
                       outcome.iterations, outcome.final_train_loss, outcome.train_seconds, False, extra=extra,
                       history=probe.rows, test_accuracy=outcome.final_eval_accuracy,
                       train_accuracy=outcome.final_train_accuracy, model=model,
                       activations=(features, eval_data.y))
    if sink is not None:
        _log_final(sink, result, outcome.iterations // max(1, math.ceil(len(data) / config.batch_size)))
    return result


def _log_final(sink, result: ESLResult, epoch: int) -> None:
    """The final model's numbers at step = iterations run (checkpoint rows were streamed by the probe)."""
    rows = [(layer, "log_d", value) for layer, value in zip(result.layers, result.log_d)]
    rows += [("", name, getattr(result, name)) for name in ("slope", "intercept", "ratio", "pearson_r", "r2",
                                                             "final_train_loss", "train_seconds")]
    rows += [("", name, value) for name in ("train_accuracy", "test_accuracy")
             if (value := getattr(result, name)) is not None]
    rows += [(result.layers[-1], f"nc.{name}", value) for name, value in result.nc.items() if value is not None]
    rows += [(layer, name, value) for layer, values in result.extra.items() for name, value in values.items()]
    for layer, name, value in rows:
        sink.log(result.iterations, layer, name, value, epoch=epoch)


def from_summary(config: ESLConfig, summary: dict[str, Any], run_id: str) -> ESLResult:
    """Rebuild a finished run's result from the store instead of training again."""
    keys = ("layers", "log_d", "slope", "intercept", "ratio", "pearson_r", "r2", "nc", "epochs_run",
            "iterations", "final_train_loss", "train_seconds", "diverged")
    return ESLResult(config, **{k: summary[k] for k in keys}, run_id=run_id, reused=True,
                     extra=summary.get("metrics", {}), test_accuracy=summary.get("test_accuracy"),
                     train_accuracy=summary.get("train_accuracy"))


def verdict(result: ESLResult) -> Verdict:
    """The law holds when Pearson r(layer, log D) <= -0.99 over at least three measured layers."""
    return check("log D decays linearly with depth (equi-separation law)", "Pearson r", result.pearson_r,
                 THRESHOLD, "<=", Evidence(len(result.log_d), MIN_LAYERS, "layers", "the law"))


def figure(result: ESLResult, path: str | Path, title: str | None = None) -> Path:
    """log D per layer with the least-squares line and r in the legend (3 significant digits)."""
    from deepscope.report.figures import plot_separation
    return plot_separation(result.log_d, result.slope, result.intercept, result.pearson_r, path,
                           title=title or f"{result.config.dataset}: {len(result.log_d)} layers")


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def report(result: ESLResult) -> str:
    """The per-layer table, the fit, neural collapse of the last hidden layer and any extra metrics."""
    c = result.config
    lines = [f"equi-separation law: {c.dataset} n={c.data_length} {c.data_size}x{c.data_size}, MLP depth "
             f"{len(c.hidden_widths()) + 1}, {c.opt} lr {c.lr:g}, batch {c.batch_size}, seed {c.seed}",
             f"{result.epochs_run} epochs, final train loss {result.final_train_loss:.3e}, train accuracy "
             f"{_fmt(result.train_accuracy)}, test accuracy {_fmt(result.test_accuracy)}, "
             f"{result.train_seconds:.2f} s training"]
    if result.diverged:
        return "\n".join([*lines, result.message])
    lines += ["", f"{'layer':<10} {'index':>5} {'log D':>10}"]
    lines += [f"{layer:<10} {i:>5} {value:>10.4f}" for i, (layer, value) in enumerate(zip(result.layers, result.log_d))]
    lines += ["", f"fit: log D = {result.intercept:.4f} + {result.slope:.4f} * layer;  decay ratio rho = "
                  f"{result.ratio:.4f} per layer;  Pearson r = {result.pearson_r:.4f};  R^2 = {result.r2:.4f}"]
    if result.layers:
        nc = ", ".join(f"{k} {v:.4g}" for k, v in result.nc.items() if v is not None)
        lines.append(f"neural collapse ({result.layers[-1]}): {nc}")
    lines += [f"{layer}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
              for layer, values in result.extra.items()]
    lines += _checkpoint_lines(result)
    return "\n".join(lines)


def _checkpoint_lines(result: ESLResult) -> list[str]:
    """log D per layer at each ``--every`` checkpoint, labelled in epochs (the unit ``--every`` counts)."""
    per_epoch = max(1, math.ceil(result.config.data_length / result.config.batch_size))
    table: dict[int, dict[str, float]] = {}
    for iteration, layer, metric, value in result.history:
        if metric == "log_d":
            table.setdefault(iteration // per_epoch, {})[layer] = value
    if not table:
        return []
    layers = result.layers
    lines = ["", "log D during training:", f"{'epoch':>6} " + " ".join(f"{layer:>9}" for layer in layers)]
    lines += [f"{epoch:>6} " + " ".join(f"{row.get(layer, math.nan):>9.4f}" for layer in layers)
              for epoch, row in sorted(table.items())]
    return lines


def _table_mode(config: ESLConfig, out: Path, store: Store, force: bool, as_json: bool) -> int:
    from deepscope.studies import esl_table
    return esl_table.main(config, out, store, force, as_json)


STUDY = Study(
    name=NAME, claim=CLAIM, config=ESLConfig,
    presets={
        "quick": Preset("the seed README's quick start on embedded real MNIST (1,000 images at 10x10, depth 6, "
                        "width 100, Adam 1e-3, <= 100 epochs)"),
        "paper": Preset("GPU run: the seed README's full-data row (MNIST 10,000 images, Adam 3e-4, <= 1,000 "
                        "epochs to a train loss of 1e-3); needs the MNIST IDX files under --root",
                        {"data_length": 10000, "lr": 3e-4, "num_epochs": 1000, "p": 0.0}),
        "tiny": Preset("seconds, for tests: scikit-learn digits, 300 images at 8x8, depth 4, width 32, 5 epochs",
                       {"dataset": "digits", "data_length": 300, "data_size": 8, "hidden_dim": 32, "depth": 4,
                        "num_epochs": 5, "batch_size": 50, "stop_loss": None}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=9,
    below_minimum={"depth": 2},
    saves=("model", "activations"),
    modes=(Mode("table", "run the ten configurations of the seed README's results table; write esl_table.md and "
                         "esl_table.png to --out (uses --root, --seed, --device)",
                ("root", "seed", "device"), _table_mode),),
)
