"""load_dataset's shared options, the registry, and the Dataset container."""
import pytest
import torch

from deepscope.data import Dataset, available_datasets, format_datasets_table, load_dataset
from deepscope.errors import DeepscopeError

NAMES = ["mnist", "digits", "mnist1d", "geomnist", "modular", "fakedata", "gaussian-mixture", "linear-regression",
         "sinusoidal-regression", "fashion-mnist", "cifar10", "cifar100", "image-folder"]


def test_registry_lists_every_dataset_with_its_needs_and_options():
    infos = {info.name: info for info in available_datasets()}
    assert list(infos) == NAMES
    assert {name for name, info in infos.items() if info.needs_root} == {"fashion-mnist", "cifar10", "cifar100",
                                                                         "image-folder"}
    assert all(info.description and "\n" not in info.description for info in infos.values())
    assert infos["fakedata"].options == {"image_size": 28, "channels": 1, "num_classes": 10}
    table = format_datasets_table()
    lines = table.splitlines()
    assert lines[0].split() == ["name", "data", "description"]
    for info in infos.values():
        row = next(line for line in lines if line.startswith(info.name + " "))
        assert ("needs root" if info.needs_root else "offline") in row and info.description in row
    assert "separation=3.0" in table


def test_unknown_names_and_options_list_what_exists():
    with pytest.raises(DeepscopeError, match="unknown dataset 'mnsit'; available: mnist, digits") as info:
        load_dataset("mnsit")
    assert all(name in str(info.value) for name in NAMES)
    with pytest.raises(DeepscopeError, match=r"does not take option\(s\) \['dims'\].*num_classes, dim, separation"):
        load_dataset("gaussian-mixture", dims=3)
    with pytest.raises(DeepscopeError, match="own options are: none"):
        load_dataset("digits", channels=3)


def test_common_options_are_validated():
    for kwargs, message in [({"n": 0}, "n must be a positive integer"), ({"size": 2.5}, "size must be"),
                            ({"seed": -1}, "seed must be an integer >= 0"), ({"split": "val"}, "split must be"),
                            ({"device": "gpu0"}, "is not a torch device")]:
        with pytest.raises(DeepscopeError, match=message):
            load_dataset("gaussian-mixture", **kwargs)


def test_subset_is_reproducible_from_the_seed_and_says_when_n_is_too_large():
    a = load_dataset("mnist", split="test", n=100, seed=0)
    b = load_dataset("mnist", split="test", n=100, seed=0)
    c = load_dataset("mnist", split="test", n=100, seed=1)
    assert len(a) == 100 and torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)
    full = load_dataset("mnist", split="test")
    assert all(any(torch.equal(row, f) for f in full.x[full.y == label]) for row, label in zip(a.x[:5], a.y[:5]))
    with pytest.raises(DeepscopeError, match=r"n=1001 is more than the 1000 samples .*pass n <= 1000"):
        load_dataset("mnist", split="test", n=1001)
    with pytest.raises(DeepscopeError, match="200 samples"):
        load_dataset("mnist", split="test", n=201, classes=[0, 1])


def test_class_filter_relabels_in_the_given_order():
    full = load_dataset("mnist", split="test")
    data = load_dataset("mnist", split="test", classes=[7, "3"])
    assert data.class_names == ["7", "3"] and data.num_classes == 2
    assert torch.bincount(data.y).tolist() == [100, 100]
    assert torch.equal(data.x[data.y == 0], full.x[full.y == 7])
    assert torch.equal(data.x[data.y == 1], full.x[full.y == 3])
    with pytest.raises(DeepscopeError, match=r"unknown class 'cat'; this dataset has classes 0='0', 1='1'"):
        load_dataset("mnist", split="test", classes=["cat"])
    with pytest.raises(DeepscopeError, match="unknown class 10"):
        load_dataset("mnist", split="test", classes=[10])
    with pytest.raises(DeepscopeError, match="twice"):
        load_dataset("mnist", split="test", classes=[1, "1"])
    with pytest.raises(DeepscopeError, match="is empty"):
        load_dataset("mnist", split="test", classes=[])


def test_mnist_resized_like_the_equi_separation_runs():
    data = load_dataset("mnist", n=50, size=10, seed=0)
    assert data.x.shape == (50, 1, 10, 10) and data.flat().shape == (50, 100)
    assert float(data.x.min()) >= 0 and float(data.x.max()) <= 1


def test_tensors_end_on_the_requested_device():
    data = load_dataset("linear-regression", n=8, device="meta")
    assert data.x.device.type == "meta" and data.y.device.type == "meta"
    assert data.meta["weights"].device.type == "meta"
    with pytest.raises(DeepscopeError, match="cannot put the data on device 'cuda:99'"):
        load_dataset("linear-regression", n=8, device="cuda:99")


def test_dataset_checks_its_fields():
    with pytest.raises(DeepscopeError, match="float32"):
        Dataset(x=torch.zeros(2, 3, dtype=torch.float64), y=torch.zeros(2, dtype=torch.int64), class_names=["a"],
                source="t", task="classification", name="t")
    with pytest.raises(DeepscopeError, match="labels must lie in 0..1"):
        Dataset(x=torch.zeros(2, 3), y=torch.tensor([0, 2]), class_names=["a", "b"], source="t",
                task="classification", name="t")
    with pytest.raises(DeepscopeError, match="task must be one of"):
        Dataset(x=torch.zeros(2, 3), y=torch.zeros(2, 1), class_names=[], source="t", task="ranking", name="t")
