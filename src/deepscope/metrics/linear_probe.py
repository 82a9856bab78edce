"""Linear-probe accuracy: how linearly decodable the labels are from a layer's features.

A probe is a linear classifier trained on frozen features of one layer and scored on held-out
rows (Alain & Bengio 2016, "Understanding intermediate layers using linear classifier probes").
Two probes:

* ``ridge``: one-vs-all least squares on +-1 targets (the closed form of a ridge classifier).
  With Y [n, K] holding +1 in each row's class column and -1 elsewhere, it minimises
  ||Y - XW - 1b^T||_F^2 + alpha ||W||_F^2 with the bias b not penalised, so on column-centred
  Xc, Yc and the training means x_bar, y_bar

      W = (Xc^T Xc + alpha I)^-1 Xc^T Yc        (primal, p x p)
        = Xc^T (Xc Xc^T + alpha I)^-1 Yc        (dual, n x n; the same W),
      b = y_bar - W^T x_bar,   predicted class = argmax_k (x^T W + b^T)_k.

* ``logistic``: multinomial logistic regression (scikit-learn's ``LogisticRegression``, L2
  penalty with inverse strength ``C``), fitted on CPU.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics._checks import as_features, as_labels
from deepscope.metrics._summary import Summarized

Method = Literal["ridge", "logistic"]


@dataclass(frozen=True, repr=False)
class ProbeResult(Summarized):
    """A probe's accuracies; ``float(result)`` is ``test_accuracy``, the headline. ``majority_accuracy``
    is the test accuracy of always answering the most common training class (the chance level to
    compare ``test_accuracy`` with); ``regularization`` is ``alpha`` for ridge and ``C`` for logistic."""

    train_accuracy: float
    test_accuracy: float
    majority_accuracy: float
    n_train: int
    n_test: int
    n_classes: int
    method: str
    regularization: float

    def __float__(self) -> float:
        return float(self.test_accuracy)

    def summary(self) -> str:
        return (f"{self.method} probe: test accuracy {self.test_accuracy:.4f} (train {self.train_accuracy:.4f}, "
                f"majority class {self.majority_accuracy:.4f}; {self.n_train} train / {self.n_test} test rows, "
                f"{self.n_classes} classes)")


@dataclass(frozen=True, repr=False)
class RidgeProbe(Summarized):
    """A fitted one-vs-all ridge classifier: scores X @ coef + intercept, one column per class."""

    coef: torch.Tensor        # [p, K]
    intercept: torch.Tensor   # [K]
    classes: torch.Tensor     # [K] class ids, ascending

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Class id of the highest score for each row of ``X`` [n, p] (float64, same device)."""
        scores = X @ self.coef + self.intercept
        return self.classes.to(X.device)[scores.argmax(dim=1)]

    def summary(self) -> str:
        return f"ridge probe: {self.coef.shape[0]} features -> classes {self.classes.tolist()}"


def _classes(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct training classes (ascending) and their counts; at least two are needed."""
    classes, counts = torch.unique(y, return_counts=True)
    if classes.numel() < 2:
        raise DeepscopeError(f"The training labels hold a single class ({classes.tolist()}); a probe needs at "
                             f"least 2 classes to separate. Check the labels or the train/test split.")
    return classes, counts


def fit_ridge_probe(X: Any, y: Any, *, alpha: float = 1e-3,
                    form: Literal["auto", "primal", "dual"] = "auto") -> RidgeProbe:
    """Closed-form one-vs-all ridge classifier on +-1 targets with an unpenalised bias.

    W = (Xc^T Xc + alpha I)^-1 Xc^T Yc (``form="primal"``) or Xc^T (Xc Xc^T + alpha I)^-1 Yc
    (``form="dual"``), both by Cholesky in float64 on X's device; ``"auto"`` takes the dual
    when there are more features than rows. ``alpha = 0`` gives the minimum-norm least-squares
    W = pinv(Xc) Yc. The bias is b = y_bar - W^T x_bar (see the module docstring).
    """
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise DeepscopeError(f"alpha must be a finite number >= 0 (the ridge penalty); got {alpha}.")
    if form not in ("auto", "primal", "dual"):
        raise DeepscopeError(f"form must be 'auto', 'primal' or 'dual'; got {form!r}.")
    X = as_features(X, name="X_train")
    n, p = X.shape
    labels = as_labels(y, n, name="y_train").to(X.device)
    classes = _classes(labels)[0]
    Y = torch.where(labels[:, None] == classes[None, :], 1.0, -1.0).to(X.dtype)
    x_bar, y_bar = X.mean(dim=0), Y.mean(dim=0)
    Xc, Yc = X - x_bar, Y - y_bar
    if alpha == 0:
        W = torch.linalg.pinv(Xc) @ Yc
    elif form == "dual" or (form == "auto" and p > n):
        gram = Xc @ Xc.T + alpha * torch.eye(n, dtype=X.dtype, device=X.device)
        W = Xc.T @ torch.cholesky_solve(Yc, torch.linalg.cholesky(gram))
    else:
        gram = Xc.T @ Xc + alpha * torch.eye(p, dtype=X.dtype, device=X.device)
        W = torch.cholesky_solve(Xc.T @ Yc, torch.linalg.cholesky(gram))
    return RidgeProbe(coef=W, intercept=y_bar - x_bar @ W, classes=classes)


def _logistic_predictions(X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor,
                          C: float) -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(X_train.cpu().numpy(), y_train.cpu().numpy())
    return (torch.as_tensor(model.predict(X_train.cpu().numpy())),
            torch.as_tensor(model.predict(X_test.cpu().numpy())))


def linear_probe(X_train: Any, y_train: Any, X_test: Any, y_test: Any, *, method: Method = "ridge",
                 alpha: float = 1e-3, C: float = 1.0, standardize: bool = True) -> ProbeResult:
    """Train a linear probe on (X_train, y_train) and report its train and test accuracy.

    ``method="ridge"`` fits :func:`fit_ridge_probe` with penalty ``alpha``; ``method="logistic"``
    fits multinomial logistic regression with inverse L2 strength ``C`` (scikit-learn, CPU).
    With ``standardize`` every feature is z-scored by the training mean and standard deviation
    (constant features are only centred) before fitting, and the test set by the same numbers.
    Accuracy is the fraction of rows whose predicted class equals the label; test labels unseen
    in training count as errors.
    """
    if method not in ("ridge", "logistic"):
        raise DeepscopeError(f"method must be 'ridge' or 'logistic'; got {method!r}.")
    if method == "logistic" and not (C > 0 and math.isfinite(C)):
        raise DeepscopeError(f"C must be a positive number (inverse L2 strength); got {C}.")
    X_train = as_features(X_train, name="X_train")
    X_test = as_features(X_test, name="X_test", min_rows=1).to(X_train.device)
    if X_test.shape[1] != X_train.shape[1]:
        raise DeepscopeError(f"X_train has {X_train.shape[1]} features but X_test has {X_test.shape[1]}; "
                             f"pass the same layer's features for both.")
    y_train = as_labels(y_train, X_train.shape[0], name="y_train")
    y_test = as_labels(y_test, X_test.shape[0], name="y_test")
    classes, counts = _classes(y_train)
    if standardize:
        mean, std = X_train.mean(dim=0), X_train.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    if method == "ridge":
        probe = fit_ridge_probe(X_train, y_train, alpha=alpha)
        train_pred, test_pred = probe.predict(X_train), probe.predict(X_test)
    else:
        train_pred, test_pred = _logistic_predictions(X_train, y_train, X_test, C)
    majority = classes[counts.argmax()]
    return ProbeResult(
        train_accuracy=float((train_pred.cpu() == y_train).double().mean()),
        test_accuracy=float((test_pred.cpu() == y_test).double().mean()),
        majority_accuracy=float((y_test == majority).double().mean()),
        n_train=X_train.shape[0], n_test=X_test.shape[0], n_classes=classes.numel(), method=method,
        regularization=float(alpha if method == "ridge" else C))


def stratified_split(y: Any, *, test_fraction: float = 0.25, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices (train, test): round(test_fraction * n_c) rows of each class c go to the test
    set (at most n_c - 1, so every class keeps a training row), drawn with a seeded generator."""
    if not 0 < test_fraction < 1:
        raise DeepscopeError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction}.")
    labels = as_labels(y, len(y))
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(labels).tolist():
        rows = torch.nonzero(labels == c).flatten()
        rows = rows[torch.randperm(rows.numel(), generator=generator)]
        k = min(round(test_fraction * rows.numel()), rows.numel() - 1)
        test.append(rows[:k])
        train.append(rows[k:])
    test_rows = torch.cat(test).sort().values
    if test_rows.numel() == 0:
        raise DeepscopeError(f"test_fraction={test_fraction} of {labels.numel()} rows leaves no test rows; "
                             f"raise test_fraction or pass more rows.")
    return torch.cat(train).sort().values, test_rows


def layerwise_linear_probe(features: Mapping[str, Any], y: Any, *,
                           test_features: Mapping[str, Any] | None = None, test_y: Any = None,
                           test_fraction: float = 0.25, seed: int = 0, method: Method = "ridge",
                           alpha: float = 1e-3, C: float = 1.0,
                           standardize: bool = True) -> dict[str, ProbeResult]:
    """:func:`linear_probe` for every layer of ``features`` ({layer name: X [n, p_layer]}).

    With ``test_features`` and ``test_y`` given, ``features``/``y`` are the training set and
    ``test_features`` must name the same layers. Otherwise one stratified, seeded split
    (:func:`stratified_split`) holds out ``test_fraction`` of the rows, the same rows for every
    layer, so the layers' accuracies are comparable.
    """
    if not features:
        raise DeepscopeError("features is empty; pass {layer name: features [n, p]} for at least one layer.")
    if (test_features is None) != (test_y is None):
        raise DeepscopeError("Pass test_features and test_y together (or neither, to split off a test set).")
    options = dict(method=method, alpha=alpha, C=C, standardize=standardize)
    if test_features is not None:
        if set(test_features) != set(features):
            raise DeepscopeError(f"test_features has layers {sorted(test_features)} but features has "
                                 f"{sorted(features)}; pass the same layers in both.")
        return {name: linear_probe(X, y, test_features[name], test_y, **options) for name, X in features.items()}
    sizes = {name: len(X) for name, X in features.items()}
    if len(set(sizes.values())) != 1:
        raise DeepscopeError(f"The layers have different numbers of rows {sizes}; every layer must hold the "
                             f"features of the same inputs.")
    labels = as_labels(y, next(iter(sizes.values())))
    train, test = stratified_split(labels, test_fraction=test_fraction, seed=seed)
    results = {}
    for name, X in features.items():
        X = as_features(X, name=name)
        rows_train, rows_test = train.to(X.device), test.to(X.device)
        results[name] = linear_probe(X[rows_train], labels[train], X[rows_test], labels[test], **options)
    return results
