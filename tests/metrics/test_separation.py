"""Separation fuzziness D and the equi-separation fit (He & Su, PNAS 2023) against known answers."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from deepscope.errors import DeepscopeError
from deepscope.metrics.scatter import class_scatter
from deepscope.metrics.separation import fit_log_linear, layerwise_separation, separation_fuzziness


def sym_pinv(S: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix: invert eigenvalues above rtol * largest."""
    w, V = np.linalg.eigh(S)
    keep = w > rtol * w.max()
    return (V[:, keep] / w[keep]) @ V[:, keep].T


def direct_d(X: np.ndarray, y: np.ndarray) -> float:
    """D from unnormalised p×p scatters: Tr(S_w pinv(S_b)), S_w = Σ_i z_i z_i^T, S_b = Σ_k n_k c_k c_k^T."""
    mu = X.mean(axis=0)
    p = X.shape[1]
    Sw, Sb = np.zeros((p, p)), np.zeros((p, p))
    for k in range(int(y.max()) + 1):
        Xk = X[y == k]
        mk = Xk.mean(axis=0)
        Sw += (Xk - mk).T @ (Xk - mk)
        Sb += len(Xk) * np.outer(mk - mu, mk - mu)
    return float(np.trace(Sw @ sym_pinv(Sb)))


def mixture(n: int, p: int, K: int, seed: int, sizes=None):
    """Gaussian mixture with unit-scale random means; ``sizes`` fixes the class sizes."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(K), sizes) if sizes is not None else rng.permutation(np.arange(n) % K)
    means = 2.0 * rng.standard_normal((K, p))
    return means[y] + rng.standard_normal((len(y), p)), y


@pytest.mark.parametrize("n,p,K,sizes", [
    (300, 6, 3, None),                 # n >> p > K-1: SS_b singular, rank 2
    (40, 60, 4, [5, 10, 10, 15]),      # p > n, imbalanced
    (300, 3, 7, None),                 # K-1 > p: SS_b full rank
    (500, 2, 2, [100, 400]),           # two classes, imbalanced
])
def test_fast_trace_matches_direct_pinv_formula(n, p, K, sizes):
    # The class-mean identity Tr(SS_w SS_b^+) = (1/n)‖Z V S^-1‖² against the p×p formula.
    X, y = mixture(n, p, K, seed=n + p, sizes=sizes)
    d = separation_fuzziness(X, y)
    assert d == pytest.approx(direct_d(X, y), rel=1e-9)
    s = class_scatter(X, y)
    explicit = torch.trace(s.within() @ torch.linalg.pinv(s.between(s.counts / s.n), hermitian=True))
    assert d == pytest.approx(float(explicit), rel=1e-8)


def test_invariances_scale_translation_rotation_and_torch_input():
    X, y = mixture(400, 8, 4, seed=1)
    d = separation_fuzziness(X, y)
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    assert separation_fuzziness(3.7 * X, y) == pytest.approx(d, rel=1e-10)
    assert separation_fuzziness(-0.02 * X, y) == pytest.approx(d, rel=1e-10)
    assert separation_fuzziness(X + 50.0 * rng.standard_normal(8), y) == pytest.approx(d, rel=1e-9)
    assert separation_fuzziness(X @ Q, y) == pytest.approx(d, rel=1e-10)
    assert separation_fuzziness(torch.from_numpy(X), torch.from_numpy(y)) == d
    assert separation_fuzziness(torch.tensor(X, requires_grad=True), y) == d


def test_perfectly_clustered_classes_have_zero_fuzziness():
    rng = np.random.default_rng(3)
    means = rng.standard_normal((5, 12))
    y = np.arange(200) % 5
    assert separation_fuzziness(means[y], y) < 1e-10
    assert separation_fuzziness(means[y] + 7.0, y) < 1e-10


def test_two_class_closed_form():
    # Classes at ±m e_1; around each mean, the 2p points μ ± σ_j √p e_j give an empirical
    # within-class scatter of exactly diag(σ_j²) and SS_b = m² e_1 e_1^T, so D = σ_1² / m².
    p, m = 5, 1.7
    sig = np.array([0.3, 2.0, 0.5, 1.1, 0.9])
    offsets = np.concatenate([np.diag(sig), -np.diag(sig)]) * math.sqrt(p)
    e1 = np.eye(p)[0]
    X = np.concatenate([m * e1 + offsets, -m * e1 + offsets])
    y = np.repeat([0, 1], 2 * p)
    s = class_scatter(X, y)
    assert torch.allclose(s.within(), torch.diag(torch.tensor(sig**2)), atol=1e-14)
    assert torch.allclose(s.between(s.counts / s.n), torch.tensor(m**2 * np.outer(e1, e1)), atol=1e-14)
    assert separation_fuzziness(X, y) == pytest.approx(sig[0] ** 2 / m**2, rel=1e-10)
    Q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((p, p)))
    assert separation_fuzziness(X @ Q + 3.0, y) == pytest.approx(sig[0] ** 2 / m**2, rel=1e-10)


def test_two_class_gaussian_population_value():
    # Means ±m e_1, within-class covariance σ² I: the population D is σ² / m².
    rng = np.random.default_rng(5)
    n, p, m, sigma = 20000, 10, 2.0, 1.5
    y = np.arange(n) % 2
    X = sigma * rng.standard_normal((n, p))
    X[:, 0] += np.where(y == 0, m, -m)
    assert separation_fuzziness(X, y) == pytest.approx(sigma**2 / m**2, rel=0.03)


def synthetic_network(r: float, depth: int, seed: int = 6):
    """Layer l = class means + r^l × (exactly class-centred deviations): D_l = r^{2l} D_0."""
    X, y = mixture(300, 7, 3, seed=seed)
    s = class_scatter(X, y)
    means, Z = s.means.numpy(), X - s.means.numpy()[y]
    return {f"layer{l}": means[y] + r**l * Z for l in range(depth)}, y


@pytest.mark.parametrize("r", [0.6, 1.3])
def test_layerwise_separation_on_geometric_shrinkage(r):
    feats, y = synthetic_network(r, depth=6)
    fit = layerwise_separation(feats, y)
    assert fit.layers == tuple(feats)
    assert fit.slope == pytest.approx(2 * math.log(r), rel=1e-9)
    assert fit.ratio == pytest.approx(r**2, rel=1e-9)
    assert fit.intercept == pytest.approx(math.log(separation_fuzziness(feats["layer0"], y)), rel=1e-9)
    assert fit.pearson_r == pytest.approx(-1.0 if r < 1 else 1.0, abs=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(np.diff(fit.log_d), 2 * math.log(r), rtol=1e-9)


def test_layerwise_separation_selects_and_reorders_layers_and_takes_sequences():
    feats, y = synthetic_network(0.5, depth=5)
    rev = layerwise_separation(feats, y, layers=["layer4", "layer2", "layer0"])
    assert rev.layers == ("layer4", "layer2", "layer0")
    assert rev.slope == pytest.approx(-4 * math.log(0.5), rel=1e-9)     # two layers per step, reversed
    assert rev.pearson_r == pytest.approx(1.0, abs=1e-12)
    seq = layerwise_separation(list(feats.values()), y)
    assert seq.layers == (0, 1, 2, 3, 4)
    assert seq.slope == pytest.approx(2 * math.log(0.5), rel=1e-9)
    with pytest.raises(DeepscopeError, match="not among"):
        layerwise_separation(feats, y, layers=["layer0", "fc9"])
    with pytest.raises(DeepscopeError, match="at least 2 layers"):
        layerwise_separation(feats, y, layers=["layer0"])


def test_fit_log_linear_against_exact_line_and_scipy():
    exact = fit_log_linear([3.0 - 0.4 * l for l in range(7)])
    assert exact.slope == pytest.approx(-0.4) and exact.intercept == pytest.approx(3.0)
    assert exact.ratio == pytest.approx(math.exp(-0.4))
    assert exact.pearson_r == pytest.approx(-1.0) and exact.r2 == pytest.approx(1.0)
    v = [2.0, 1.1, 0.7, -0.6, -0.9, -2.2]
    ref = stats.linregress(np.arange(6), v)
    fit = fit_log_linear(v)
    assert fit.slope == pytest.approx(ref.slope) and fit.intercept == pytest.approx(ref.intercept)
    assert fit.pearson_r == pytest.approx(ref.rvalue) and fit.r2 == pytest.approx(ref.rvalue**2)


def test_fit_log_linear_edge_cases():
    flat = fit_log_linear([1.5, 1.5, 1.5])
    assert flat.slope == 0.0 and flat.ratio == 1.0
    assert math.isnan(flat.pearson_r) and math.isnan(flat.r2)
    with pytest.raises(DeepscopeError, match="at least 2"):
        fit_log_linear([1.0])
    with pytest.raises(DeepscopeError, match=r"layers \[1\]"):
        fit_log_linear([1.0, -math.inf, 0.0])


def test_coinciding_class_means_give_infinite_fuzziness():
    X = np.array([[1.0, 2.0], [-1.0, -2.0], [1.0, 2.0], [-1.0, -2.0]])
    assert separation_fuzziness(X, [0, 0, 1, 1]) == math.inf


def test_bad_input_raises():
    X, y = mixture(60, 4, 3, seed=7)
    with pytest.raises(DeepscopeError, match=r"class ids \[1\].*relabel"):
        separation_fuzziness(X, np.where(y == 1, 3, y))
    with pytest.raises(DeepscopeError, match="one label per row"):
        separation_fuzziness(X, y[:-1])
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(DeepscopeError, match="NaN"):
        separation_fuzziness(Xn, y)
    with pytest.raises(DeepscopeError, match="at least 2 classes"):
        separation_fuzziness(X, np.zeros(60, dtype=int))
