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

With ``seeds`` (``deepscope esl --seeds 0-9``) the seeds are trained together as one stacked model
(:class:`~deepscope.train.stacked.StackedTrainer`; each seed its own data subset, initialisation
and batches, as ``--seed`` alone would give it) and each is measured as above. The rule over seeds,
fixed before any multi-seed run: the law HOLDS when the paper's criterion r ≤ −0.99 holds on every
seed, i.e. the largest (worst) r over the seeds is ≤ −0.99; a seed that diverged counts as
failing; fewer than MIN_SEEDS seeds (or fewer than three layers) is UNDECIDED. The report gives r
as mean ± sample std over the seeds, each seed's r and how many seeds pass.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data import Dataset
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.collapse import neural_collapse
from deepscope.metrics.registry import compute, resolve
from deepscope.metrics.separation import SeparationFit, fit_log_linear, layerwise_separation
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
from deepscope.train.stacked import StackedTrainer

NAME = "esl"
CLAIM = ("Every layer of a trained network shrinks class fuzziness by the same factor: log D falls linearly "
         "with depth, Pearson r(layer, log D) <= -0.99 (He & Su, PNAS 2023).")
THRESHOLD = -0.99  # the paper's criterion on the Pearson correlation of (layer, log D)
MIN_LAYERS = 3     # a fit through two points has |r| = 1 whatever the network does
MIN_SEEDS = 2      # a verdict over seeds (and a spread of r) needs at least two

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
    seeds: list[int] | None = setting(None, "train these seeds together as one stacked model and give r over them: a "
                                            "range 0-9, a list 0,1,2 or one seed (none: one run with --seed)",
                                      item_min=0, distinct=True)

    def dataset_name(self) -> str:
        return _dataset_name(self.dataset)

    def hidden_widths(self) -> list[int]:
        return list(self.width_list) if self.width_list is not None else [self.hidden_dim] * (self.depth - 1)

    def seed_configs(self) -> list[ESLConfig]:
        """One single-seed config per seed of ``seeds`` (just this config when ``seeds`` is None)."""
        if self.seeds is None:
            return [self]
        return [replace(self, seed=seed, seeds=None) for seed in self.seeds]


def _seed_text(seeds: list[int]) -> str:
    return ",".join(map(str, seeds))


def check_config(config: ESLConfig) -> None:
    """Rules across fields: the measurement schedule must fit inside the training; ``seeds`` replaces ``seed`` and
    trains without checkpoints."""
    if config.every is not None and config.every > config.num_epochs:
        raise ConfigError("every", f"is {config.every} but training runs at most {config.num_epochs} epochs "
                                   f"(--num-epochs); measure every k <= {config.num_epochs} epochs")
    if config.seeds is not None and config.seed != 0:
        raise ConfigError("seeds", f"is {_seed_text(config.seeds)}, which sets the seeds, but --seed is also set "
                                   f"({config.seed}); put every seed in --seeds and leave --seed out")
    if config.seeds is not None and config.every is not None:
        raise ConfigError("every", f"is {config.every} but --seeds trains its seeds stacked, without checkpoints; "
                                   f"drop --every, or run one seed at a time with --seed")


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


@dataclass
class ESLSeedsResult:
    """What ``deepscope esl --seeds`` measured: one :class:`ESLResult` per seed (trained stacked), in seed order.

    ``train_seconds`` is the stacked training's wall time (all seeds together); ``model`` and ``activations``
    (what ``--save-model`` / ``--save-activations`` write) are the first seed's.
    """

    config: ESLConfig
    runs: list[ESLResult]
    train_seconds: float
    run_id: str | None = None
    reused: bool = False

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.runs]

    @property
    def measured(self) -> list[ESLResult]:
        """The seeds that did not diverge."""
        return [r for r in self.runs if not r.diverged]

    @property
    def diverged(self) -> bool:
        """Every seed diverged (then nothing was measured); a run with some measured seeds is finished."""
        return not self.measured

    @property
    def message(self) -> str:
        return "; ".join(f"seed {r.config.seed}: {r.message}" for r in self.runs if r.diverged)

    @property
    def r_mean(self) -> float:
        """Mean Pearson r over the measured seeds."""
        rs = [r.pearson_r for r in self.measured]
        return statistics.fmean(rs) if rs else math.nan

    @property
    def r_std(self) -> float:
        """Sample standard deviation of Pearson r over the measured seeds (NaN for fewer than two)."""
        rs = [r.pearson_r for r in self.measured]
        return statistics.stdev(rs) if len(rs) > 1 else math.nan

    @property
    def holding(self) -> int:
        """Seeds whose r meets the paper's criterion r <= -0.99."""
        return sum(r.pearson_r <= THRESHOLD for r in self.measured)

    def mean_log_d(self) -> list[float]:
        """log D per layer averaged over the measured seeds."""
        rows = [r.log_d for r in self.measured]
        return [statistics.fmean(column) for column in zip(*rows)]

    @property
    def model(self) -> nn.Module | None:
        return self.runs[0].model

    @property
    def activations(self) -> tuple[dict[str, torch.Tensor], torch.Tensor] | None:
        return self.runs[0].activations

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``deepscope esl --seeds ... --json``: r over seeds, and each seed's own summary."""
        return {
            "seeds": self.seeds, "pearson_r": [r.pearson_r for r in self.runs], "pearson_r_mean": self.r_mean,
            "pearson_r_std": self.r_std, "seeds_holding": self.holding, "ratio": [r.ratio for r in self.runs],
            "layers": self.measured[0].layers if self.measured else [], "log_d_mean": self.mean_log_d(),
            "train_seconds": self.train_seconds, "diverged": self.diverged, "run_id": self.run_id,
            "reused": self.reused, "verdict": verdict(self).to_dict(), "runs": [r.summary() for r in self.runs],
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
        dataset: Any = None) -> ESLResult | ESLSeedsResult:
    """Train the MLP, measure log D per layer, fit the law; record everything in ``store``.

    With ``config.seeds`` every seed is trained (together, stacked) and measured: an :class:`ESLSeedsResult`.
    """
    body = _run if config.seeds is None else _run_seeds
    return record(STUDY, config, store, lambda sink: body(config, progress, dataset, sink), force=force)


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
    result = _measured(config, model, trainer.fit(), eval_data, probe.rows)
    if sink is not None and not result.diverged:
        _log_final(sink, result, _epoch(result, len(data)))
    return result


def _run_seeds(config: ESLConfig, progress: bool | None, dataset: Any, sink=None) -> ESLSeedsResult:
    """Every seed of ``config.seeds`` trained as one stacked model, then measured as one run of that seed."""
    configs = config.seed_configs()
    data = [load_data(c, dataset=dataset) for c in configs]
    test = load_test(config, dataset)
    models = [build(c, d) for c, d in zip(configs, data)]
    trainer = StackedTrainer(models, [d.x for d in data], [d.y for d in data],
                             [train_config(c, progress) for c in configs], eval_x=None if test is None else test.x,
                             eval_y=None if test is None else test.y)
    outcomes = trainer.fit()
    runs = [_measured(c, model, outcome, test if config.measure_on == "test" else d)
            for c, model, outcome, d in zip(configs, models, outcomes, data)]
    result = ESLSeedsResult(config, runs, max(o.train_seconds for o in outcomes))
    if sink is not None:
        for run_result, d in zip(runs, data):
            if not run_result.diverged:
                _log_final(sink, run_result, _epoch(run_result, len(d)), f"seed={run_result.config.seed}")
        if result.measured:
            for name, value in (("pearson_r_mean", result.r_mean), ("pearson_r_std", result.r_std)):
                sink.log(max(r.iterations for r in runs), "", name, value)
    return result


def _measured(config: ESLConfig, model: nn.Module, outcome: TrainResult, eval_data: Dataset,
              history: list[tuple[int, str, str, float]] | None = None) -> ESLResult:
    """The result of one trained model: log D per layer and its fit, NC of the last hidden layer, extra metrics."""
    history = [] if history is None else history
    if outcome.diverged:
        nan = math.nan
        return ESLResult(config, [], [], nan, nan, nan, nan, nan, {}, outcome.epochs_run, outcome.iterations,
                         outcome.final_train_loss, outcome.train_seconds, True, message=outcome.message,
                         history=history, model=model)
    fit, features = measure(model, eval_data)
    extra = compute(features, eval_data.y, config.metrics) if config.metrics else {}
    return ESLResult(config, fit.layers, fit.log_d, fit.slope, fit.intercept, fit.ratio, fit.pearson_r, fit.r2,
                     collapse_of_last_hidden(model, features, eval_data.y), outcome.epochs_run,
                     outcome.iterations, outcome.final_train_loss, outcome.train_seconds, False, extra=extra,
                     history=history, test_accuracy=outcome.final_eval_accuracy,
                     train_accuracy=outcome.final_train_accuracy, model=model, activations=(features, eval_data.y))


def _epoch(result: ESLResult, samples: int) -> int:
    """Completed epochs at the run's last iteration, with ``samples`` training samples."""
    return result.iterations // max(1, math.ceil(samples / result.config.batch_size))


def _log_final(sink, result: ESLResult, epoch: int, tag: str = "") -> None:
    """The final model's numbers at step = iterations run (checkpoint rows were streamed by the probe); with a
    ``tag`` (``seed=3``) the rows' layers read ``seed=3/hidden1`` and the run-wide ones ``seed=3``."""
    rows = [(layer, "log_d", value) for layer, value in zip(result.layers, result.log_d)]
    rows += [("", name, getattr(result, name)) for name in ("slope", "intercept", "ratio", "pearson_r", "r2",
                                                             "final_train_loss", "train_seconds")]
    rows += [("", name, value) for name in ("train_accuracy", "test_accuracy")
             if (value := getattr(result, name)) is not None]
    rows += [(result.layers[-1], f"nc.{name}", value) for name, value in result.nc.items() if value is not None]
    rows += [(layer, name, value) for layer, values in result.extra.items() for name, value in values.items()]
    for layer, name, value in rows:
        sink.log(result.iterations, "/".join(part for part in (tag, layer) if part), name, value, epoch=epoch)


def from_summary(config: ESLConfig, summary: dict[str, Any], run_id: str) -> ESLResult | ESLSeedsResult:
    """Rebuild a finished run's result from the store instead of training again."""
    if config.seeds is not None:
        runs = [from_summary(c, run, run_id) for c, run in zip(config.seed_configs(), summary["runs"])]
        return ESLSeedsResult(config, runs, summary["train_seconds"], run_id=run_id, reused=True)
    keys = ("layers", "log_d", "slope", "intercept", "ratio", "pearson_r", "r2", "nc", "epochs_run",
            "iterations", "final_train_loss", "train_seconds", "diverged")
    return ESLResult(config, **{k: summary[k] for k in keys}, run_id=run_id, reused=True,
                     extra=summary.get("metrics", {}), test_accuracy=summary.get("test_accuracy"),
                     train_accuracy=summary.get("train_accuracy"))


def verdict(result: ESLResult | ESLSeedsResult) -> Verdict:
    """The law holds when Pearson r(layer, log D) <= -0.99 over at least three measured layers; over seeds, when
    that holds on every seed (at least MIN_SEEDS of them; see the module docstring)."""
    if isinstance(result, ESLSeedsResult):
        return _verdict_over_seeds(result)
    return check("log D decays linearly with depth (equi-separation law)", "Pearson r", result.pearson_r,
                 THRESHOLD, "<=", Evidence(len(result.log_d), MIN_LAYERS, "layers", "the law"))


def _verdict_over_seeds(result: ESLSeedsResult) -> Verdict:
    """HOLDS when the worst (largest) seed's r <= -0.99; a diverged seed makes it FAIL (r not measured)."""
    n = len(result.runs)
    rs = [r.pearson_r for r in result.runs]
    worst = max(rs) if all(math.isfinite(r) for r in rs) else math.nan
    layers = Evidence(max(len(r.log_d) for r in result.runs), MIN_LAYERS, "layers", "the law")
    seeds = Evidence(n, MIN_SEEDS, "seeds", "a verdict over seeds")
    v = check("log D decays linearly with depth on every seed (equi-separation law)", f"Pearson r of the worst of "
              f"{n} seeds", worst, THRESHOLD, "<=", layers if not layers.enough else seeds)
    if v.holds is None:
        return v
    spread = f"mean r = {result.r_mean:.4f} ± {result.r_std:.4f} over {len(result.measured)} measured seeds"
    return replace(v, detail=f"{v.detail}; {result.holding}/{n} seeds have r <= {THRESHOLD:g}, {spread}")


def figure(result: ESLResult | ESLSeedsResult, path: str | Path, title: str | None = None) -> Path:
    """log D per layer with the least-squares line and r in the legend (3 significant digits); over seeds, each
    seed's log D as a thin line and the fit of their mean."""
    from deepscope.report.figures import plot_separation
    if isinstance(result, ESLSeedsResult):
        return _figure_over_seeds(result, path, title)
    return plot_separation(result.log_d, result.slope, result.intercept, result.pearson_r, path,
                           title=title or f"{result.config.dataset}: {len(result.log_d)} layers")


def _figure_over_seeds(result: ESLSeedsResult, path: str | Path, title: str | None = None) -> Path:
    import matplotlib.pyplot as plt

    from deepscope.report.figures import save_figure
    mean = result.mean_log_d()
    fit = fit_log_linear(mean)
    layers = range(len(mean))
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for i, run_result in enumerate(result.measured):
        ax.plot(layers, run_result.log_d, "-", color="tab:blue", lw=0.6, alpha=0.5, label="log D, one per seed"
                if i == 0 else None)
    ax.plot(layers, mean, "o", color="tab:blue", label="mean over seeds")
    ax.plot(layers, [fit.intercept + fit.slope * i for i in layers], "-", color="tab:red",
            label=f"fit of the mean: r = {fit.pearson_r:.3g}, ρ = {fit.ratio:.3g}")
    ax.set_xlabel("layer")
    ax.set_ylabel("log D (natural log)")
    ax.set_xticks(list(layers))
    ax.set_title(title or f"{result.config.dataset}: {len(result.measured)} seeds, r = {result.r_mean:.4f} ± "
                          f"{result.r_std:.4f}", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def report(result: ESLResult | ESLSeedsResult) -> str:
    """The per-layer table, the fit, neural collapse of the last hidden layer and any extra metrics; over seeds,
    a line per seed and r as mean ± std."""
    if isinstance(result, ESLSeedsResult):
        return _report_over_seeds(result)
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


def _report_over_seeds(result: ESLSeedsResult) -> str:
    c = result.config
    lines = [f"equi-separation law over {len(result.runs)} seeds ({_seed_text(c.seeds)}), trained stacked: {c.dataset} "
             f"n={c.data_length} {c.data_size}x{c.data_size}, MLP depth {len(c.hidden_widths()) + 1}, {c.opt} lr "
             f"{c.lr:g}, batch {c.batch_size}; {result.train_seconds:.2f} s training for all seeds", "",
             f"{'seed':>5} {'epochs':>6} {'train loss':>10} {'train acc':>9} {'test acc':>8} {'Pearson r':>9} "
             f"{'rho':>7}"]
    for r in result.runs:
        measured = f"{r.pearson_r:>9.4f} {r.ratio:>7.4f}" if not r.diverged else "diverged"
        lines.append(f"{r.config.seed:>5} {r.epochs_run:>6} {r.final_train_loss:>10.3e} {_fmt(r.train_accuracy):>9} "
                     f"{_fmt(r.test_accuracy):>8} {measured}")
    if result.measured:
        mean = result.mean_log_d()
        spread = [statistics.stdev(column) if len(column) > 1 else math.nan
                  for column in zip(*(r.log_d for r in result.measured))]
        fit = fit_log_linear(mean)
        lines += ["", f"Pearson r over seeds: mean {result.r_mean:.4f} ± {result.r_std:.4f} (sample std), "
                      f"{result.holding}/{len(result.runs)} seeds <= {THRESHOLD:g}", "",
                  f"{'layer':<10} {'index':>5} {'mean log D':>10} {'std':>7}"]
        lines += [f"{layer:<10} {i:>5} {m:>10.4f} {sd:>7.4f}"
                  for i, (layer, m, sd) in enumerate(zip(result.measured[0].layers, mean, spread))]
        lines.append(f"fit of the mean: log D = {fit.intercept:.4f} + {fit.slope:.4f} * layer;  rho = {fit.ratio:.4f};"
                     f"  Pearson r = {fit.pearson_r:.4f}")
    lines += [f"seed {r.config.seed}: {r.message}" for r in result.runs if r.diverged]
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
