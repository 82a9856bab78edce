"""Lazy training against width (Jacot, Gabriel & Hongler 2018; Chizat, Oyallon & Bach 2019), after
the DL_theory_exp seed's ``run_ntk.py``.

Claim: trained by gradient descent with the step scaled as 1/√width, a two-layer ReLU network moves
its parameters less the wider it is — the relative change ‖θ_T − θ_0‖/‖θ_0‖ falls like width^(−1/2)
— and its empirical neural tangent kernel stays closer to the kernel at initialisation.

Per width and seed the net ``Linear(d → w) → ReLU → Linear(w → K)`` (standard PyTorch
parametrisation as the seed, or the NTK parametrisation with N(0, 1) weights and 1/√fan-in output
scaling) is trained by deepscope's Trainer, full batch by default, for ``steps`` updates with
lr = ``lr`` / √width (``lr_scaling='inv_sqrt_width'``) or ``lr``. Measured: both forms of the
relative change (the seed's Σ‖Δθ_p‖/Σ‖θ_p(0)‖ and the global one), per tensor, the final train
loss, test accuracy, and the kernel distance between the empirical NTK at initialisation and at the
end on a fixed probe set of test images.

Verdicts (thresholds fixed before any run): the least-squares slope of log(relative change, global
form) against log width, fitted per seed, has a 95% t-interval over seeds inside [−0.75, −0.25]
(at least ``MIN_WIDTHS`` widths and ``MIN_SEEDS`` seeds); and the NTK moves less as width grows:
Spearman ρ(width, mean kernel distance) <= ``NTK_RHO``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.metrics.dynamics import empirical_ntk, kernel_distance, relative_change
from deepscope.models import build_model
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, check_interval
from deepscope.train import TrainConfig, Trainer
from deepscope.train.config import check_device

NAME = "lazy"
CLAIM = ("The wider a two-layer ReLU net trained with lr ~ 1/sqrt(width), the less its parameters move: relative "
         "change ~ width^(-1/2), and its tangent kernel stays nearer its start (Jacot et al. 2018; Chizat, "
         "Oyallon & Bach, NeurIPS 2019).")
SLOPE_RANGE = (-0.75, -0.25)   # the 95% interval of the log-log slope must lie inside (the band around -1/2)
NTK_RHO = -0.8                 # Spearman rho(width, kernel distance) at most this
MIN_WIDTHS = 3
MIN_SEEDS = 2


class NTKTwoLayer(nn.Module):
    """f(x) = W2 relu(W1 x / √d + b1) / √w + b2 with every weight and bias N(0, 1) (Jacot et al. 2018)."""

    def __init__(self, d: int, width: int, k: int, generator: torch.Generator) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(width, d, generator=generator))
        self.b1 = nn.Parameter(torch.randn(width, generator=generator))
        self.w2 = nn.Parameter(torch.randn(k, width, generator=generator))
        self.b2 = nn.Parameter(torch.randn(k, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(x.flatten(1) @ self.w1.T / math.sqrt(self.w1.shape[1]) + self.b1)
        return h @ self.w2.T / math.sqrt(self.w2.shape[1]) + self.b2


@dataclass
class LazyConfig:
    """One width sweep. Defaults: the quick CPU preset (a few minutes here)."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(512, "training images (one stratified subset; the seed: the first 1,024)", min=1)
    data_size: int | None = setting(10, "resize images to data_size x data_size (none: as stored)", min=1)
    inputs: str = setting("standardized", "standardized (per channel) or raw 0-255 pixels as the seed fed them",
                          choices=("standardized", "raw"))
    widths: list[int] = setting([10, 100, 1000, 10000], "hidden widths", item_min=1, distinct=True)
    parametrization: str = setting("standard", "standard (PyTorch's default init, as the seed) or ntk",
                                   choices=("standard", "ntk"))
    lr: float = setting(1.0, "base learning rate", gt=0)
    lr_scaling: str = setting("inv_sqrt_width", "the step: lr / sqrt(width) (the seed) or lr for every width",
                              choices=("inv_sqrt_width", "constant"))
    steps: int = setting(200, "updates per width (epochs when batch_size is none: full batch)", min=1)
    batch_size: int | None = setting(None, "mini-batch size (none: full batch, as the seed)", min=1)
    seeds: int = setting(3, "independent initialisations per width (seeds seed, seed+1, ...)", min=1)
    ntk_points: int = setting(20, "test images on which the empirical NTK is compared", min=2)
    seed: int = setting(0, "first seed of the data subset and the initialisations", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


@dataclass
class WidthRow:
    """One (width, seed): how far the net moved, how well it trained, how far its kernel moved."""

    width: int
    seed: int
    rc_sum_of_norms: float
    rc_global: float
    per_tensor: dict[str, float]
    train_loss: float
    test_accuracy: float
    ntk_distance: float


@dataclass
class LazyResult:
    config: LazyConfig
    rows: list[WidthRow]
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def by_width(self, key: str) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for row in self.rows:
            out.setdefault(row.width, []).append(getattr(row, key))
        return out

    def slopes(self) -> list[float]:
        """Per seed: the least-squares slope of log rc_global against log width."""
        per_seed: dict[int, list[WidthRow]] = {}
        for row in self.rows:
            per_seed.setdefault(row.seed, []).append(row)
        return [float(np.polyfit(np.log([r.width for r in rows]), np.log([r.rc_global for r in rows]), 1)[0])
                for rows in per_seed.values() if len(rows) >= 2 and all(r.rc_global > 0 for r in rows)]

    def summary(self) -> dict[str, Any]:
        return {"rows": [asdict(row) for row in self.rows], "slopes": self.slopes(), "run_id": self.run_id,
                "config": asdict(self.config)}


# -- the experiment ----------------------------------------------------------------------------------------

def _model(config: LazyConfig, d: int, width: int, k: int, seed: int) -> nn.Module:
    if config.parametrization == "ntk":
        return NTKTwoLayer(d, width, k, torch.Generator().manual_seed(seed)).to(config.device)
    return build_model("mlp", in_features=d, num_classes=k, hidden=[width], batchnorm=False,
                       seed=seed).to(config.device)


def _inputs(config: LazyConfig) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) of the training subset and of the test split, flattened; standardised with the training
    statistics, or raw 0-255 pixels as the seed fed them."""
    splits = [classification_data(config), classification_data(config, split="test")]
    xs = [data.flat() * (255.0 if config.inputs == "raw" else 1.0) for data in splits]
    if config.inputs == "standardized":
        mean, std = xs[0].mean(0), xs[0].std(0).clamp_min(1e-6)
        xs = [(x - mean) / std for x in xs]
    return (xs[0], splits[0].y), (xs[1], splits[1].y)


def _one(config: LazyConfig, width: int, seed: int, train: tuple, test: tuple, probe: torch.Tensor,
         sink: Run | None, progress: bool | None) -> WidthRow:
    x, y = train
    model = _model(config, x.shape[1], width, int(y.max()) + 1, seed)
    start = copy.deepcopy(model)
    lr = config.lr / math.sqrt(width) if config.lr_scaling == "inv_sqrt_width" else config.lr
    train_config = TrainConfig(optimizer="sgd", lr=lr, batch_size=config.batch_size or len(x), epochs=config.steps,
                               stop_loss=None, seed=seed, device=config.device, progress=progress)
    outcome = Trainer(model, x, y, train_config, eval_x=test[0], eval_y=test[1]).fit()
    change = relative_change(start, model)
    distance = kernel_distance(empirical_ntk(start.eval(), probe), empirical_ntk(model.eval(), probe))
    row = WidthRow(width, seed, change.sum_of_norms, change.global_, change.per_tensor, outcome.final_train_loss,
                   float(outcome.final_eval_accuracy), distance)
    if sink is not None:
        layer = f"width={width}/seed={seed}"
        sink.log_many([(outcome.iterations, layer, name, getattr(row, name), outcome.epochs_run)
                       for name in ("rc_sum_of_norms", "rc_global", "train_loss", "test_accuracy", "ntk_distance")])
    return row


def run(config: LazyConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> LazyResult:
    """Train every width for every seed; record everything in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: LazyConfig, sink: Run | None, progress: bool | None) -> LazyResult:
    train, test = _inputs(config)
    if config.ntk_points > len(test[0]):
        raise ConfigError("ntk_points", f"is {config.ntk_points} but the test split has {len(test[0])} images")
    probe = test[0][:config.ntk_points]
    rows = [_one(config, width, config.seed + s, train, test, probe, sink, progress)
            for width in config.widths for s in range(config.seeds)]
    result = LazyResult(config, rows)
    result.diverged = all(not math.isfinite(row.train_loss) for row in rows)
    result.message = "every run diverged; lower --lr" if result.diverged else ""
    return result


def from_summary(config: LazyConfig, summary: dict[str, Any], run_id: str) -> LazyResult:
    return LazyResult(config, [WidthRow(**row) for row in summary["rows"]], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: LazyResult) -> list[Verdict]:
    widths = sorted(set(result.config.widths))
    slopes = result.slopes()
    if len(widths) < MIN_WIDTHS:
        evidence = Evidence(len(widths), MIN_WIDTHS, "widths", "a log-log slope")
    else:
        evidence = Evidence(len(slopes), MIN_SEEDS, "seeds", "a 95% interval")
    mean = float(np.mean(slopes)) if slopes else math.nan
    if len(slopes) >= 2:
        half = float(stats.t.ppf(0.975, len(slopes) - 1) * np.std(slopes, ddof=1) / math.sqrt(len(slopes)))
    else:
        half = math.nan
    slope = check_interval("the relative change falls like width^(-1/2)", "log-log slope of the relative change",
                           mean, (mean - half, mean + half), SLOPE_RANGE, evidence)
    distances = result.by_width("ntk_distance")
    means = [float(np.mean(distances[w])) for w in widths if w in distances]
    rho = float(stats.spearmanr(widths[:len(means)], means)[0]) if len(means) >= 2 else math.nan
    kernel = check("the tangent kernel moves less as width grows", "Spearman rho(width, NTK distance)", rho, NTK_RHO,
                   "<=", Evidence(len(means), MIN_WIDTHS, "widths", "a trend over width"))
    return [slope, kernel]


# -- output --------------------------------------------------------------------------------------------------

def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.4g} ± {np.std(values, ddof=1):.2g}" if len(values) > 1 else f"{values[0]:.4g}"


def report(result: LazyResult) -> str:
    c = result.config
    lines = [f"lazy training: {c.dataset} n={c.data_length} ({c.inputs} inputs), two-layer ReLU, "
             f"{c.parametrization} parametrisation, lr {c.lr:g}{' / sqrt(width)' if c.lr_scaling != 'constant' else ''},"
             f" {c.steps} {'full-batch ' if c.batch_size is None else ''}steps, {c.seeds} seed(s)", "",
             f"{'width':>7} {'relative change (seed form)':>28} {'global':>18} {'final train loss':>18} "
             f"{'test acc':>14} {'NTK distance':>16}"]
    columns = [result.by_width(k) for k in ("rc_sum_of_norms", "rc_global", "train_loss", "test_accuracy",
                                            "ntk_distance")]
    for width in sorted(columns[0]):
        cells = [_mean_std(column[width]) for column in columns]
        lines.append(f"{width:>7} {cells[0]:>28} {cells[1]:>18} {cells[2]:>18} {cells[3]:>14} {cells[4]:>16}")
    slopes = result.slopes()
    if slopes:
        lines.append("\nlog-log slope of the global relative change, per seed: "
                     + ", ".join(f"{s:.3f}" for s in slopes))
    return "\n".join(lines)


def figure(result: LazyResult, path: str | Path) -> Path:
    """Relative change (both forms) and NTK distance against width, log-log, mean ± std over seeds."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, keys in ((left, ("rc_global", "rc_sum_of_norms")), (right, ("ntk_distance",))):
        for key in keys:
            table = result.by_width(key)
            widths = sorted(table)
            ax.errorbar(widths, [np.mean(table[w]) for w in widths],
                        yerr=[np.std(table[w]) for w in widths], marker="o", capsize=3, label=key)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width")
        ax.legend(fontsize=8)
    widths = sorted(result.by_width("rc_global"))
    ref = np.mean(result.by_width("rc_global")[widths[0]])
    left.plot(widths, ref * (np.asarray(widths) / widths[0]) ** -0.5, "k--", lw=1, label="width^-1/2")
    left.legend(fontsize=8)
    left.set_ylabel("relative change of the parameters")
    right.set_ylabel("NTK distance, start to end")
    return save_figure(fig, path, dpi=110)


STUDY = Study(
    name=NAME, claim=CLAIM, config=LazyConfig,
    presets={
        "quick": Preset("512 embedded MNIST images at 10x10, standardised; widths 10 to 10,000; full-batch GD at "
                        "lr 1/sqrt(width), 200 steps; 3 seeds"),
        "paper": Preset("GPU run: the seed's exact run_ntk.py setting: 1,024 raw-pixel 28x28 MNIST images (full "
                        "MNIST under --root for its first 1,024), 500 full-batch steps at lr 1e-2/sqrt(width), "
                        "widths 10 to 100,000",
                        {"data_length": 1024, "data_size": None, "inputs": "raw", "lr": 1e-2, "steps": 500,
                         "widths": [10, 100, 1000, 10000, 50000, 100000]}),
        "tiny": Preset("seconds, for tests: 64 digits, widths 4, 16, 64, 20 steps, 2 seeds",
                       {"dataset": "digits", "data_length": 64, "data_size": 8, "widths": [4, 16, 64], "steps": 20,
                        "seeds": 2, "ntk_points": 4}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary,
    quick_seconds=101,
    below_minimum={"widths": [4, 16]},
)
