"""MNIST and Fashion-MNIST from IDX files under ``root`` (the layout torchvision uses, or flat)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.idx import read_idx
from deepscope.data.locate import find_files, require_root
from deepscope.data.transforms import to_unit
from deepscope.errors import DeepscopeError

DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def _idx_file_names(split: str) -> list[str]:
    """The image and label file names of ``split`` (without .gz)."""
    prefix = SPLIT_PREFIX[split]
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


def _how_to_get(root: Path | None, subfolder: str, page: str) -> str:
    where = f"{root}/{subfolder}" if root is not None else f"ROOT/{subfolder}"
    return (f"Download the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
            f"t10k-labels-idx1-ubyte; plain or .gz) from {page} and put them in {where}/ (or directly in the root).")


def _load_idx_images(request: SourceRequest, *, name: str, subfolder: str, page: str,
                    class_names: list[str]) -> Dataset:
    """Images [n, 1, 28, 28] in [0, 1] and labels from the IDX pair of ``request.split``."""
    how_to_get = _how_to_get(request.root, subfolder, page)
    root = require_root(request.root, name, how_to_get)
    image_path, label_path = find_files(root, subfolder, _idx_file_names(request.split), dataset=name,
                                        how_to_get=how_to_get, gz=True)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DeepscopeError(f"{image_path} should hold uint8 images [n, rows, cols]; got {images.dtype} of shape "
                             f"{images.shape}. Check that the image and label files are not swapped.")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DeepscopeError(f"{label_path} should hold one label per image of {image_path} ({len(images)}); "
                             f"got shape {labels.shape}. Use the label file that belongs to these images.")
    if len(labels) and int(labels.max()) >= len(class_names):
        raise DeepscopeError(f"{label_path} has label {int(labels.max())} but {name} has {len(class_names)} "
                             f"classes (0..{len(class_names) - 1}); check that it is the right file.")
    return Dataset(x=to_unit(images, 255.0).unsqueeze(1), y=torch.as_tensor(labels.astype(np.int64)),
                   class_names=list(class_names), source=f"IDX files {image_path}, {label_path}",
                   task="classification", name=name)


def load_mnist_files(request: SourceRequest) -> Dataset:
    """The full MNIST (60,000 train / 10,000 test) from IDX files."""
    return _load_idx_images(request, name="mnist", subfolder="MNIST/raw", page="http://yann.lecun.com/exdb/mnist/",
                           class_names=DIGIT_NAMES)


def load_fashion_mnist(request: SourceRequest) -> Dataset:
    """Fashion-MNIST (60,000 train / 10,000 test) from IDX files."""
    return _load_idx_images(request, name="fashion-mnist", subfolder="FashionMNIST/raw",
                           page="https://github.com/zalandoresearch/fashion-mnist",
                           class_names=FASHION_NAMES)
