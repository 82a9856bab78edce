"""Small data files in the real formats (IDX, CIFAR python pickles, image folders), written for tests.

Shared by the loader tests and the CLI test that runs every dataset through a study.
"""
import gzip
import pickle
import struct

import numpy as np
from PIL import Image

CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int16): 0x0B, np.dtype(np.float32): 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written by hand: 0, 0, type code, ndim, big-endian uint32 dims, big-endian data."""
    header = struct.pack(">HBB", 0, CODES[array.dtype], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, compress=False):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def make_pair(folder, prefix, n, seed, compress):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if compress else ""
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
    return images, labels


NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


def write_cifar(folder, per_batch=4, protocol=4):
    """Five train batches, a test batch and the meta file, as dicts with bytes keys; returns (train, test)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(protocol)
    made = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        made[name] = (data, labels)
        (folder / name).write_bytes(pickle.dumps({b"batch_label": name.encode(), b"data": data, b"labels": labels},
                                                 protocol=protocol))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": NAMES, b"num_vis": 3072},
                                                       protocol=protocol))
    train = [made[f"data_batch_{i}"] for i in range(1, 6)]
    return (np.concatenate([d for d, _ in train]), sum((lab for _, lab in train), [])), made["test_batch"]


FINE = [f"fine{i}".encode() for i in range(100)]
COARSE = [f"coarse{i}".encode() for i in range(20)]


def write_cifar100(folder, per_file=6):
    """The CIFAR-100 python files (train, test, meta); returns {split: (data, fine, coarse)}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(100)
    made = {}
    for split in ("train", "test"):
        data = rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8)
        fine, coarse = rng.integers(0, 100, size=per_file).tolist(), rng.integers(0, 20, size=per_file).tolist()
        made[split] = (data, fine, coarse)
        (folder / split).write_bytes(pickle.dumps({b"filenames": [b"x.png"] * per_file, b"batch_label": b"b",
                                                   b"fine_labels": fine, b"coarse_labels": coarse, b"data": data}))
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": FINE, b"coarse_label_names": COARSE}))
    return made


def write_image_folder(root, per_class=3, classes=("cat", "dog"), side=6):
    """``root/<class>/<i>.png``: random RGB images, ``per_class`` of each class."""
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8), "RGB").save(
                root / name / f"{i}.png")
    return root
