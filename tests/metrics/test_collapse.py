"""Neural collapse NC1–NC4 (Papyan, Han & Donoho, PNAS 2020) against closed-form geometries."""
import math

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid

from deepscope.errors import DeepscopeError
from deepscope.metrics.collapse import neural_collapse
from deepscope.metrics.separation import separation_fuzziness


def simplex_etf(K: int, d: int, seed: int = 0) -> np.ndarray:
    """Class means [K, d]: M = √(K/(K−1)) (I − 11^T/K), embedded by a random orthonormal map."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, K)))
    return math.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K) @ Q.T


def test_exact_simplex_etf_is_fully_collapsed():
    K, d = 5, 12
    M = simplex_etf(K, d)
    y = np.arange(10 * K) % K
    nc = neural_collapse(M[y], y, weight=torch.nn.Parameter(torch.from_numpy(M)))
    assert nc.num_classes == K
    assert nc.nc1 < 1e-10
    for value in (nc.nc2_equinorm, nc.nc2_equiangular, nc.nc2_maxangle, nc.nc2_etf_distance, nc.nc3):
        assert abs(value) < 1e-10
    assert nc.nc4 == 0.0 and nc.ncc_accuracy == 1.0


def test_etf_translated_with_matching_bias_and_scaled_classifier():
    K, d = 4, 6
    M = simplex_etf(K, d, seed=1)
    v = np.random.default_rng(2).standard_normal(d)
    y = np.arange(8 * K) % K
    nc = neural_collapse(M[y] + v, y, weight=3.0 * M, bias=-3.0 * M @ v)
    assert nc.nc3 < 1e-10                       # nc3 ignores the classifier's scale
    assert nc.nc4 == 0.0 and nc.ncc_accuracy == 1.0


def test_opposite_classifier_known_answers():
    # W = −M: ‖W/‖W‖ − M/‖M‖‖² = ‖2M/‖M‖‖² = 4, and argmax_j −μ_j·μ_k never picks k, so nc4 = 1.
    K, d = 4, 6
    M = simplex_etf(K, d, seed=3)
    y = np.arange(4 * K) % K
    nc = neural_collapse(M[y], y, weight=-M)
    assert nc.nc3 == pytest.approx(4.0, rel=1e-12)
    assert nc.nc4 == 1.0 and nc.ncc_accuracy == 1.0


def test_square_configuration_nc2_closed_form():
    # Means ±e_1, ±e_2 (balanced, μ_G = 0): equal norms; pairwise cosines {−1, −1, 0, 0, 0, 0}
    # with mean −1/3, so std = √(2/6 − 1/9) = √2/3 and mean |cos + 1/3| = 4/9.
    # Gram G has ‖G‖_F = √8 and <G, J> = tr(G) − 1^T G 1/K = 4, so the ETF distance is
    # √(2 − 2·4/(√8·√3)).
    means = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    y = np.arange(12) % 4
    nc = neural_collapse(means[y], y)
    assert nc.nc2_equinorm == pytest.approx(0.0, abs=1e-12)
    assert nc.nc2_equiangular == pytest.approx(math.sqrt(2) / 3, rel=1e-12)
    assert nc.nc2_maxangle == pytest.approx(4 / 9, rel=1e-12)
    assert nc.nc2_etf_distance == pytest.approx(math.sqrt(2 - 8 / math.sqrt(24)), rel=1e-12)
    assert nc.nc3 is None and nc.nc4 is None and nc.ncc_accuracy == 1.0


def test_imbalanced_two_class_nc2_closed_form():
    # 1-D points 0 (class 0, one row) and 4 (class 1, three rows): μ_G = 3, centred means −3, 1.
    # Norms 3, 1: CV = 1/2. Cosine −1 = −1/(K−1): maxangle 0. Gram [[9, −3], [−3, 1]] has norm 10,
    # J = [[1/2, −1/2], [−1/2, 1/2]] has norm 1: distance ‖[[.4, .2], [.2, −.4]]‖_F = √0.4.
    nc = neural_collapse([[0.0], [4.0], [4.0], [4.0]], [0, 1, 1, 1])
    assert nc.nc1 == 0.0
    assert nc.nc2_equinorm == pytest.approx(0.5, rel=1e-12)
    assert nc.nc2_maxangle == pytest.approx(0.0, abs=1e-12)
    assert nc.nc2_etf_distance == pytest.approx(math.sqrt(0.4), rel=1e-12)


def noisy_etf(K: int, d: int, n_per_class: int, sigma: float, seed: int):
    rng = np.random.default_rng(seed)
    y = np.arange(K * n_per_class) % K
    return simplex_etf(K, d, seed=seed)[y] + sigma * rng.standard_normal((len(y), d)), y


def test_nc1_of_noisy_etf_matches_closed_form_and_scales_with_variance():
    # ETF means + isotropic noise σ (balanced): Σ_W → σ² I and Σ_B = (1/K) M^T M
    # = (1/(K−1)) Q J Q^T with J = I − 11^T/K a rank-(K−1) projector, so Σ_B^+ = (K−1) Q J Q^T and
    # Tr(Σ_W Σ_B^+) = σ² (K−1) tr(J) = σ² (K−1)²: nc1 = σ² (K−1)² / K.
    K, d, per = 4, 8, 2500
    nc1 = {s: neural_collapse(*noisy_etf(K, d, per, s, seed=10 + i), weight=None).nc1
           for i, s in enumerate((0.1, 0.2))}
    for sigma, value in nc1.items():
        assert value == pytest.approx(sigma**2 * (K - 1) ** 2 / K, rel=0.04)
    assert nc1[0.2] / nc1[0.1] == pytest.approx(4.0, rel=0.05)


def test_noisy_etf_ncc_agreement_degrades_with_noise():
    K, d = 4, 8
    M = simplex_etf(K, d, seed=20)
    quiet = neural_collapse(*noisy_etf(K, d, 200, 0.05, seed=20), weight=M)
    loud = neural_collapse(*noisy_etf(K, d, 200, 1.5, seed=20), weight=M)
    assert quiet.nc4 == 0.0 and quiet.ncc_accuracy == 1.0
    assert loud.nc4 > 0.0 and loud.ncc_accuracy < 0.9


def test_random_features_show_no_collapse():
    # Labels independent of features: class means differ only by sampling noise. The NCC
    # accuracy is in-sample (each row is part of its own class mean), so it sits a little above
    # chance 1/K; it must equal scikit-learn's NearestCentroid on the same rows.
    rng = np.random.default_rng(30)
    K, n, p = 5, 5000, 10
    X, y = rng.standard_normal((n, p)), rng.permutation(np.arange(n) % K)
    nc = neural_collapse(X, y, weight=rng.standard_normal((K, p)))
    assert nc.nc1 > 10.0
    assert nc.nc2_equinorm > 0.01 and nc.nc2_equiangular > 0.05 and nc.nc2_etf_distance > 0.1
    assert nc.nc3 > 0.5
    assert abs(nc.ncc_accuracy - 1 / K) < 0.05
    assert nc.ncc_accuracy == pytest.approx(NearestCentroid().fit(X, y).score(X, y), abs=1e-12)


def test_nc1_equals_fuzziness_over_k_when_balanced():
    rng = np.random.default_rng(40)
    K, per, p = 4, 50, 9
    y = np.arange(K * per) % K
    X = rng.standard_normal((K, p))[y] + rng.standard_normal((K * per, p))
    assert neural_collapse(X, y).nc1 == pytest.approx(separation_fuzziness(X, y) / K, rel=1e-12)


def test_nc1_imbalanced_uses_papyan_class_average():
    # Σ_B = (1/K) Σ_k (μ_k − μ_G)(μ_k − μ_G)^T weights classes equally, unlike SS_b.
    rng = np.random.default_rng(41)
    K, p = 3, 5
    y = np.repeat(np.arange(K), [20, 60, 120])
    X = 2.0 * rng.standard_normal((K, p))[y] + rng.standard_normal((len(y), p))
    mu_g = X.mean(axis=0)
    mus = np.stack([X[y == k].mean(axis=0) for k in range(K)])
    Z = X - mus[y]
    sigma_w = Z.T @ Z / len(y)
    sigma_b = (mus - mu_g).T @ (mus - mu_g) / K
    expected = np.trace(sigma_w @ np.linalg.pinv(sigma_b)) / K   # Σ_B full rank (3 ≤ p) here
    nc1 = neural_collapse(X, y).nc1
    assert nc1 == pytest.approx(expected, rel=1e-9)
    assert nc1 != pytest.approx(separation_fuzziness(X, y) / K, rel=1e-3)


def test_bad_input_raises():
    M = simplex_etf(3, 4)
    y = np.arange(9) % 3
    with pytest.raises(DeepscopeError, match=r"class ids \[1\]"):
        neural_collapse(M[y], np.where(y == 1, 3, y))
    with pytest.raises(DeepscopeError, match="one label per row"):
        neural_collapse(M[y], y[:-2])
    with pytest.raises(DeepscopeError, match=r"\[3, 4\]"):
        neural_collapse(M[y], y, weight=M.T)
    with pytest.raises(DeepscopeError, match="without its weight"):
        neural_collapse(M[y], y, bias=np.zeros(3))
    with pytest.raises(DeepscopeError, match="one entry per class"):
        neural_collapse(M[y], y, weight=M, bias=np.zeros(4))
