"""The in-memory dataset every loader returns, and the request a loader receives."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from deepscope.errors import DeepscopeError

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Dataset:
    """Tensors plus what they are.

    Attributes:
        x: float32 inputs; images as [n, C, H, W], vectors as [n, d].
        y: int64 class ids 0..K-1 [n] for classification; float32 targets [n, d_out] for regression.
        class_names: one name per class id (empty for regression).
        source: where the data came from (an embedded set, a generator, file paths, user tensors).
        task: ``'classification'`` or ``'regression'``.
        name: the dataset's name.
        meta: extra facts about how the data was made, e.g. the true ``weights``/``bias`` of a
            regression set, the class ``means`` of a Gaussian mixture, or the ``normalize_mean``/
            ``normalize_std`` used by ``normalize=True`` (to apply the same to another split).
    """

    x: torch.Tensor
    y: torch.Tensor
    class_names: list[str]
    source: str
    task: str
    name: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DeepscopeError(f"task must be one of {TASKS}; got {self.task!r}.")
        if self.x.dtype != torch.float32 or self.x.ndim < 2:
            raise DeepscopeError(f"x must be a float32 tensor [n, ...]; got {self.x.dtype} of shape "
                                 f"{tuple(self.x.shape)}.")
        if self.y.shape[0] != self.x.shape[0]:
            raise DeepscopeError(f"x has {self.x.shape[0]} samples but y has {self.y.shape[0]}; "
                                 f"pass one target per sample.")
        if self.task == "classification":
            if self.y.dtype != torch.int64 or self.y.ndim != 1:
                raise DeepscopeError(f"classification labels must be int64 [n]; got {self.y.dtype} of shape "
                                     f"{tuple(self.y.shape)}.")
            if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= len(self.class_names)):
                raise DeepscopeError(f"labels must lie in 0..{len(self.class_names) - 1} (one per class name); "
                                     f"got {int(self.y.min())}..{int(self.y.max())}.")
        elif self.y.dtype != torch.float32 or self.y.ndim != 2 or self.class_names:
            raise DeepscopeError(f"regression targets must be float32 [n, d_out] with no class names; got "
                                 f"{self.y.dtype} of shape {tuple(self.y.shape)}.")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def num_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (1, 28, 28) or (10,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        """True for image data [n, C, H, W]."""
        return self.x.ndim == 4

    def flat(self) -> torch.Tensor:
        """The inputs as one row per sample, [n, prod(input_shape)]."""
        return self.x.reshape(len(self), -1)


@dataclass(frozen=True)
class SourceRequest:
    """What :func:`deepscope.data.load_dataset` asks a loader for.

    ``n`` is set only for generated datasets (they draw exactly ``n`` samples; other datasets are
    subset afterwards). ``size`` and ``grayscale`` let a loader produce images at the final shape
    directly (generators, image folders with mixed sizes); the shared pipeline applies them otherwise.
    """

    seed: int
    split: str
    root: Path | None = None
    n: int | None = None
    size: int | None = None
    grayscale: bool = False
