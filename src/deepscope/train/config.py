"""The hyperparameters of one training run, checked field by field when made."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from deepscope.config import build, setting, validate
from deepscope.errors import DeepscopeError
from deepscope.train.augment import Augment
from deepscope.train.optim import OPTIMIZERS


def check_device(name: str) -> None:
    """Raise a DeepscopeError unless ``name`` is a torch device this machine has."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeepscopeError(f"{name!r} is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:0'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeepscopeError(f"{name!r} was asked for but torch sees no CUDA device here; use 'cpu'")


def _check_augment(augment: Any) -> None:
    if not isinstance(augment, Augment):
        raise DeepscopeError(f"must be None or an Augment(crop_padding=..., flip=...); got {augment!r}")


@dataclass
class TrainConfig:
    """Hyperparameters of one training run.

    ``augment`` (None: off) augments each training batch of images on the device; ``eval_every``
    evaluates the held-out data given to the :class:`~deepscope.train.Trainer` every that many
    epochs (None: only after the last one). Every field is checked against its declared
    constraints when the config is made (and again by the Trainer, since the dataclass is
    mutable); a bad value raises a DeepscopeError that names the field (``TrainConfig.lr ...``).
    """

    optimizer: str = setting("adam", "optimizer (or pass a ready torch.optim.Optimizer to the Trainer)",
                             choices=tuple(OPTIMIZERS))
    lr: float = setting(1e-3, "learning rate", gt=0)
    momentum: float = setting(0.0, "SGD momentum", min=0, lt=1)
    weight_decay: float = setting(0.0, "weight decay", min=0)
    lr_milestones: list[int] | None = setting(None, "epochs at whose start the learning rate is multiplied by "
                                                    "lr_gamma (step decay; None: a constant rate)", item_min=1,
                                              distinct=True)
    lr_gamma: float = setting(0.1, "factor applied to the learning rate at each milestone", gt=0)
    batch_size: int = setting(100, "mini-batch size (>= n: full batch)", min=1)
    epochs: int = setting(100, "maximum number of epochs", min=0)
    max_iterations: int | None = setting(None, "stop after this many updates, mid-epoch if need be (None: run the "
                                               "epochs)", min=1)
    stop_loss: float | None = setting(1e-3, "stop when the epoch loss falls below (None: never stop early)", gt=0)
    seed: int = setting(0, "seed of the shuffling, the augmentation and dropout", min=0)
    device: str = setting("cpu", "torch device", check=check_device)
    progress: bool | None = setting(None, "progress bar (None: only when stderr is a terminal)")
    threads: int | None = setting(None, "CPU intra-op threads (None: 1 for small steps, see Trainer.cpu_threads)",
                                  min=1)
    augment: Augment | None = setting(None, "augmentation of image batches (a mapping of Augment fields works)",
                                      check=_check_augment)
    eval_every: int | None = setting(None, "epochs between held-out evaluations (None: only at the end)", min=1)

    def __post_init__(self) -> None:
        if isinstance(self.augment, Mapping):
            self.augment = build(Augment, self.augment)
        self.validate()

    def validate(self) -> None:
        """Raise a DeepscopeError naming the first field with a bad value."""
        validate(self, owner="TrainConfig")


def as_train_config(config: Any) -> TrainConfig:
    """``config`` itself, or a TrainConfig made from a mapping of its fields; anything else is an error."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, Mapping):
        return build(TrainConfig, config, "the config mapping")
    raise DeepscopeError(f"config: expected TrainConfig, got {type(config).__name__}; pass a TrainConfig or a "
                         f"mapping of its fields.")
