"""Plug-in bias of binned entropy and MI (Miller 1955), the Miller–Madow correction, and clipping at 0."""
import math

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics import NegativeEstimateWarning, binned_entropy, binned_mutual_information
from deepscope.metrics.discrete import discrete_entropy
from deepscope.metrics.mutual_information import size_matched_mutual_information

LN2 = math.log(2)


def test_miller_madow_entropy_closed_form():
    # two symbols, two rows each: plug-in H = 1 bit, m = 2, n = 4, so H_MM = 1 + 1/(2·4·ln 2)
    X = np.array([[0.0], [1.0], [0.0], [1.0]])
    assert binned_entropy(X) == pytest.approx(1.0)
    assert binned_entropy(X, correction="miller-madow") == pytest.approx(1 + 1 / (8 * LN2))
    # one symbol: no correction ((m - 1) = 0)
    assert binned_entropy(np.zeros((5, 2)), correction="miller-madow") == 0.0
    with pytest.raises(DeepscopeError, match="correction must be None .* or 'miller-madow'"):
        discrete_entropy(torch.tensor([0, 1]), correction="jackknife")


def test_miller_madow_removes_most_of_the_entropy_bias():
    # three fair bits: 8 equiprobable cells, H = 3 bits; with n = 24 plug-in is low by about 7/(48 ln 2)
    plugin, corrected = [], []
    for seed in range(200):
        X = np.random.default_rng(seed).integers(0, 2, size=(24, 3))
        plugin.append(binned_entropy(X))
        corrected.append(binned_entropy(X, correction="miller-madow"))
    assert np.mean(plugin) - 3 == pytest.approx(-7 / (48 * LN2), abs=0.04)
    assert abs(np.mean(corrected) - 3) < 0.25 * abs(np.mean(plugin) - 3)


def test_miller_madow_mutual_information_closed_form():
    # clusters {0, 1} and {2, 3} of X = 0, 0, 1, 1 are constant (H = 0, one cell); the 3 drawn subsets
    # {0, 2}, {1, 3}, {0, 1} have H = 1, 1, 0 bits in 2, 2, 1 cells of n_c = 2 points:
    #   plug-in I = Σ_c ½ (2/3 − 0) = 2/3,   I_MM = 2/3 + mean(1, 1, 0)/(2·2·ln 2) = 2/3 + 1/(6 ln 2)
    X, clusters = np.array([[0.0], [0.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])
    subsets = lambda n, size, repetitions: [[0, 2], [1, 3], [0, 1]]
    kwargs = dict(clusters=clusters, num_repetitions=3, sampler=subsets)
    assert binned_mutual_information(X, **kwargs) == pytest.approx(2 / 3)
    assert binned_mutual_information(X, correction="miller-madow", **kwargs) == pytest.approx(2 / 3 + 1 / (6 * LN2))


def test_a_negative_estimate_is_reported_as_zero_with_a_warning():
    # clusters {0, 2} and {1, 3} hold both values (H = 1) but the drawn subset {0, 1} one: I = −1 bit
    X, clusters = np.array([[0.0], [0.0], [1.0], [1.0]]), np.array([0, 1, 0, 1])
    with pytest.warns(NegativeEstimateWarning, match="came out -1 bits, below 0.*reported as 0"):
        value = binned_mutual_information(X, clusters=clusters, num_repetitions=1, sampler=lambda n, s, r: [[0, 1]])
    assert value == 0.0


def test_miller_madow_mutual_information_is_less_biased_on_a_known_answer():
    # X = (y, b1, b2) with y, b1, b2 fair bits: I(X; Y) = 1 bit. Each class fills 4 cells, a random subset 8,
    # so with n_c = 20 the plug-in estimate is low by about (8 − 4)/(2·20·ln 2) = 0.144 bits (Miller 1955).
    plugin, corrected = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, size=40)
        X = np.column_stack([y, rng.integers(0, 2, size=(40, 2))]).astype(float)
        plugin.append(binned_mutual_information(X, y, seed=seed))
        corrected.append(binned_mutual_information(X, y, seed=seed, correction="miller-madow"))
    assert np.mean(plugin) - 1 == pytest.approx(-4 / (40 * LN2), abs=0.05)
    assert abs(np.mean(corrected) - 1) < 0.4 * abs(np.mean(plugin) - 1)


@pytest.mark.parametrize("correction", [None, "miller-madow"])
def test_independent_variables_give_about_zero(correction):
    # With Y independent of X a cluster is one more random subset of its size, so the size-matched estimate
    # (before clipping) averages 0 with or without the correction.
    raw = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        X, y = torch.tensor(rng.integers(0, 2, size=(60, 3)), dtype=torch.float64), torch.tensor(rng.integers(0, 2, 60))
        raw.append(size_matched_mutual_information(X, y, lambda S: binned_entropy(S, correction=correction), seed=seed))
    assert abs(np.mean(raw)) < 3 * np.std(raw) / math.sqrt(len(raw)) + 0.005
