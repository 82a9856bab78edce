"""Choosing samples: a class filter, a seeded random subset, and the fixed per-class split."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from deepscope.data._rng import stream
from deepscope.data.dataset import Dataset
from deepscope.errors import DeepscopeError


def select_classes(data: Dataset, classes: Sequence[int | str] | int | str) -> Dataset:
    """Keep only ``classes`` (ids or names) and relabel them 0..k-1 in the given order."""
    if data.task != "classification":
        raise DeepscopeError(f"classes= filters classification data; {data.name!r} is a regression set. "
                             f"Drop the classes option.")
    wanted = [classes] if isinstance(classes, (int, str)) else list(classes)
    if not wanted:
        raise DeepscopeError("classes= is empty; pass at least one class id or name, or leave it out.")
    ids = [_class_id(data.class_names, c) for c in wanted]
    if len(set(ids)) != len(ids):
        raise DeepscopeError(f"classes= names a class twice ({wanted}); list each class once.")
    relabel = torch.full((data.num_classes,), -1, dtype=torch.int64, device=data.y.device)
    relabel[ids] = torch.arange(len(ids), device=data.y.device)
    new_y = relabel[data.y]
    keep = new_y >= 0
    if not bool(keep.any()):
        raise DeepscopeError(f"{data.name!r} has no samples of classes {wanted}; choose other classes.")
    return dataclasses.replace(data, x=data.x[keep], y=new_y[keep], class_names=[data.class_names[i] for i in ids])


def _class_id(names: list[str], c: int | str) -> int:
    """The id of class ``c`` given as an id or a name, or a DeepscopeError listing the classes."""
    if isinstance(c, str) and c in names:
        return names.index(c)
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < len(names):
        return int(c)
    listing = ", ".join(f"{i}={name!r}" for i, name in enumerate(names))
    raise DeepscopeError(f"unknown class {c!r}; this dataset has classes {listing}. "
                         f"Pass ids or names from that list.")


def random_subset(data: Dataset, n: int, seed: int) -> Dataset:
    """``n`` samples drawn without replacement using ``seed`` (kept in their original order)."""
    if n > len(data):
        raise DeepscopeError(f"n={n} is more than the {len(data)} samples {data.name!r} has (after the split "
                             f"and any class filter); pass n <= {len(data)}.")
    if n == len(data):
        return data
    idx = torch.randperm(len(data), generator=stream(seed, "subset"))[:n].sort().values.to(data.x.device)
    return dataclasses.replace(data, x=data.x[idx], y=data.y[idx])


def per_class_split(labels: np.ndarray, split: str, train_fraction: float) -> np.ndarray:
    """Indices of a fixed split: the first ``train_fraction`` of each class in file order is 'train'.

    The rest of each class is 'test'. Returns the indices in file order.
    """
    is_train = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        is_train[members[: int(len(members) * train_fraction + 1e-9)]] = True  # 1e-9: 399.99.. must count as 400
    return np.flatnonzero(is_train if split == "train" else ~is_train)
