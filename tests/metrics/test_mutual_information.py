"""DSMI, binned MI and adjacency MI: against dse-dsmi 1.1 on the same inputs and draws, and known answers."""
import random

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics.entropy import diffusion_spectral_entropy
from deepscope.metrics.mutual_information import (adjacency_mutual_information, binned_mutual_information,
                                                  diffusion_spectral_mutual_information, random_subsets,
                                                  reference_clusters, size_matched_mutual_information)

dse_dsmi = pytest.importorskip("dse_dsmi")


def package_sampler(seed: int):
    """The package's draws: Python's `random` reseeded with its seed before each cluster, then
    `random.sample(range(N), n_c)` num_repetitions times; here on a private `random.Random`."""
    def draw(n, size, repetitions):
        rng = random.Random(seed)
        return [rng.sample(range(n), size) for _ in range(repetitions)]
    return draw


def same_partition(a, b) -> bool:
    """Whether two labelings split the rows the same way (ids may differ: the package numbers bins from 1)."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    pairs = {(x, y) for x, y in zip(a.tolist(), b.tolist())}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(300, 10)), rng.integers(0, 4, size=300)


@pytest.mark.parametrize("t, seed", [(1, 0), (2, 3)])
def test_dsmi_with_discrete_labels_equals_reference(data, t, seed):
    X, y = data
    ref, clusters = dse_dsmi.diffusion_spectral_mutual_information(X, y, t=t, random_seed=seed)
    ours = diffusion_spectral_mutual_information(X, y, t=t, seed=seed, sampler=package_sampler(seed))
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-13)
    assert same_partition(reference_clusters(y), clusters)


def test_dsmi_with_a_continuous_scalar_reference_equals_reference(data):
    X, _ = data
    z = np.random.default_rng(1).normal(size=300)  # float: binned into 10 equal-width bins
    ref, clusters = dse_dsmi.diffusion_spectral_mutual_information(X, z)
    assert same_partition(reference_clusters(z), clusters)
    ours = diffusion_spectral_mutual_information(X, z, sampler=package_sampler(0))
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-13)


def test_dsmi_with_a_vector_reference_equals_reference(data):
    X, _ = data  # DSMI(A; A), the question of the package's issue #4: spectral clusters of A
    ref, clusters = dse_dsmi.diffusion_spectral_mutual_information(X, X)
    assert same_partition(reference_clusters(X), clusters)
    ours = diffusion_spectral_mutual_information(X, X, sampler=package_sampler(0))
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-13)
    assert ours < diffusion_spectral_entropy(X)  # size-matched conditional scheme: DSMI(A; A) != DSE(A)


def test_matrix_entry_dsmi_equals_reference(data):
    X, y = data
    ref, _ = dse_dsmi.diffusion_spectral_mutual_information(X, y, matrix_entry_entropy=True)
    ours = diffusion_spectral_mutual_information(X, y, matrix_entry=True, sampler=package_sampler(0))
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-13)


def test_binned_mutual_information_equals_reference(data):
    X, y = data
    ref, _ = dse_dsmi.diffusion_spectral_mutual_information(X, y, classic_shannon_entropy=True)
    assert binned_mutual_information(X, y, sampler=package_sampler(0)) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("kwargs, ours_kwargs", [
    ({}, {}), (dict(anisotropic=True), dict(normalized=True)), (dict(use_knn=True), dict(knn=10)),
])
def test_adjacency_mutual_information_equals_reference(data, kwargs, ours_kwargs):
    X, y = data
    ref, _ = dse_dsmi.adjacency_spectral_mutual_information(X, y, **kwargs)
    ours = adjacency_mutual_information(X, y, sampler=package_sampler(0), **ours_kwargs)
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-13)


# ---------------------------------------------------------------- known answers and properties

def test_one_cluster_gives_zero():
    X = np.random.default_rng(2).uniform(size=(120, 4))  # H(X | c) = H(X) on the same rows: exactly 0
    assert diffusion_spectral_mutual_information(X, clusters=np.zeros(120, dtype=int)) == pytest.approx(0, abs=1e-12)


def test_dsmi_near_zero_for_independent_labels_and_grows_with_separation():
    rng = np.random.default_rng(3)
    n, d = 400, 5
    labels = np.repeat(np.arange(4), n // 4)
    centres = rng.normal(size=(4, d))
    noise = rng.normal(size=(n, d))
    values = [diffusion_spectral_mutual_information(noise + gap * centres[labels], labels, sigma=1.0)
              for gap in (0.0, 1.0, 2.0, 4.0)]
    entropy = diffusion_spectral_entropy(noise, sigma=1.0)
    assert abs(values[0]) < 0.02 * entropy
    assert all(a < b for a, b in zip(values, values[1:])), values
    shuffled = rng.permutation(labels)  # the same separated data, labels independent of it
    separated = noise + 4.0 * centres[labels]
    assert abs(diffusion_spectral_mutual_information(separated, shuffled, sigma=1.0)) < 0.1 * values[-1]


def test_precomputed_clusters_and_default_sampler(data):
    X, y = data
    a = diffusion_spectral_mutual_information(X, y, seed=4)
    assert a == diffusion_spectral_mutual_information(X, clusters=y, seed=4)
    assert a == diffusion_spectral_mutual_information(X, clusters=y, sampler=random_subsets(4))
    assert a != diffusion_spectral_mutual_information(X, y, seed=5)


def test_median_bandwidth_is_fixed_once_on_all_points(data):
    X, y = data
    assert diffusion_spectral_mutual_information(10 * X, y, sigma="median") == pytest.approx(
        diffusion_spectral_mutual_information(X, y, sigma="median"), rel=1e-8, abs=1e-13)


def test_size_matched_scheme_with_a_custom_entropy():
    X = torch.arange(8, dtype=torch.float64).reshape(8, 1)
    clusters = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    # H = number of distinct values: every subset of 4 distinct rows has 4, so I = 0 exactly
    assert size_matched_mutual_information(X, clusters, lambda S: float(S.unique().numel())) == 0.0
    # H = mean of the points: conditional means 1.5 and 5.5 against subsets with means of a fixed draw
    subsets = [[0, 1, 6, 7]]
    value = size_matched_mutual_information(X, clusters, lambda S: float(S.mean()), num_repetitions=1,
                                            sampler=lambda n, size, r: subsets)
    assert value == pytest.approx(0.5 * (3.5 - 1.5) + 0.5 * (3.5 - 5.5))


def test_global_rngs_are_left_alone(data):
    X, y = data
    random.seed(7)
    np.random.seed(7)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    diffusion_spectral_mutual_information(X, y)
    binned_mutual_information(X, y)
    diffusion_spectral_mutual_information(X[:100], X[:100])
    assert random.getstate() == states[0]
    assert (np.random.get_state()[1] == states[1]).all()
    assert torch.equal(torch.get_rng_state(), states[2])


def test_bad_inputs_are_explained(data):
    X, y = data
    with pytest.raises(DeepscopeError, match="reference"):
        diffusion_spectral_mutual_information(X)
    with pytest.raises(DeepscopeError, match="rows"):
        diffusion_spectral_mutual_information(X, y[:-1])
    with pytest.raises(DeepscopeError, match="labels"):
        diffusion_spectral_mutual_information(X, clusters=y[:10])
    with pytest.raises(DeepscopeError, match="subset sampler"):
        diffusion_spectral_mutual_information(X, y, sampler=lambda n, size, r: [list(range(size - 1))])
    with pytest.raises(DeepscopeError, match="num_repetitions"):
        binned_mutual_information(X, y, num_repetitions=0)
