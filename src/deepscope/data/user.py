"""Bring your own data: tensors/arrays or a torch Dataset become a :class:`Dataset`.

User inputs are taken at their own scale (no [0, 1] scaling), except PIL images returned by a torch
Dataset, which are read like image files. Numpy arrays are converted once: real inputs become
float32, or stay int64 token ids when ``vocab_size`` is given. Integer targets mean classification
(ids 0..K-1, int64); floating-point targets mean regression (float32) unless ``class_names`` are given.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from deepscope.data.dataset import Dataset
from deepscope.data.transforms import pil_to_tensor
from deepscope.errors import DeepscopeError


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, Image.Image):
        return pil_to_tensor(value)
    try:
        return torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DeepscopeError(f"{what} must be a tensor, array or number; got {type(value).__name__} ({exc}).") from exc


def _is_integer(t: torch.Tensor) -> bool:
    return t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)


def from_tensors(x: Any, y: Any, *, name: str = "user", class_names: Sequence[str] | None = None,
                 source: str | None = None, vocab_size: int | None = None) -> Dataset:
    """A Dataset from inputs ``x`` [n, ...] and targets ``y`` (tensors or arrays).

    Integer (or bool) ``y`` [n] gives classification with classes 0..max(y) named ``class_names``
    (default ``'0'``, ``'1'``, ...); floating ``y`` [n] or [n, d_out] gives regression. Inputs
    become float32, except with ``vocab_size``: then ``x`` must be integer token ids [n, L] and
    stays int64 (kind 'tokens').
    """
    x_t, y_t = _as_tensor(x, "x"), _as_tensor(y, "y")
    if x_t.ndim < 2:
        raise DeepscopeError(f"x must be [n samples, ...]; got shape {tuple(x_t.shape)}. For one feature per "
                             f"sample pass x.reshape(-1, 1).")
    if not (x_t.is_floating_point() or _is_integer(x_t)):
        raise DeepscopeError(f"x must be real-valued; got dtype {x_t.dtype}.")
    if not (y_t.is_floating_point() or _is_integer(y_t)):
        raise DeepscopeError(f"y must hold integer class ids or real regression targets; got dtype {y_t.dtype}.")
    if vocab_size is not None and (x_t.is_floating_point() or x_t.dtype == torch.bool):
        raise DeepscopeError(f"vocab_size={vocab_size} means x holds token ids, but x is {x_t.dtype}; pass integer "
                             f"ids, or drop vocab_size for real-valued inputs.")
    x_t = x_t.to(torch.float32 if vocab_size is None else torch.int64)
    y_t = y_t.to(x_t.device)
    source = source or f"user tensors x {tuple(x_t.shape)}, y {tuple(y_t.shape)}"
    if y_t.is_floating_point() and class_names is None:
        y_t = y_t.reshape(-1, 1) if y_t.ndim == 1 else y_t
        return Dataset(x=x_t, y=y_t.to(torch.float32), class_names=[], source=source, task="regression", name=name,
                       vocab_size=vocab_size)
    if y_t.is_floating_point() and not bool(torch.all(y_t == torch.round(y_t))):
        raise DeepscopeError("class labels must be whole numbers; got fractional values in y. Drop class_names "
                             "for a regression target.")
    if y_t.ndim != 1:
        raise DeepscopeError(f"class labels must be 1-D [n]; got shape {tuple(y_t.shape)}.")
    y_t = y_t.to(torch.int64)
    if len(y_t) and int(y_t.min()) < 0:
        raise DeepscopeError(f"class labels must be ids >= 0; got {int(y_t.min())}. Map your labels to 0..K-1.")
    k = int(y_t.max()) + 1 if len(y_t) else 0
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) < k:
        raise DeepscopeError(f"labels go up to {k - 1} but only {len(names)} class names were given; "
                             f"give one name per class id 0..{k - 1}.")
    return Dataset(x=x_t, y=y_t, class_names=names, source=source, task="classification", name=name,
                   vocab_size=vocab_size)


def _pairs(dataset: Any) -> Iterable[Any]:
    """The items of a map-style (``len`` + indexing) or iterable torch Dataset."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        return (dataset[i] for i in range(len(dataset)))
    return iter(dataset)


def from_torch_dataset(dataset: Any, *, name: str | None = None) -> Dataset:
    """A Dataset from a torch Dataset of (x, y) pairs, stacked into tensors.

    Class names come from ``dataset.classes`` when present. Samples may be tensors, arrays, numbers
    or PIL images (read as RGB in [0, 1]); all inputs must share one shape.
    """
    xs, ys = [], []
    for i, item in enumerate(_pairs(dataset)):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise DeepscopeError(f"item {i} of {type(dataset).__name__} is not an (x, y) pair; got "
                                 f"{type(item).__name__}. Wrap the dataset so it returns (input, target).")
        xs.append(_as_tensor(item[0], f"input {i}"))
        ys.append(_as_tensor(item[1], f"target {i}"))
    if not xs:
        raise DeepscopeError(f"{type(dataset).__name__} is empty; pass a dataset with samples.")
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) > 1:
        raise DeepscopeError(f"the inputs of {type(dataset).__name__} have different shapes ({sorted(shapes)[:3]}); "
                             f"add a transform that makes them one size.")
    x = torch.stack(xs)
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    classes = getattr(dataset, "classes", None)
    return from_tensors(x, torch.stack(ys), name=name or type(dataset).__name__,
                        class_names=list(classes) if classes is not None else None,
                        source=f"torch dataset {type(dataset).__name__} ({len(xs)} samples)")
