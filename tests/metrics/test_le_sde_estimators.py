"""LE-SDE estimators (Zhang, Wang & Su 2021) against LE-ODEs with known constant impacts, solved exactly."""
import numpy as np
import pytest
from scipy.linalg import expm

from deepscope.errors import DeepscopeError
from deepscope.metrics.le_sde import (class_means, estimate_ab, le_ode_euler, random_start, savgol_rate,
                                      separating_mode, tail_index)


def _drift_matrix(alpha: float, beta: float, k: int, projected: bool) -> np.ndarray:
    """The LE-ODE's linear drift on vec(Y) (Y [class, logit]), built column by column from its definition."""
    d = np.eye(k) - 1 / k
    proj = [np.outer(d[c], d[c]) / (d[c] @ d[c]) if projected else np.eye(k) for c in range(k)]
    columns = []
    for j in range(k * k):
        y = np.zeros(k * k)
        y[j] = 1
        y = y.reshape(k, k)
        drift = [(alpha * proj[c] @ y[c] + beta * sum(proj[o] @ y[o] for o in range(k) if o != c)) / k
                 for c in range(k)]
        columns.append(np.concatenate(drift))
    return np.stack(columns, 1)


def _exact(alpha: float, beta: float, k: int, projected: bool, steps: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y0 = rng.normal(size=k * k) + 0.5 * (np.eye(k) - 1 / k).ravel()
    m = _drift_matrix(alpha, beta, k, projected)
    return np.stack([expm(t * m) @ y0 for t in range(steps)]).reshape(steps, k, k)


@pytest.mark.parametrize("alpha, beta", [(0.03, 0.01), (0.01, 0.025), (0.02, -0.01)])
def test_estimator_l_recovers_a_and_b_of_the_projected_le_ode(alpha, beta):
    means = _exact(alpha, beta, 3, projected=True)
    a, b = estimate_ab(means, "L")
    t = np.arange(len(means))
    np.testing.assert_allclose(a, alpha * t, atol=1e-9)
    np.testing.assert_allclose(b, beta * t, atol=1e-9)
    np.testing.assert_allclose(savgol_rate(a, 11), alpha, atol=1e-9)   # a quadratic fit of a line: exact slope
    np.testing.assert_allclose(savgol_rate(b, 11), beta, atol=1e-9)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_estimator_i_recovers_a_and_b_of_the_identity_le_ode(k):
    alpha, beta = 0.03, 0.012
    means = _exact(alpha, beta, k, projected=False)
    a, b = estimate_ab(means, "I")
    t = np.arange(len(means))
    np.testing.assert_allclose(a, alpha * t, atol=1e-8)
    np.testing.assert_allclose(b, beta * t, atol=1e-8)


def test_euler_steps_grow_the_separating_mode_by_one_plus_rate_per_step():
    k, alpha, beta, steps = 3, 0.05, 0.02, 40
    start = 0.7 * (np.eye(k) - 1 / k)[None]                                   # X^c = s0 d_c: the d-mode
    out = le_ode_euler(np.full(steps, alpha), np.full(steps, beta), start)
    np.testing.assert_allclose(out[0, -1], start[0] * (1 + (alpha - beta) / k) ** steps, rtol=1e-12)
    np.testing.assert_allclose(separating_mode(out[0]), 0.7 * (1 + (alpha - beta) / k) ** np.arange(steps + 1))
    y = np.random.default_rng(1).normal(size=(2, k, k))                       # one general step by hand
    m = _drift_matrix(alpha, beta, k, projected=True)
    one = le_ode_euler(np.array([alpha]), np.array([beta]), y)[:, 1]
    np.testing.assert_allclose(one, (y.reshape(2, -1) + y.reshape(2, -1) @ m.T).reshape(2, k, k), rtol=1e-12)
    m_id = _drift_matrix(alpha, beta, k, projected=False)
    one_id = le_ode_euler(np.array([alpha]), np.array([beta]), y, projected=False)[:, 1]
    np.testing.assert_allclose(one_id, (y.reshape(2, -1) + y.reshape(2, -1) @ m_id.T).reshape(2, k, k), rtol=1e-12)


def test_random_start_has_the_class_scales():
    means0 = np.array([[3.0, 0, 0], [0, 0.3, 0], [0, 0, 0.03]]) * np.sqrt(3)
    start = random_start(means0, 20000, np.random.default_rng(0))
    np.testing.assert_allclose(start.std(axis=(0, 2)), [3.0, 0.3, 0.03], rtol=0.02)


def test_tail_index_of_a_power_law_and_a_flipped_one():
    t = np.arange(1, 2001)
    for r in (0.2, 1.0, 1.5):
        assert tail_index(t ** (1.0 - r), 200) == pytest.approx(r, abs=1e-12)
        assert tail_index(-(t ** (1.0 - r)), 200) == pytest.approx(r, abs=1e-12)


def test_class_means_by_hand_and_a_gap_filled_in_time():
    logits = np.array([[[1, 0], [2, 0], [3, 0]],
                       [[3, 0], [0, 4], [5, 0]]], dtype=float)                # [trials=2, T=3, K=2]
    labels = np.array([[0, 0, 0], [0, 1, 0]])
    means = class_means(logits, labels, 2)
    np.testing.assert_allclose(means[:, 0], [[2, 0], [2, 0], [4, 0]])
    np.testing.assert_allclose(means[:, 1], [[0, 4], [0, 4], [0, 4]])          # only t=1 has a class-1 draw


def test_bad_input_is_refused():
    with pytest.raises(DeepscopeError, match="K = 3"):
        estimate_ab(np.ones((5, 4, 4)), "L")
    with pytest.raises(DeepscopeError, match="K >= 2"):
        estimate_ab(np.ones((5, 1, 1)), "I")
    with pytest.raises(DeepscopeError, match="odd"):
        savgol_rate(np.arange(50.0), 10)
    with pytest.raises(DeepscopeError, match="longer than the run"):
        savgol_rate(np.arange(50.0), 51)
    with pytest.raises(DeepscopeError, match="T - 1"):
        tail_index(np.arange(1, 11.0), 10)
