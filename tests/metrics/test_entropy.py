"""DSE, its variants and binned entropy: against dse-dsmi 1.1 on the same inputs, and known answers."""
import math
import random

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from deepscope.errors import DeepscopeError
from deepscope.metrics.diffusion import (DiffusionOperator, diffusion_kernel, gaussian_kernel, median_distance,
                                         subsample_rows)
from deepscope.metrics.entropy import (AUTO_EXACT_MAX_N, adjacency_spectral_entropy, binned_entropy,
                                       diffusion_spectral_entropy, estimate_diffusion_spectral_entropy)

dse_dsmi = pytest.importorskip("dse_dsmi")


def uniform(n: int, p: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, p))


# ---------------------------------------------------------------- equality with the reference package

@pytest.mark.parametrize("n", [100, 500, 1000])
@pytest.mark.parametrize("t", [1, 2])
def test_dse_equals_reference_on_uniform_cube(n, t):
    X = uniform(n, 10, seed=n)
    ref = dse_dsmi.diffusion_spectral_entropy(X, gaussian_kernel_sigma=10, t=t)
    assert diffusion_spectral_entropy(X, sigma=10, t=t) == pytest.approx(ref, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("t", [1, 2])
def test_dse_equals_reference_in_256_dimensions(t):
    X = uniform(1000, 256, seed=1)
    ref = dse_dsmi.diffusion_spectral_entropy(X, t=t)
    assert diffusion_spectral_entropy(torch.as_tensor(X), t=t) == pytest.approx(ref, rel=1e-8)


def test_matrix_entry_variant_equals_reference():
    X = uniform(300, 10, seed=2)
    ref = dse_dsmi.diffusion_spectral_entropy(X, matrix_entry_entropy=True)
    assert diffusion_spectral_entropy(X, matrix_entry=True) == pytest.approx(ref, rel=1e-8)
    assert ref <= 2 * math.log2(300)


@pytest.mark.parametrize("normalized", [False, True])
def test_gaussian_adjacency_entropy_equals_reference(normalized):
    X = uniform(300, 10, seed=3)
    ref = dse_dsmi.adjacency_spectral_entropy(X, anisotropic=normalized)
    assert adjacency_spectral_entropy(X, normalized=normalized) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("k", [10, 5])
def test_knn_adjacency_entropy_equals_reference(k):
    # The binary kNN matrix is non-normal with ill-conditioned eigenvalues: numpy, scipy and torch eigvals
    # disagree among themselves at ~1e-7 on the identical matrix, so the tolerance here is that of the solvers.
    X = uniform(300, 10, seed=4)
    ref = dse_dsmi.adjacency_spectral_entropy(X, use_knn=True, knn=k)
    assert adjacency_spectral_entropy(X, knn=k) == pytest.approx(ref, rel=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # the package, 0/0
@pytest.mark.parametrize("bins", [2, 3])
def test_binned_entropy_equals_reference(bins):
    X = uniform(400, 6, seed=5)
    X[:, 0] = 3.0  # a constant feature
    ref = dse_dsmi.diffusion_spectral_entropy(X, classic_shannon_entropy=True, num_bins_per_dim=bins)
    assert binned_entropy(X, bins) == pytest.approx(ref, rel=1e-8)


# ---------------------------------------------------------------- known answers and properties

def test_symmetric_kernel_has_the_spectrum_of_the_random_walk_matrix():
    X = torch.as_tensor(uniform(60, 3, seed=6))
    G = gaussian_kernel(X, 0.4)
    P = (G / G.sum(dim=1, keepdim=True)).numpy()
    walk = np.sort(np.linalg.eigvals(P).real)
    sym = torch.linalg.eigvalsh(diffusion_kernel(X, 0.4)).numpy()
    np.testing.assert_allclose(sym, walk, atol=1e-10)
    assert sym.max() == pytest.approx(1.0) and sym.min() > -1e-10  # K is positive semi-definite


@pytest.mark.parametrize("sigma", [1e-3, 0.1, 0.5, 2.0, 10.0, 1e3])
@pytest.mark.parametrize("t", [1, 2])
def test_dse_lies_between_zero_and_log2_n(sigma, t):
    n = 200
    h = diffusion_spectral_entropy(uniform(n, 5, seed=7), sigma=sigma, t=t)
    assert -1e-12 <= h <= math.log2(n) + 1e-12


def test_dse_limits_in_sigma():
    n = 200
    X = uniform(n, 5, seed=8)
    assert diffusion_spectral_entropy(X, sigma=1e-3) == pytest.approx(math.log2(n), abs=1e-9)  # G = I
    assert diffusion_spectral_entropy(X, sigma=1e4) < 1e-6  # G = 11ᵀ: one eigenvalue


def test_dse_increases_with_intrinsic_dimension():
    rng = np.random.default_rng(9)
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    values = []
    for d in (1, 2, 4, 8, 16):
        cube = np.zeros((500, 16))
        cube[:, :d] = rng.uniform(size=(500, d))
        values.append(diffusion_spectral_entropy(cube @ rotation, sigma=0.5))
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_binned_entropy_known_values_and_dimension_limit():
    assert binned_entropy(np.array([[0.0], [1.0], [0.0], [1.0]])) == pytest.approx(1.0)
    assert binned_entropy(np.full((10, 3), 7.0)) == 0.0
    n = 200  # with 64 binary coordinates every row is its own symbol: H = log2 n
    assert binned_entropy(uniform(n, 64, seed=10)) == pytest.approx(math.log2(n))


def test_constant_features_give_finite_values():
    X = uniform(200, 5, seed=11)
    Xc = np.hstack([X, np.full((200, 2), 4.0)])
    assert diffusion_spectral_entropy(Xc) == pytest.approx(diffusion_spectral_entropy(X), rel=1e-10)
    for value in (diffusion_spectral_entropy(Xc, standardize=True), diffusion_spectral_entropy(Xc, sigma="median"),
                  binned_entropy(Xc), adjacency_spectral_entropy(Xc, standardize=True)):
        assert math.isfinite(value)
    with pytest.raises(DeepscopeError, match="median pairwise distance is 0"):
        diffusion_spectral_entropy(np.ones((20, 3)), sigma="median")


def test_median_bandwidth_is_the_documented_statistic():
    X = uniform(301, 4, seed=12)
    assert median_distance(torch.as_tensor(X)) == pytest.approx(np.median(pdist(X)), rel=1e-12)
    rows = subsample_rows(301, 50, seed=3).numpy()  # more than max_points: pairs of a seeded subsample
    assert median_distance(torch.as_tensor(X), seed=3, max_points=50) == pytest.approx(np.median(pdist(X[rows])))
    h = diffusion_spectral_entropy(X, sigma="median")
    assert h == pytest.approx(diffusion_spectral_entropy(X, sigma=float(np.median(pdist(X)))), rel=1e-12)


def test_median_bandwidth_and_standardize_make_dse_scale_invariant():
    X = uniform(300, 8, seed=13)
    assert diffusion_spectral_entropy(1000 * X, sigma="median") == pytest.approx(
        diffusion_spectral_entropy(X, sigma="median"), rel=1e-9)
    scales = np.geomspace(1e-2, 1e2, 8)
    assert diffusion_spectral_entropy(X * scales, standardize=True) == pytest.approx(
        diffusion_spectral_entropy(X, standardize=True), rel=1e-9)
    assert diffusion_spectral_entropy(100 * X) != pytest.approx(diffusion_spectral_entropy(X), rel=1e-3)


def test_subsampling_is_seeded_and_leaves_global_rngs_alone():
    X = uniform(600, 5, seed=14)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    a = estimate_diffusion_spectral_entropy(X, sigma="median", max_n=250, seed=5)
    b = estimate_diffusion_spectral_entropy(X, sigma="median", max_n=250, seed=5)
    c = estimate_diffusion_spectral_entropy(X, sigma="median", max_n=250, seed=6)
    estimate_diffusion_spectral_entropy(X, method="slq", seed=5)
    adjacency_spectral_entropy(X, max_n=250, seed=5)
    assert a == b and a.value != c.value and a.n == 250
    assert random.getstate() == states[0]
    assert (np.random.get_state()[1] == states[1]).all()
    assert torch.equal(torch.get_rng_state(), states[2])


def test_auto_method_switches_to_slq_for_large_n():
    small = uniform(300, 3, seed=15)
    assert estimate_diffusion_spectral_entropy(small, method="auto") == estimate_diffusion_spectral_entropy(small)
    big = estimate_diffusion_spectral_entropy(uniform(AUTO_EXACT_MAX_N + 1, 3, seed=16), sigma=0.2, method="auto",
                                              num_probes=8, num_steps=8, sketch_size=8)
    assert big.method == "slq" and big.n == AUTO_EXACT_MAX_N + 1 and big.stderr > 0


# ---------------------------------------------------------------- the large-n path (SLQ) against the exact one

@pytest.mark.parametrize("p, sigma", [(10, 10.0), (256, 10.0), (3, 0.2)])
def test_operator_matches_the_dense_kernel_stored_or_recomputed(p, sigma):
    X = torch.as_tensor(uniform(700, p, seed=17))
    K = diffusion_kernel(X, sigma)
    V = torch.randn(700, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for op in (DiffusionOperator(X, sigma, block_size=256), DiffusionOperator(X, sigma, block_size=300,
                                                                              max_dense_bytes=0)):
        assert op.split == (p == 10 or p == 256)
        KV = op.matmul(V.float()).double()
        assert float(torch.linalg.vector_norm(KV - K @ V) / torch.linalg.vector_norm(K @ V)) < 1e-5
        assert op.trace_power(1) == pytest.approx(float(K.trace()), rel=1e-6)
        assert op.trace_power(2) == pytest.approx(float((K * K).sum()), rel=1e-5)
        assert torch.allclose(K @ op.top_eigenvector, op.top_eigenvector, atol=1e-6)


def test_slq_within_one_percent_of_exact_at_n_2000():
    X = uniform(2000, 256, seed=18)  # the benchmark data: ~256 comparable eigenvalues, so many probes
    for t in (1, 2):
        exact = diffusion_spectral_entropy(X, t=t)
        est = estimate_diffusion_spectral_entropy(X, t=t, method="slq", num_probes=48, sketch_size=288,
                                                  num_steps=8)
        assert abs(est.value - exact) <= 0.01 * exact
        assert abs(est.value - exact) <= 4 * est.stderr


@pytest.mark.parametrize("p, sigma, t", [(10, 10.0, 1), (10, 10.0, 1.5), (30, 1.0, 1), (30, 1.0, 2), (5, 0.1, 1)])
def test_slq_error_bar_is_honest(p, sigma, t):
    # low-rank (10-d at sigma 10, entropy ~0.1 bit), mid and high entropy; t = 1.5 estimates S too
    X = uniform(1000, p, seed=19)
    exact = diffusion_spectral_entropy(X, sigma=sigma, t=t)
    est = estimate_diffusion_spectral_entropy(X, sigma=sigma, t=t, method="slq")
    assert abs(est.value - exact) <= 0.01 * exact
    assert abs(est.value - exact) <= 4 * est.stderr + 1e-6 * exact


# ---------------------------------------------------------------- errors for people

@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=0), "sigma"), (dict(sigma="mean"), "sigma"), (dict(t=0), "diffusion time"),
    (dict(method="fast"), "method"), (dict(method="slq", matrix_entry=True), "matrix-entry"),
    (dict(max_n=0), "max_n"),
])
def test_bad_arguments_are_explained(kwargs, match):
    with pytest.raises(DeepscopeError, match=match):
        diffusion_spectral_entropy(uniform(20, 2), **kwargs)


def test_bad_inputs_are_explained():
    X = uniform(20, 2)
    X[3, 1] = np.nan
    with pytest.raises(DeepscopeError, match="NaN"):
        diffusion_spectral_entropy(X)
    with pytest.raises(DeepscopeError, match="normalized"):
        adjacency_spectral_entropy(uniform(20, 2), knn=3, normalized=True)
    with pytest.raises(DeepscopeError, match="knn"):
        adjacency_spectral_entropy(uniform(20, 2), knn=50)
    with pytest.raises(DeepscopeError, match="bins"):
        binned_entropy(uniform(20, 2), bins=0)
