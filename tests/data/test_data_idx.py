"""The IDX reader and the MNIST / Fashion-MNIST file loaders, on tiny files written here."""
import gzip

import numpy as np
import pytest
import torch

from deepscope.data import load_dataset
from deepscope.data.idx import read_idx
from datafiles import idx_bytes, make_pair, write_idx

from deepscope.errors import DeepscopeError

@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_dtype_exactly(tmp_path, compress):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8),
              rng.integers(-30000, 30000, size=7).astype(np.int16),
              rng.standard_normal((2, 3)).astype(np.float32)]
    for i, array in enumerate(arrays):
        back = read_idx(write_idx(tmp_path / f"a{i}", array, compress))
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_corrupted_idx_files_fail_clearly(tmp_path):
    good = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    cases = {"magic.idx": (b"\x01\x02" + good[2:], "magic number"),
             "code.idx": (good[:2] + b"\x42" + good[3:], "type code"),
             "short.idx": (good[:-5], "truncated"),
             "header.idx": (good[:9], "truncated"),
             "long.idx": (good + b"\x00", "longer than its header"),
             "tiny.idx": (b"\x00", "only 1 bytes"),
             "broken.gz": (gzip.compress(good)[:-10], "damaged gzip")}
    for name, (raw, message) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(DeepscopeError, match=message) as info:
            read_idx(tmp_path / name)
        assert name in str(info.value)


def test_full_mnist_from_gz_files_in_torchvision_layout(tmp_path):
    images, labels = make_pair(tmp_path / "MNIST" / "raw", "train", 12, 0, compress=True)
    test_images, _ = make_pair(tmp_path / "MNIST" / "raw", "t10k", 5, 1, compress=True)
    data = load_dataset("mnist", root=tmp_path)
    assert data.input_shape == (1, 28, 28) and len(data) == 12 and "IDX files" in data.source
    assert torch.equal(data.x[:, 0], torch.as_tensor(images, dtype=torch.float32) / 255)
    assert data.y.tolist() == labels.tolist() and data.y.dtype == torch.int64
    test = load_dataset("mnist", root=str(tmp_path), split="test")
    assert torch.equal(test.x[:, 0], torch.as_tensor(test_images, dtype=torch.float32) / 255)


def test_fashion_mnist_from_plain_files_directly_in_root(tmp_path):
    images, labels = make_pair(tmp_path, "train", 20, 2, compress=False)
    data = load_dataset("fashion-mnist", root=tmp_path, classes=["Bag", "Trouser"])
    keep = np.isin(labels, [8, 1])
    assert data.class_names == ["Bag", "Trouser"]
    assert data.y.tolist() == [0 if label == 8 else 1 for label in labels[keep]]
    assert torch.equal(data.x[:, 0], torch.as_tensor(images[keep], dtype=torch.float32) / 255)
    full = load_dataset("fashion-mnist", root=tmp_path)
    assert full.class_names[0] == "T-shirt/top" and full.class_names[9] == "Ankle boot"


def test_missing_or_mismatched_idx_files_say_what_to_do(tmp_path):
    with pytest.raises(DeepscopeError, match="pass root=DIR"):
        load_dataset("fashion-mnist")
    with pytest.raises(DeepscopeError, match="not a directory"):
        load_dataset("fashion-mnist", root=tmp_path / "nowhere")
    with pytest.raises(DeepscopeError) as info:
        load_dataset("fashion-mnist", root=tmp_path, split="test")
    message = str(info.value)
    for looked in (tmp_path / "FashionMNIST/raw/t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte.gz"):
        assert str(looked) in message
    assert "train-images" in message and "Download" in message and "fashion-mnist" in message
    make_pair(tmp_path, "train", 4, 0, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DeepscopeError, match="one label per image"):
        load_dataset("mnist", root=tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(4, 10, dtype=np.uint8))
    with pytest.raises(DeepscopeError, match="label 10"):
        load_dataset("mnist", root=tmp_path)
