"""CIFAR-10 and CIFAR-100 from their python batches, unpickled with a loader that refuses anything but arrays.

Both sets store uint8 images [N, 3072] (channel-major 3 x 32 x 32) under ``data`` in pickled dicts;
they differ only in file names and label keys (:class:`CifarLayout`): CIFAR-10 has five train
batches, ``test_batch`` and ``batches.meta`` with ``labels``/``label_names``; CIFAR-100 has ``train``,
``test`` and ``meta`` with ``fine_labels``/``fine_label_names`` (100 classes) and
``coarse_labels``/``coarse_label_names`` (20 superclasses).

A pickle can run any function it names, so a plain ``pickle.load`` on a downloaded file is code
execution. :class:`ArrayUnpickler` resolves only numpy's array reconstruction (ndarray, dtype and
the two reconstruction helpers, under their numpy 1 and numpy 2 module names); dicts, lists, bytes
and numbers need no lookup. Anything else raises :class:`DeepscopeError`.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.locate import find_files, require_root
from deepscope.data.transforms import to_unit
from deepscope.errors import DeepscopeError

PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
LABEL_MODES = ("fine", "coarse")


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its files and labels."""

    name: str  # the registry name
    title: str  # e.g. 'CIFAR-10'
    subfolder: str  # the folder the archive extracts to
    batches: dict[str, list[str]]  # split -> batch files
    meta: str  # the file with the class names


CIFAR10 = CifarLayout("cifar10", "CIFAR-10", "cifar-10-batches-py",
                      {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}, "batches.meta")
CIFAR100 = CifarLayout("cifar100", "CIFAR-100", "cifar-100-python", {"train": ["train"], "test": ["test"]}, "meta")
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
                                 f"{PAGE}.") from None


def load_batch(path: Path) -> dict[str, Any]:
    """One CIFAR batch file as a dict with str keys (the file's keys are bytes)."""
    with open(path, "rb") as handle:
        try:
            content = ArrayUnpickler(handle, str(path)).load()
        except DeepscopeError:
            raise
        except Exception as exc:  # any unpickling failure means a damaged or foreign file
            raise DeepscopeError(f"{path} is not a readable CIFAR python batch ({type(exc).__name__}: {exc}); "
                                 f"download the 'python version' again from {PAGE}.") from exc
    if not isinstance(content, dict):
        raise DeepscopeError(f"{path} should hold a dict; got {type(content).__name__}. Is it a CIFAR python batch?")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in content.items()}


def _batch_arrays(path: Path, label_key: str, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 3, 32, 32], int64 labels [N]) of one batch file, checked."""
    batch = load_batch(path)
    if "data" not in batch or label_key not in batch:
        raise DeepscopeError(f"{path} lacks the 'data' or '{label_key}' entry (keys: {sorted(batch)}); "
                             f"is it a {layout.title} python batch?")
    data, labels = batch["data"], np.asarray(batch[label_key], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DeepscopeError(f"{path}: 'data' should be uint8 [N, 3072]; got "
                             f"{getattr(data, 'dtype', type(data).__name__)} of shape {np.shape(data)}.")
    if labels.shape != (len(data),):
        raise DeepscopeError(f"{path}: {len(data)} images but {labels.size} labels; the file is damaged.")
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar(request: SourceRequest, layout: CifarLayout, label_key: str, names_key: str,
                num_classes: int) -> Dataset:
    """Images [n, 3, 32, 32] in [0, 1] and the ``label_key`` labels of ``request.split``, named from the meta file."""
    how_to_get = (f"Download '{layout.title} python version' from {PAGE} and extract it into "
                  f"{request.root or 'ROOT'} (giving {layout.subfolder}/), or put its files directly in the root.")
    root = require_root(request.root, layout.name, how_to_get)
    *batch_paths, meta_path = find_files(root, layout.subfolder, layout.batches[request.split] + [layout.meta],
                                         dataset=layout.name, how_to_get=how_to_get)
    names = load_batch(meta_path).get(names_key)
    if not isinstance(names, list) or len(names) != num_classes:
        raise DeepscopeError(f"{meta_path} should list {num_classes} '{names_key}'; got {names!r}.")
    arrays = [_batch_arrays(path, label_key, layout) for path in batch_paths]
    return Dataset(x=to_unit(np.concatenate([img for img, _ in arrays]), 255.0),
                   y=torch.as_tensor(np.concatenate([lab for _, lab in arrays])),
                   class_names=[n.decode() if isinstance(n, bytes) else str(n) for n in names],
                   source=f"{layout.title} python batches " + ", ".join(str(p) for p in batch_paths),
                   task="classification", name=layout.name)


def load_cifar10(request: SourceRequest) -> Dataset:
    """CIFAR-10 (50,000 train / 10,000 test RGB 32x32, 10 classes) from the python batches."""
    return _load_cifar(request, CIFAR10, "labels", "label_names", 10)


def load_cifar100(request: SourceRequest, *, label_mode: str = "fine") -> Dataset:
    """CIFAR-100 (50,000 train / 10,000 test RGB 32x32) from the python files.

    ``label_mode='fine'`` labels the 100 classes, ``'coarse'`` the 20 superclasses.
    """
    if label_mode not in LABEL_MODES:
        raise DeepscopeError(f"label_mode must be one of {LABEL_MODES} (100 classes or 20 superclasses); "
                             f"got {label_mode!r}.")
    return _load_cifar(request, CIFAR100, f"{label_mode}_labels", f"{label_mode}_label_names",
                       100 if label_mode == "fine" else 20)
