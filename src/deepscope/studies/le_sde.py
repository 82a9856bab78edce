"""Locally elastic SDEs on GeoMNIST (Zhang, Wang & Su, "Imitating Deep Learning Dynamics via Locally
Elastic Stochastic Differential Equations", NeurIPS 2021; seed ``zjiayao/le_sde``).

Claim: the class-mean logits of SGD-trained networks follow an LE-SDE whose intra-class impact α exceeds
its inter-class impact β when labels are clean (local elasticity), which separates the classes and
drives the training loss to zero; corrupting a fraction p of the labels lowers the effective
intra-class impact, and the dynamics stop separating the classes at a sharp transition, p = 2/3 for
three classes (where a class keeps as many of its own labels as it gives to each other class).

Per label-noise level p the study runs ``trials`` independent trials of batch-size-1 SGD of a fresh
LeNet-5 on GeoMNIST together (:mod:`deepscope.studies.le_sde_logger`), logging the drawn example's
logits before each update and the validation loss and accuracy on a schedule; averages the logits by
the drawn example's class (``group_by='class'``; or by its possibly noisy training label, as the
seed) into class means X^c(t); estimates A(t), B(t) by estimator "L" and "I", α̂, β̂ by
Savitzky–Golay, the tail indices r̂_α, r̂_β, and (clean run) simulates the LE-ODE from the seed's
random start (:mod:`deepscope.metrics.le_sde`). Spreads come from resampling the trials
(``bootstrap`` resamples, 95% percentile intervals).

Verdicts (thresholds fixed before any run):

- clean labels, α > β: the mean of α̂ − β̂ over the run (the growth rate of the separating mode, per
  step) has the lower end of its 95% interval >= 0;
- clean labels, the training loss vanishes: the drawn examples' mean loss over the last ``tail``
  iterations is at most ``LOSS_FRACTION`` of its starting value ln K;
- the transition: the noise level p* at which the late-run slope of the separating mode first turns
  from positive to non-positive (linear interpolation between adjacent levels) has its 95% interval
  inside ``BAND`` = 2/3 ± 0.1 (needs ``MIN_LEVELS`` noise levels and levels on both sides of 2/3).
  The separating mode s(t) = mean_c ⟨d_c, X^c(t)⟩/‖d_c‖² is the signed amplitude whose log estimator
  "L" differentiates for A − B; the slope is its least-squares slope over the second half of the run.
  The sign matters: beyond 2/3 a class's images carry more labels of each other class than of their
  own, the class means move against their own directions, and ln|s| — hence A − B — can grow again
  while the classes are pushed the wrong way.

The seed's bugs fixed here (seeds.md §5.4): everything is seeded (data, initialisations, draws,
starts); no pandas (arrays, stored in the run record); the class names are the generator's (0
triangle, 1 rectangle, 2 ellipse); estimator "L" refuses K ≠ 3 instead of silently assuming it; the
validation set is evaluated on a schedule rather than after every update.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.config import ConfigError, setting
from deepscope.data import load_dataset
from deepscope.data.geomnist import CLASS_NAMES
from deepscope.errors import DeepscopeError
from deepscope.metrics.le_sde import (check_window, class_means, estimate_ab, le_ode_euler, random_start,
                                      savgol_rate, separating_mode, tail_index)
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.le_sde_logger import TrialLog, log_trials
from deepscope.studies.verdict import Evidence, Verdict, check, check_interval, undecided
from deepscope.train.config import check_device

NAME = "le-sde"
CLAIM = ("Under batch-size-1 SGD the class-mean logits follow a locally elastic SDE: with clean labels the "
         "intra-class impact exceeds the inter-class one and the training loss vanishes, and label noise "
         "stops the class separation at p = 2/3 for three classes (Zhang, Wang & Su, NeurIPS 2021).")
K = len(CLASS_NAMES)
TRANSITION = 2 / 3
BAND = (TRANSITION - 0.1, TRANSITION + 0.1)   # the 95% interval of p* must lie inside (one sweep step of 2/3)
LOSS_FRACTION = 0.1                            # the late training loss at most this fraction of ln K
MIN_LEVELS = 4                                 # noise levels the transition needs
MAX_POINTS = 500                               # series are stored thinned to at most this many points


def _check_noise(levels: list[float]) -> None:
    bad = [p for p in levels if not 0 <= p < 1]
    if bad:
        raise DeepscopeError(f"holds {bad}; a label-noise level p is the fraction of each class's training labels "
                             f"moved to other classes and must be in [0, 1)")


@dataclass
class LESDEConfig:
    """The clean run and the label-noise sweep. Defaults: the quick CPU preset (under 15 minutes here)."""

    noise: list[float] = setting([0.0, 0.4, 0.6, 2 / 3, 0.7, 0.8],
                                 "label-noise levels p (0: the clean run; the paper: 0, 0.1, ..., 0.8 and 2/3)",
                                 item_min=0, distinct=True, check=_check_noise)
    n_train: int = setting(500, "GeoMNIST training images per class (the seed's n_tr)", min=1)
    n_val: int = setting(100, "validation images per class (the seed: 500)", min=1)
    trials: int = setting(32, "independent batch-size-1 SGD trials per noise level, run together", min=1)
    iterations: int = setting(2000, "SGD updates per trial (the paper: 10,000)", min=2)
    lr: float = setting(0.025, "SGD step (the paper: 0.005 for 10,000 steps; here lr x iterations is the paper's "
                               "50)", gt=0)
    evaluations: int = setting(6, "validation evaluations per trial, evenly spaced, start and end included", min=2)
    group_by: str = setting("class", "average logits by the drawn image's true class or by its (noisy) training "
                                     "label, as the seed", choices=("class", "label"))
    estimator: str = setting("L", "estimator of A and B used by the verdicts (both are reported)",
                             choices=("L", "I"))
    window: int = setting(151, "Savitzky-Golay window of the rates alpha, beta (odd; the seed: 151)", min=3)
    ode_window: int = setting(21, "Savitzky-Golay window of the rates driving the LE-ODE (odd; the seed: 21)",
                              min=3)
    tail: int = setting(200, "last iterations of the tail index and the late loss (the seed: 1,000 of 10,000)",
                        min=1)
    sims: int = setting(500, "LE-ODE simulations from random starts", min=1)
    bootstrap: int = setting(200, "resamples of the trials for the 95 percent intervals", min=10)
    seed: int = setting(0, "seed of the data, the initialisations, the draws and the resamples", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)


def check_config(config: LESDEConfig) -> None:
    for name in ("window", "ode_window"):
        try:
            check_window(getattr(config, name), config.iterations)
        except DeepscopeError as exc:
            raise ConfigError(name, f"is bad: {exc} (--iterations {config.iterations})") from None
    if config.tail >= config.iterations:
        raise ConfigError("tail", f"is {config.tail} but the run has {config.iterations} iterations (--iterations); "
                                  f"pass fewer")


@dataclass
class Level:
    """One noise level: rates, tail indices, losses and accuracies, with bootstrap spreads and thinned series."""

    p: float
    separation_rate: float            # mean (alpha - beta) over the run, verdict estimator
    separation_rate_ci: list[float]
    late_slope: float                 # slope of the separating mode s(t) over the second half, per step
    late_slope_boot: list[float]
    r_alpha: float
    r_beta: float
    r_alpha_other: float              # the other estimator's tail indices
    r_beta_other: float
    late_loss: float                  # drawn examples' mean loss over the last `tail` iterations
    val_steps: list[int]
    val_loss: list[float]             # trial means
    val_accuracy: list[float]
    val_accuracy_std: list[float]
    steps: list[int]                  # thinned iteration indices of the series below
    A: list[float]
    B: list[float]
    alpha: list[float]
    beta: list[float]


@dataclass
class LESDEResult:
    config: LESDEConfig
    levels: list[Level]
    means_steps: list[int] = field(default_factory=list)      # clean run: thinned measured class means
    means: list[list[list[float]]] = field(default_factory=list)
    sim_mean: list[list[list[float]]] = field(default_factory=list)
    sim_std: list[list[list[float]]] = field(default_factory=list)
    run_id: str | None = None
    reused: bool = False
    diverged: bool = False
    message: str = ""

    def summary(self) -> dict[str, Any]:
        return {"levels": [asdict(level) for level in self.levels], "means_steps": self.means_steps,
                "means": self.means, "sim_mean": self.sim_mean, "sim_std": self.sim_std,
                "transition": transition(self.levels), "run_id": self.run_id, "config": asdict(self.config)}

    def clean(self) -> Level | None:
        return next((level for level in self.levels if level.p == 0), None)


# -- analysis ---------------------------------------------------------------------------------------------

def _thin(length: int) -> np.ndarray:
    return np.unique(np.linspace(0, length - 1, min(length, MAX_POINTS)).round().astype(int))


def _rates(means: np.ndarray, method: str, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    a, b = estimate_ab(means, method)
    return a, b, savgol_rate(a, window), savgol_rate(b, window)


def _late_slope(means: np.ndarray) -> float:
    """Least-squares slope per step of the separating mode s(t) over the second half of the run."""
    s = separating_mode(means)
    half = len(s) // 2
    return float(np.polyfit(np.arange(half, len(s)), s[half:], 1)[0])


def _analyse(config: LESDEConfig, p: float, log: TrialLog, groups: np.ndarray, rng: np.random.Generator) -> Level:
    other = "I" if config.estimator == "L" else "L"
    means = class_means(log.logits, groups, K)
    a, b, alpha, beta = _rates(means, config.estimator, config.window)
    a2, b2, _, _ = _rates(means, other, config.window)
    boot_rate, boot_late = [], []
    for _ in range(config.bootstrap):
        pick = rng.integers(0, config.trials, config.trials)
        resampled = class_means(log.logits[pick], groups[pick], K)
        _, _, ra, rb = _rates(resampled, config.estimator, config.window)
        boot_rate.append(float(np.mean(ra - rb)))
        boot_late.append(_late_slope(resampled))
    keep = _thin(len(a))
    return Level(p, float(np.mean(alpha - beta)), _interval(boot_rate),
                 _late_slope(means), boot_late, tail_index(a, config.tail), tail_index(b, config.tail),
                 tail_index(a2, config.tail), tail_index(b2, config.tail),
                 float(log.loss[:, -config.tail:].mean()), log.eval_steps.tolist(), log.val_loss.mean(0).tolist(),
                 log.val_accuracy.mean(0).tolist(), log.val_accuracy.std(0).tolist(), keep.tolist(),
                 a[keep].tolist(), b[keep].tolist(), alpha[keep].tolist(), beta[keep].tolist())


def _simulate(config: LESDEConfig, means: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """LE-ODE Euler runs from the seed's random start with the measured α̂, β̂ (window ``ode_window``), the
    trial mean rescaled per class so that its own logit's last-``tail`` mean matches the data."""
    _, _, alpha, beta = _rates(means, config.estimator, config.ode_window)
    sims = le_ode_euler(alpha[:-1], beta[:-1], random_start(means[0], config.sims, rng))   # [sims, T, K, K]
    mean, std = sims.mean(0), sims.std(0)
    for c in range(K):
        level = mean[-config.tail:, c, c].mean()
        scale = means[-config.tail:, c, c].mean() / level if level != 0 else 1.0
        mean[:, c], std[:, c] = mean[:, c] * scale, std[:, c] * abs(scale)
    return mean, std


def _crossing(levels: list[float], rates: list[float]) -> float:
    """The first p where the rate turns from > 0 to <= 0, interpolated; +inf if never, -inf if never positive."""
    if rates[0] <= 0:
        return -math.inf
    for (p0, r0), (p1, r1) in zip(zip(levels, rates), zip(levels[1:], rates[1:])):
        if r1 <= 0 < r0:
            return p0 + (p1 - p0) * r0 / (r0 - r1)
    return math.inf


def transition(levels: list[Level]) -> dict[str, Any]:
    """p* from the late slopes of the separating mode, and its bootstrap 95% interval (resamples paired by index)."""
    ordered = sorted(levels, key=lambda level: level.p)
    if len(ordered) < 2:
        return {"estimate": math.nan, "interval": [math.nan, math.nan]}
    ps = [level.p for level in ordered]
    estimate = _crossing(ps, [level.late_slope for level in ordered])
    boots = [_crossing(ps, list(rates)) for rates in zip(*(level.late_slope_boot for level in ordered))]
    return {"estimate": estimate, "interval": _interval(boots)}


def _interval(samples: list[float]) -> list[float]:
    """The 2.5% and 97.5% percentiles, read off the sorted samples (so that ±inf samples stay ±inf)."""
    if not samples:
        return [math.nan, math.nan]
    return [float(np.percentile(samples, 2.5, method="lower")), float(np.percentile(samples, 97.5, method="higher"))]


# -- the experiment ----------------------------------------------------------------------------------------

def _data(config: LESDEConfig, p: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training images, their (noisy) labels and true classes; validation images and labels."""
    n = config.n_train + config.n_val
    options = {"n_per_class": n, "train_fraction": config.n_train / n, "seed": config.seed, "device": config.device}
    train = load_dataset("geomnist", label_noise=p, **options)
    classes = load_dataset("geomnist", **options).y if p > 0 else train.y
    val = load_dataset("geomnist", split="test", **options)
    return train.x, train.y, classes, val.x, val.y


def run(config: LESDEConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> LESDEResult:
    """Log every noise level's trials, estimate the impacts, simulate the LE-ODE; record everything."""
    return record(STUDY, config, store, lambda sink: _run(config, sink), force=force)


def _run(config: LESDEConfig, sink: Run | None) -> LESDEResult:
    threads = torch.get_num_threads()
    if torch.device(config.device).type == "cpu":
        torch.set_num_threads(1)  # steps on single images: threads cost more than they save (Trainer.cpu_threads)
    try:
        return _sweep(config, sink)
    finally:
        torch.set_num_threads(threads)


def _sweep(config: LESDEConfig, sink: Run | None) -> LESDEResult:
    rng = np.random.default_rng(config.seed)
    seeds = [config.seed * 1_000_003 + t for t in range(config.trials)]
    result = LESDEResult(config, [])
    for p in sorted(config.noise):
        x, y, classes, x_val, y_val = _data(config, p)
        log = log_trials(x, y, x_val, y_val, seeds=seeds, iterations=config.iterations, lr=config.lr,
                         evaluations=config.evaluations)
        if log.diverged:
            result.diverged, result.message = True, f"p = {p:g}: the training loss left finite values; lower --lr"
            return result
        groups = (classes if config.group_by == "class" else y).cpu().numpy()[log.sample]
        level = _analyse(config, p, log, groups, rng)
        result.levels.append(level)
        if p == 0:
            means = class_means(log.logits, groups, K)
            mean, std = _simulate(config, means, rng)
            keep = _thin(len(means))
            result.means_steps = keep.tolist()
            result.means, result.sim_mean, result.sim_std = means[keep].tolist(), mean[keep].tolist(), std[keep].tolist()
        if sink is not None:
            layer = f"p={p:g}"
            sink.log_many([(s, layer, name, value, s) for s, loss, acc in
                           zip(level.val_steps, level.val_loss, level.val_accuracy)
                           for name, value in (("val_loss", loss), ("val_accuracy", acc))]
                          + [(config.iterations, layer, name, getattr(level, name), config.iterations)
                             for name in ("separation_rate", "late_slope", "r_alpha", "r_beta", "late_loss")])
    return result


def from_summary(config: LESDEConfig, summary: dict[str, Any], run_id: str) -> LESDEResult:
    return LESDEResult(config, [Level(**level) for level in summary["levels"]], summary["means_steps"],
                       summary["means"], summary["sim_mean"], summary["sim_std"], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def verdict(result: LESDEResult) -> list[Verdict]:
    clean = result.clean()
    elastic_claim = "clean labels: the intra-class impact exceeds the inter-class one (alpha > beta)"
    elastic_q = f"lower end of the 95% interval of mean alpha - beta per step (estimator {result.config.estimator})"
    loss_claim = "clean labels: the training loss vanishes"
    loss_q = "late training loss / ln K"
    if clean is None:
        reason = "no clean run (p = 0 is not in --noise)"
        verdicts = [undecided(elastic_claim, elastic_q, math.nan, 0.0, ">=", reason),
                    undecided(loss_claim, loss_q, math.nan, LOSS_FRACTION, "<=", reason)]
    else:
        low, high = clean.separation_rate_ci
        elastic = check(elastic_claim, elastic_q, low, 0.0, ">=")
        elastic = Verdict(elastic.claim, elastic.quantity, elastic.measured, elastic.threshold, elastic.direction,
                          elastic.holds, f"{elastic.detail}; mean alpha - beta {clean.separation_rate:.3e}, 95% "
                                         f"interval [{low:.3e}, {high:.3e}] over trial resamples", elastic.reason)
        verdicts = [elastic,
                    check(loss_claim, loss_q, clean.late_loss / math.log(K), LOSS_FRACTION, "<=")]
    found = transition(result.levels)
    ps = sorted(level.p for level in result.levels)
    claim = "label noise stops the class separation near p = 2/3"
    quantity = "p* where the separating mode's late slope turns non-positive"
    evidence = Evidence(len(ps), MIN_LEVELS, "noise levels", "a transition")
    if evidence.enough and not (ps[0] < TRANSITION < ps[-1]):
        verdicts.append(undecided(claim, quantity, found["estimate"], TRANSITION, f"within [{BAND[0]:g}, {BAND[1]:g}]",
                                  f"the noise levels {ps} do not straddle 2/3"))
    else:
        where = check_interval(claim, quantity, found["estimate"], tuple(found["interval"]), BAND, evidence)
        accuracy = ", ".join(f"{level.p:.3g}: {level.val_accuracy[-1]:.3f}"
                             for level in sorted(result.levels, key=lambda level: level.p))
        verdicts.append(Verdict(where.claim, where.quantity, where.measured, where.threshold, where.direction,
                                where.holds, f"{where.detail}; final validation accuracy by p: {accuracy}",
                                where.reason))
    return verdicts


# -- output --------------------------------------------------------------------------------------------------

def report(result: LESDEResult) -> str:
    c = result.config
    other = "I" if c.estimator == "L" else "L"
    lines = [f"LE-SDE on GeoMNIST: {c.trials} trials x {c.iterations} batch-size-1 SGD steps (lr {c.lr:g}) of a "
             f"LeNet-5 per noise level, {c.n_train} training / {c.n_val} validation images per class; logits "
             f"grouped by {c.group_by}; estimator {c.estimator} (tail indices of {other} in brackets)", "",
             f"{'p':>6} {'mean a-b':>10} {'95% interval':>22} {'late ds/dt':>10} {'r_alpha':>16} {'r_beta':>16} "
             f"{'late loss':>9} {'val acc':>13}"]
    for level in result.levels:
        ci = f"[{level.separation_rate_ci[0]:.2e}, {level.separation_rate_ci[1]:.2e}]"
        lines.append(f"{level.p:>6.3f} {level.separation_rate:>10.2e} {ci:>22} {level.late_slope:>10.2e} "
                     f"{level.r_alpha:>7.3f} ({level.r_alpha_other:>6.3f}) {level.r_beta:>7.3f} "
                     f"({level.r_beta_other:>6.3f}) {level.late_loss:>9.4f} "
                     f"{level.val_accuracy[-1]:>6.3f}±{level.val_accuracy_std[-1]:.3f}")
    found = transition(result.levels)
    lines.append(f"\ntransition p* = {found['estimate']:.3f}, 95% interval over trial resamples "
                 f"[{found['interval'][0]:.3f}, {found['interval'][1]:.3f}]")
    return "\n".join(lines)


def figure(result: LESDEResult, path: str | Path) -> Path:
    """Clean run: A, B and alpha, beta against iterations, the LE-ODE against the measured class means;
    sweep: separation rate, tail indices and validation accuracy against p with the 2/3 line."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    clean = result.clean()
    if clean is not None:
        ax = axes[0, 0]
        ax.plot(clean.steps, clean.A, label="A(t)")
        ax.plot(clean.steps, clean.B, label="B(t)")
        ax.set_title(f"clean labels: estimator {result.config.estimator}", fontsize=9)
        ax = axes[0, 1]
        ax.plot(clean.steps, clean.alpha, label="alpha(t)")
        ax.plot(clean.steps, clean.beta, label="beta(t)")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"rates (Savitzky-Golay, window {result.config.window})", fontsize=9)
        for a in axes[0, :2]:
            a.set_xlabel("iteration")
            a.legend(fontsize=8)
    if result.means:
        ax = axes[0, 2]
        means, sim, std = (np.asarray(v) for v in (result.means, result.sim_mean, result.sim_std))
        for c in range(K):
            ax.plot(result.means_steps, means[:, c, c], color=f"C{c}", lw=1, label=f"{CLASS_NAMES[c]} (data)")
            ax.plot(result.means_steps, sim[:, c, c], color=f"C{c}", ls="--", lw=1.5)
            ax.fill_between(result.means_steps, sim[:, c, c] - std[:, c, c], sim[:, c, c] + std[:, c, c],
                            color=f"C{c}", alpha=0.1)
        shown = np.concatenate([[means[:, c, c], sim[:, c, c]] for c in range(K)])
        ax.set_ylim(shown.min() - 0.5 * np.ptp(shown), shown.max() + 0.5 * np.ptp(shown))   # the std band may be far wider
        ax.set_title("own-class mean logit: data (solid), LE-ODE (dashed, ± std)", fontsize=9)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    ps = [level.p for level in result.levels]
    ax = axes[1, 0]
    late = [level.late_slope for level in result.levels]
    spread = np.asarray([_interval(level.late_slope_boot) for level in result.levels])
    ax.vlines(ps, spread[:, 0], spread[:, 1], color="C0", alpha=0.5)
    ax.plot(ps, late, "o-", color="C0")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title("late slope of the separating mode s(t) (95% over trials)", fontsize=9)
    ax = axes[1, 1]
    ax.plot(ps, [level.r_alpha for level in result.levels], "o-", label="r_alpha")
    ax.plot(ps, [level.r_beta for level in result.levels], "s-", label="r_beta")
    ax.axhline(1, color="k", lw=0.5)
    ax.set_title("tail indices", fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    ax.errorbar(ps, [level.val_accuracy[-1] for level in result.levels],
                yerr=[level.val_accuracy_std[-1] for level in result.levels], marker="o", capsize=3)
    ax.axhline(TRANSITION, color="grey", lw=0.5, ls=":")
    ax.set_title("final validation accuracy (mean ± std over trials)", fontsize=9)
    for ax in axes[1]:
        ax.axvline(TRANSITION, color="r", ls="--", lw=1)
        ax.set_xlabel("label noise p")
    return save_figure(fig, path, dpi=100)


STUDY = Study(
    name=NAME, claim=CLAIM, config=LESDEConfig,
    presets={
        "quick": Preset("GeoMNIST 500 train / 100 validation images per class; 32 trials x 2,000 batch-size-1 SGD "
                        "steps at lr 0.025 (the paper's lr x steps) per level p = 0, 0.4, 0.6, 2/3, 0.7, 0.8"),
        "paper": Preset("GPU run: the paper's 100 trials x 10,000 steps at lr 0.005 per level p = 0, 0.1, ..., 0.8 "
                        "and 2/3, 500 / 500 images per class, Savitzky-Golay window 151, tail 1,000",
                        {"noise": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 2 / 3, 0.7, 0.8], "n_val": 500, "trials": 100,
                         "iterations": 10000, "lr": 0.005, "tail": 1000}),
        "tiny": Preset("seconds, for tests: 4 trials x 60 steps at p = 0, 0.5, 0.7, 0.8, 40 / 10 images per class",
                       {"noise": [0.0, 0.5, 0.7, 0.8], "n_train": 40, "n_val": 10, "trials": 4, "iterations": 60,
                        "lr": 0.05, "evaluations": 2, "window": 21, "ode_window": 11, "tail": 20, "sims": 20,
                        "bootstrap": 10}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=270,
    below_minimum={"noise": [0.0, 0.8]},
)
