"""Grokking and the intrinsic dimension of the last hidden layer (Power, Burda, Edwards, Babuschkin &
Misra, "Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets", 2022; Brown,
Juravsky, Caterini & Loaiza-Ganem, "Relating Regularization and Generalization through the Intrinsic
Dimension of Activations", arXiv 2211.13239, 2022; the recipe of Nanda, Chan, Lieberum, Smith &
Steinhardt, "Progress measures for grokking via mechanistic interpretability", ICLR 2023).

Claim: a small transformer trained with weight decay on the equations a ∘ b = c (mod p) of a fraction
of all pairs first memorises its training set and only much later generalises to the held-out pairs
("grokking"); as the validation accuracy jumps, the intrinsic dimension of its last hidden layer (LLID)
drops (Brown et al.: from about 25 to about 10 at weight decay 1e-3); trained the same way without
weight decay it does not generalise within the same budget.

deepscope's GPT-2-style decoder (``build_model("transformer")``) is trained by deepscope's Trainer on
the ``modular`` data (tokens [a, o, b, =], label c) with AdamW (decoupled weight decay, Loshchilov &
Hutter 2019) or Adam with weight decay as L2 in the gradient (as act_ids), betas (0.9, 0.98) as both
recipes, full batch or mini-batch, with an optional linear learning-rate warm-up. Every ``log_every``
steps (and at every LLID checkpoint) the train and validation loss and accuracy are measured on the
whole splits in eval mode. At ``id_checkpoints`` log-spaced steps from 0 to ``steps`` (or the steps
listed in ``id_steps``) the probe point ``layer`` is captured on up to ``id_samples`` validation
equations and its TwoNN dimension (act_ids' variant: ``nres`` resamples of a share ``subsample``,
:func:`deepscope.metrics.intrinsic_dim.llid`) is logged. A control run repeats the same
initialisation and budget with weight decay 0.

Verdicts (thresholds fixed here before any run), with t_mem the first logged step with train
accuracy >= ``MEMORISED`` and t_gen the first with validation accuracy >= ``GENERALISED``:

- memorisation: the train accuracy reaches ``MEMORISED`` = 0.99;
- generalisation: the validation accuracy reaches ``GENERALISED`` = 0.95;
- grokking: t_gen / t_mem >= ``DELAY`` = 2 (at least ``MIN_EVALS`` accuracy evaluations up to t_mem,
  so t_mem is resolved to within a quarter);
- the LLID drops while the validation accuracy jumps: LLID at the first checkpoint at or after t_gen
  over LLID at the last checkpoint at or before t_mem is <= ``LLID_RATIO`` = 0.75 (a fall of at least
  a quarter; the paper's 25 -> 10 is 0.4), with at least ``MIN_ID_CHECKPOINTS`` checkpoints spanning
  the jump (so that one lies inside it);
- the control: without weight decay the best validation accuracy of the same budget stays below
  ``GENERALISED``; UNDECIDED when the weight-decay run did not generalise either.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from deepscope.config import ConfigError, setting
from deepscope.data import Dataset, load_dataset
from deepscope.data.modular import OPS, is_prime
from deepscope.errors import DeepscopeError
from deepscope.metrics.intrinsic_dim import llid
from deepscope.metrics.registry import compute_each, resolve
from deepscope.models import Transformer, build_model
from deepscope.probe import capture
from deepscope.report.figures import plt, save_figure
from deepscope.store import Run, Store
from deepscope.studies.base import Preset, Study, record
from deepscope.studies.verdict import Evidence, Verdict, check, undecided
from deepscope.train import Schedule, TrainConfig, Trainer, TrainState, build_optimizer, evaluate
from deepscope.train.config import check_device

NAME = "grokking"
CLAIM = ("A small transformer trained with weight decay on modular arithmetic memorises first and generalises at "
         "least twice as late, its last-hidden-layer intrinsic dimension dropping as validation accuracy jumps, and "
         "without weight decay it does not grok in the same budget (Power et al. 2022; Brown et al. 2022).")
MEMORISED = 0.99        # train accuracy that counts as memorised (the threshold)
GENERALISED = 0.95      # validation accuracy that counts as generalised
DELAY = 2.0             # grokking: t_gen at least this many times t_mem
LLID_RATIO = 0.75       # LLID after the jump / LLID before it, at most (a fall of at least a quarter)
MIN_EVALS = 4           # accuracy evaluations up to memorisation that the delay needs
MIN_ID_CHECKPOINTS = 3  # LLID checkpoints spanning the jump (the two brackets and one inside)
BETAS = (0.9, 0.98)     # Adam(W) betas of act_ids and of Nanda et al.


@dataclass
class GrokkingConfig:
    """One grokking run and its weight-decay-0 control. Defaults: the quick CPU preset."""

    op: str = setting("+", "the operation of a ∘ b mod p", choices=OPS)
    p: int = setting(59, "the modulus (a prime for division)", min=2)
    frac_train: float = setting(0.4, "share of all equations used for training (the rest: validation)", gt=0, lt=1)
    n_layer: int = setting(1, "transformer blocks", min=1)
    width: int = setting(128, "width of the residual stream (n_embd); the MLP is 4x wider", min=1)
    heads: int = setting(4, "attention heads (must divide width)", min=1)
    dropout: float = setting(0.0, "dropout on embeddings, attention and sub-block outputs (GPT-2's 0.1 in act_ids)",
                             min=0, lt=1)
    optimizer: str = setting("adamw", "adamw (decoupled weight decay) or adam (weight decay as L2 in the gradient, "
                             "as act_ids)", choices=("adamw", "adam"))
    lr: float = setting(1e-3, "learning rate (after the warm-up)", gt=0)
    weight_decay: float = setting(1.0, "weight decay of the grokking run (the control uses 0)", min=0)
    warmup: int = setting(0, "steps of linear learning-rate warm-up from lr/warmup to lr (0: none)", min=0)
    batch_size: int | None = setting(256, "mini-batch size (none: full batch)", min=1)
    steps: int = setting(2000, "optimizer updates (rounded up to whole epochs with mini-batches)", min=1)
    log_every: int = setting(50, "steps between train/validation accuracy and loss evaluations", min=1)
    id_checkpoints: int = setting(30, "log-spaced LLID checkpoints from step 0 to steps", min=2)
    id_steps: list[int] | None = setting(None, "explicit LLID checkpoint steps instead of the log-spaced ones",
                                         item_min=0, distinct=True)
    layer: str = setting("features", "probe point whose TwoNN dimension is the LLID (`features`: the last hidden "
                         "layer, before the classifier; act_ids hooked block{n_layer}.mlp)")
    id_samples: int = setting(1000, "at most this many validation equations for the LLID", min=3)
    nres: int = setting(20, "TwoNN resamples per LLID (act_ids: 20)", min=1)
    subsample: float = setting(0.9, "share of the points in each TwoNN resample (act_ids: 0.9)", gt=0, max=1)
    metrics: list[str] = setting([], "more metrics of the LLID layer at each LLID checkpoint, comma-separated (see "
                                     "`deepscope metrics --list`; labels: the answers c)", nonempty=False, check=resolve)
    control: bool = setting(True, "also train with weight decay 0 for the same budget (the paper's control)")
    threads: int | None = setting(1, "CPU threads (none: the Trainer's choice); one is fastest for these small steps "
                                  "on a shared machine", min=1)
    seed: int = setting(0, "seed of the train/validation split, the initialisation, the batches and dropout", min=0)
    device: str = setting("cpu", "cpu or cuda", check=check_device)


def probe_names(config: GrokkingConfig) -> list[str]:
    """The transformer's probe points for ``config.n_layer`` blocks, in forward order."""
    tiny = Transformer(vocab_size=2, num_classes=1, n_layer=config.n_layer, n_embd=1, n_head=1)
    return list(tiny.probe_points())


def check_config(config: GrokkingConfig) -> None:
    """Rules across settings, before any training (each error names the setting to change)."""
    if config.op == "/" and not is_prime(config.p):
        raise ConfigError("p", f"is {config.p}, but --op / divides by Fermat's inverse b^(p-2), which needs a prime "
                               f"modulus; use a prime such as 59, 97 or 113, or another --op")
    if config.width % config.heads:
        raise ConfigError("heads", f"is {config.heads}, which does not divide --width {config.width}; each head gets "
                                   f"width / heads dimensions (e.g. --heads 4 with --width {4 * max(1, config.width // 4)})")
    names = probe_names(config)
    if config.layer not in names or config.layer == "logits":
        hidden = [n for n in names if n != "logits"]
        raise ConfigError("layer", f"{config.layer!r} is not a hidden layer of a {config.n_layer}-block transformer; "
                                   f"choose one of {', '.join(hidden)}")
    if config.log_every > config.steps:
        raise ConfigError("log_every", f"is {config.log_every} but the run has {config.steps} steps (--steps); "
                                       f"evaluate at least once during training")
    late = [s for s in config.id_steps or [] if s > config.steps]
    if late:
        raise ConfigError("id_steps", f"lists {late}, beyond the run's {config.steps} steps (--steps); give steps "
                                      f"from 0 to {config.steps}")
    if config.nres > 1 and config.subsample == 1:
        raise ConfigError("subsample", f"is 1, so the {config.nres} resamples (--nres) would all be the same; pass "
                                       f"--subsample below 1 (act_ids: 0.9) or --nres 1")


@dataclass
class Curve:
    """One training run: accuracies and losses at the logged steps, the LLID at its checkpoints."""

    weight_decay: float
    steps: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    id_steps: list[int] = field(default_factory=list)
    llid: list[float] = field(default_factory=list)
    llid_std: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)  # --metrics: key -> value at each id step
    id_problems: list[str] = field(default_factory=list)
    updates: int = 0
    diverged: bool = False
    message: str = ""

    def first(self, key: str, level: float) -> int | None:
        """The first logged step where ``key`` (train_accuracy, val_accuracy) is >= ``level``, or None."""
        return next((s for s, v in zip(self.steps, getattr(self, key)) if v >= level), None)

    @property
    def memorised(self) -> int | None:
        return self.first("train_accuracy", MEMORISED)

    @property
    def generalised(self) -> int | None:
        return self.first("val_accuracy", GENERALISED)


@dataclass
class GrokkingResult:
    config: GrokkingConfig
    run: Curve
    control: Curve | None = None
    id_points: int = 0
    run_id: str | None = None
    reused: bool = False
    message: str = ""

    @property
    def diverged(self) -> bool:
        return self.run.diverged

    def summary(self) -> dict[str, Any]:
        return {"run": asdict(self.run), "control": None if self.control is None else asdict(self.control),
                "id_points": self.id_points, "memorisation_step": self.run.memorised,
                "generalisation_step": self.run.generalised, "run_id": self.run_id, "config": asdict(self.config)}


# -- the experiment ----------------------------------------------------------------------------------------

def _split(config: GrokkingConfig, split: str) -> Dataset:
    try:
        return load_dataset("modular", op=config.op, p=config.p, frac_train=config.frac_train, seed=config.seed,
                            split=split, device=config.device)
    except DeepscopeError as exc:  # op and p are checked before; what is left is a split left empty
        raise ConfigError("frac_train", f"is {config.frac_train}: {exc}") from None


def id_schedule(config: GrokkingConfig) -> list[int]:
    """The LLID checkpoint steps: ``id_steps``, or ``id_checkpoints`` log-spaced in log(1 + step) from 0 to steps."""
    if config.id_steps is not None:
        return sorted(config.id_steps)
    return sorted(Schedule.log_spaced(config.id_checkpoints, config.steps).points)


class _Monitor:
    """Trainer callback: accuracy and loss on both splits at the logged steps, the LLID at its checkpoints."""

    def __init__(self, config: GrokkingConfig, curve: Curve, train: Dataset, val: Dataset, id_x: torch.Tensor,
                 id_y: torch.Tensor, id_steps: set[int], sink: Run | None) -> None:
        self.config, self.curve, self.train, self.val, self.id_x, self.id_y = config, curve, train, val, id_x, id_y
        self.id_steps, self.sink = id_steps, sink
        self.arm = f"weight_decay={curve.weight_decay:g}"

    def __call__(self, state: TrainState) -> None:
        step = state.step.iteration
        if self.curve.steps and self.curve.steps[-1] == step:
            return
        if state.epoch_losses and not math.isfinite(state.epoch_losses[-1]):
            return  # diverged: nothing left to measure
        batch = self.config.batch_size or len(self.train.y)
        scores = [evaluate(state.model, data.x, data.y, batch) for data in (self.train, self.val)]
        c = self.curve
        c.steps.append(step)
        c.train_loss.append(scores[0]["loss"])
        c.train_accuracy.append(scores[0]["accuracy"])
        c.val_loss.append(scores[1]["loss"])
        c.val_accuracy.append(scores[1]["accuracy"])
        rows = [(step, self.arm, name, getattr(c, name)[-1])
                for name in ("train_accuracy", "val_accuracy", "train_loss", "val_loss")]
        if step in self.id_steps:
            rows += self._llid(state.model, step)
        if self.sink is not None:
            self.sink.log_many(rows)

    def _llid(self, model: torch.nn.Module, step: int) -> list[tuple]:
        """TwoNN of the probe point on the validation sample (NaN, with the reason kept, if it cannot be fitted),
        and the ``metrics`` asked for on the same capture (NaN, with the reason kept, where one fails)."""
        features = capture(model, self.id_x, [self.config.layer])
        try:
            estimate = llid(features, layer=self.config.layer, nres=self.config.nres, subsample=self.config.subsample,
                            seed=self.config.seed).estimate
            value, std = estimate.dimension, estimate.std
        except DeepscopeError as exc:
            value, std = math.nan, math.nan
            self.curve.id_problems.append(f"step {step}: {exc}")
        self.curve.id_steps.append(step)
        self.curve.llid.append(value)
        self.curve.llid_std.append(std)
        layer = f"{self.arm}/{self.config.layer}"
        rows = [(step, layer, "twonn", value), (step, layer, "twonn_std", std)]
        if self.config.metrics:
            values, errors = compute_each(features, self.id_y, self.config.metrics)
            measured = values.get(self.config.layer, {})
            self.curve.id_problems += [f"step {step}: {message}" for message in errors.values()]
            for key in dict.fromkeys([*self.curve.extra, *measured]):
                self.curve.extra.setdefault(key, [math.nan] * (len(self.curve.id_steps) - 1)).append(
                    measured.get(key, math.nan))
                rows.append((step, layer, key, self.curve.extra[key][-1]))
        return rows


def _optimizer(config: GrokkingConfig, model: torch.nn.Module, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW or Adam (L2) with betas (0.9, 0.98) and, with ``warmup``, lr rising linearly over the first steps."""
    optimizer = build_optimizer(config.optimizer, model.parameters(), lr=config.lr, weight_decay=weight_decay)
    for group in optimizer.param_groups:
        group["betas"] = BETAS
    if config.warmup:
        ramp = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: min(1.0, (k + 1) / config.warmup))
        optimizer.register_step_post_hook(lambda *_: ramp.step())
    return optimizer


def _train(config: GrokkingConfig, weight_decay: float, train: Dataset, val: Dataset, id_x: torch.Tensor,
           id_y: torch.Tensor, sink: Run | None, progress: bool | None) -> Curve:
    curve = Curve(weight_decay)
    model = build_model("transformer", vocab_size=train.vocab_size, num_classes=config.p, seq_len=train.x.shape[1],
                        n_layer=config.n_layer, n_embd=config.width, n_head=config.heads, dropout=config.dropout,
                        seed=config.seed)
    n = len(train.y)
    batch = min(config.batch_size or n, n)
    epochs = math.ceil(config.steps / math.ceil(n / batch))
    ids = id_schedule(config)
    monitor = _Monitor(config, curve, train, val, id_x, id_y, set(ids), sink)
    settings = TrainConfig(optimizer=config.optimizer, lr=config.lr, weight_decay=weight_decay, batch_size=batch,
                           epochs=epochs, stop_loss=None, seed=config.seed, device=config.device, progress=progress,
                           threads=config.threads)
    outcome = Trainer(model, train.x, train.y, settings, callbacks=[monitor],
                      schedule=Schedule(ids, every=config.log_every),
                      optimizer=_optimizer(config, model, weight_decay)).fit()
    curve.updates, curve.diverged, curve.message = outcome.iterations, outcome.diverged, outcome.message
    return curve


def run(config: GrokkingConfig, store: Store | None = None, *, force: bool = False,
        progress: bool | None = None) -> GrokkingResult:
    """Train with weight decay (and the weight-decay-0 control) from the same initialisation; record everything."""
    return record(STUDY, config, store, lambda sink: _run(config, sink, progress), force=force)


def _run(config: GrokkingConfig, sink: Run | None, progress: bool | None) -> GrokkingResult:
    train, val = _split(config, "train"), _split(config, "test")
    id_x, id_y = val.x[:config.id_samples], val.y[:config.id_samples]
    result = GrokkingResult(config, _train(config, config.weight_decay, train, val, id_x, id_y, sink, progress),
                            id_points=len(id_x))
    if config.control:
        result.control = _train(config, 0.0, train, val, id_x, id_y, sink, progress)
    result.message = result.run.message
    return result


def from_summary(config: GrokkingConfig, summary: dict[str, Any], run_id: str) -> GrokkingResult:
    control = summary["control"]
    return GrokkingResult(config, Curve(**summary["run"]), None if control is None else Curve(**control),
                          summary["id_points"], run_id=run_id, reused=True)


# -- verdicts ------------------------------------------------------------------------------------------------

def _reaches(curve: Curve, key: str, level: float, claim: str) -> Verdict:
    best = max(getattr(curve, key), default=math.nan)
    verdict = check(claim, f"best {key.replace('_', ' ')}", best, level, ">=")
    step = curve.first(key, level)
    where = f"first at step {step}" if step is not None else f"not within {curve.updates} steps"
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; {where}", verdict.reason)


def _delay(curve: Curve) -> Verdict:
    claim = f"grokking: validation accuracy reaches {GENERALISED:g} at least {DELAY:g}x later than train accuracy " \
            f"reaches {MEMORISED:g}"
    quantity = "t_gen / t_mem"
    t_mem, t_gen = curve.memorised, curve.generalised
    if curve.diverged:
        return check(claim, quantity, math.nan, DELAY, ">=")
    never = "the run never {} within " + f"{curve.updates} steps, so there is no delay to measure"
    if t_mem is None:
        return undecided(claim, quantity, math.nan, DELAY, ">=", never.format("memorised"))
    evidence = Evidence(sum(1 for s in curve.steps if s <= t_mem), MIN_EVALS, "accuracy evaluations up to "
                        "memorisation", "the delay")
    if not evidence.enough:  # t_mem is known only to within log_every: too coarse for a ratio
        return undecided(claim, quantity, math.nan, DELAY, ">=", evidence.shortfall)
    if t_gen is None:
        return undecided(claim, quantity, math.nan, DELAY, ">=", never.format("generalised"))
    verdict = check(claim, quantity, t_gen / t_mem, DELAY, ">=")
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; t_mem = {t_mem}, t_gen = {t_gen}", verdict.reason)


def llid_window(curve: Curve) -> tuple[int, int] | None:
    """Indices into ``curve.id_steps`` of the last checkpoint at or before t_mem and the first at or after t_gen."""
    t_mem, t_gen = curve.memorised, curve.generalised
    if t_mem is None or t_gen is None:
        return None
    before = [i for i, s in enumerate(curve.id_steps) if s <= t_mem]
    after = [i for i, s in enumerate(curve.id_steps) if s >= t_gen]
    return (before[-1], after[0]) if before and after else None


def _llid_drop(curve: Curve, layer: str) -> Verdict:
    claim = f"the LLID ({layer}) drops while validation accuracy jumps"
    quantity = "LLID after / before the jump"
    window = llid_window(curve)
    if window is None:
        reason = (f"the run never {'memorised' if curve.memorised is None else 'generalised'} within "
                  f"{curve.updates} steps, so there is no jump to measure the LLID across")
        return undecided(claim, quantity, math.nan, LLID_RATIO, "<=", reason)
    i, j = window
    before, after = curve.llid[i], curve.llid[j]
    verdict = check(claim, quantity, after / before, LLID_RATIO, "<=",
                    Evidence(j - i + 1, MIN_ID_CHECKPOINTS, "LLID checkpoints spanning the jump", "the drop"))
    if verdict.holds is None:
        return verdict
    return Verdict(verdict.claim, verdict.quantity, verdict.measured, verdict.threshold, verdict.direction,
                   verdict.holds, f"{verdict.detail}; LLID {before:.2f} at step {curve.id_steps[i]} -> {after:.2f} at "
                                  f"step {curve.id_steps[j]}", verdict.reason)


def _control(result: GrokkingResult) -> Verdict:
    claim = "without weight decay the same budget does not grok"
    quantity = "best validation accuracy at weight decay 0"
    control = result.control
    if control is None:
        return undecided(claim, quantity, math.nan, GENERALISED, "<", "no control was run (--no-control)")
    best = max(control.val_accuracy, default=math.nan)
    if result.run.generalised is None:
        return undecided(claim, quantity, best, GENERALISED, "<", "the weight-decay run did not generalise either, so "
                                                                  "the budget cannot tell the two apart")
    holds = bool(best < GENERALISED)
    where = (f"first at step {control.generalised}" if control.generalised is not None
             else f"not within {control.updates} steps, while weight decay {result.run.weight_decay:g} did at step "
                  f"{result.run.generalised}")
    detail = f"{claim}: {quantity} = {best:.4f} (needs < {GENERALISED:g}); {where}"
    return Verdict(claim, quantity, best, GENERALISED, "<", holds, detail)


def verdict(result: GrokkingResult) -> list[Verdict]:
    run = result.run
    return [_reaches(run, "train_accuracy", MEMORISED, f"memorisation: train accuracy reaches {MEMORISED:g}"),
            _reaches(run, "val_accuracy", GENERALISED, f"generalisation: validation accuracy reaches {GENERALISED:g}"),
            _delay(run), _llid_drop(run, result.config.layer), _control(result)]


# -- output --------------------------------------------------------------------------------------------------

def figure(result: GrokkingResult, path: str | Path) -> Path:
    """Train and validation accuracy on a log step axis, the LLID on a second axis, t_mem and t_gen marked;
    the weight-decay-0 control dashed."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    twin = ax.twinx()
    for curve, style, label in ((result.run, "-", f"wd {result.run.weight_decay:g}"),
                                (result.control, "--", "wd 0 (control)")):
        if curve is None:
            continue
        ax.plot(curve.steps, curve.train_accuracy, style, color="C0", lw=1.2, label=f"train acc, {label}")
        ax.plot(curve.steps, curve.val_accuracy, style, color="C1", lw=1.2, label=f"val acc, {label}")
        twin.plot(curve.id_steps, curve.llid, "o" + style, color="C2", ms=3, lw=1, label=f"LLID, {label}")
    for step, colour, name in ((result.run.memorised, "C0", "t_mem"), (result.run.generalised, "C1", "t_gen")):
        if step is not None:
            ax.axvline(step, color=colour, ls=":", lw=1.5, label=f"{name} = {step}")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("step (log)")
    ax.set_ylabel("accuracy")
    twin.set_ylabel(f"LLID: TwoNN of {result.config.layer} (validation)")
    lines = ax.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=7, loc="center left")
    return save_figure(fig, path, dpi=110)


def report(result: GrokkingResult) -> str:
    c, run = result.config, result.run
    batch = "full batch" if c.batch_size is None else f"batch {c.batch_size}"
    opt = "AdamW" if c.optimizer == "adamw" else "Adam (L2)"
    warm = f", {c.warmup}-step warm-up" if c.warmup else ""
    lines = [f"grokking: a {c.op} b mod {c.p}, {c.frac_train:g} train; {c.n_layer}-block transformer width {c.width}, "
             f"{c.heads} heads; {opt} lr {c.lr:g} wd {c.weight_decay:g}{warm}, {batch}, {run.updates} steps; LLID = "
             f"TwoNN of {c.layer} on {result.id_points} validation equations ({c.nres} x {c.subsample:g})", ""]
    control = result.control
    head = f"{'step':>7} {'train acc':>9} {'val acc':>8} {'train loss':>10} {'val loss':>9} {'LLID':>13}"
    lines.append(head + (f" {'wd0 val acc':>11} {'wd0 LLID':>8}" if control is not None else ""))
    for k, step in enumerate(run.id_steps):
        i = run.steps.index(step)
        row = (f"{step:>7} {run.train_accuracy[i]:>9.3f} {run.val_accuracy[i]:>8.3f} {run.train_loss[i]:>10.3g} "
               f"{run.val_loss[i]:>9.3g} {run.llid[k]:>7.2f} ± {run.llid_std[k]:<4.2f}")
        if control is not None and step in control.id_steps:
            j, m = control.steps.index(step), control.id_steps.index(step)
            row += f" {control.val_accuracy[j]:>11.3f} {control.llid[m]:>8.2f}"
        lines.append(row)
    for key, values in run.extra.items():
        lines.append(f"{key} of {c.layer} at those steps: " + " ".join(f"{v:.4g}" for v in values))
    lines.append("")
    for curve, label in ((run, f"weight decay {run.weight_decay:g}"), (control, "weight decay 0")):
        if curve is not None:
            lines.append(f"{label}: memorised (train acc >= {MEMORISED:g}) at step {curve.memorised}, generalised "
                         f"(val acc >= {GENERALISED:g}) at step {curve.generalised}")
    for problem in run.id_problems + (control.id_problems if control is not None else []):
        lines.append(f"not measured at {problem}")
    if run.diverged:
        lines.append(run.message)
    return "\n".join(lines)


STUDY = Study(
    name=NAME, claim=CLAIM, config=GrokkingConfig,
    presets={
        "quick": Preset("a + b mod 59, 40% train (1,392 equations); 1-block transformer width 128, 4 heads; AdamW "
                        "lr 1e-3, weight decay 1 (Nanda et al.'s optimizer), batch 256, 2,000 steps; LLID of the last "
                        "hidden layer at 30 log-spaced steps; the weight-decay-0 control"),
        "paper": Preset("GPU run: act_ids' grokking setup (Brown et al. 2022): a / b mod 97, 20% train (1,862 "
                        "equations); 2 blocks width 128, 4 heads, dropout 0.1; Adam with L2 1e-4, betas (0.9, 0.98), "
                        "lr 1e-3 after a 10,000-step linear warm-up, batch 512, 40,000 steps; LLID of block2.mlp "
                        "(the seed's hook) on all 7,450 validation equations, 20 resamples of 90%; the figure's "
                        "25 -> 10 drop is at --weight-decay 1e-3",
                        {"op": "/", "p": 97, "frac_train": 0.2, "n_layer": 2, "width": 128, "heads": 4,
                         "dropout": 0.1, "optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4, "warmup": 10000,
                         "batch_size": 512, "steps": 40000, "log_every": 100, "id_checkpoints": 80,
                         "layer": "block2.mlp", "id_samples": 7450}),
        "nanda": Preset("GPU run: the recipe of Nanda et al. 2023: a + b mod 113, 30% train (3,830 equations); "
                        "1 block width 128, 4 heads; AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98), full batch, "
                        "25,000 steps (their model has no LayerNorm and ReLU; ours is GPT-2-style)",
                        {"op": "+", "p": 113, "frac_train": 0.3, "n_layer": 1, "width": 128, "heads": 4,
                         "lr": 1e-3, "weight_decay": 1.0, "batch_size": None, "steps": 25000, "log_every": 100,
                         "id_checkpoints": 80}),
        "tiny": Preset("seconds, for tests: a + b mod 7, 60% train (29 equations), width 32, 2 heads, 120 full-batch "
                       "steps (memorises; too short to generalise)",
                       {"p": 7, "frac_train": 0.6, "width": 32, "heads": 2, "lr": 1e-2, "batch_size": None,
                        "steps": 120, "log_every": 5, "id_checkpoints": 8, "nres": 3}),
    },
    run=run, verdict=verdict, figure=figure, report=report, restore=from_summary, check=check_config,
    quick_seconds=159,
    below_minimum={"log_every": 40, "id_checkpoints": 2},
)
