"""Linear probes: closed-form ridge against independent solves, accuracies against known answers."""
import numpy as np
import pytest
import torch
from scipy.stats import binom
from sklearn.linear_model import RidgeClassifier

from deepscope.errors import DeepscopeError
from deepscope.metrics.linear_probe import (fit_ridge_probe, layerwise_linear_probe, linear_probe,
                                            stratified_split)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gaussian(n: int, p: int, seed: int) -> torch.Tensor:
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def separable(n: int, seed: int, k: int = 3, p: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """k unit-variance Gaussian classes with means 10 e_c: nearest means are 14 sd apart, so a
    linear rule errs with probability ~ Phi(-7) ~ 1e-12 per point."""
    y = torch.arange(n) % k
    return gaussian(n, p, seed) + 10.0 * torch.eye(p, dtype=torch.float64)[y], y


@pytest.mark.parametrize("method", ["ridge", "logistic"])
@pytest.mark.parametrize("device", DEVICES)
def test_separable_classes_are_decoded_perfectly(method, device):
    X_train, y_train = separable(300, 0)
    X_test, y_test = separable(300, 1)
    result = linear_probe(X_train.to(device), y_train, X_test.to(device), y_test, method=method)
    assert result.train_accuracy == 1.0 and result.test_accuracy == 1.0
    assert result.n_classes == 3 and (result.n_train, result.n_test) == (300, 300)
    assert result.majority_accuracy == pytest.approx(1 / 3)


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_independent_labels_give_chance_accuracy(method):
    # Test labels drawn uniformly from K classes independently of everything, so the number of
    # correct test predictions is Binomial(n_test, 1/K) whatever the probe learned.
    k, n_train, n_test = 4, 400, 2000
    g = torch.Generator().manual_seed(2)
    y_train = torch.randint(0, k, (n_train,), generator=g)
    y_test = torch.randint(0, k, (n_test,), generator=g)
    result = linear_probe(gaussian(n_train, 20, 3), y_train, gaussian(n_test, 20, 4), y_test, method=method)
    lo, hi = binom.interval(1 - 1e-6, n_test, 1 / k)
    assert lo / n_test <= result.test_accuracy <= hi / n_test
    assert lo / n_test <= result.majority_accuracy <= hi / n_test


def test_ridge_matches_sklearn_and_the_normal_equations():
    n, p, alpha = 40, 6, 0.7
    X = gaussian(n, p, 5) + 3.0
    y = torch.arange(n) % 3
    probe = fit_ridge_probe(X, y, alpha=alpha)
    reference = RidgeClassifier(alpha=alpha, fit_intercept=True).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(probe.coef.numpy(), reference.coef_.T, atol=1e-10)
    np.testing.assert_allclose(probe.intercept.numpy(), reference.intercept_, atol=1e-10)
    # Normal equations on [X, 1] with the bias column unpenalised.
    A = np.hstack([X.numpy(), np.ones((n, 1))])
    Y = np.where(y.numpy()[:, None] == np.arange(3)[None, :], 1.0, -1.0)
    penalty = alpha * np.diag([1.0] * p + [0.0])
    solution = np.linalg.solve(A.T @ A + penalty, A.T @ Y)
    np.testing.assert_allclose(probe.coef.numpy(), solution[:p], atol=1e-10)
    np.testing.assert_allclose(probe.intercept.numpy(), solution[p], atol=1e-10)


@pytest.mark.parametrize("n,p", [(30, 8), (15, 40)])
def test_dual_and_primal_forms_agree(n, p):
    X, y = gaussian(n, p, 6), torch.arange(n) % 4
    primal = fit_ridge_probe(X, y, alpha=0.5, form="primal")
    dual = fit_ridge_probe(X, y, alpha=0.5, form="dual")
    torch.testing.assert_close(primal.coef, dual.coef, atol=1e-10, rtol=0)
    torch.testing.assert_close(primal.intercept, dual.intercept, atol=1e-10, rtol=0)


def test_unregularised_ridge_interpolates_when_features_outnumber_rows():
    n, p = 12, 30
    X, y = gaussian(n, p, 7), torch.arange(n) % 3
    probe = fit_ridge_probe(X, y, alpha=0.0)
    targets = torch.where(y[:, None] == torch.arange(3)[None, :], 1.0, -1.0).to(torch.float64)
    torch.testing.assert_close(X @ probe.coef + probe.intercept, targets, atol=1e-9, rtol=0)


def test_standardized_probe_ignores_feature_scales():
    X_train, y_train = gaussian(60, 5, 8), torch.arange(60) % 2
    X_test, y_test = gaussian(40, 5, 9), torch.arange(40) % 2
    X_train[:, 0] += y_train                                    # some signal, so accuracy is not flat
    scales = torch.tensor([1e-3, 1.0, 50.0, 1e4, 7.0], dtype=torch.float64)
    plain = linear_probe(X_train, y_train, X_test, y_test, alpha=1.0)
    scaled = linear_probe(X_train * scales, y_train, X_test * scales, y_test, alpha=1.0)
    assert (scaled.train_accuracy, scaled.test_accuracy) == (plain.train_accuracy, plain.test_accuracy)


def test_probe_input_errors():
    X, y = gaussian(20, 3, 10), torch.arange(20) % 2
    with pytest.raises(DeepscopeError, match="labels"):
        linear_probe(X, y[:19], X, y)
    with pytest.raises(DeepscopeError, match="labels"):
        linear_probe(X, y, X, y[:18])
    with pytest.raises(DeepscopeError, match="single class"):
        linear_probe(X, torch.zeros(20), X, y)
    with pytest.raises(DeepscopeError, match="features"):
        linear_probe(X, y, X[:, :2], y)
    with pytest.raises(DeepscopeError, match="method"):
        linear_probe(X, y, X, y, method="svm")
    with pytest.raises(DeepscopeError, match="alpha"):
        fit_ridge_probe(X, y, alpha=-1.0)


def test_stratified_split_is_seeded_and_keeps_class_proportions():
    y = torch.tensor([0] * 40 + [1] * 20 + [2] * 8)
    train, test = stratified_split(y, test_fraction=0.25, seed=3)
    assert torch.bincount(y[test]).tolist() == [10, 5, 2]
    assert sorted(torch.cat([train, test]).tolist()) == list(range(68))
    again = stratified_split(y, test_fraction=0.25, seed=3)[1]
    other = stratified_split(y, test_fraction=0.25, seed=4)[1]
    assert torch.equal(test, again) and not torch.equal(test, other)
    with pytest.raises(DeepscopeError, match="test_fraction"):
        stratified_split(y, test_fraction=1.0)


def test_layerwise_probe_splits_once_or_uses_given_test_sets():
    X, y = separable(200, 11, k=2)
    features = {"signal": X, "noise": gaussian(200, 5, 12)}
    results = layerwise_linear_probe(features, y, test_fraction=0.25, seed=0)
    assert list(results) == ["signal", "noise"]
    assert results["signal"].test_accuracy == 1.0
    assert results["signal"].n_test == results["noise"].n_test == 50
    # n_test = 50 rows, chance 1/2: a 1 - 1e-6 binomial interval.
    lo, hi = binom.interval(1 - 1e-6, 50, 0.5)
    assert lo / 50 <= results["noise"].test_accuracy <= hi / 50

    X_test, y_test = separable(100, 13, k=2)
    given = layerwise_linear_probe({"signal": X}, y, test_features={"signal": X_test}, test_y=y_test)
    assert given["signal"] == linear_probe(X, y, X_test, y_test)
    with pytest.raises(DeepscopeError, match="same layers"):
        layerwise_linear_probe(features, y, test_features={"signal": X_test}, test_y=y_test)
    with pytest.raises(DeepscopeError, match="numbers of rows"):
        layerwise_linear_probe({"a": X, "b": X[:150]}, y)
