"""The Dataset container: kinds, token inputs, one-hot encoding, repr, and user arrays."""
import numpy as np
import pytest
import torch

from deepscope.data import Dataset, from_tensors, load_dataset
from deepscope.errors import DeepscopeError


def tokens(x, vocab_size=5, **kwargs):
    return Dataset(x=torch.as_tensor(x), y=torch.zeros(len(x), dtype=torch.int64), class_names=["a"], source="t",
                   task="classification", name="t", vocab_size=vocab_size, **kwargs)


def test_kinds():
    assert load_dataset("digits", n=10).kind == "image"
    assert load_dataset("gaussian-mixture", n=10).kind == "vector"
    assert tokens([[0, 4], [1, 2]]).kind == "tokens"
    signals = from_tensors(torch.zeros(3, 2, 7), torch.tensor([0, 1, 0]))
    assert signals.kind == "array" and not signals.is_image


def test_token_inputs_are_checked():
    with pytest.raises(DeepscopeError, match="need vocab_size"):
        tokens([[0, 1]], vocab_size=None)
    with pytest.raises(DeepscopeError, match=r"token ids must lie in 0..4 \(vocab_size 5\); got 0..5"):
        tokens([[0, 5]])
    with pytest.raises(DeepscopeError, match=r"token inputs must be int64 \[n, L\]"):
        tokens([[[0, 1]]])
    with pytest.raises(DeepscopeError, match="vocab_size is for int64 token inputs"):
        Dataset(x=torch.zeros(1, 2), y=torch.zeros(1, dtype=torch.int64), class_names=["a"], source="t",
                task="classification", name="t", vocab_size=3)


def test_one_hot():
    data = tokens([[0, 4], [2, 2]])
    assert data.one_hot().tolist() == [[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]]
    with pytest.raises(DeepscopeError, match="one_hot\\(\\) encodes token inputs; 'digits' holds image inputs"):
        load_dataset("digits", n=10).one_hot()


def test_repr_is_one_short_line():
    data = load_dataset("mnist", split="test")
    text = repr(data)
    assert text == str(data) and "\n" not in text and len(text) < 300
    for part in ("'mnist'", "classification", "image", "n=1000", "(1, 28, 28)", "classes=10 ['0', '1', '2', '3', ...]",
                 "device='cpu'"):
        assert part in text
    assert "targets=(1,)" in repr(load_dataset("linear-regression", n=5))
    assert "vocab_size=99" in repr(load_dataset("modular"))


def test_user_arrays_convert_once_with_checked_dtypes():
    data = from_tensors(np.ones((4, 3), dtype=np.float64), np.array([0, 1, 1, 0], dtype=np.int32))
    assert data.x.dtype == torch.float32 and data.y.dtype == torch.int64
    ids = from_tensors(np.array([[0, 3], [2, 1]], dtype=np.int32), np.array([0, 1]), vocab_size=4)
    assert ids.kind == "tokens" and ids.x.dtype == torch.int64 and ids.vocab_size == 4
    with pytest.raises(DeepscopeError, match="vocab_size=4 means x holds token ids, but x is torch.float32"):
        from_tensors(np.ones((2, 2), dtype=np.float32), np.array([0, 1]), vocab_size=4)
    with pytest.raises(DeepscopeError, match="x must be real-valued"):
        from_tensors(np.ones((2, 2), dtype=np.complex64), np.array([0, 1]))
    with pytest.raises(DeepscopeError, match="y must hold integer class ids or real regression targets"):
        from_tensors(np.ones((2, 2)), np.array([1j, 2j]))
    with pytest.raises(DeepscopeError, match="x must be a tensor, array or number"):
        from_tensors(np.array([["a", "b"]], dtype=object), np.array([0]))


def test_as_features_one_hot_encodes_tokens_and_keeps_floats():
    data = tokens([[0, 4], [2, 2]])
    features = data.as_features()
    assert features.kind == "vector" and torch.equal(features.x, data.one_hot()) and features.vocab_size is None
    assert features.meta["one_hot_vocab_size"] == 5 and torch.equal(features.y, data.y)
    digits = load_dataset("digits", n=10)
    assert digits.as_features() is digits


def test_registry_knows_each_kind_before_loading():
    from deepscope.data import available_datasets
    kinds = {info.name: info.kind for info in available_datasets()}
    assert kinds["modular"] == "tokens" and kinds["mnist1d"] == "vector" and kinds["geomnist"] == "image"
    for info in available_datasets():
        assert info.images == (info.kind == "image")
        if not info.needs_root:
            assert load_dataset(info.name, n=100).kind == info.kind
