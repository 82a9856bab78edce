"""Choosing samples: a class filter, a seeded (stratified) random subset, and the fixed per-class split."""
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


class SubsetTooLarge(DeepscopeError):
    """A subset of ``requested`` samples was asked of data that has only ``available``.

    A front end can catch it and re-word the message with its own option name (e.g. a CLI flag).
    """

    def __init__(self, requested: int, available: int, name: str) -> None:
        super().__init__(f"n={requested} is more than the {available} samples {name!r} has (after the split and any "
                         f"class filter); pass n <= {available}.")
        self.requested, self.available = requested, available


class SubsetTooSmall(DeepscopeError):
    """A stratified subset of ``requested`` samples cannot hold one sample of each of ``num_classes`` classes."""

    def __init__(self, requested: int, num_classes: int, name: str) -> None:
        super().__init__(f"n={requested} would leave classes empty: {name!r} has {num_classes} classes and a subset "
                         f"keeps at least one sample of each. Pass n >= {num_classes}, or keep fewer classes with "
                         f"classes=[...].")
        self.requested, self.num_classes = requested, num_classes


def stratified_counts(class_sizes: Sequence[int], n: int) -> list[int]:
    """How many of ``n`` samples each class gives: proportional to its size, largest-remainder rounding.

    Class k's quota is n * size_k / N (N = sum of sizes). Each class first gets the floor of its
    quota; the samples left over go one each to the classes with the largest fractional parts
    (ties: lower class id first). A class that has samples but got 0 (a rare class and a small n)
    then takes one from the class with the largest count, so no class with samples ends up empty.
    Requires n <= N and n >= the number of classes that have samples.
    """
    sizes = np.asarray(class_sizes, dtype=np.int64)
    quotas = n * sizes / sizes.sum()
    counts = np.floor(quotas).astype(np.int64)
    by_remainder = np.argsort(-(quotas - counts), kind="stable")
    counts[by_remainder[: n - int(counts.sum())]] += 1
    for k in np.flatnonzero((counts == 0) & (sizes > 0)):
        counts[np.argmax(counts)] -= 1
        counts[k] = 1
    return counts.tolist()


def random_subset(data: Dataset, n: int, seed: int) -> Dataset:
    """``n`` samples drawn without replacement using ``seed``, kept in their original order.

    Classification data gives a stratified subset: :func:`stratified_counts` per class, each drawn
    uniformly within its class, so a small ``n`` cannot leave a class empty by chance. Regression
    data gives a plain uniform subset.

    Raises:
        SubsetTooLarge: ``n`` exceeds the samples available.
        SubsetTooSmall: classification data with fewer than one sample per (non-empty) class.
    """
    if n > len(data):
        raise SubsetTooLarge(n, len(data), data.name)
    if n == len(data):
        return data
    gen = stream(seed, "subset")
    if data.task != "classification":
        idx = torch.randperm(len(data), generator=gen)[:n]
    else:
        labels = data.y.cpu()
        sizes = torch.bincount(labels, minlength=data.num_classes).tolist()
        present = sum(size > 0 for size in sizes)
        if n < present:
            raise SubsetTooSmall(n, present, data.name)
        members = [torch.nonzero(labels == k).flatten() for k in range(data.num_classes)]
        idx = torch.cat([m[torch.randperm(len(m), generator=gen)[:count]]
                         for m, count in zip(members, stratified_counts(sizes, n))])
    idx = idx.sort().values.to(data.x.device)
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
