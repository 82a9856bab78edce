"""Your own data: (x, y) pairs, torch Datasets, and the helpers behind them."""
import numpy as np
import pytest
import torch
from PIL import Image

from deepscope.data import from_tensors, from_torch_dataset, load_dataset
from deepscope.errors import DeepscopeError


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, x, y, classes=None):
        self.x, self.y = x, y
        if classes is not None:
            self.classes = classes

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


class Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter([(np.array([float(i), 1.0]), 0.5 * i) for i in range(4)])


def test_from_tensors_infers_the_task_from_the_targets():
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    clf = from_tensors(x, np.array([0, 2, 1, 2, 0, 1]), name="toy")
    assert clf.task == "classification" and clf.class_names == ["0", "1", "2"] and clf.x.dtype == torch.float32
    assert clf.flat().shape == (6, 2) and len(clf) == 6 and clf.name == "toy"
    reg = from_tensors(torch.ones(6, 2), torch.linspace(0, 1, 6))
    assert reg.task == "regression" and reg.y.shape == (6, 1) and reg.num_classes == 0
    named = from_tensors(torch.ones(2, 1), torch.tensor([1.0, 0.0]), class_names=["no", "yes"])
    assert named.task == "classification" and named.y.tolist() == [1, 0]


def test_from_tensors_rejects_bad_input():
    with pytest.raises(DeepscopeError, match=r"x.reshape\(-1, 1\)"):
        from_tensors(torch.ones(5), torch.zeros(5, dtype=torch.int64))
    with pytest.raises(DeepscopeError, match="one target per sample"):
        from_tensors(torch.ones(5, 2), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(DeepscopeError, match="ids >= 0"):
        from_tensors(torch.ones(2, 2), torch.tensor([-1, 0]))
    with pytest.raises(DeepscopeError, match="only 1 class names"):
        from_tensors(torch.ones(2, 2), torch.tensor([0, 1]), class_names=["a"])
    with pytest.raises(DeepscopeError, match="whole numbers"):
        from_tensors(torch.ones(2, 2), torch.tensor([0.5, 1.0]), class_names=["a", "b"])


def test_from_torch_dataset_stacks_pairs_and_uses_classes():
    x = torch.randn(10, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    y = torch.arange(10) % 3
    data = from_torch_dataset(PairDataset(x, y, classes=["a", "b", "c"]))
    assert torch.equal(data.x, x) and torch.equal(data.y, y) and data.class_names == ["a", "b", "c"]
    assert data.name == "PairDataset"
    assert from_torch_dataset(PairDataset(x, y)).class_names == ["0", "1", "2"]
    stream = from_torch_dataset(Stream())
    assert stream.task == "regression" and stream.x.shape == (4, 2) and stream.y[:, 0].tolist() == [0, 0.5, 1, 1.5]
    images = [Image.new("RGB", (2, 2), (255, 0, 0)), Image.new("L", (2, 2), 51)]
    pil = from_torch_dataset(PairDataset(images, [0, 1]))
    assert pil.input_shape == (3, 2, 2) and pil.x[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert torch.allclose(pil.x[1], torch.full((3, 2, 2), 0.2))


def test_from_torch_dataset_errors():
    with pytest.raises(DeepscopeError, match="not an"):
        from_torch_dataset([torch.ones(2)])
    with pytest.raises(DeepscopeError, match="different shapes"):
        from_torch_dataset([(torch.ones(2), 0), (torch.ones(3), 1)])
    with pytest.raises(DeepscopeError, match="is empty"):
        from_torch_dataset(PairDataset([], []))


def test_load_dataset_applies_the_pipeline_to_user_data():
    x = torch.rand(40, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    y = torch.arange(40) % 4
    data = load_dataset(PairDataset(x, y, classes=["w", "x", "y", "z"]), classes=["z", 1], n=10, size=3, seed=5)
    assert data.class_names == ["z", "x"] and len(data) == 10 and data.input_shape == (3, 3, 3)
    assert set(data.y.tolist()) <= {0, 1}
    pair = load_dataset((x.numpy(), y.numpy()), n=10, seed=5, classes=[3, 1])
    again = load_dataset((x, y), n=10, seed=5, classes=[3, 1])
    assert torch.equal(pair.x, again.x) and torch.equal(pair.y, again.y)
    kept = x[(y == 3) | (y == 1)]
    assert all(any(torch.equal(row, k) for k in kept) for row in pair.x)
    with pytest.raises(DeepscopeError, match="only apply to named datasets"):
        load_dataset((x, y), root="/tmp")
    with pytest.raises(DeepscopeError, match="only apply to named datasets"):
        load_dataset((x, y), dim=3)
    with pytest.raises(DeepscopeError, match="a dataset name, an \\(x, y\\) pair or a torch Dataset"):
        load_dataset(42)
