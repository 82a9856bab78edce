"""Intrinsic-dimension estimators against known answers: manifolds of known dimension, an
independent implementation of the act_ids TwoNN recipe (seeds.md §3.1), and scikit-dimension 0.5.0."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from deepscope.errors import DeepscopeError
from deepscope.metrics import intrinsic_dim as idm
from deepscope.metrics import manifolds as M
from deepscope.metrics.intrinsic_dim import IDEstimate, layerwise_id, llid, mle_id, pca_dim, pid, twonn

N = 2000


@pytest.fixture
def skdim_id():
    """scikit-dimension's estimators, the oracle (a test extra: skip where it is not installed)."""
    return pytest.importorskip("skdim.id")


def act_ids_twonn(X: np.ndarray, fraction: float = 0.9) -> float:
    """seeds.md §3.1 step by step on a full distance matrix: sort rows, drop r1 = 0 and r1 = r2,
    F_i = i/N, drop the last two points, keep the first floor(fraction·N), slope through 0."""
    Y = np.sort(cdist(X, X), axis=1)
    r1, r2 = Y[:, 1], Y[:, 2]
    good = (r1 != 0) & (r1 != r2)
    N_ = int(good.sum())
    mu = np.sort(r2[good] / r1[good])
    F = np.arange(1, N_ + 1) / N_
    x, y = np.log(mu[:-2]), -np.log(1 - F[:-2])
    m = math.floor(fraction * N_)
    x, y = x[:m], y[:m]
    return float(x @ y / (x @ x))


# --------------------------------------------------------------------------------------------
# TwoNN on manifolds of known dimension. Stated tolerances (n = 2000, one fit): TwoNN is unbiased
# for locally uniform data (Facco 2017) but reads low near the boundary of a cube, more so as d grows.

@pytest.mark.parametrize("d, low, high", [(2, 0.9, 1.1), (5, 0.9, 1.1), (10, 0.75, 1.0)])
def test_twonn_hypercube(d, low, high):
    est = twonn(M.hypercube(N, d))
    assert low * d <= est.dimension <= high * d
    assert est.std == 0.0 and est.estimates == (est.dimension,) and est.method == "twonn"
    assert est.n_used == math.floor(0.9 * N)  # continuous data: no duplicates or ties


@pytest.mark.parametrize("name, X, d, tol", [
    ("S^5 rotated into R^30", M.embed(M.sphere(N, 5), 30, how="rotate"), 5, 0.1),
    ("N(0, I_8) through a random 8x100 matrix", M.embed(M.gaussian(N, 8), 100, how="linear"), 8, 0.1),
    ("swiss roll (M7)", M.swiss_roll(N), 2, 0.1),
    ("helix (M5)", M.helix(N), 1, 0.1),
    ("paraboloid Mp1", M.paraboloid(N, 3), 3, 0.1),
    ("curved M8, 12 in R^72 (reads high)", M.curved(N), 12, 0.2),
])
def test_twonn_known_manifolds(name, X, d, tol):
    assert abs(twonn(X).dimension - d) <= tol * d, name


def test_twonn_is_unchanged_by_zero_padding_to_3072_dims():
    X = M.ball(1000, 5)
    base = twonn(X).dimension
    assert abs(base - 5) <= 0.15 * 5
    assert twonn(M.embed(X, 3072)).dimension == pytest.approx(base, rel=1e-9)


def test_twonn_matches_independent_act_ids_recipe_with_duplicates_and_ties():
    g = torch.Generator().manual_seed(3)
    grid = torch.cartesian_prod(torch.arange(8.0), torch.arange(8.0)).double()  # r1 = r2 = 1 everywhere
    X = torch.cat([M.hypercube(600, 2, seed=4) * 7, grid, grid[:10]])             # plus 10 duplicated rows
    X = X[torch.randperm(len(X), generator=g)]
    assert twonn(X).dimension == pytest.approx(act_ids_twonn(X.numpy()), rel=1e-10)
    for fraction in (0.6, 1.0):  # 1.0: the fit runs up to the dropped last two points
        assert twonn(X, fraction=fraction).dimension == pytest.approx(act_ids_twonn(X.numpy(), fraction), rel=1e-10)


def test_twonn_duplicated_rows_do_not_change_the_estimate():
    X = M.hypercube(N, 4, seed=5)
    dup = X[torch.randperm(N, generator=torch.Generator().manual_seed(6))[: N // 5]]
    plain, with_dups = twonn(X), twonn(torch.cat([X, dup]))
    # dropping duplicates and the ties they create leaves a random ~2/3 of the ratios; allow 3 standard
    # errors of TwoNN's slope, about d / sqrt(n_used) each
    assert abs(with_dups.dimension - plain.dimension) <= 3 * 4 / math.sqrt(with_dups.n_used)
    assert with_dups.n_used < plain.n_used


@pytest.mark.parametrize("X", [M.embed(M.gaussian(N, 6, seed=7), 10, how="linear"),         # skdim: kNN path
                               M.embed(M.sphere(N, 4, seed=8), 40, how="rotate")])           # skdim: D > 25 path
@pytest.mark.parametrize("fraction", [0.9, 0.75])
def test_twonn_skdim_convention_matches_skdim(X, fraction, skdim_id):
    ours = twonn(X, fraction=fraction, convention="skdim")
    theirs = skdim_id.TwoNN(discard_fraction=1 - fraction).fit(X.numpy())
    assert ours.dimension == pytest.approx(theirs.dimension_, rel=1e-6)
    assert ours.n_used == len(theirs.x_)


def test_twonn_conventions_differ_only_on_ties(skdim_id):
    grid = torch.cartesian_prod(torch.arange(12.0), torch.arange(12.0)).double()
    X = torch.cat([grid, M.hypercube(300, 2, seed=9) * 11])
    sk = skdim_id.TwoNN().fit(X.numpy()).dimension_
    assert twonn(X, convention="skdim").dimension == pytest.approx(sk, rel=1e-6)
    assert twonn(X).dimension == pytest.approx(act_ids_twonn(X.numpy()), rel=1e-10)
    assert abs(twonn(X).dimension - sk) > 1e-3       # skdim keeps the grid's r1 = r2 ties
    smooth = M.hypercube(500, 3, seed=10)
    assert twonn(smooth).dimension == pytest.approx(twonn(smooth, convention="skdim").dimension, rel=1e-12)


def test_twonn_precomputed_distances_give_the_same_estimate():
    X = M.embed(M.sphere(1000, 3, seed=11), 20, how="rotate")
    D = torch.cdist(X, X, compute_mode="donot_use_mm_for_euclid_dist")
    assert twonn(D, precomputed=True).dimension == pytest.approx(twonn(X).dimension, rel=1e-12)
    a = twonn(D, nres=4, subsample=0.8, seed=1, precomputed=True).estimates
    b = twonn(X, nres=4, subsample=0.8, seed=1).estimates
    assert a == pytest.approx(b, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Resampling: neighbours must come from inside each resample.

def test_twonn_resampled_mean_and_std():
    X = M.embed(M.gaussian(N, 5, seed=12), 50, how="linear")
    single = twonn(X)
    res = twonn(X, nres=10, subsample=0.9, seed=0)
    assert len(res.estimates) == 10 and res.std > 0
    assert res.dimension == pytest.approx(np.mean(res.estimates), rel=1e-12)
    assert res.std == pytest.approx(np.std(res.estimates), rel=1e-12)
    assert abs(res.dimension - single.dimension) <= 0.05 * single.dimension
    assert twonn(X, nres=10, subsample=0.9, seed=0) == res                       # seeded: reproducible
    assert twonn(X, nres=10, subsample=0.9, seed=1).estimates != res.estimates


@pytest.mark.parametrize("estimator, kwargs", [(twonn, {}), (mle_id, {"k": 6})])
@pytest.mark.parametrize("subsample", [0.9, 0.3])  # 0.9 reuses one wide search; 0.3 searches each resample
def test_resamples_equal_estimates_on_explicit_subsets(estimator, kwargs, subsample):
    X = M.embed(M.hypercube(800, 3, seed=13), 6, how="rotate")
    res = estimator(X, nres=5, subsample=subsample, seed=2, **kwargs)
    subsets = idm._subsamples(800, round(subsample * 800), 5, 2)
    expected = [estimator(X[s], **kwargs).dimension for s in subsets]
    assert res.estimates == pytest.approx(expected, rel=1e-12)


def test_resamples_fall_back_when_the_wide_search_is_too_narrow(monkeypatch):
    X = M.hypercube(600, 3, seed=14)
    monkeypatch.setattr(idm, "_reusable_width", lambda j, n_sub, n: j + 1)  # too narrow for half the points
    res = twonn(X, nres=3, subsample=0.5, seed=3)
    expected = [twonn(X[s]).dimension for s in idm._subsamples(600, 300, 3, 3)]
    assert res.estimates == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# MLE (Levina–Bickel, MacKay–Ghahramani averaging, k − 1 normalisation)

@pytest.mark.parametrize("X", [M.hypercube(N, 5, seed=15), M.embed(M.sphere(N, 7, seed=16), 40, how="rotate")])
@pytest.mark.parametrize("k", [5, 20])
def test_mle_matches_skdim(X, k, skdim_id):
    theirs = skdim_id.MLE().fit(X.numpy(), n_neighbors=k, comb="mle").dimension_
    assert mle_id(X, k=k).dimension == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("name, X, d, low, high", [
    ("cube 2 (boundary: reads low)", M.hypercube(N, 2), 2, 0.85, 1.05),
    ("cube 5 (boundary: reads low)", M.hypercube(N, 5), 5, 0.85, 1.05),
    ("S^5 rotated into R^30", M.embed(M.sphere(N, 5), 30, how="rotate"), 5, 0.9, 1.1),
    ("N(0, I_8) through a random 8x100 matrix", M.embed(M.gaussian(N, 8), 100, how="linear"), 8, 0.9, 1.1),
    ("swiss roll (M7)", M.swiss_roll(N), 2, 0.9, 1.1),
    ("helix (M5)", M.helix(N), 1, 0.9, 1.1),
    ("paraboloid Mp1", M.paraboloid(N, 3), 3, 0.9, 1.1),
])
def test_mle_known_manifolds(name, X, d, low, high):
    assert low * d <= mle_id(X).dimension <= high * d, name


def test_mle_ignores_duplicates():
    X = M.hypercube(1000, 3, seed=17)
    with_dups = mle_id(torch.cat([X, X[:100]]))
    assert with_dups.n_used == 900 and math.isfinite(with_dups.dimension)
    assert abs(with_dups.dimension - mle_id(X).dimension) <= 0.05 * 3


# --------------------------------------------------------------------------------------------
# PCA

@pytest.mark.parametrize("n, p, r", [(500, 30, 1), (500, 30, 3), (500, 60, 12), (40, 200, 7)])
def test_pca_dim_exact_rank_plus_tiny_noise(n, p, r):
    g = torch.Generator().manual_seed(r)
    X = torch.randn(n, r, generator=g, dtype=torch.float64) @ torch.randn(r, p, generator=g, dtype=torch.float64)
    X = X + 1e-6 * torch.randn(n, p, generator=g, dtype=torch.float64)
    assert pca_dim(X, variance=0.999).dimension == r


def test_pca_dim_known_spectrum():
    # ±3e1, ±2e2, ±1e3: covariance diag(9, 4, 1)·(1/3), shares 9/14, 13/14, 1
    E = torch.eye(3, dtype=torch.float64) * torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)
    X = torch.cat([E, -E])
    assert [pca_dim(X, v).dimension for v in (0.5, 0.6, 0.9, 0.95, 1.0)] == [1, 1, 2, 3, 3]
    assert pca_dim(X, 0.9).settings["explained"] == pytest.approx(13 / 14)


# --------------------------------------------------------------------------------------------
# Layers: LLID and PID (Brown et al. 2022)

FEATURES = {"block1": M.embed(M.hypercube(1000, 2, seed=20), 64, how="rotate"),
            "block2": M.embed(M.gaussian(1000, 6, seed=21), 64, how="linear"),
            "pool": M.embed(M.sphere(1000, 3, seed=22), 16, how="rotate")}


def test_layerwise_llid_pid():
    ids = layerwise_id(FEATURES)
    assert list(ids) == ["block1", "block2", "pool"]
    for layer, d in zip(ids, (2, 6, 3)):
        assert abs(ids[layer].dimension - d) <= 0.1 * d
    last = llid(FEATURES)
    assert last.layer == "pool" and last.dimension == ids["pool"].dimension
    assert llid(FEATURES, layer="block1").estimate == ids["block1"]
    peak = pid(FEATURES)
    assert peak.layer == "block2" and peak.estimate == ids["block2"]
    assert pid(ids) == peak and llid(ids) == last                        # from precomputed estimates
    assert pid(FEATURES, estimator=mle_id, k=10).layer == "block2"
    assert pid(FEATURES, estimator=pca_dim, variance=0.99).layer == "block2"


def test_layer_errors():
    with pytest.raises(DeepscopeError, match="non-empty mapping"):
        pid({})
    with pytest.raises(DeepscopeError, match="not among the layers"):
        llid(FEATURES, layer="fc")
    ids = layerwise_id(FEATURES)
    with pytest.raises(DeepscopeError, match="mixes"):
        pid({"a": ids["pool"], "b": FEATURES["pool"]})
    with pytest.raises(DeepscopeError, match="already estimated"):
        pid(ids, fraction=0.5)
    with pytest.raises(DeepscopeError, match="layer 'bad'"):
        layerwise_id({"ok": FEATURES["pool"], "bad": torch.randn(2, 3)})


# --------------------------------------------------------------------------------------------
# Bad input

def test_estimator_bad_input():
    X = M.hypercube(50, 2)
    nan = X.clone()
    nan[7, 0] = float("inf")
    cases = [
        (lambda: twonn(torch.randn(50)), "2-D"),
        (lambda: twonn(nan), "NaN or inf"),
        (lambda: twonn(X[:2]), "at least 3"),
        (lambda: twonn(X[:3]), "usable ratio"),
        (lambda: twonn(torch.zeros(10, 3)), "duplicate"),
        (lambda: twonn(X, fraction=0.0), "fraction"),
        (lambda: twonn(X, fraction=1.5), "fraction"),
        (lambda: twonn(X, fraction=1.0, convention="skdim"), "fraction < 1"),
        (lambda: twonn(X, convention="sklearn"), "convention"),
        (lambda: twonn(X, nres=0), "nres"),
        (lambda: twonn(X, nres=3), "subsample < 1"),
        (lambda: twonn(X, nres=3, subsample=0.999), "would all be the same"),
        (lambda: twonn(X, subsample=1.5), "subsample"),
        (lambda: twonn(X, nres=2, subsample=0.04), "leaves 2"),
        (lambda: twonn(X, precomputed=True), "square"),
        (lambda: mle_id(X, k=1), "k must be"),
        (lambda: mle_id(X[:10], k=20), "at least 21"),
        (lambda: pca_dim(X, variance=0.0), "variance"),
        (lambda: pca_dim(torch.ones(5, 3)), "identical"),
        (lambda: pca_dim(np.array([[1.0, 2.0]])), "at least 2"),
    ]
    for call, message in cases:
        with pytest.raises(DeepscopeError, match=message):
            call()


def test_result_is_a_frozen_record_of_what_was_used():
    state = torch.random.get_rng_state()
    est = twonn(M.hypercube(200, 2), nres=2, subsample=0.8, seed=4)
    mle_id(M.embed(M.hypercube(300, 3), 300, how="rotate"), nres=2, subsample=0.5)  # wide: projected search
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    assert isinstance(est, IDEstimate)
    assert est.settings == dict(fraction=0.9, convention="act_ids", nres=2, subsample=0.8, seed=4,
                                precomputed=False, n_points=200)
    with pytest.raises(AttributeError):
        est.dimension = 3.0  # type: ignore[misc]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    X = M.embed(M.sphere(3000, 6, seed=23), 100, how="rotate")
    for estimator in (twonn, mle_id):
        assert estimator(X.cuda()).dimension == pytest.approx(estimator(X).dimension, rel=1e-9)
    assert twonn(X.cuda(), nres=3, subsample=0.9).estimates == pytest.approx(
        twonn(X, nres=3, subsample=0.9).estimates, rel=1e-9)


@pytest.mark.parametrize("p", [20, 100, 300])  # no pre-search; rank-25 pre-search; rank-64 pre-search
def test_float32_activations_give_the_estimate_of_their_float64_values(p):
    X = M.embed(M.gaussian(1500, 5, seed=24), p, how="linear").float()
    assert twonn(X).dimension == twonn(X.double()).dimension
    assert twonn(X, nres=3, subsample=0.9).estimates == twonn(X.double(), nres=3, subsample=0.9).estimates
