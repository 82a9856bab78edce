"""MNIST-1D (Greydanus, "Scaling Down Deep Learning", 2020), generated offline by the ``mnist1d`` package.

Each sample is a 1-D signal of length 40 made from one of ten hard-coded 12-point digit templates:
padded, dilated, scaled, translated, with correlated and i.i.d. noise and a shear, then
subsampled to 40 points; the whole set is standardised (mean 0, std 1). The package's defaults
make 5,000 samples (500 per digit), shuffled; the first 4,000 are 'train' and the last 1,000
'test' (classes are balanced overall, only roughly within a split). Reference test accuracies
from the package: logistic regression 32%, MLP 68%, CNN 94%, GRU 91% (human 96%); with the
spatial shuffle (``shuffle_seq=True``: one fixed permutation of the 40 positions) CNN 56%.

The package's generator (``mnist1d.data.make_dataset``) is used as is; it never downloads (only
its ``get_dataset`` can). It seeds and draws from the *global* numpy and ``random`` RNGs, so
:func:`generate` saves both states and restores them afterwards: the caller's random streams are
left as they were (not thread-safe against other code drawing from those globals meanwhile).
``seed=42`` is the package's default seed.
"""
from __future__ import annotations

import random
from functools import lru_cache

import numpy as np
import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.errors import DeepscopeError

NUM_SAMPLES = 5000  # the package default: 4,000 train + 1,000 test (train_split 0.8)
CLASS_NAMES = [str(d) for d in range(10)]


@lru_cache(maxsize=2)  # a train and a test load of one set generate once (about 3 s each)
def generate(seed: int, shuffle_seq: bool = False, num_samples: int = NUM_SAMPLES) -> dict[str, np.ndarray]:
    """The package's dataset dict (``x``, ``y``, ``x_test``, ``y_test`` as numpy arrays) for ``seed``.

    Every other argument keeps the package default (``get_dataset_args``); the global numpy and
    ``random`` states are restored afterwards. The arrays are read-only (the result is cached).
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DeepscopeError("mnist1d needs the 'mnist1d' package: pip install mnist1d==0.0.2.post1.") from exc
    args = get_dataset_args()
    args.seed, args.shuffle_seq, args.num_samples = seed, shuffle_seq, num_samples
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        made = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    arrays = {key: np.asarray(made[key]) for key in ("x", "y", "x_test", "y_test")}
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


def load_mnist1d(request: SourceRequest, *, shuffle_seq: bool = False) -> Dataset:
    """MNIST-1D as float32 vectors [n, 40] with digit labels 0..9; 4,000 train / 1,000 test per seed."""
    if not isinstance(shuffle_seq, bool):
        raise DeepscopeError(f"shuffle_seq must be True or False; got {shuffle_seq!r}.")
    arrays = generate(request.seed, shuffle_seq)
    suffix = "" if request.split == "train" else "_test"
    return Dataset(x=torch.tensor(arrays["x" + suffix], dtype=torch.float32),  # copies: the cache is read-only
                   y=torch.tensor(arrays["y" + suffix], dtype=torch.int64), class_names=list(CLASS_NAMES),
                   source=f"generated: mnist1d package, seed {request.seed}"
                          f"{', spatially shuffled' if shuffle_seq else ''} ({request.split} split)",
                   task="classification", name="mnist1d")
