"""CIFAR-10 from its python batches, unpickled with a loader that refuses anything but arrays.

A pickle can run any function it names, so a plain ``pickle.load`` on a downloaded file is code
execution. :class:`ArrayUnpickler` resolves only numpy's array reconstruction (ndarray, dtype and
the two reconstruction helpers, under their numpy 1 and numpy 2 module names); dicts, lists, bytes
and numbers need no lookup. Anything else raises :class:`DeepscopeError`.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.locate import find_files, require_root
from deepscope.data.transforms import to_unit
from deepscope.errors import DeepscopeError

SUBFOLDER = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
META = "batches.meta"
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]  # the installed numpy's ndarray rebuilder
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]  # used by pickle protocol 5
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can build numpy arrays and plain containers, and nothing else."""

    def __init__(self, file: Any, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the numpy array helpers in :data:`ALLOWED`; refuse everything else."""
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise DeepscopeError(f"{self.where} asks to load {module}.{name}, which a CIFAR batch never needs; "
                                 f"refusing to unpickle it (it could run code). Use the original files from "
                                 f"https://www.cs.toronto.edu/~kriz/cifar.html.") from None


def load_batch(path: Path) -> dict[str, Any]:
    """One CIFAR batch file as a dict with str keys (the file's keys are bytes)."""
    with open(path, "rb") as handle:
        try:
            content = ArrayUnpickler(handle, str(path)).load()
        except DeepscopeError:
            raise
        except Exception as exc:  # any unpickling failure means a damaged or foreign file
            raise DeepscopeError(f"{path} is not a readable CIFAR python batch ({type(exc).__name__}: {exc}); "
                                 f"download the 'CIFAR-10 python version' again.") from exc
    if not isinstance(content, dict):
        raise DeepscopeError(f"{path} should hold a dict; got {type(content).__name__}. Is it a CIFAR-10 batch?")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in content.items()}


def _batch_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 3, 32, 32], int64 labels [N]) of one batch file, checked."""
    batch = load_batch(path)
    if "data" not in batch or "labels" not in batch:
        raise DeepscopeError(f"{path} lacks the 'data' or 'labels' entry (keys: {sorted(batch)}); "
                             f"is it a CIFAR-10 (not CIFAR-100) python batch?")
    data, labels = batch["data"], np.asarray(batch["labels"], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DeepscopeError(f"{path}: 'data' should be uint8 [N, 3072]; got "
                             f"{getattr(data, 'dtype', type(data).__name__)} of shape {np.shape(data)}.")
    if labels.shape != (len(data),):
        raise DeepscopeError(f"{path}: {len(data)} images but {labels.size} labels; the file is damaged.")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(request: SourceRequest) -> Dataset:
    """CIFAR-10 (50,000 train / 10,000 test RGB 32x32) from the python batches."""
    how_to_get = (f"Download 'CIFAR-10 python version' from https://www.cs.toronto.edu/~kriz/cifar.html and "
                  f"extract it into {request.root or 'ROOT'} (giving {SUBFOLDER}/), or put its batch files "
                  f"directly in the root.")
    root = require_root(request.root, "cifar10", how_to_get)
    *batch_paths, meta_path = find_files(root, SUBFOLDER, BATCHES[request.split] + [META], dataset="cifar10",
                                         how_to_get=how_to_get)
    names = load_batch(meta_path).get("label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise DeepscopeError(f"{meta_path} should list 10 'label_names'; got {names!r}.")
    arrays = [_batch_arrays(path) for path in batch_paths]
    return Dataset(x=to_unit(np.concatenate([img for img, _ in arrays]), 255.0),
                   y=torch.as_tensor(np.concatenate([lab for _, lab in arrays])),
                   class_names=[n.decode() if isinstance(n, bytes) else str(n) for n in names],
                   source="CIFAR-10 python batches " + ", ".join(str(p) for p in batch_paths),
                   task="classification", name="cifar10")
