"""``load_dataset``: one call from a name (or your own data) to tensors on the device.

The path: load (images scaled to [0, 1]) -> class filter -> random subset of n (stratified by
class for classification) -> grayscale -> resize -> normalize -> device.
"""
from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.registry import get_dataset_info
from deepscope.data.select import random_subset, select_classes
from deepscope.data.transforms import grayscale as to_grayscale
from deepscope.data.transforms import resize, standardize
from deepscope.data.user import from_tensors, from_torch_dataset
from deepscope.errors import DeepscopeError

SPLITS = ("train", "test")


def _check_common(n: Any, size: Any, seed: Any, split: Any) -> None:
    for value, name in ((n, "n"), (size, "size")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise DeepscopeError(f"{name} must be a positive integer or None; got {value!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise DeepscopeError(f"seed must be an integer >= 0; got {seed!r}.")
    if split not in SPLITS:
        raise DeepscopeError(f"split must be one of {SPLITS}; got {split!r}.")


def _device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeepscopeError(f"device {device!r} is not a torch device; use e.g. 'cpu', 'cuda' or 'cuda:0'.") from exc


def _user_data(data: Any, root: Any, split: str, options: dict[str, Any]) -> Dataset:
    """Your own data: an (x, y) pair or a torch Dataset."""
    if root is not None or split != "train" or options:
        extra = ["root"] * (root is not None) + ["split"] * (split != "train") + sorted(options)
        raise DeepscopeError(f"{extra} only apply to named datasets; for your own data drop them (split your "
                             f"data yourself and load each part).")
    if isinstance(data, tuple) and len(data) == 2:
        return from_tensors(*data)
    if hasattr(data, "__getitem__") or hasattr(data, "__iter__"):
        return from_torch_dataset(data)
    raise DeepscopeError(f"load_dataset takes a dataset name, an (x, y) pair or a torch Dataset; got "
                         f"{type(data).__name__}.")


def _pixels(data: Dataset, grayscale: bool, size: int | None, normalize: bool) -> Dataset:
    """Apply grayscale -> resize -> normalize; the first two need images [n, C, H, W], the last float inputs."""
    x, meta = data.x, dict(data.meta)
    if (grayscale or size) and not data.is_image:
        raise DeepscopeError(f"grayscale/size apply to images [n, C, H, W]; {data.name!r} holds {data.kind} inputs "
                             f"of shape {data.input_shape}. Drop those options (or reshape x to [n, C, H, W]).")
    if normalize and data.kind == "tokens":
        raise DeepscopeError(f"normalize standardises real-valued inputs; {data.name!r} holds token ids "
                             f"(vocab_size {data.vocab_size}). Drop normalize (or standardise data.one_hot()).")
    if grayscale:
        x = to_grayscale(x)
    if size:
        x = resize(x, size)
    if normalize:
        x, meta["normalize_mean"], meta["normalize_std"] = standardize(x)
    return dataclasses.replace(data, x=x, meta=meta)


def _to_device(data: Dataset, device: torch.device) -> Dataset:
    """``data`` with x, y and the tensors in meta on ``device``."""
    try:
        return dataclasses.replace(data, x=data.x.to(device), y=data.y.to(device),
                                   meta={k: v.to(device) if isinstance(v, torch.Tensor) else v
                                         for k, v in data.meta.items()})
    except (RuntimeError, AssertionError) as exc:  # torch raises AssertionError for CUDA in a CPU-only build
        raise DeepscopeError(f"cannot put the data on device {str(device)!r} ({exc}); use device='cpu' or a "
                             f"device this machine has.") from exc


def load_dataset(name: str | Any, *, n: int | None = None, size: int | None = None, grayscale: bool = False,
                 normalize: bool = False, seed: int = 0, split: str = "train", root: str | Path | None = None,
                 classes: Sequence[int | str] | None = None, device: str | torch.device = "cpu",
                 **options: Any) -> Dataset:
    """Load a dataset by name (see ``available_datasets()``), or your own data, ready for training.

    Args:
        name: a registered name, an ``(x, y)`` pair of tensors/arrays, or a torch Dataset of (x, y).
        n: keep a random subset of n samples drawn with ``seed``, stratified by class for classification
            (see :func:`deepscope.data.select.random_subset`; generated sets: draw n, default 1000).
        size: resize images to size x size (bilinear, antialias, align_corners=False); images only.
        grayscale: RGB -> luma 0.299 R + 0.587 G + 0.114 B (one channel); images only.
        normalize: standardise each channel (vectors: each feature) to mean 0 / std 1 with this set's
            own statistics (recorded in ``meta['normalize_mean']`` / ``meta['normalize_std']``); not
            for token inputs.
        seed: makes the subset and any generated data reproducible.
        split: ``'train'`` or ``'test'``.
        root: folder of the dataset's files (needed for file datasets; optional for mnist).
        classes: keep only these class ids or names, relabelled 0..k-1 in the given order.
        device: where the tensors end up.
        **options: the dataset's own options (listed by ``deepscope datasets``).

    Images are scaled to [0, 1] when loaded, then grayscale -> resize -> normalize.
    """
    _check_common(n, size, seed, split)
    n, size, seed = None if n is None else int(n), None if size is None else int(size), int(seed)
    target = _device(device)
    if isinstance(name, str):
        info = get_dataset_info(name)
        request = SourceRequest(seed=seed, split=split, root=None if root is None else Path(root),
                                n=n if info.generated else None, size=size, grayscale=grayscale)
        data = info.load(request, options)
        subset_n = None if info.generated else n
    else:
        data = _user_data(name, root, split, options)
        subset_n = n
    if classes is not None:
        data = select_classes(data, classes)
    if subset_n is not None:
        data = random_subset(data, subset_n, seed)
    return _to_device(_pixels(data, grayscale, size, normalize), target)
