"""Stratified subsets: proportional per-class counts, no empty class, dedicated size errors."""
import numpy as np
import pytest
import torch

from deepscope.data import SubsetTooLarge, SubsetTooSmall, from_tensors, load_dataset
from deepscope.data._rng import stream
from deepscope.data.select import random_subset, stratified_counts
from deepscope.errors import DeepscopeError


@pytest.mark.parametrize("sizes, n, counts", [
    ([50, 30, 20], 10, [5, 3, 2]),          # exact quotas
    ([3, 3, 3], 4, [2, 1, 1]),              # equal remainders: lower class id first
    ([10, 25, 65], 7, [1, 2, 4]),           # quotas 0.7, 1.75, 4.55: floors 0, 1, 4; the leftovers go to .7 and .75
    ([1, 99], 10, [1, 9]),                  # the rare class would get 0 (quota 0.1): it takes one from the largest
    ([0, 5, 5], 4, [0, 2, 2]),              # an empty class stays empty
])
def test_stratified_counts(sizes, n, counts):
    assert stratified_counts(sizes, n) == counts


def test_stratified_counts_always_sum_to_n_within_class_sizes():
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(1, 50, size=rng.integers(1, 8)).tolist()
        n = int(rng.integers(len(sizes), sum(sizes) + 1))
        counts = stratified_counts(sizes, n)
        assert sum(counts) == n and all(1 <= c <= s for c, s in zip(counts, sizes))


def test_subsets_are_stratified_and_seeded():
    data = load_dataset("mnist", split="test")                     # 100 per digit
    one_each = load_dataset("mnist", split="test", n=10, seed=3)
    assert torch.bincount(one_each.y).tolist() == [1] * 10
    subset = random_subset(data, 25, seed=1)
    assert sorted(torch.bincount(subset.y).tolist()) == [2] * 5 + [3] * 5
    assert torch.equal(subset.x, random_subset(data, 25, seed=1).x)
    assert not torch.equal(subset.x, random_subset(data, 25, seed=2).x)
    imbalanced = from_tensors(torch.randn(100, 2), torch.tensor([0] * 90 + [1] * 10))
    assert torch.bincount(random_subset(imbalanced, 20, seed=0).y).tolist() == [18, 2]


def test_regression_keeps_a_plain_random_subset():
    data = load_dataset("linear-regression", n=50)
    subset = random_subset(data, 10, seed=0)
    expected = torch.randperm(50, generator=stream(0, "subset"))[:10].sort().values  # as before stratification
    assert torch.equal(subset.x, data.x[expected])


def test_size_errors_are_dedicated_subclasses():
    with pytest.raises(SubsetTooLarge) as too_large:
        load_dataset("mnist", split="test", n=1001)
    assert isinstance(too_large.value, DeepscopeError)
    assert (too_large.value.requested, too_large.value.available) == (1001, 1000)
    with pytest.raises(SubsetTooSmall, match=r"n=3 would leave classes empty: 'mnist' has 10 classes.*"
                                             r"n >= 10.*classes=") as too_small:
        load_dataset("mnist", split="test", n=3)
    assert (too_small.value.requested, too_small.value.num_classes) == (3, 10)
    assert len(load_dataset("mnist", split="test", n=3, classes=[0, 1, 2])) == 3
