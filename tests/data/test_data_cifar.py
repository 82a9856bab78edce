"""CIFAR-10 and CIFAR-100 python files written here with pickle, and the refusal of pickles that would run code."""
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from deepscope.data import load_dataset
from deepscope.data.cifar import load_batch
from datafiles import FINE, write_cifar, write_cifar100

from deepscope.errors import DeepscopeError


@pytest.mark.parametrize("protocol, nested", [(4, True), (5, False)])
def test_cifar_batches_load_exactly(tmp_path, protocol, nested):
    (train_data, train_labels), (test_data, test_labels) = write_cifar(
        tmp_path / "cifar-10-batches-py" if nested else tmp_path, protocol=protocol)
    train = load_dataset("cifar10", root=tmp_path)
    assert len(train) == 20 and train.input_shape == (3, 32, 32) and train.num_classes == 10
    assert train.class_names[0] == "airplane" and train.class_names[9] == "truck"
    expected = torch.as_tensor(train_data.reshape(-1, 3, 32, 32), dtype=torch.float32) / 255
    torch.testing.assert_close(train.x, expected, rtol=0, atol=0)
    assert train.y.tolist() == train_labels
    test = load_dataset("cifar10", root=tmp_path, split="test", grayscale=True)
    rgb = torch.as_tensor(test_data.reshape(-1, 3, 32, 32), dtype=torch.float32) / 255
    torch.testing.assert_close(test.x[:, 0], 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])
    assert test.y.tolist() == test_labels


def python2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the original (Python 2 cPickle) CIFAR files are, opcode by opcode.

    Strings are BINSTRINGs (bytes under encoding='bytes') and the array is rebuilt through
    numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype.
    """
    raw = data.tobytes()
    return (b"\x80\x02}(U\x04data"
            b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
            b"(K\x01M" + struct.pack("<H", len(data)) + b"M\x00\x0c\x86"
            b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
            b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
            b"U\x06labels](" + b"".join(b"K" + bytes([label]) for label in labels) + b"eu.")


def test_python2_style_batch_loads(tmp_path):
    write_cifar(tmp_path)
    data = np.random.default_rng(7).integers(0, 256, size=(3, 3072), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(python2_batch(data, [9, 0, 4]))
    test = load_dataset("cifar10", root=tmp_path, split="test")
    assert test.y.tolist() == [9, 0, 4]
    assert torch.equal(test.x, torch.as_tensor(data.reshape(3, 3, 32, 32), dtype=torch.float32) / 255)


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').getcwd()",)


def test_malicious_pickles_are_refused_before_anything_runs(tmp_path):
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": RunsAShellCommand(marker), b"labels": [0]}))
    with pytest.raises(DeepscopeError, match=r"refusing to unpickle.*could run code") as info:
        load_dataset("cifar10", root=tmp_path, split="test")
    assert "system" in str(info.value) and not marker.exists()
    (tmp_path / "evil").write_bytes(pickle.dumps(CallsEval()))
    with pytest.raises(DeepscopeError, match="builtins.eval"):
        load_batch(tmp_path / "evil")


def test_bad_cifar_files_fail_clearly(tmp_path):
    with pytest.raises(DeepscopeError) as info:
        load_dataset("cifar10", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_3") in message and "batches.meta" in message
    assert "cs.toronto.edu" in message
    write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DeepscopeError, match=r"uint8 \[N, 3072\]"):
        load_dataset("cifar10", root=tmp_path, split="test")
    (tmp_path / "test_batch").write_bytes(b"not a pickle at all")
    with pytest.raises(DeepscopeError, match="not a readable CIFAR python batch"):
        load_dataset("cifar10", root=tmp_path, split="test")


def test_cifar100_fine_and_coarse_labels(tmp_path):
    made = write_cifar100(tmp_path / "cifar-100-python")
    train = load_dataset("cifar100", root=tmp_path)
    data, fine, coarse = made["train"]
    assert train.num_classes == 100 and train.class_names[7] == "fine7" and train.y.tolist() == fine
    assert torch.equal(train.x, torch.as_tensor(data.reshape(-1, 3, 32, 32), dtype=torch.float32) / 255)
    test = load_dataset("cifar100", root=tmp_path, split="test", label_mode="coarse")
    assert test.num_classes == 20 and test.class_names[0] == "coarse0" and test.y.tolist() == made["test"][2]
    assert "CIFAR-100 python batches" in test.source
    with pytest.raises(DeepscopeError, match="label_mode must be one of"):
        load_dataset("cifar100", root=tmp_path, label_mode="medium")


def test_cifar100_goes_through_the_same_safe_unpickler(tmp_path):
    write_cifar100(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "test").write_bytes(pickle.dumps({b"data": RunsAShellCommand(marker), b"fine_labels": [0]}))
    with pytest.raises(DeepscopeError, match="refusing to unpickle"):
        load_dataset("cifar100", root=tmp_path, split="test")
    assert not marker.exists()
    ten = tmp_path / "ten"                       # a CIFAR-10 batch where the CIFAR-100 train file should be
    write_cifar(ten)
    (ten / "train").write_bytes((ten / "data_batch_1").read_bytes())
    (ten / "meta").write_bytes(pickle.dumps({b"fine_label_names": FINE}))
    with pytest.raises(DeepscopeError, match=r"lacks the 'data' or 'fine_labels' entry.*CIFAR-100 python batch"):
        load_dataset("cifar100", root=ten)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeepscopeError, match=r"(?s)empty/cifar-100-python/train.*cs.toronto.edu"):
        load_dataset("cifar100", root=empty)
