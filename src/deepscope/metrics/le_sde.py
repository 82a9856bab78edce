"""Locally elastic stochastic differential equations (LE-SDE; Zhang, Wang & Su, "Imitating Deep Learning
Dynamics via Locally Elastic Stochastic Differential Equations", NeurIPS 2021): the class-mean logit
dynamics, their intra- and inter-class impacts, and the LE-ODE that imitates them.

Setting. K classes; X^c(t) ∈ R^K is the mean logit vector of class-c examples at SGD iteration t (the
average over independent trials of the logits of the example drawn at t, grouped by its class: see
:func:`class_means`). With d_c = e_c − 1/K (the cross-entropy gradient direction at uniform softmax,
‖d_c‖² = (K−1)/K) and Π_c = d_c d_cᵀ/‖d_c‖², the LE-ODE is

    dX^c/dt = (1/K) [α(t) Π_c X^c + β(t) Σ_{c′≠c} Π_{c′} X^{c′}],

α the intra-class impact, β the inter-class impact; "locally elastic" means α > β. A(t) = ∫α and
B(t) = ∫β. The "identity" variant replaces every Π by the identity.

Estimator "L" (:func:`estimate_ab`, K = 3, for the projected LE-ODE). Let v_c = ⟨d_c, X^c⟩/‖d_c‖², the
amplitude of class c along its own direction. Under the LE-ODE, v' = (1/K)[(α − β) v + β K/(K−1) (v − v̄)],
so the symmetric mode s = v̄ = mean_c v_c grows as (A − B)/K and any antisymmetric mode, here the
seed's f = v_0 + v_1 − 2s (its weight vector (d_0, d_1, 0)), as (A + B/(K−1))/K. Hence
L₁ = K ln|s(t)/s(0)| = A − B, L₂ = K ln|f(t)/f(0)| = A + B/(K−1), and
Â = (L₁ + (K−1) L₂)/K, B̂ = (K−1)(L₂ − L₁)/K.

Estimator "I" (any K ≥ 2, for the identity LE-ODE, where the class average X̄ = mean_c X^c grows as
exp((A + (K−1)B)/K) and each deviation X^c − X̄ as exp((A − B)/K)). With c₀ = X̄(0) and δ_c = X^c(0) − c₀,
elementwise b_c = (c₀/δ_c)(X^c − X̄)/X̄ and a_c = X̄ (X^c − X̄)^{K−1}/(c₀ δ_c^{K−1}); B̂ is the mean over
classes and logits of −ln|b_c| and Â that of ln|a_c| (non-finite entries left out).

Rates α̂, β̂: Savitzky–Golay derivatives of Â, B̂ (polynomial order 2; :func:`savgol_rate`). Tail index
(:func:`tail_index`): for z(t), t = 1..T, flipped in sign when most of its last values are negative,
r̂ = 1 − mean over the last values of ln z(t)/ln t, which fits z ~ t^{1−r}. LE-ODE simulation
(:func:`le_ode_euler`): Euler steps of size 1 from random starts Y^c(0) ~ N(0, σ_c² I),
σ_c = ‖X^c(0)‖/√K, as the seed starts it (:func:`random_start`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.signal import savgol_filter

from deepscope.errors import DeepscopeError

METHODS = ("L", "I")


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """``values`` [T, ...] with non-finite entries replaced by linear interpolation over t (ends: nearest)."""
    out = np.array(values, dtype=np.float64)
    flat = out.reshape(len(out), -1)
    t = np.arange(len(out))
    for j in range(flat.shape[1]):
        good = np.isfinite(flat[:, j])
        if not good.any():
            raise DeepscopeError("a series has no finite value at any time; there is nothing to estimate from.")
        if not good.all():
            flat[:, j] = np.interp(t, t[good], flat[good, j])
    return out


def class_means(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """X[t, c, :] = the mean over trials of the logged logits [trials, T, K] whose label [trials, T] is c.

    An iteration at which no trial drew class c gets its row by linear interpolation over t.
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    if logits.ndim != 3 or labels.shape != logits.shape[:2] or logits.shape[2] != num_classes:
        raise DeepscopeError(f"logits must be [trials, T, K={num_classes}] and labels [trials, T]; got "
                             f"{logits.shape} and {labels.shape}.")
    onehot = labels[..., None] == np.arange(num_classes)                       # [trials, T, K]
    counts = onehot.sum(0)                                                     # [T, K]
    sums = np.einsum("ntc,ntk->tck", onehot.astype(np.float64), logits)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[..., None]
    return _fill_gaps(np.where(counts[..., None] > 0, means, np.nan))


def directions(num_classes: int) -> np.ndarray:
    """d_c = e_c − 1/K as rows [K, K]."""
    return np.eye(num_classes) - 1.0 / num_classes


def separating_mode(means: np.ndarray) -> np.ndarray:
    """s(t) = mean_c v_c(t), v_c = ⟨d_c, X^c(t)⟩/‖d_c‖²: the signed amplitude [T] of the class means [T, K, K]
    along their own classes' directions (positive: the classes are pushed apart, each toward its own logit)."""
    means = np.asarray(means, dtype=np.float64)
    k = means.shape[1]
    return (np.einsum("tck,ck->tc", means, directions(k)) / ((k - 1) / k)).mean(1)


def estimate_ab(means: np.ndarray, method: str = "L") -> tuple[np.ndarray, np.ndarray]:
    """(Â, B̂) [T] from class-mean logits [T, K, K] by estimator ``method`` ("L": K = 3; "I": K ≥ 2)."""
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 3 or means.shape[1] != means.shape[2] or len(means) < 2:
        raise DeepscopeError(f"means must be class-mean logits [T >= 2, K, K]; got shape {means.shape}.")
    k = means.shape[1]
    if method == "L":
        if k != 3:
            raise DeepscopeError(f"estimator 'L' is defined for K = 3 classes (its antisymmetric mode is the "
                                 f"seed's fixed (d_0, d_1, 0)); got K = {k}. Use estimator 'I' for other K.")
        v = np.einsum("tck,ck->tc", means, directions(k)) / ((k - 1) / k)      # v_c = <d_c, X^c> / |d_c|^2
        s = separating_mode(means)
        f = v[:, 0] + v[:, 1] - 2 * s
        with np.errstate(divide="ignore", invalid="ignore"):
            l1 = k * np.log(np.abs(s / s[0]))
            l2 = k * np.log(np.abs(f / f[0]))
        a, b = (l1 + (k - 1) * l2) / k, (k - 1) * (l2 - l1) / k
    elif method == "I":
        if k < 2:
            raise DeepscopeError(f"estimator 'I' needs K >= 2 classes; got K = {k}.")
        mean = means.mean(1)                                                   # X̄(t) [T, K]
        c0, delta = mean[0], means[0] - mean[0]                                 # [K], [K, K]
        dev = means - mean[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            b_c = (c0 / delta) * dev / mean[:, None, :]
            a_c = mean[:, None, :] * dev ** (k - 1) / (c0 * delta ** (k - 1))
            log_b, log_a = -np.log(np.abs(b_c)), np.log(np.abs(a_c))
        a = _finite_mean(log_a.reshape(len(means), -1))
        b = _finite_mean(log_b.reshape(len(means), -1))
    else:
        raise DeepscopeError(f"method must be one of {METHODS}; got {method!r}.")
    return _fill_gaps(a), _fill_gaps(b)


def _finite_mean(values: np.ndarray) -> np.ndarray:
    good = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        return np.where(good, values, 0).sum(1) / good.sum(1)


def check_window(window: int, length: int, polyorder: int = 2) -> None:
    """A Savitzky–Golay window must be odd, longer than ``polyorder`` and at most the series' length."""
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window % 2 == 0:
        raise DeepscopeError(f"the Savitzky-Golay window must be an odd whole number; got {window!r}.")
    if window <= polyorder:
        raise DeepscopeError(f"the Savitzky-Golay window ({window}) must be longer than its polynomial order "
                             f"({polyorder}).")
    if window > length:
        raise DeepscopeError(f"the Savitzky-Golay window ({window}) is longer than the run ({length} points); "
                             f"use a window of at most {length - 1 + length % 2} or a longer run.")


def savgol_rate(series: np.ndarray, window: int, polyorder: int = 2) -> np.ndarray:
    """The derivative per step of ``series`` [T] by a Savitzky–Golay filter (order ``polyorder``, odd ``window``)."""
    series = np.asarray(series, dtype=np.float64)
    check_window(window, len(series), polyorder)
    return savgol_filter(series, window, polyorder, deriv=1)


def tail_index(z: np.ndarray, tail: int) -> float:
    """r̂ = 1 − mean_{last ``tail`` t} ln z(t)/ln t for z [T] indexed t = 1..T (z ~ t^{1−r}); z is flipped in
    sign first when more than half of those values are negative; non-positive values are left out."""
    z = np.asarray(z, dtype=np.float64)
    if isinstance(tail, bool) or not isinstance(tail, (int, np.integer)) or not 1 <= tail <= len(z) - 1:
        raise DeepscopeError(f"the tail must be a whole number from 1 to T - 1 = {len(z) - 1} (ln t = 0 at t = 1); "
                             f"got {tail!r}.")
    t = np.arange(1, len(z) + 1, dtype=np.float64)[-tail:]
    last = z[-tail:]
    if np.sum(last < 0) > tail / 2:
        last = -last
    good = last > 0
    if not good.any():
        return math.nan
    return float(1.0 - np.mean(np.log(last[good]) / np.log(t[good])))


def random_start(means0: np.ndarray, sims: int, rng: np.random.Generator) -> np.ndarray:
    """``sims`` random starts [sims, K, K]: Y^c(0) ~ N(0, σ_c² I), σ_c = ‖X^c(0)‖/√K (the seed's start)."""
    means0 = np.asarray(means0, dtype=np.float64)
    k = means0.shape[0]
    sigma = np.linalg.norm(means0, axis=1) / math.sqrt(k)
    return rng.standard_normal((sims, k, k)) * sigma[None, :, None]


def le_ode_euler(alpha: np.ndarray, beta: np.ndarray, start: np.ndarray, *, projected: bool = True) -> np.ndarray:
    """Euler steps of size 1 of the LE-ODE from ``start`` [sims, K, K]; returns [sims, T + 1, K, K].

    Y^c(t) = Y^c(t−1) + [α(t) Π_c Y^c(t−1) + β(t) Σ_{c′≠c} Π_{c′} Y^{c′}(t−1)] / K, t = 1..T, with
    α(t) = ``alpha[t-1]``; ``projected=False`` uses identity impacts (Π = I).
    """
    alpha, beta = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    if alpha.shape != beta.shape or alpha.ndim != 1:
        raise DeepscopeError(f"alpha and beta must be series [T] of one length; got {alpha.shape} and {beta.shape}.")
    if start.ndim != 3 or start.shape[1] != start.shape[2]:
        raise DeepscopeError(f"start must be [sims, K, K]; got {start.shape}.")
    k = start.shape[1]
    d = directions(k)
    proj = (d[:, :, None] * d[:, None, :] / ((k - 1) / k)) if projected else np.broadcast_to(np.eye(k), (k, k, k))
    out = np.empty((start.shape[0], len(alpha) + 1, k, k))
    out[:, 0] = y = start
    for t in range(len(alpha)):
        own = np.einsum("cij,scj->sci", proj, y)                               # Π_c Y^c
        others = own.sum(1, keepdims=True) - own                               # Σ_{c'≠c} Π_{c'} Y^{c'}
        y = y + (alpha[t] * own + beta[t] * others) / k
        out[:, t + 1] = y
    return out
