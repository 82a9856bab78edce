"""CKA against its definition, its invariances and its null distribution."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from deepscope.errors import DeepscopeError
from deepscope.metrics.similarity import cka

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gaussian(n: int, p: int, seed: int) -> torch.Tensor:
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def orthogonal(p: int, seed: int) -> torch.Tensor:
    return torch.linalg.qr(gaussian(p, p, seed))[0]


def kernel_space_cka(K: np.ndarray, L: np.ndarray) -> float:
    """<HKH, HLH> / (||HKH|| ||HLH||), written out with the centring matrix."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return float(np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc)))


def u_statistic_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Unbiased HSIC as the order-4 U-statistic: the mean over ordered distinct (i, j, q, r) of
    k_ij l_ij + k_ij l_qr - 2 k_ij l_iq (Song et al. 2012), by brute force."""
    i, j, q, r = np.array(list(itertools.permutations(range(K.shape[0]), 4))).T
    return float(np.mean(K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]))


def rbf(X: np.ndarray, fraction: float = 0.8) -> np.ndarray:
    sigma = fraction * np.median(pdist(X))
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    return np.exp(-sq / (2 * sigma ** 2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n,p", [(100, 10), (20, 30)])          # feature space, kernel space
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_invariances(device, n, p, debiased):
    X = gaussian(n, p, 0).to(device)
    Q = orthogonal(p, 1).to(device)
    shift = 1e3 * gaussian(1, p, 2).to(device)
    for Y in (X @ Q, 3.7 * X, X + shift, X):
        assert cka(X, Y, debiased=debiased) == pytest.approx(1.0, abs=1e-10)


def test_linear_cka_equals_kernel_space_formula():
    for (n, p, q), seed in zip([(7, 3, 4), (5, 8, 6)], (3, 4)):   # p, q < n and p, q >= n
        X, Y = gaussian(n, p, seed), gaussian(n, q, seed + 10) + 5.0
        expected = kernel_space_cka((X @ X.T).numpy(), (Y @ Y.T).numpy())
        assert cka(X, Y) == pytest.approx(expected, abs=1e-12)
        assert cka(Y, X) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n,p,q", [(7, 3, 2), (7, 9, 8)])
def test_debiased_cka_equals_u_statistic(n, p, q):
    X, Y = gaussian(n, p, 5) + 2.0, gaussian(n, q, 6) - 1.0
    X[:, 0] += Y[:, 0]                                          # some shared signal
    K, L = (X @ X.T).numpy(), (Y @ Y.T).numpy()
    expected = u_statistic_hsic(K, L) / math.sqrt(u_statistic_hsic(K, K) * u_statistic_hsic(L, L))
    assert cka(X, Y, debiased=True) == pytest.approx(expected, abs=1e-10)
    Kr, Lr = rbf(X.numpy()), rbf(Y.numpy())
    expected_rbf = u_statistic_hsic(Kr, Lr) / math.sqrt(u_statistic_hsic(Kr, Kr) * u_statistic_hsic(Lr, Lr))
    assert cka(X, Y, kernel="rbf", debiased=True) == pytest.approx(expected_rbf, abs=1e-10)


def test_rbf_cka_uses_a_median_relative_bandwidth():
    X, Y = gaussian(30, 4, 7), gaussian(30, 6, 8)
    Y[:, :4] += X
    assert cka(X, Y, kernel="rbf") == pytest.approx(kernel_space_cka(rbf(X.numpy()), rbf(Y.numpy())), abs=1e-12)
    assert cka(X, Y, kernel="rbf", rbf_median_fraction=0.3) == pytest.approx(
        kernel_space_cka(rbf(X.numpy(), 0.3), rbf(Y.numpy(), 0.3)), abs=1e-12)


def test_rbf_cka_invariant_to_orthogonal_maps_and_isotropic_scaling():
    X, Y = gaussian(40, 5, 9), gaussian(40, 5, 10)
    Y += 0.7 * X
    base = cka(X, Y, kernel="rbf")
    moved = 0.01 * X @ orthogonal(5, 11) + 4.0
    assert cka(moved, Y, kernel="rbf") == pytest.approx(base, abs=1e-12)
    assert cka(X, 25.0 * X @ orthogonal(5, 12), kernel="rbf") == pytest.approx(1.0, abs=1e-12)
    # A fixed bandwidth is not scale-relative, so rescaling one side changes the answer.
    fixed = cka(X, Y, kernel="rbf", rbf_sigma=2.0)
    assert abs(cka(0.01 * X, Y, kernel="rbf", rbf_sigma=2.0) - fixed) > 1e-3


def test_biased_cka_lies_in_unit_interval():
    for seed in range(5):
        X = gaussian(25, 3 + seed, seed)
        Y = torch.tanh(X[:, :2] @ gaussian(2, 7, seed + 20)) + 0.3 * gaussian(25, 7, seed + 40)
        for kernel in ("linear", "rbf"):
            assert 0.0 <= cka(X, Y, kernel=kernel) <= 1.0 + 1e-12


def test_independent_data_give_low_cka():
    # For independent Gaussian X [n, p], Y [n, q], E||Y^T X||^2 ~ npq and E||X^T X||^2 ~ np(n + p + 1),
    # so linear CKA ~ sqrt(pq / ((n + p + 1)(n + q + 1))) (0.0196 here); its numerator is a sum of pq
    # near-independent terms (relative spread sqrt(2/pq) = 0.14), so [0.5, 2] x that is > 3.5 sd wide.
    n, p, q = 500, 10, 10
    X, Y = gaussian(n, p, 13), gaussian(n, q, 14)
    expected = math.sqrt(p * q / ((n + p + 1) * (n + q + 1)))
    assert 0.5 * expected < cka(X, Y) < 2 * expected
    # Debiased: mean 0, standard deviation about sqrt(2)/n; allow 5 of them.
    assert abs(cka(X, Y, debiased=True)) < 5 * math.sqrt(2) / n
    assert cka(X, X, debiased=True) == pytest.approx(1.0, abs=1e-12)
    # The same n^-1 scale bounds the RBF version (its kernel values are O(1) as well).
    assert abs(cka(X, Y, kernel="rbf", debiased=True)) < 5 * math.sqrt(2) / n


def test_cka_input_errors():
    X = gaussian(10, 3, 0)
    with pytest.raises(DeepscopeError, match="same inputs"):
        cka(X, gaussian(9, 3, 1))
    with pytest.raises(DeepscopeError, match="2-D"):
        cka(X[:, 0], X)
    with pytest.raises(DeepscopeError, match="at least 4"):
        cka(X[:3], X[:3], debiased=True)
    with pytest.raises(DeepscopeError, match="no measurable variation"):
        cka(torch.ones(10, 3), X)
    with pytest.raises(DeepscopeError, match="kernel"):
        cka(X, X, kernel="cosine")
    with pytest.raises(DeepscopeError, match="median distance"):
        cka(torch.cat([torch.zeros(8, 2), torch.ones(2, 2)]), X, kernel="rbf")   # most pairs identical
    with pytest.raises(DeepscopeError, match="rbf_sigma"):
        cka(X, X, kernel="rbf", rbf_sigma=-1.0)
