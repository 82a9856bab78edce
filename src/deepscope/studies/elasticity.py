"""Local elasticity, measured directly (He & Su, "The Local Elasticity of Neural Networks", ICLR 2020).

Claim: for a trained network, one SGD step on an input x changes the prediction at inputs x′ of x's
own class much more than at inputs of other classes: the network is *locally elastic*. He & Su
measure the relative change S(x, x′) = ‖Δ_x f(x′)‖ / ‖Δ_x f(x)‖ of the output after one step on x
(and its first-order, kernelised form through the neural tangent kernel,
‖Θ(x′, x) g‖ / ‖Θ(x, x) g‖, g = ∂ℓ/∂f(x)); see :mod:`deepscope.metrics.elasticity`.

Per data set (GeoMNIST, the LE-SDE set, and embedded MNIST by default) a LeNet-5 is trained by
deepscope's Trainer (SGD with momentum, cross-entropy); before and after training, on
``probe_per_class`` held-out images of every class, the study takes one SGD step of size ``step_lr``
on each probe image in turn (from the same weights, in float64) and measures S on every other probe
image, and S's NTK form. Reported: the class-by-class mean impact matrix, the mean same-class and
other-class impacts and their ratio, for the finite step and for the NTK form, and how closely the
two agree.

Verdict (fixed before any run): per data set, the trained network's same-class / other-class impact
ratio of the finite step is >= ``RATIO`` = 1 (He & Su's definition of local elasticity), given at least
``MIN_PER_CLASS`` probe images per class and a network that trained (train accuracy >=
``TRAINED_ACCURACY``; otherwise UNDECIDED, since the claim is about trained networks).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.config import check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.errors import DeepscopeError
from deepscope.metrics.elasticity import local_elasticity, ntk_impact, step_impact
from deepscope.models import build_model
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, undecided
from deepscope.train import TrainConfig, Trainer
from deepscope.train.config import check_device

NAME = "elasticity"
CLAIM = ("One SGD step on an input moves a trained network's output more at inputs of the same class than at "
         "inputs of other classes: neural networks are locally elastic (He & Su, ICLR 2020).")
RATIO = 1.0               # same-class / other-class mean impact: locally elastic when above 1 (He & Su)
MIN_PER_CLASS = 5         # probe images per class the comparison needs
TRAINED_ACCURACY = 0.9    # train accuracy at which the network counts as trained


def _check_datasets(names: list[str]) -> None:
    for name in names:
        if not get_dataset_info(name).images:
            raise DeepscopeError(f"{name!r} holds no images, but the LeNet of this study needs images; choose image "
                                 f"sets such as geomnist, mnist (`deepscope datasets`)")


@dataclass
class ElasticityConfig:
    """Local elasticity on each data set. Defaults: the quick CPU preset (about a minute here)."""

    datasets: list[str] = setting(["geomnist", "mnist"], "image data sets, each measured on its own LeNet",
                                  distinct=True, check=_check_datasets)
    data_length: int = setting(1200, "training images per data set (stratified subset)", min=1)
    data_size: int = setting(32, "resize images to data_size x data_size (LeNet needs at least 16)", min=16)
    epochs: int = setting(8, "training epochs", min=1)
    batch_size: int = setting(32, "mini-batch size of training", min=1)
    lr: float = setting(0.02, "SGD learning rate of training", gt=0)
    momentum: float = setting(0.9, "SGD momentum of training", min=0, lt=1)
    step_lr: float = setting(0.02, "size of the single measured SGD step on each probe image (He & Su: the "
                                   "training rate)", gt=0)
    probe_per_class: int = setting(10, "held-out probe images per class on which impacts are measured", min=1)
    seed: int = setting(0, "seed of the data subset, the initialisation and the shuffling", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


@dataclass
class Measure:
    """One network state's impacts: class-by-class matrix, same/other means and ratio, finite and NTK."""

    matrix: list[list[float]]
    same: float
    other: float
    ratio: float
    ntk_matrix: list[list[float]]
    ntk_same: float
    ntk_other: float
    ntk_ratio: float
    agreement: float  # Pearson r between the finite-step and the NTK impacts over all probe pairs


@dataclass
class DatasetRow:
    dataset: str
    class_names: list[str]
    probes: int
    train_accuracy: float
    test_accuracy: float
    init: Measure
    trained: Measure


@dataclass
class ElasticityResult:
    config: ElasticityConfig
    rows: list[DatasetRow]
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def summary(self) -> dict[str, Any]:
        return {"rows": [asdict(row) for row in self.rows], "run_id": self.run_id, "config": asdict(self.config)}


# -- the experiment ----------------------------------------------------------------------------------------

def _probe(x: torch.Tensor, y: torch.Tensor, per_class: int, dataset: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``per_class`` held-out images of every class, classes in order."""
    keep = []
    for k in range(int(y.max()) + 1):
        members = torch.nonzero(y == k).flatten()
        if len(members) < per_class:
            raise DeepscopeError(f"--probe-per-class is {per_class} but {dataset} has only {len(members)} test "
                                 f"images of class {k}; pass at most {len(members)}")
        keep.append(members[:per_class])
    index = torch.cat(keep)
    return x[index], y[index]


def _measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor, step_lr: float) -> Measure:
    """Finite-step and NTK impacts of ``model`` (a float64 copy, eval mode) on the probe set."""
    net = copy.deepcopy(model).double().eval()
    x = x.double()
    finite, first = step_impact(net, x, y, step_lr).cpu(), ntk_impact(net, x, y).cpu()
    y = y.cpu()
    a, b = local_elasticity(finite, y), local_elasticity(first, y)
    off = ~torch.eye(len(y), dtype=torch.bool)
    agreement = float(np.corrcoef(finite[off].numpy(), first[off].numpy())[0, 1])
    return Measure(a.matrix.tolist(), a.same, a.other, a.ratio, b.matrix.tolist(), b.same, b.other, b.ratio, agreement)


def _one(config: ElasticityConfig, dataset: str, sink: Run | None, progress: bool | None) -> DatasetRow:
    named = SimpleNamespace(**asdict(config), dataset=dataset)  # classification_data reads config.dataset
    train = classification_data(named, normalize=True)
    test = classification_data(named, split="test")
    test_x = (test.x - train.meta["normalize_mean"]) / train.meta["normalize_std"]  # with the train statistics
    probe_x, probe_y = _probe(test_x, test.y, config.probe_per_class, dataset)
    model = build_model("lenet", in_channels=train.x.shape[1], num_classes=train.num_classes,
                        input_size=config.data_size, seed=config.seed).to(config.device)
    init = _measure(model, probe_x, probe_y, config.step_lr)
    train_config = TrainConfig(optimizer="sgd", lr=config.lr, momentum=config.momentum, batch_size=config.batch_size,
                               epochs=config.epochs, stop_loss=None, seed=config.seed, device=config.device,
                               progress=progress)
    outcome = Trainer(model, train.x, train.y, train_config, eval_x=test_x, eval_y=test.y).fit()
    if outcome.diverged:
        raise _Diverged(f"{dataset}: {outcome.message}")
    trained = _measure(model, probe_x, probe_y, config.step_lr)
    row = DatasetRow(dataset, list(train.class_names or map(str, range(train.num_classes))), len(probe_y),
                     float(outcome.final_train_accuracy), float(outcome.final_eval_accuracy), init, trained)
    if sink is not None:
        sink.log_many([(step, dataset, name, value, epoch) for (step, epoch, m) in
                       ((0, 0, init), (outcome.iterations, outcome.epochs_run, trained))
                       for name, value in (("same_impact", m.same), ("other_impact", m.other), ("ratio", m.ratio),
                                           ("ntk_ratio", m.ntk_ratio), ("agreement", m.agreement))])
    return row


class _Diverged(Exception):
    pass


def run(config: ElasticityConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> ElasticityResult:
    """Train a LeNet per data set and measure its local elasticity before and after; record everything."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: ElasticityConfig, sink: Run | None, progress: bool | None) -> ElasticityResult:
    threads = torch.get_num_threads()
    if torch.device(config.device).type == "cpu":
        torch.set_num_threads(1)  # single-image steps of a LeNet: threads cost more than they save (Trainer.cpu_threads)
    try:
        rows = [_one(config, dataset, sink, progress) for dataset in config.datasets]
    except _Diverged as exc:
        return ElasticityResult(config, [], diverged=True, message=f"training diverged ({exc}); lower --lr")
    finally:
        torch.set_num_threads(threads)
    return ElasticityResult(config, rows)


def from_summary(config: ElasticityConfig, summary: dict[str, Any], run_id: str) -> ElasticityResult:
    rows = [DatasetRow(**{**row, "init": Measure(**row["init"]), "trained": Measure(**row["trained"])})
            for row in summary["rows"]]
    return ElasticityResult(config, rows, run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def _verdict(row: DatasetRow, per_class: int) -> Verdict:
    claim = f"{row.dataset}: a step on x moves same-class inputs more than other-class ones"
    quantity = "same/other impact ratio"
    evidence = Evidence(per_class, MIN_PER_CLASS, "probe images per class", "the class comparison")
    if evidence.enough and row.train_accuracy < TRAINED_ACCURACY:
        return undecided(claim, quantity, row.trained.ratio, RATIO, ">=",
                         f"the network reached train accuracy {row.train_accuracy:.3f} < {TRAINED_ACCURACY:g}, so it "
                         f"is not a trained network; train longer (--epochs) or faster (--lr)")
    verdict = check(claim, quantity, row.trained.ratio, RATIO, ">=", evidence)
    if verdict.holds is None:
        return verdict
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; NTK form {row.trained.ntk_ratio:.4f}, at initialisation "
                                  f"{row.init.ratio:.4f}", verdict.reason)


def verdict(result: ElasticityResult) -> list[Verdict]:
    return [_verdict(row, result.config.probe_per_class) for row in result.rows]


# -- output --------------------------------------------------------------------------------------------------

def report(result: ElasticityResult) -> str:
    c = result.config
    lines = [f"local elasticity: LeNet-5 per data set, {c.data_length} training images at {c.data_size}x{c.data_size}, "
             f"SGD lr {c.lr:g} momentum {c.momentum:g}, batch {c.batch_size}, {c.epochs} epochs; one step of "
             f"{c.step_lr:g} on each of {c.probe_per_class} held-out images per class", "",
             f"{'data set':>10} {'state':>8} {'train acc':>9} {'test acc':>8} {'same':>8} {'other':>8} "
             f"{'ratio':>7} {'NTK ratio':>9} {'r(step,NTK)':>11}"]
    for row in result.rows:
        for state, m in (("init", row.init), ("trained", row.trained)):
            accs = (f"{row.train_accuracy:>9.3f} {row.test_accuracy:>8.3f}" if state == "trained"
                    else f"{'-':>9} {'-':>8}")
            lines.append(f"{row.dataset:>10} {state:>8} {accs} {m.same:>8.4f} {m.other:>8.4f} {m.ratio:>7.3f} "
                         f"{m.ntk_ratio:>9.3f} {m.agreement:>11.3f}")
    return "\n".join(lines)


def figure(result: ElasticityResult, path: str | Path) -> Path:
    """The class impact matrices (mean relative impact of a step on a class-row image on class-column
    images), at initialisation and trained, one row of panels per data set."""
    n = len(result.rows)
    fig, axes = plt.subplots(n, 2, figsize=(8, 3.6 * n), squeeze=False)
    for (left, right), row in zip(axes, result.rows):
        for ax, state, m in ((left, "initialisation", row.init), (right, "trained", row.trained)):
            matrix = np.asarray(m.matrix)
            image = ax.imshow(matrix, cmap="viridis")
            k = len(matrix)
            ticks = range(k)
            labels = row.class_names if k <= 10 else [str(i) for i in ticks]
            ax.set_xticks(list(ticks), labels, rotation=45 if k > 3 else 0, fontsize=7)
            ax.set_yticks(list(ticks), labels, fontsize=7)
            ax.set_title(f"{row.dataset}, {state}: ratio {m.ratio:.2f}", fontsize=9)
            ax.set_xlabel("impact on class", fontsize=8)
            ax.set_ylabel("step on class", fontsize=8)
            fig.colorbar(image, ax=ax, fraction=0.046)
    return save_figure(fig, path, dpi=110)


STUDY = Study(
    name=NAME, claim=CLAIM, config=ElasticityConfig,
    presets={
        "quick": Preset("GeoMNIST and embedded MNIST, 1,200 training images each at 32x32, LeNet-5, SGD lr 0.02 "
                        "momentum 0.9, 8 epochs; one step of 0.02 on 10 held-out images per class"),
        "paper": Preset("GPU run: every GeoMNIST training image (2,400; MNIST: 2,400 of the embedded 4,000 or of "
                        "the full set under --root), 40 epochs, 50 probe images per class",
                        {"data_length": 2400, "epochs": 40, "probe_per_class": 50}),
        "tiny": Preset("seconds, for tests: GeoMNIST only, 150 images, 3 epochs, 5 probes per class",
                       {"datasets": ["geomnist"], "data_length": 150, "epochs": 3, "probe_per_class": 5}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary,
    quick_seconds=28,
    below_minimum={"probe_per_class": 2},
)
