import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics import neighbors as nb
from deepscope.metrics.neighbors import knn


def brute_force(X: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact float64 k-NN (self excluded) from a full torch.cdist matrix."""
    D = torch.cdist(X.double(), X.double(), compute_mode="donot_use_mm_for_euclid_dist")
    D.fill_diagonal_(float("inf"))
    return torch.topk(D, k, dim=1, largest=False)


@pytest.mark.parametrize("k", [1, 2, 7])
@pytest.mark.parametrize("max_bytes", [1 << 26, 20_000])  # 20 kB: a few rows per block, dozens of blocks
def test_knn_matches_cdist(k, max_bytes):
    X = torch.randn(300, 20, generator=torch.Generator().manual_seed(k))
    dist, idx = knn(X, k, max_bytes=max_bytes)
    ref_dist, ref_idx = brute_force(X, k)
    assert dist.shape == idx.shape == (300, k)
    assert dist.dtype == torch.float64 and idx.dtype == torch.int64
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)
    assert bool((dist[:, 1:] >= dist[:, :-1]).all())


def test_knn_numpy_float64_search_and_precomputed_agree():
    X = np.random.default_rng(0).normal(size=(200, 5))
    ref_dist, ref_idx = brute_force(torch.from_numpy(X), 4)
    for dist, idx in (knn(X, 4, dtype=torch.float64),
                      knn(torch.cdist(torch.from_numpy(X), torch.from_numpy(X)), 4, precomputed=True, max_bytes=500)):
        assert torch.equal(idx, ref_idx)
        torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=1e-12)


def test_knn_keeps_duplicates_and_can_include_self():
    X = torch.randn(50, 3, generator=torch.Generator().manual_seed(1))
    X = torch.cat([X, X[:5]])                      # rows 50..54 duplicate rows 0..4
    dist, idx = knn(X, 1)
    assert dist[:5, 0].eq(0).all() and idx[:5, 0].tolist() == [50, 51, 52, 53, 54]
    assert idx[50:, 0].tolist() == [0, 1, 2, 3, 4]
    dist, idx = knn(X[:50], 2, exclude_self=False)
    assert idx[:, 0].tolist() == list(range(50)) and dist[:, 0].eq(0).all()


@pytest.mark.parametrize("p", [50, 300])  # 300: through the projected pre-search
def test_float64_refinement_fixes_float32_cancellation(p):
    # Pairs of near-twins (1e-3 apart) far from the origin and from each other: in float32,
    # ‖a‖² − 2ab + ‖b‖² loses every digit of the twin distance (it comes out as noise or 0).
    g = torch.Generator().manual_seed(2)
    centres = 1e3 + 100.0 * torch.randn(200, p, generator=g, dtype=torch.float64)
    X = torch.cat([centres, centres + 1e-3 * torch.randn(200, p, generator=g, dtype=torch.float64)])
    ref_dist, ref_idx = brute_force(X, 1)

    X32 = X.float()
    sq = X32.square().sum(1)
    naive = (sq[:, None] - 2 * X32 @ X32.T + sq[None, :]).clamp_min(0).sqrt()
    naive_twin = naive[torch.arange(400), ref_idx[:, 0]].double()
    assert float(((naive_twin - ref_dist[:, 0]).abs() / ref_dist[:, 0]).median()) > 0.5  # the problem is real

    dist, idx = knn(X, 1)  # default float32 search
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)


def _wide(n_low: int, n_flat: int, seed: int) -> torch.Tensor:
    """Rows of a rank-8 cloud plus small noise, then rows of isotropic noise, in 300 dimensions."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n_low, 8, generator=g) @ torch.randn(8, 300, generator=g) + 0.01 * torch.randn(n_low, 300,
                                                                                                       generator=g)
    return torch.cat([low, torch.randn(n_flat, 300, generator=g)]).double()


@pytest.mark.parametrize("n_low, n_flat, certified", [(600, 0, "all"), (0, 600, "none"), (400, 200, "some")])
def test_projected_presearch_is_exact(n_low, n_flat, certified):
    # p = 300 >= 256: the 65-d lower-bound search runs first; rows it cannot certify (all, none or
    # some of them) are searched in full, and the answer is the brute-force one either way.
    X = _wide(n_low, n_flat, seed=n_low)
    found = nb._projected_search(X, X - X.mean(0), nb.PROJECTION_RANK, 3, True, nb.DEFAULT_MAX_BYTES, torch.float32)
    share = None if found is None else float(found[2].double().mean())
    assert {"all": share == 1.0, "none": share is None, "some": share is not None and 0 < share < 1}[certified]
    ref_dist, ref_idx = brute_force(X, 3)
    dist, idx = knn(X, 3)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)


def test_knn_bad_input():
    X = torch.randn(10, 3)
    with pytest.raises(DeepscopeError, match="positive integer"):
        knn(X, 0)
    with pytest.raises(DeepscopeError, match="at least 11"):
        knn(X, 10)
    with pytest.raises(DeepscopeError, match="2-D"):
        knn(torch.randn(10), 2)
    bad = X.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(DeepscopeError, match="NaN or inf"):
        knn(bad, 2)
    with pytest.raises(DeepscopeError, match="float32 or torch.float64"):
        knn(X, 2, dtype=torch.float16)
    with pytest.raises(DeepscopeError, match="max_bytes"):
        knn(X, 2, max_bytes=0)


def test_knn_bad_distance_matrix():
    D = torch.cdist(torch.randn(6, 2), torch.randn(6, 2)).abs()
    with pytest.raises(DeepscopeError, match="square"):
        knn(D[:, :5], 2, precomputed=True)
    with pytest.raises(DeepscopeError, match="diagonal"):
        knn(D + 1.0, 2, precomputed=True)
    sym = torch.cdist(torch.randn(6, 2), torch.randn(6, 2)).fill_diagonal_(0)
    with pytest.raises(DeepscopeError, match="symmetric"):
        knn(sym, 2, precomputed=True)
    with pytest.raises(DeepscopeError, match="negative"):
        knn(-(sym + sym.T), 2, precomputed=True)


def test_presearch_at_100_features_uses_a_quarter_rank_and_is_exact(monkeypatch):
    # p = 100: r = 25 principal directions; rank-6 data plus small noise certifies every row
    g = torch.Generator().manual_seed(5)
    X = (torch.randn(800, 6, generator=g) @ torch.randn(6, 100, generator=g)
         + 0.01 * torch.randn(800, 100, generator=g)).double()
    ranks = []
    search = nb._projected_search
    monkeypatch.setattr(nb, "_projected_search", lambda X, c, rank, *a: ranks.append(rank) or search(X, c, rank, *a))
    dist, idx = knn(X, 2)
    assert ranks == [25]
    found = search(X, X - X.mean(0), 25, 2, True, nb.DEFAULT_MAX_BYTES, torch.float32)
    assert bool(found[2].all())
    ref_dist, ref_idx = brute_force(X, 2)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)
    assert knn(X[:, :60], 2)[1].shape == (800, 2) and ranks == [25]     # p = 60 < 64: no pre-search


@pytest.mark.parametrize("p", [30, 300])
def test_float32_points_stay_float32_and_distances_are_exact_in_float64(p):
    X = torch.randn(400, p, generator=torch.Generator().manual_seed(p))
    assert nb.as_points(X).dtype == torch.float32 and nb.as_points(X.numpy().astype("float32")).dtype == torch.float64
    dist, idx = knn(X, 3)
    ref_dist, ref_idx = brute_force(X.double(), 3)                  # the float32 values, exactly, in float64
    assert dist.dtype == torch.float64 and torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)
