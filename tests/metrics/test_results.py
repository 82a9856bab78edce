"""Results convert with float() when they have one headline number, and print one short line."""
import numpy as np
import pytest
import torch

from deepscope import metrics
from deepscope.metrics.slq import TraceEstimate


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    return rng.normal(size=(120, 5)) + 3 * np.eye(5)[y], y


def test_float_is_the_headline_number(data):
    X, y = data
    estimate = metrics.twonn(X)
    assert float(estimate) == estimate.dimension
    assert float(metrics.pid({"a": X, "b": X[:, :2]})) == metrics.pid({"a": X, "b": X[:, :2]}).dimension
    entropy = metrics.estimate_diffusion_spectral_entropy(X)
    assert float(entropy) == entropy.value == metrics.diffusion_spectral_entropy(X)
    probe = metrics.linear_probe(X, y, X, y)
    assert float(probe) == probe.test_accuracy
    assert float(TraceEstimate(value=2.5, stderr=0.1, num_probes=8)) == 2.5


def test_twonn_prints_a_summary_not_its_resamples(data):
    X, _ = data
    single = metrics.twonn(X)
    assert str(single) == f"TwoNN ID {single.dimension:.2f} (n={single.n_used} used, act_ids convention)"
    resampled = metrics.twonn(X, nres=20, subsample=0.9)
    assert str(resampled) == (f"TwoNN ID {resampled.dimension:.2f} ± {resampled.std:.2f} over 20 resamples "
                              f"(n={resampled.n_used} used, act_ids convention)")
    assert repr(resampled) == f"<IDEstimate {resampled}>"
    assert str(metrics.mle_id(X)).startswith("MLE ID ") and "k=20" in str(metrics.mle_id(X))
    assert str(metrics.pca_dim(np.eye(4))).startswith("PCA ID 3 (explains 100.0% of the variance, asked 90%")


def test_every_result_prints_one_line(data):
    X, y = data
    results = [metrics.neural_collapse(X, y), metrics.binned_information_plane(X, y),
               metrics.kde_information_plane(X, y), metrics.linear_probe(X, y, X, y),
               metrics.layerwise_separation({"a": X, "b": X + np.random.default_rng(1).normal(size=X.shape)}, y),
               metrics.fit_log_linear([1.0, 0.5, 0.0]), metrics.estimate_diffusion_spectral_entropy(X),
               metrics.llid({"a": X}), TraceEstimate(value=2.5, stderr=0.1, num_probes=8)]
    for result in results:
        assert "\n" not in repr(result) and len(repr(result)) < 250
        assert repr(result) == f"<{type(result).__name__} {result}>"
    assert "nc1" in str(results[0]) and "(K=3)" in str(results[0])
    assert str(results[5]) == "log D = 1 - 0.5·l: ratio 0.6065 per layer, Pearson r -1.0000, R² 1.0000"


def test_the_ridge_probe_prints_without_its_matrices():
    from deepscope.metrics.linear_probe import fit_ridge_probe
    probe = fit_ridge_probe(torch.randn(30, 4, dtype=torch.float64), torch.arange(30) % 3)
    assert str(probe) == "ridge probe: 4 features -> classes [0, 1, 2]"
