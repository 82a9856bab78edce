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


def _stages(monkeypatch) -> list[tuple[str, int, int]]:
    """Record (stage, rows given, rows handed on) for every stage knn runs: "filter", "float32", "float64"."""
    seen = []
    certify = nb._certify

    def spy(X, stage, rows, *args):
        left = certify(X, stage, rows, *args)
        seen.append(("filter" if stage.exact is not None else str(stage.dtype).removeprefix("torch."),
                     len(rows), len(left)))
        return left

    monkeypatch.setattr(nb, "_certify", spy)
    return seen


def assert_exact(X: torch.Tensor, k: int, dist: torch.Tensor, idx: torch.Tensor) -> None:
    """``dist`` are the brute-force k-NN distances, and ``idx`` points at neighbours that far (any of tied ones)."""
    ref_dist, _ = brute_force(X, k)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=1e-12)
    D = torch.cdist(X.double(), X.double(), compute_mode="donot_use_mm_for_euclid_dist")
    torch.testing.assert_close(D.gather(1, idx), dist, rtol=1e-12, atol=1e-12)
    assert not bool((idx == torch.arange(len(X)).unsqueeze(1)).any())
    assert all(len(set(row)) == k for row in idx.tolist())


@pytest.mark.parametrize("n_low, n_flat, certified", [(600, 0, "all"), (0, 600, "none"), (400, 200, "some")])
def test_filter_is_exact_whether_it_certifies_all_none_or_some(monkeypatch, n_low, n_flat, certified):
    # p = 300: the low-rank filter runs first; rows it does not certify (none, or the isotropic ones,
    # which would need too many candidates) go on to the full search; the answer is exact either way
    X = _wide(n_low, n_flat, seed=n_low)
    seen = _stages(monkeypatch)
    dist, idx = knn(X, 3)
    stage, given, left = seen[0]
    assert stage == "filter" and given == 600
    assert {"all": left == 0 and len(seen) == 1, "none": left == 600, "some": 0 < left < 600}[certified]
    assert sum(given - left for _, given, left in seen) == 600
    ref_dist, ref_idx = brute_force(X, 3)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)


def test_filter_at_100_features_looks_for_a_quarter_rank_and_is_exact(monkeypatch):
    # p = 100: r = 25 principal directions are looked for; rank-6 data plus small noise certifies
    # every row in the filter, whose basis is cut at the noise floor
    g = torch.Generator().manual_seed(5)
    X = (torch.randn(800, 6, generator=g) @ torch.randn(6, 100, generator=g)
         + 0.01 * torch.randn(800, 100, generator=g)).double()
    ranks = []
    basis = nb._principal_basis
    monkeypatch.setattr(nb, "_principal_basis", lambda X, mean, rank: ranks.append(rank) or basis(X, mean, rank))
    seen = _stages(monkeypatch)
    dist, idx = knn(X, 2)
    assert ranks == [25] and seen == [("filter", 800, 0)]
    V = basis(X, X.mean(0), 25)
    assert 6 <= V.shape[1] <= 25
    torch.testing.assert_close(V.T @ V, torch.eye(V.shape[1], dtype=torch.float64), rtol=0, atol=1e-12)
    ref_dist, ref_idx = brute_force(X, 2)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)
    seen.clear()
    assert knn(X[:, :60], 2)[1].shape == (800, 2) and ranks == [25]     # p = 60 < 64: no filter
    assert [stage for stage, _, _ in seen] == ["float32"]


def _inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    low = torch.randn(900, 5, generator=g) @ torch.randn(5, 120, generator=g) + 0.01 * torch.randn(900, 120,
                                                                                                     generator=g)
    clusters = (10 * torch.randn(20, 200, generator=g)).repeat_interleave(60, 0) + 0.1 * torch.randn(1200, 200,
                                                                                                      generator=g)
    return {"random": torch.randn(700, 12, generator=g),
            "random wide": torch.randn(700, 96, generator=g),
            "low rank": low,
            "duplicates": torch.cat([low[:300]] * 3),                # every point three times
            "clusters": clusters}


@pytest.mark.parametrize("name", list(_inputs()))
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_knn_is_exact_on_random_low_rank_duplicate_and_clustered_points(name, k, dtype):
    X = _inputs()[name]
    dist, idx = knn(X, k, dtype=dtype)
    assert_exact(X, k, dist, idx)
    if name == "duplicates":
        assert bool((dist[:, :min(k, 2)] == 0).all())


def test_float32_rounding_hands_rows_to_the_float64_search(monkeypatch):
    # tight clusters far from each other and from the mean, in 200 dimensions: float32 scores cannot
    # rank a point's neighbours within its cluster (the earlier search got rows wrong here), so the
    # float32 full search cannot certify them and the float64 one does
    X = _inputs()["clusters"]
    seen = _stages(monkeypatch)
    dist, idx = knn(X, 2)
    assert_exact(X, 2, dist, idx)
    assert seen[-1][0] == "float64" and seen[-1][1] > 0 and seen[-1][2] == 0


def test_small_blocks_through_the_filter_are_exact(monkeypatch):
    X = _wide(500, 100, seed=3)
    seen = _stages(monkeypatch)
    dist, idx = knn(X, 4, max_bytes=20_000)
    assert seen[0][0] == "filter"
    assert_exact(X, 4, dist, idx)


@pytest.mark.parametrize("exclude_self", [True, False])
@pytest.mark.parametrize("m", [1, 3, 12])
def test_grouped_selection_finds_the_smallest_scores(exclude_self, m):
    # n = 1,003: not a whole number of groups; 5 columns: the grouped path
    g = torch.Generator().manual_seed(m)
    points = torch.randn(1003, 5, generator=g)
    queries = torch.randperm(1003, generator=g)[:300]
    exact = (points.double().square().sum(1) - 2 * points[queries].double() @ points.double().T)
    if exclude_self:
        exact[torch.arange(300), queries] = float("inf")
    ref = torch.topk(exact, m, dim=1, largest=False).values
    stage = nb._Stage.of(points, None, torch.float32, points.double().square().sum(1), None, torch.zeros(1003), 5,
                         first=m, share=0, final=True)
    blocks = list(nb._smallest_scores(stage, queries, m, exclude_self, max_bytes=1 << 16))
    assert len(blocks) > 1
    rows = torch.cat([b[0] for b in blocks])
    values, candidates = torch.cat([b[1] for b in blocks]), torch.cat([b[2] for b in blocks])
    assert torch.equal(rows, queries) and values.shape == candidates.shape == (300, m)
    assert bool((values[:, 1:] >= values[:, :-1]).all())
    assert not exclude_self or not bool((candidates == queries.unsqueeze(1)).any())
    chosen = exact.gather(1, candidates)
    # the m smallest scores, up to float32 rounding of near-ties with the (m + 1)-th
    torch.testing.assert_close(chosen, ref, rtol=0, atol=1e-4)
    torch.testing.assert_close(values.double(), chosen, rtol=0, atol=1e-4)


def test_the_filter_measures_few_pairs_on_low_rank_data(monkeypatch):
    # rank 8 plus noise 0.01 in 300 dimensions: the bound is tight, so about the k needed per row are
    # measured, not every scanned candidate
    X = _wide(3000, 0, seed=7).float()
    measured = []
    measure = nb._measure
    monkeypatch.setattr(nb, "_measure", lambda X, a, b, max_bytes: measured.append(len(a)) or measure(X, a, b, max_bytes))
    dist, idx = knn(X, 2)
    assert sum(measured) < 3 * 2 * 3000
    ref_dist, ref_idx = brute_force(X.double(), 2)
    assert torch.equal(idx, ref_idx)


def test_reduced_float32_matmul_precision_widens_the_allowance():
    X = _wide(600, 0, seed=9).float()
    assert nb._product_eps(torch.float32) == torch.finfo(torch.float32).eps
    assert nb._product_eps(torch.float64) == nb._EPS64
    saved = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")              # TF32 products where the hardware has them
        assert nb._product_eps(torch.float32) == 2.0 ** -10
        assert_exact(X, 2, *knn(X, 2))
        torch.set_float32_matmul_precision("medium")            # bfloat16 products
        assert nb._product_eps(torch.float32) == 2.0 ** -7
    finally:
        torch.set_float32_matmul_precision(saved)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("X", [_wide(700, 100, seed=4).float(), torch.randn(700, 10)])
def test_cuda_points_give_the_cpu_answer(X):
    dist, idx = knn(X.cuda(), 3)
    assert dist.is_cuda and idx.is_cuda
    ref_dist, ref_idx = knn(X, 3)
    torch.testing.assert_close(dist.cpu(), ref_dist, rtol=1e-12, atol=1e-12)
    assert torch.equal(idx.cpu(), ref_idx)


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


@pytest.mark.parametrize("p", [30, 300])
def test_float32_points_stay_float32_and_distances_are_exact_in_float64(p):
    X = torch.randn(400, p, generator=torch.Generator().manual_seed(p))
    assert nb.as_points(X).dtype == torch.float32 and nb.as_points(X.numpy().astype("float32")).dtype == torch.float64
    dist, idx = knn(X, 3)
    ref_dist, ref_idx = brute_force(X.double(), 3)                  # the float32 values, exactly, in float64
    assert dist.dtype == torch.float64 and torch.equal(idx, ref_idx)
    torch.testing.assert_close(dist, ref_dist, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["low rank", "clusters"])
def test_stage_bounds_never_exceed_the_true_distances(monkeypatch, name):
    # the certificate's two premises, checked on the stages knn builds: each candidate's lower bound,
    # and the horizon beyond the scanned candidates, are at most the true squared distances
    X = _inputs()[name]
    stages = []
    certify = nb._certify
    monkeypatch.setattr(nb, "_certify", lambda X, stage, *a: stages.append(stage) or certify(X, stage, *a))
    knn(X, 2)
    D2 = torch.cdist(X.double(), X.double(), compute_mode="donot_use_mm_for_euclid_dist").square()
    d2 = D2.fill_diagonal_(float("inf")).topk(2, dim=1, largest=False).values[:, -1]
    rows = torch.arange(0, len(X), 7)
    for stage in stages:
        (block, scores, candidates), *_ = nb._smallest_scores(stage, rows, 6, True, nb.DEFAULT_MAX_BYTES)
        assert bool((stage.lower(block, candidates, scores) <= D2[block].gather(1, candidates)).all())
        beyond = D2[block].scatter(1, candidates[:, :5], float("inf")).min(dim=1).values  # nearest not scanned
        horizon = stage.horizon(block, scores[:, 5], d2[block])
        assert bool((beyond >= torch.minimum(horizon, d2[block])).all())


def test_membership_within_rows():
    values = torch.tensor([[3, 1, 4], [1, 5, 9]])
    pool = torch.tensor([[4, -1, 3, 7], [2, 6, 5, -1]])
    assert nb._within_rows(values, pool).tolist() == [[True, False, True], [False, True, False]]
    assert not bool(nb._within_rows(values, pool[:, :0]).any())
