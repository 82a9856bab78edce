"""The edge of stability (Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient Descent on Neural Networks
Typically Occurs at the Edge of Stability", ICLR 2021).

Claim: under full-batch gradient descent with step size η the sharpness λ(t) = the largest eigenvalue
of the Hessian of the training loss first rises ("progressive sharpening") until it reaches the
stability threshold 2/η of a quadratic, (2 + 2β)/η with momentum β, then hovers at or just above it
("edge of stability") while the training loss keeps falling over the long run, though not
monotonically. GD on a quadratic diverges exactly when λ > 2/η; the claim is that neural networks
self-stabilise there instead.

Per learning rate this study trains the same initialisation with full-batch GD (Polyak or Nesterov
momentum optional) through deepscope's Trainer, logs the train loss and accuracy every step and the
sharpness (Lanczos on exact Hessian-vector products, warm-started from the last top eigenvector)
every ``eig_every`` steps, and checks three things, with thresholds fixed here before any run:

- progressive sharpening: Spearman ρ(step, λ) over the evaluations before λ first reaches
  ``REACH`` · 2/η is >= ``SHARPENING_RHO`` (at least ``MIN_EVALS`` evaluations);
- edge of stability: after that, the fraction of evaluations with λ inside ``BAND`` · 2/η (the
  issue's 0.8-1.2) is >= ``EOS_FRACTION`` (at least ``MIN_EVALS`` evaluations). A learning rate
  whose threshold is never reached gets UNDECIDED with the largest λ seen, not FAILS;
- the loss keeps falling: the mean train loss over the last tenth of the steps is below the loss
  when λ first reached the threshold (at least ``MIN_STEPS_AFTER`` steps after it); the number of
  step-to-step increases after that point is reported (non-monotone descent).

Optionally (``flow``) the same initialisation follows gradient flow dθ/dt = −∇L(θ) by fourth-order
Runge–Kutta with the step min(α/λ, η_min) (λ re-measured every ``eig_every`` steps), as the paper's
reference for what GD would do if it tracked the flow: its sharpness is drawn against time t = η·step.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from deepscope.config import ConfigError, check_directory, setting
from deepscope.data.registry import get_dataset_info
from deepscope.errors import DeepscopeError
from deepscope.metrics.curvature import hessian_eigenvalues
from deepscope.models import build_model
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.inputs import classification_data
from deepscope.studies.verdict import Evidence, Verdict, check, undecided
from deepscope.train import Schedule, TrainConfig, Trainer, TrainState
from deepscope.train.config import check_device

NAME = "eos"
CLAIM = ("Full-batch gradient descent sharpens until the top Hessian eigenvalue reaches 2/lr, then hovers there "
         "while the loss keeps falling non-monotonically (Cohen et al., ICLR 2021).")
REACH = 0.95              # lambda counts as having reached the threshold within 5% (evaluations are discrete)
SHARPENING_RHO = 0.8      # Spearman rho(step, lambda) before reaching the threshold
BAND = (0.8, 1.2)         # the edge of stability: lambda within this band of the threshold ...
EOS_FRACTION = 0.75       # ... for at least this fraction of the evaluations after first reaching it
MIN_EVALS = 4             # sharpness evaluations each part of the claim needs
MIN_STEPS_AFTER = 10      # training steps after reaching the threshold that the loss claim needs
TAIL = 0.1                # the "long run": the last tenth of the steps


@dataclass
class EOSConfig:
    """One edge-of-stability experiment. Defaults: the quick CPU preset (a few minutes here)."""

    dataset: str = setting("mnist", "classification data set (`deepscope datasets`)", check=get_dataset_info)
    data_length: int = setting(2000, "training points (stratified subset; the paper: 5,000 of CIFAR-10)", min=1)
    data_size: int | None = setting(10, "resize images to data_size x data_size (images only)", min=1)
    width: int = setting(200, "width of each hidden layer of the fully connected net", min=1)
    depth: int = setting(3, "number of linear layers (depth-1 hidden layers), no BatchNorm", min=2)
    activation: str = setting("tanh", "hidden activation (the paper's fc-tanh and fc-relu)", choices=("tanh", "relu"))
    loss: str = setting("mse", "mse (against one-hot targets, mean over all entries) or ce (cross-entropy)",
                        choices=("mse", "ce"))
    lrs: list[float] = setting([0.3, 0.2, 0.1], "learning rates, each run from the same initialisation",
                               item_gt=0, distinct=True)
    momentum: float = setting(0.0, "momentum beta (threshold (2 + 2 beta)/lr)", min=0, lt=1)
    nesterov: bool = setting(False, "Nesterov instead of Polyak momentum")
    steps: int = setting(2000, "full-batch gradient steps per learning rate", min=1)
    eig_every: int = setting(50, "measure the sharpness every this many steps (and at the end)", min=1)
    eig_tol: float = setting(1e-3, "relative tolerance of the top eigenvalue", gt=0, lt=1)
    flow: bool = setting(False, "also integrate gradient flow (RK4) from the same initialisation")
    flow_alpha: float = setting(0.5, "gradient-flow step: min(flow_alpha / sharpness, smallest lr)", gt=0)
    seed: int = setting(0, "seed of the data subset and the initialisation", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)
    root: str | None = setting(None, "directory holding data files (IDX, CIFAR batches)", check=check_directory)


def check_config(config: EOSConfig) -> None:
    if config.eig_every > config.steps:
        raise ConfigError("eig_every", f"is {config.eig_every} but the run has {config.steps} steps (--steps); "
                                       f"measure at least once during training")


@dataclass
class Trajectory:
    """One learning rate's run: per-step loss and accuracy, per-evaluation sharpness."""

    lr: float
    threshold: float
    losses: list[float]
    accuracies: list[float]
    eig_steps: list[int]
    sharpness: list[float]
    diverged: bool = False
    message: str = ""
    hvps: int = 0

    @property
    def reached(self) -> int | None:
        """Index of the first evaluation with sharpness >= REACH * threshold, or None."""
        return next((i for i, s in enumerate(self.sharpness) if s >= REACH * self.threshold), None)


@dataclass
class EOSResult:
    config: EOSConfig
    runs: list[Trajectory]
    flow_times: list[float] = field(default_factory=list)
    flow_sharpness: list[float] = field(default_factory=list)
    run_id: str | None = None
    reused: bool = False
    message: str = ""

    @property
    def diverged(self) -> bool:
        return all(run.diverged for run in self.runs)

    def summary(self) -> dict[str, Any]:
        return {"runs": [asdict(run) for run in self.runs], "flow_times": self.flow_times,
                "flow_sharpness": self.flow_sharpness, "run_id": self.run_id, "config": asdict(self.config)}


# -- the experiment ----------------------------------------------------------------------------------------

def _data(config: EOSConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs [n, d] (standardised), the training targets (one-hot for MSE) and the labels."""
    data = classification_data(config, normalize=True)
    x = data.flat()
    target = F.one_hot(data.y, data.num_classes).float() if config.loss == "mse" else data.y
    return x, target, data.y


def _loss_fn(config: EOSConfig):
    return F.mse_loss if config.loss == "mse" else F.cross_entropy


def _model(config: EOSConfig, x: torch.Tensor, labels: torch.Tensor) -> nn.Module:
    return build_model("mlp", in_features=x.shape[1], num_classes=int(labels.max()) + 1,
                       hidden=[config.width] * (config.depth - 1), activation=config.activation, batchnorm=False,
                       seed=config.seed).to(config.device)


class _Monitor:
    """Trainer callback: accuracy before every step, sharpness every ``every`` steps (warm-started)."""

    def __init__(self, config: EOSConfig, x: torch.Tensor, target: torch.Tensor, labels: torch.Tensor,
                 run: Trajectory, sink: Run | None) -> None:
        self.config, self.x, self.target, self.labels, self.run, self.sink = config, x, target, labels, run, sink
        self.vector: torch.Tensor | None = None

    def __call__(self, state: TrainState) -> None:
        if state.epoch_losses and not math.isfinite(state.epoch_losses[-1]):
            return  # diverged: nothing left to measure
        step = state.step.iteration
        if not state.finished:
            with torch.no_grad():
                self.run.accuracies.append(float((state.model(self.x).argmax(1) == self.labels).float().mean()))
        if step % self.config.eig_every == 0 or state.finished:
            self._sharpness(state.model, step)

    def _sharpness(self, model: nn.Module, step: int) -> None:
        if self.run.eig_steps and self.run.eig_steps[-1] == step:
            return
        top = hessian_eigenvalues(model, _loss_fn(self.config), self.x, self.target, k=1, tol=self.config.eig_tol,
                                  seed=self.config.seed, v0=self.vector)
        self.vector = top.eigenvectors[:, 0]
        self.run.hvps += top.num_products
        value = float(top)
        self.run.eig_steps.append(step)
        self.run.sharpness.append(value)
        if self.sink is not None:
            self.sink.log(step, f"lr={self.run.lr:g}", "sharpness", value, epoch=step)


def _optimizer(config: EOSConfig, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum,
                           nesterov=config.nesterov and config.momentum > 0)


def _train(config: EOSConfig, lr: float, x: torch.Tensor, target: torch.Tensor, labels: torch.Tensor,
           sink: Run | None, progress: bool | None) -> Trajectory:
    run = Trajectory(lr, (2 + 2 * config.momentum) / lr, [], [], [], [])
    model = _model(config, x, labels)
    monitor = _Monitor(config, x, target, labels, run, sink)
    train = TrainConfig(optimizer="sgd", lr=lr, batch_size=len(x), epochs=config.steps, stop_loss=None,
                        seed=config.seed, device=config.device, progress=progress)
    outcome = Trainer(model, x, target, train, callbacks=[monitor], schedule=Schedule.periodic(1),
                      optimizer=_optimizer(config, model, lr)).fit()
    run.losses = list(outcome.epoch_losses)
    run.diverged, run.message = outcome.diverged, outcome.message
    if sink is not None:
        layer = f"lr={lr:g}"
        sink.log_many([(s, layer, name, value, s) for s, (loss, acc) in enumerate(zip(run.losses, run.accuracies))
                       for name, value in (("train_loss", loss), ("train_accuracy", acc))])
    return run


def _gradient(model: nn.Module, loss_fn, x, target) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss_fn(model(x), target), params)
    return torch.cat([g.reshape(-1) for g in grads])


def gradient_flow(config: EOSConfig, x, target, labels, horizon: float) -> tuple[list[float], list[float]]:
    """Sharpness along gradient flow up to time ``horizon``, by RK4 with step min(alpha/lambda, lr_min).

    θ' = −∇L(θ); one RK4 step of size h: k1 = −g(θ), k2 = −g(θ + h k1/2), k3 = −g(θ + h k2/2),
    k4 = −g(θ + h k3), θ += h (k1 + 2 k2 + 2 k3 + k4)/6. λ is re-measured every ``eig_every`` steps.
    """
    model, loss_fn = _model(config, x, labels), _loss_fn(config)
    params = [p for p in model.parameters() if p.requires_grad]
    flat = torch.nn.utils.parameters_to_vector(params).detach()

    def g(theta: torch.Tensor) -> torch.Tensor:
        torch.nn.utils.vector_to_parameters(theta, params)
        return _gradient(model, loss_fn, x, target)

    times, values, t, i, vector, lam = [], [], 0.0, 0, None, math.nan
    max_step = min(config.lrs)
    while t < horizon:
        if i % config.eig_every == 0:
            torch.nn.utils.vector_to_parameters(flat, params)
            top = hessian_eigenvalues(model, loss_fn, x, target, k=1, tol=config.eig_tol, seed=config.seed, v0=vector)
            vector, lam = top.eigenvectors[:, 0], float(top)
            times.append(t)
            values.append(lam)
        h = min(config.flow_alpha / lam if lam > 0 else max_step, max_step, horizon - t)
        k1 = -g(flat)
        k2 = -g(flat + h / 2 * k1)
        k3 = -g(flat + h / 2 * k2)
        k4 = -g(flat + h * k3)
        flat = flat + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t, i = t + h, i + 1
        if not torch.isfinite(flat).all():
            raise DeepscopeError("gradient flow left finite values; lower --flow-alpha")
    return times, values


def run(config: EOSConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> EOSResult:
    """Train each learning rate from the same initialisation with full-batch GD; record everything."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: EOSConfig, sink: Run | None, progress: bool | None) -> EOSResult:
    x, target, labels = _data(config)
    result = EOSResult(config, [_train(config, lr, x, target, labels, sink, progress) for lr in config.lrs])
    result.message = "; ".join(f"lr {run.lr:g}: {run.message}" for run in result.runs if run.diverged)
    if config.flow:
        result.flow_times, result.flow_sharpness = gradient_flow(config, x, target, labels,
                                                                 config.steps * min(config.lrs))
    return result


def from_summary(config: EOSConfig, summary: dict[str, Any], run_id: str) -> EOSResult:
    return EOSResult(config, [Trajectory(**run) for run in summary["runs"]], summary["flow_times"],
                     summary["flow_sharpness"], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def _sharpening(run: Trajectory) -> Verdict:
    before = run.sharpness[:run.reached] if run.reached is not None else run.sharpness
    rho = float(spearmanr(np.arange(len(before)), before)[0]) if len(before) >= 2 else math.nan
    return check(f"lr {run.lr:g}: progressive sharpening before reaching 2/lr", "Spearman rho(step, sharpness)",
                 rho, SHARPENING_RHO, ">=", Evidence(len(before), MIN_EVALS, "evaluations before the threshold",
                                                     "progressive sharpening"))


def _edge(run: Trajectory) -> Verdict:
    claim = f"lr {run.lr:g}: sharpness hovers within {BAND[0]:g}-{BAND[1]:g} x 2/lr after reaching it"
    quantity = "fraction of evaluations in the band"
    if run.diverged:
        return check(claim, quantity, math.nan, EOS_FRACTION, ">=")
    if run.reached is None:
        top = max(run.sharpness, default=math.nan)
        reason = (f"sharpness never reached 2/lr = {run.threshold:.4g} in {len(run.losses)} steps (largest "
                  f"{top:.4g} = {top / run.threshold:.2f} x 2/lr); a larger lr or a longer run would reach it")
        return undecided(claim, quantity, math.nan, EOS_FRACTION, ">=", reason)
    after = np.asarray(run.sharpness[run.reached:]) / run.threshold
    inside = float(np.mean((after >= BAND[0]) & (after <= BAND[1])))
    return check(claim, quantity, inside, EOS_FRACTION, ">=",
                 Evidence(len(after), MIN_EVALS, "evaluations after reaching 2/lr", "the edge of stability"))


def _loss_falls(run: Trajectory) -> Verdict:
    claim = f"lr {run.lr:g}: the train loss keeps falling at the edge of stability"
    quantity = "late loss / loss on reaching 2/lr"
    if run.diverged:
        return check(claim, quantity, math.nan, 1.0, "<=")
    if run.reached is None:
        reason = "sharpness never reached 2/lr, so there was no edge of stability to fall at"
        return undecided(claim, quantity, math.nan, 1.0, "<=", reason)
    start = run.eig_steps[run.reached]
    after = run.losses[start:]
    tail = max(1, int(TAIL * len(run.losses)))
    ratio = float(np.mean(run.losses[-tail:]) / run.losses[start]) if after else math.nan
    verdict = check(claim, quantity, ratio, 1.0, "<=",
                    Evidence(len(after), MIN_STEPS_AFTER, "steps after reaching 2/lr", "the loss claim"))
    rises = int(np.sum(np.diff(after) > 0))
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; the loss rose on {rises} of {max(len(after) - 1, 0)} steps",
                   verdict.reason)


def verdict(result: EOSResult) -> list[Verdict]:
    return [v for run in result.runs for v in (_sharpening(run), _edge(run), _loss_falls(run))]


# -- output --------------------------------------------------------------------------------------------------

def figure(result: EOSResult, path: str | Path) -> Path:
    """Sharpness against time η·step with the 2/η lines, train loss below; one colour per learning rate."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 6), sharex=True)
    for i, run in enumerate(result.runs):
        colour = f"C{i}"
        top.plot(np.asarray(run.eig_steps) * run.lr, run.sharpness, "o-", ms=3, color=colour, label=f"lr {run.lr:g}")
        top.axhline(run.threshold, color=colour, ls="--", lw=1)
        bottom.plot(np.arange(len(run.losses)) * run.lr, run.losses, color=colour, lw=1)
    if result.flow_times:
        top.plot(result.flow_times, result.flow_sharpness, "k-", lw=1.5, label="gradient flow")
    top.set_ylabel("sharpness (top Hessian eigenvalue)")
    top.set_title("dashed: 2/lr (with momentum (2+2β)/lr)", fontsize=9)
    top.legend(fontsize=8)
    bottom.set_yscale("log")
    bottom.set_xlabel("time = lr × step")
    bottom.set_ylabel("train loss")
    return save_figure(fig, path, dpi=110)


def report(result: EOSResult) -> str:
    c = result.config
    lines = [f"edge of stability: {c.dataset} n={c.data_length}, fc-{c.activation} depth {c.depth} width {c.width}, "
             f"{c.loss} loss, full-batch GD{f' momentum {c.momentum:g}' if c.momentum else ''}, {c.steps} steps, "
             f"sharpness every {c.eig_every}", "",
             f"{'lr':>8} {'2/lr':>8} {'sharp@0':>8} {'reached':>8} {'final':>8} {'in band':>8} {'loss':>10} "
             f"{'acc':>6} {'HVPs':>6}"]
    for run in result.runs:
        reached = "-" if run.reached is None else str(run.eig_steps[run.reached])
        after = np.asarray(run.sharpness[run.reached:]) / run.threshold if run.reached is not None else np.array([])
        band = f"{np.mean((after >= BAND[0]) & (after <= BAND[1])):.2f}" if after.size else "-"
        lines.append(f"{run.lr:>8g} {run.threshold:>8.3g} {run.sharpness[0] if run.sharpness else math.nan:>8.3f} "
                     f"{reached:>8} {run.sharpness[-1] if run.sharpness else math.nan:>8.3f} {band:>8} "
                     f"{run.losses[-1] if run.losses else math.nan:>10.4g} "
                     f"{run.accuracies[-1] if run.accuracies else math.nan:>6.3f} {run.hvps:>6}")
        if run.diverged:
            lines.append(f"         {run.message}")
    if result.flow_times:
        lines.append(f"gradient flow to t = {result.flow_times[-1]:.3g}: sharpness {result.flow_sharpness[0]:.3f} -> "
                     f"{result.flow_sharpness[-1]:.3f}")
    return "\n".join(lines)


STUDY = Study(
    name=NAME, claim=CLAIM, config=EOSConfig,
    presets={
        "quick": Preset("fc-tanh 100-200-200-10 on 2,000 embedded MNIST digits at 10x10, MSE, full-batch GD at lr "
                        "0.3, 0.2, 0.1 for 2,000 steps, sharpness every 50"),
        "paper": Preset("GPU run: the paper's fc-tanh on a 5,000-image CIFAR-10 subset (needs --root), MSE, "
                        "2/lr from 30 to 90 in its loss (ours is 5x smaller: mean over the 10 outputs), 20,000 steps",
                        {"dataset": "cifar10", "data_length": 5000, "data_size": 32, "lrs": [0.33, 0.2, 0.14, 0.11],
                         "steps": 20000, "eig_every": 50}),
        "tiny": Preset("seconds, for tests: 200 digits, width 32, lr 0.5 and 0.05, 60 steps",
                       {"dataset": "digits", "data_length": 200, "data_size": 8, "width": 32, "lrs": [0.5, 0.05],
                        "steps": 60, "eig_every": 10}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=122,
    below_minimum={"steps": 20, "eig_every": 10},
)
