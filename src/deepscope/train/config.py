"""The hyperparameters of one training run, checked field by field when made."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from deepscope.errors import DeepscopeError
from deepscope.train.augment import Augment
from deepscope.train.optim import OPTIMIZERS


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _from_mapping(cls: type, values: Mapping[str, Any]) -> Any:
    """``cls(**values)`` for a dataclass, after checking that every key names one of its fields."""
    names = [f.name for f in fields(cls)]
    unknown = sorted(str(key) for key in set(values) - set(names))
    if unknown:
        raise DeepscopeError(f"unknown {cls.__name__} field(s) {unknown}; the fields are: {', '.join(names)}.")
    return cls(**values)


@dataclass
class TrainConfig:
    """Hyperparameters of one training run.

    ``augment`` (None: off) augments each training batch of images on the device; ``eval_every``
    evaluates the held-out data given to the :class:`~deepscope.train.Trainer` every that many
    epochs (None: only after the last one). Every field is checked when the config is made (and
    again by the Trainer, since the dataclass is mutable); a bad value raises a DeepscopeError that
    names the field.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 100
    epochs: int = 100
    stop_loss: float | None = 1e-3
    seed: int = 0
    device: str = "cpu"
    progress: bool | None = None  # None: a bar only when stderr is a terminal
    threads: int | None = None  # CPU intra-op threads; None: 1 for small steps (see Trainer.cpu_threads)
    augment: Augment | None = None  # may be given as a mapping of Augment fields (e.g. from JSON)
    eval_every: int | None = None  # epochs between held-out evaluations; None: only at the end

    def __post_init__(self) -> None:
        if isinstance(self.augment, Mapping):
            self.augment = _from_mapping(Augment, self.augment)
        self.validate()

    def validate(self) -> None:
        """Raise a DeepscopeError naming the first field with a bad value."""
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise DeepscopeError(f"TrainConfig.optimizer must be one of {', '.join(OPTIMIZERS)} (or pass a ready "
                                 f"torch.optim.Optimizer to the Trainer); unknown optimizer {self.optimizer!r}.")
        checks = [
            ("lr", _is_real(self.lr) and math.isfinite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("momentum", _is_real(self.momentum) and 0 <= self.momentum < 1, "a number in [0, 1)"),
            ("weight_decay", _is_real(self.weight_decay) and math.isfinite(self.weight_decay)
             and self.weight_decay >= 0, "a finite number >= 0"),
            ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1, "an integer >= 1"),
            ("epochs", _is_int(self.epochs) and self.epochs >= 0, "an integer >= 0"),
            ("stop_loss", self.stop_loss is None or (_is_real(self.stop_loss) and self.stop_loss > 0),
             "None (never stop early) or a number > 0"),
            ("seed", _is_int(self.seed) and self.seed >= 0, "an integer >= 0"),
            ("progress", self.progress is None or isinstance(self.progress, bool), "None, True or False"),
            ("threads", self.threads is None or (_is_int(self.threads) and self.threads >= 1),
             "None or an integer >= 1"),
            ("augment", self.augment is None or isinstance(self.augment, Augment),
             "None or an Augment(crop_padding=..., flip=...)"),
            ("eval_every", self.eval_every is None or (_is_int(self.eval_every) and self.eval_every >= 1),
             "None (evaluate only at the end) or an integer >= 1 (epochs)"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise DeepscopeError(f"TrainConfig.{name} must be {expected}; got {getattr(self, name)!r}.")
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise DeepscopeError(f"TrainConfig.device {self.device!r} is not a torch device; use e.g. 'cpu', "
                                 f"'cuda' or 'cuda:0'.") from exc


def as_train_config(config: Any) -> TrainConfig:
    """``config`` itself, or a TrainConfig made from a mapping of its fields; anything else is an error."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, Mapping):
        return _from_mapping(TrainConfig, config)
    raise DeepscopeError(f"config: expected TrainConfig, got {type(config).__name__}; pass a TrainConfig or a "
                         f"mapping of its fields.")
