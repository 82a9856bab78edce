"""The in-memory dataset every loader returns, and the request a loader receives."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from deepscope.errors import DeepscopeError

TASKS = ("classification", "regression")
#: What one sample is: an image [C, H, W], a feature vector [d], a token sequence [L] (int64 ids
#: below ``vocab_size``), or any other float array (e.g. [C, L] signals).
KINDS = ("image", "vector", "tokens", "array")
REPR_CLASSES = 4  # class names shown by repr()
REPR_SOURCE = 60  # characters of the source shown by repr()


@dataclass(frozen=True)
class Dataset:
    """Tensors plus what they are.

    Attributes:
        x: float32 inputs (images as [n, C, H, W], vectors as [n, d]), or int64 token ids [n, L]
            in 0..vocab_size-1 (sequences such as modular-arithmetic equations).
        y: int64 class ids 0..K-1 [n] for classification; float32 targets [n, d_out] for regression.
        class_names: one name per class id (empty for regression).
        source: where the data came from (an embedded set, a generator, file paths, user tensors).
        task: ``'classification'`` or ``'regression'``.
        name: the dataset's name.
        meta: extra facts about how the data was made, e.g. the true ``weights``/``bias`` of a
            regression set, the class ``means`` of a Gaussian mixture, or the ``normalize_mean``/
            ``normalize_std`` used by ``normalize=True`` (to apply the same to another split).
        vocab_size: the number of token ids for token inputs; None for float inputs.
    """

    x: torch.Tensor
    y: torch.Tensor
    class_names: list[str]
    source: str
    task: str
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DeepscopeError(f"task must be one of {TASKS}; got {self.task!r}.")
        if self.x.dtype == torch.int64:
            self._check_tokens()
        elif self.x.dtype != torch.float32 or self.x.ndim < 2:
            raise DeepscopeError(f"x must be a float32 tensor [n, ...] (or int64 token ids [n, L] with a "
                                 f"vocab_size); got {self.x.dtype} of shape {tuple(self.x.shape)}.")
        elif self.vocab_size is not None:
            raise DeepscopeError(f"vocab_size is for int64 token inputs; x is {self.x.dtype}. Drop vocab_size, "
                                 f"or pass the token ids as an int64 tensor.")
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

    def _check_tokens(self) -> None:
        """Token inputs: int64 [n, L] with ids in 0..vocab_size-1."""
        if self.x.ndim != 2:
            raise DeepscopeError(f"token inputs must be int64 [n, L]; got shape {tuple(self.x.shape)}. Give one "
                                 f"sequence of ids per row.")
        vocab = self.vocab_size
        if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 1:
            raise DeepscopeError(f"int64 inputs are token ids and need vocab_size, the number of ids (an integer "
                                 f">= 1); got vocab_size={vocab!r}. For integer features pass x as float32.")
        if self.x.numel() and (int(self.x.min()) < 0 or int(self.x.max()) >= vocab):
            raise DeepscopeError(f"token ids must lie in 0..{vocab - 1} (vocab_size {vocab}); got "
                                 f"{int(self.x.min())}..{int(self.x.max())}. Raise vocab_size or remap the ids.")

    def __len__(self) -> int:
        return self.x.shape[0]

    def __repr__(self) -> str:
        """One line: name, task, kind, size, sample shape, classes (or target size), source, device."""
        shown = ", ".join(repr(c) for c in self.class_names[:REPR_CLASSES])
        more = ", ..." if self.num_classes > REPR_CLASSES else ""
        labels = (f"classes={self.num_classes} [{shown}{more}]" if self.task == "classification"
                  else f"targets={tuple(self.y.shape[1:])}")
        vocab = f", vocab_size={self.vocab_size}" if self.vocab_size is not None else ""
        source = self.source if len(self.source) <= REPR_SOURCE else self.source[:REPR_SOURCE - 3] + "..."
        return (f"Dataset({self.name!r}, {self.task}, {self.kind}, n={len(self)}, input_shape={self.input_shape}"
                f"{vocab}, {labels}, source={source!r}, device={str(self.x.device)!r})")

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
        return self.kind == "image"

    @property
    def kind(self) -> str:
        """What one sample is, one of :data:`KINDS`: 'image' (float [n, C, H, W]), 'vector' (float
        [n, d]), 'tokens' (int64 ids [n, L]) or 'array' (any other float shape).

        Resizing and grayscale apply only to images; standardising not to tokens.
        """
        if self.x.dtype == torch.int64:
            return "tokens"
        return {4: "image", 2: "vector"}.get(self.x.ndim, "array")

    def flat(self) -> torch.Tensor:
        """The inputs as one row per sample, [n, prod(input_shape)] (token ids stay int64)."""
        return self.x.reshape(len(self), -1)

    def one_hot(self) -> torch.Tensor:
        """Token inputs one-hot encoded and concatenated per sample: float32 [n, L * vocab_size].

        Position l of a sample occupies columns l*vocab_size .. (l+1)*vocab_size - 1; feed it to an
        MLP (``in_features = L * vocab_size``) where float inputs are expected.
        """
        if self.kind != "tokens":
            raise DeepscopeError(f"one_hot() encodes token inputs; {self.name!r} holds {self.kind} inputs "
                                 f"(already float). Use x or flat() directly.")
        return torch.nn.functional.one_hot(self.x, self.vocab_size).to(torch.float32).reshape(len(self), -1)

    def as_features(self) -> Dataset:
        """This dataset with float inputs for models that take real features (e.g. an MLP).

        Token inputs become their :meth:`one_hot` encoding (kind 'vector', [n, L * vocab_size]);
        float inputs are returned unchanged (the same object).
        """
        if self.kind != "tokens":
            return self
        return dataclasses.replace(self, x=self.one_hot(), vocab_size=None,
                                   meta={**self.meta, "one_hot_vocab_size": self.vocab_size})


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
