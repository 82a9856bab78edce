"""Winning lottery tickets by iterative magnitude pruning (Frankle & Carbin, "The Lottery Ticket
Hypothesis: Finding Sparse, Trainable Neural Networks", ICLR 2019), with rewinding to iteration k
(Frankle, Dziugaite, Roy & Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis",
ICML 2020).

Claim: a dense network contains a sparse sub-network (a "winning ticket") that, trained in isolation
from the dense network's initial weights θ₀ (or its weights θ_k at iteration k), reaches the dense
network's test accuracy with a small fraction of the weights — Frankle & Carbin find tickets "less
than 10-20% of the size" of LeNet-300-100 — while the same sub-network re-initialised at random, and
a random sub-network of the same sparsity, do worse.

Per seed s: LeNet-300-100 (the MLP 784-300-100-10, no BatchNorm) is trained for ``iterations``
updates (Adam 1.2e-3, batch 60 as the paper); then, for ``rounds`` rounds, the ``rate`` smallest-
magnitude fraction of the remaining weights is removed (``scope='layerwise'``: every hidden layer at
``rate``, the output layer at ``rate / 2`` as the paper; or one global threshold), the survivors are
rewound to θ_k (k = ``rewind_iteration``; 0 is θ₀) and the ticket is trained again for
``iterations − k`` updates. At every level two controls are trained on the same data order:
``reinit`` — the ticket's mask with a fresh random initialisation (trained for ``iterations``), and
``random`` — a random mask with the same number of weights per layer on the rewound weights θ_k.
Measured: test accuracy at the end of training (no early stopping on test data), mean ± std over seeds.

Verdicts (thresholds fixed before any run; δ = 0.5 accuracy points, as the issue states it):

- *a winning ticket exists*: the sparsest level whose mean ticket accuracy is within δ of the dense
  network's keeps at most 20% of the weights (the paper's "10-20%"). UNDECIDED when the run never
  prunes to 20%.
- *the controls fall below it*: at that level, each control's mean accuracy is below the ticket's by
  more than their seed-to-seed spread, max(std_ticket, std_control) (sample std over seeds); the
  measured quantity is the smaller of the two margins, gap − spread, in accuracy points, which must
  be > 0. Needs at least ``MIN_SEEDS`` seeds.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data._rng import derive_seed
from deepscope.data.registry import get_dataset_info
from deepscope.models import build_model
from deepscope.prune import (SCOPES, apply_masks, prune_by_magnitude, random_masks_like, rewind, snapshot,
                             sparsity)
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, undecided
from deepscope.train import Schedule, TrainConfig, Trainer
from deepscope.train.config import check_device
from deepscope.train.optim import OPTIMIZERS

NAME = "lottery"
CLAIM = ("Iterative magnitude pruning finds winning tickets: sub-networks of at most 10-20% of the weights that, "
         "rewound to their initial weights, match the dense network's test accuracy, while the same sub-network "
         "randomly re-initialised and random sub-networks do worse (Frankle & Carbin, ICLR 2019).")
DELTA = 0.005        # a ticket "matches" when its mean test accuracy is within 0.5 points of the dense network's
MAX_REMAINING = 0.2  # ... at a level keeping at most 20% of the weights (the paper: "less than 10-20% of the size")
MIN_SEEDS = 3        # seeds for a seed-to-seed spread worth comparing with
KINDS = ("ticket", "reinit", "random")


@dataclass
class LotteryConfig:
    """One iterative-magnitude-pruning experiment. Defaults: the quick CPU preset (under 10 minutes here)."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(4000, "training images (a stratified subset)", min=1)
    data_size: int | None = setting(None, "resize images to data_size x data_size (none: as stored)", min=1)
    hidden: list[int] = setting([300, 100], "hidden widths of the fully connected net (LeNet-300-100)",
                                item_min=1, nonempty=True)
    optimizer: str = setting("adam", "optimizer of every training run", choices=OPTIMIZERS)
    lr: float = setting(1.2e-3, "learning rate (the paper: Adam 1.2e-3)", gt=0)
    batch_size: int = setting(60, "mini-batch size (the paper: 60)", min=1)
    iterations: int = setting(1000, "updates per training run (the paper: 50,000)", min=1)
    rounds: int = setting(9, "pruning rounds after the dense run", min=1)
    rate: float = setting(0.2, "fraction of the remaining weights removed per round (the paper: 0.2)", gt=0, lt=1)
    output_rate: float | None = setting(None, "rate of the output layer (none: rate/2 with layerwise scope, as "
                                              "the paper; with global scope it joins the global threshold)",
                                        min=0, lt=1)
    scope: str = setting("layerwise", "layerwise (each layer at rate) or global (one threshold)", choices=SCOPES)
    rewind_iteration: int = setting(0, "rewind the ticket to the weights at this iteration (0: initialisation)",
                                    min=0)
    seeds: int = setting(3, "independent runs (seeds seed, seed+1, ...)", min=1)
    seed: int = setting(0, "first seed of the data subset, the initialisations and the data order", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


def check_config(config: LotteryConfig) -> None:
    """Rewinding must land inside the run it rewinds."""
    if config.rewind_iteration >= config.iterations:
        raise ConfigError("rewind_iteration", f"is {config.rewind_iteration} but each run makes only "
                                              f"{config.iterations} updates; rewind to an iteration before "
                                              f"{config.iterations} (0: the initialisation)")


@dataclass
class LevelRow:
    """One trained network: which seed, round and kind (ticket or control), how sparse, how accurate."""

    seed: int
    round: int
    kind: str
    remaining: float
    test_accuracy: float
    train_loss: float


@dataclass
class Level:
    """One pruning level over seeds: the fraction of weights remaining and each kind's test accuracies."""

    round: int
    remaining: float
    accuracy: dict[str, list[float]]

    def mean(self, kind: str) -> float:
        return float(np.mean(self.accuracy[kind]))

    def std(self, kind: str) -> float:
        values = self.accuracy[kind]
        return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


@dataclass
class LotteryResult:
    config: LotteryConfig
    rows: list[LevelRow]
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def levels(self) -> list[Level]:
        """One entry per round (0 = dense), the accuracies of each kind over seeds."""
        out: dict[int, Level] = {}
        for row in self.rows:
            level = out.setdefault(row.round, Level(row.round, row.remaining, {}))
            level.accuracy.setdefault(row.kind, []).append(row.test_accuracy)
        return [out[r] for r in sorted(out)]

    def sparsest_match(self) -> Level | None:
        """The sparsest pruned level whose mean ticket accuracy is within DELTA of the dense network's."""
        levels = self.levels()
        dense = levels[0].mean("ticket")
        matching = [lv for lv in levels[1:] if lv.mean("ticket") >= dense - DELTA]
        return min(matching, key=lambda lv: lv.remaining) if matching else None

    def summary(self) -> dict[str, Any]:
        match = self.sparsest_match()
        return {"rows": [asdict(row) for row in self.rows], "run_id": self.run_id, "config": asdict(self.config),
                "sparsest_match": None if match is None else match.remaining}


# -- the experiment ----------------------------------------------------------------------------------------

def _inputs(config: LotteryConfig) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) of the training subset and of the test split, flattened and standardised with the training
    set's mean and standard deviation over all pixels (as open_lth normalises MNIST)."""
    splits = [classification_data(config), classification_data(config, split="test")]
    xs = [data.flat() for data in splits]
    mean, std = xs[0].mean(), xs[0].std().clamp_min(1e-6)
    return ((xs[0] - mean) / std, splits[0].y), ((xs[1] - mean) / std, splits[1].y)


class _Runs:
    """Trains and records the networks of one seed: all share the data, the data order and the schedule."""

    def __init__(self, config: LotteryConfig, seed: int, train: tuple, test: tuple, sink: Run | None,
                 progress: bool | None) -> None:
        self.config, self.seed, self.train, self.test, self.sink = config, seed, train, test, sink
        self.progress = progress
        self.rows: list[LevelRow] = []

    def network(self, init_seed: int) -> nn.Module:
        x, y = self.train
        return build_model("mlp", in_features=x.shape[1], num_classes=int(y.max()) + 1, hidden=self.config.hidden,
                           batchnorm=False, seed=init_seed).to(self.config.device)

    def fit(self, model: nn.Module, round_: int, kind: str, start: int, callbacks: tuple = (),
            schedule: Schedule | None = None) -> None:
        """Train ``model`` from iteration ``start`` to ``iterations``; record its test accuracy."""
        c = self.config
        train_config = TrainConfig(optimizer=c.optimizer, lr=c.lr, batch_size=c.batch_size, epochs=c.iterations,
                                   max_iterations=c.iterations - start, stop_loss=None, seed=self.seed,
                                   device=c.device, progress=self.progress)
        outcome = Trainer(model, *self.train, train_config, callbacks=callbacks, schedule=schedule,
                          eval_x=self.test[0], eval_y=self.test[1]).fit()
        row = LevelRow(self.seed, round_, kind, sparsity(model).overall, float(outcome.final_eval_accuracy),
                       outcome.final_train_loss)
        self.rows.append(row)
        if self.sink is not None:
            layer = f"round={round_}/{kind}/seed={self.seed}"
            self.sink.log_many([(c.iterations, layer, name, getattr(row, name), outcome.epochs_run)
                                for name in ("remaining", "test_accuracy", "train_loss")])

    def prune(self) -> None:
        """The dense run, then every round: prune, rewind, train the ticket and both controls."""
        c, k = self.config, self.config.rewind_iteration
        ticket = self.network(self.seed)
        saved = [snapshot(ticket)] if k == 0 else []
        capture = (lambda state: saved.append(snapshot(state.model)),) if k > 0 else ()
        self.fit(ticket, 0, "ticket", 0, capture, Schedule.at([k]) if k > 0 else None)
        for round_ in range(1, c.rounds + 1):
            masks = prune_by_magnitude(ticket, c.rate, scope=c.scope, output_rate=c.output_rate)
            rewind(ticket, saved[0], masks)
            self.fit(ticket, round_, "ticket", k)
            reinit = apply_masks(self.network(derive_seed(self.seed, f"reinit-{round_}")), masks)
            self.fit(reinit, round_, "reinit", 0)
            shuffled = random_masks_like(masks, derive_seed(self.seed, f"random-mask-{round_}"))
            self.fit(rewind(self.network(self.seed), saved[0], shuffled), round_, "random", k)


def run(config: LotteryConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> LotteryResult:
    """Every seed's dense run, pruning rounds and controls; recorded in ``store``."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: LotteryConfig, sink: Run | None, progress: bool | None) -> LotteryResult:
    train, test = _inputs(config)
    rows: list[LevelRow] = []
    for s in range(config.seeds):
        runs = _Runs(config, config.seed + s, train, test, sink, progress)
        runs.prune()
        rows += runs.rows
    result = LotteryResult(config, rows)
    result.diverged = any(not math.isfinite(row.train_loss) for row in rows)
    result.message = "a training run diverged; lower --lr" if result.diverged else ""
    return result


def from_summary(config: LotteryConfig, summary: dict[str, Any], run_id: str) -> LotteryResult:
    return LotteryResult(config, [LevelRow(**row) for row in summary["rows"]], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

TICKET_CLAIM = "a winning ticket keeps at most 20% of the weights within 0.5 points of the dense accuracy"
CONTROL_CLAIM = "both controls fall below the ticket there by more than the seed spread"


def verdict(result: LotteryResult) -> list[Verdict]:
    levels = result.levels()
    match = result.sparsest_match()
    quantity = "fraction of weights remaining at the sparsest matching level"
    measured = 1.0 if match is None else match.remaining
    sparsest = min(lv.remaining for lv in levels)
    if sparsest > MAX_REMAINING and (match is None or match.remaining > MAX_REMAINING):
        ticket = undecided(TICKET_CLAIM, quantity, measured, MAX_REMAINING, "<=",
                           f"the run pruned only to {sparsest:.1%} of the weights; add --rounds to go below "
                           f"{MAX_REMAINING:.0%}")
    else:
        ticket = check(TICKET_CLAIM, quantity, measured, MAX_REMAINING, "<=")
    margin_quantity = "smaller margin of the ticket over a control, minus the seed spread (points)"
    seeds = Evidence(len(levels[0].accuracy["ticket"]), MIN_SEEDS, "seeds", "a seed-to-seed spread")
    if not seeds.enough or match is None:
        controls = undecided(CONTROL_CLAIM, margin_quantity, math.nan, 0.0, ">", seeds.shortfall if not seeds.enough
                             else "no pruned level keeps the ticket within 0.5 points of the dense network")
    else:
        margins = [100 * (match.mean("ticket") - match.mean(kind) - max(match.std("ticket"), match.std(kind)))
                   for kind in KINDS[1:]]
        controls = check(CONTROL_CLAIM, margin_quantity, min(margins), 0.0, ">")
    return [ticket, controls]


# -- output --------------------------------------------------------------------------------------------------

def _cell(level: Level, kind: str) -> str:
    if kind not in level.accuracy:
        return "-"
    std = level.std(kind)
    return f"{100 * level.mean(kind):.2f}" + (f" ± {100 * std:.2f}" if math.isfinite(std) else "")


def report(result: LotteryResult) -> str:
    c = result.config
    rewound = "initialisation" if c.rewind_iteration == 0 else f"iteration {c.rewind_iteration}"
    output = (f"output layer at {c.output_rate:g}" if c.output_rate is not None
              else ("output layer at half rate" if c.scope == "layerwise" else "output layer in the threshold"))
    lines = [f"lottery tickets: {c.dataset} n={c.data_length}, MLP {'-'.join(map(str, c.hidden))}, {c.optimizer} "
             f"lr {c.lr:g} batch {c.batch_size}, {c.iterations} iterations per run; {c.rounds} rounds at {c.rate:g} "
             f"({c.scope}, {output}), rewound to {rewound}; {c.seeds} seed(s)", "",
             "test accuracy (%) at the end of training, mean ± std over seeds", "",
             f"{'round':>5} {'weights left':>12} {'ticket':>14} {'random reinit':>14} {'random mask':>14}"]
    match = result.sparsest_match()
    for level in result.levels():
        mark = "  <- sparsest within 0.5 of dense" if match is not None and level.round == match.round else ""
        lines.append(f"{level.round:>5} {100 * level.remaining:>11.1f}% {_cell(level, 'ticket'):>14} "
                     f"{_cell(level, 'reinit'):>14} {_cell(level, 'random'):>14}{mark}")
    return "\n".join(lines)


def figure(result: LotteryResult, path: str | Path) -> Path:
    """Test accuracy against the percentage of weights remaining (log axis, decreasing), ticket and controls,
    mean ± std over seeds, with the dense accuracy and the δ band (as Frankle & Carbin's Figure 1)."""
    levels = result.levels()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for kind, label in zip(KINDS, ("winning ticket", "random reinit", "random mask")):
        shown = [lv for lv in levels if kind in lv.accuracy]
        ax.errorbar([100 * lv.remaining for lv in shown], [100 * lv.mean(kind) for lv in shown],
                    yerr=[100 * np.nan_to_num(lv.std(kind)) for lv in shown], marker="o", capsize=3, label=label)
    dense = 100 * levels[0].mean("ticket")
    ax.axhspan(dense - 100 * DELTA, dense + 100 * DELTA, color="grey", alpha=0.2, label="dense ± 0.5")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("weights remaining (%)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=110)


STUDY = Study(
    name=NAME, claim=CLAIM, config=LotteryConfig,
    presets={
        "quick": Preset("LeNet-300-100 on the 4,000 embedded MNIST training images, Adam 1.2e-3, batch 60, 1,000 "
                        "iterations per run, 9 rounds at 20% per layer (13.4% of the hidden weights left), "
                        "3 seeds"),
        "paper": Preset("GPU run: Frankle & Carbin's LeNet-300-100: full MNIST under --root (55,000 training "
                        "images), 50,000 iterations per run, Adam 1.2e-3, batch 60, 20% per round (output layer "
                        "10%), 20 rounds, 5 seeds",
                        {"data_length": 55000, "iterations": 50000, "rounds": 20, "seeds": 5}),
        "tiny": Preset("seconds, for tests: 64 digits, MLP 16-8, 30 iterations, 2 rounds at 50%, 3 seeds",
                       {"dataset": "digits", "data_length": 64, "hidden": [16, 8], "batch_size": 16,
                        "iterations": 30, "rounds": 2, "rate": 0.5}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary,
    quick_seconds=320, check=check_config,
    below_minimum={"seeds": 2},
)
