"""Information-plane estimators against analytic answers."""
import itertools
import math

import pytest
import torch
from scipy.stats import chi2

from deepscope.errors import DeepscopeError
from deepscope.metrics.information import binned_information_plane, kde_information_plane

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def twelve_bit_inputs() -> torch.Tensor:
    """All 4 096 patterns of 12 bits (the Shwartz-Ziv & Tishby task), as rows of 0/1."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=12)), dtype=torch.float64)


def entropy_bits(p: list[float]) -> float:
    return -sum(q * math.log2(q) for q in p if q > 0)


# ---------------------------------------------------------------- binning


@pytest.mark.parametrize("k", [1, 3, 5, 12])
def test_binned_deterministic_map_with_2_to_k_equally_likely_outputs_gives_k_bits(k):
    X = twelve_bit_inputs()
    y = X[:, -1].long()
    point = binned_information_plane(X[:, :k], y, bins=2, value_range=(0.0, 1.0))
    assert point.i_xt == pytest.approx(k, abs=1e-12)           # log2 m, m = 2**k
    assert point.h_y == pytest.approx(1.0, abs=1e-12)
    # y is the last bit: T says nothing about it unless T holds all 12 bits.
    assert point.i_ty == pytest.approx(1.0 if k == 12 else 0.0, abs=1e-12)


def test_binned_non_power_of_two_outputs():
    i = torch.arange(600)
    T = (i % 6).to(torch.float64)[:, None]                    # 6 outputs, 100 rows each
    point = binned_information_plane(T, i % 2, bins=30)
    assert point.i_xt == pytest.approx(math.log2(6), abs=1e-12)
    assert point.i_ty == pytest.approx(1.0, abs=1e-12)         # y = T mod 2 is a function of T


@pytest.mark.parametrize("device", DEVICES)
def test_binned_classes_in_separate_bins_give_h_y(device):
    g = torch.Generator().manual_seed(0)
    n = 1000
    y = torch.arange(n) % 2
    # class 0 in [-1, -0.2], class 1 in [0.2, 1]: with 30 bins on [-1, 1] (width 1/15) no bin holds both.
    T = (torch.rand(n, 1, generator=g, dtype=torch.float64) * 0.8 + 0.2) * (2 * y[:, None] - 1)
    point = binned_information_plane(T.to(device), y, bins=30, value_range=(-1, 1))
    assert point.i_ty == pytest.approx(1.0, abs=1e-12)
    assert point.h_y == pytest.approx(1.0, abs=1e-12)


def test_binned_independent_labels_within_chi_square_tolerance():
    # For Y independent of the binned T, 2 n ln2 * I_plugin(T;Y) is the G statistic, asymptotically
    # chi-square with (bins - 1)(classes - 1) degrees of freedom; allow its 1 - 1e-6 quantile.
    g = torch.Generator().manual_seed(1)
    n, bins = 4000, 8
    T = torch.rand(n, 1, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (n,), generator=g)
    point = binned_information_plane(T, y, bins=bins)
    assert 0.0 <= point.i_ty <= chi2.ppf(1 - 1e-6, (bins - 1) * (2 - 1)) / (2 * n * math.log(2))
    assert point.i_xt == pytest.approx(3.0, abs=0.01)          # 8 near-equal bins: close to 3 bits


def test_coarsening_bins_by_halving_never_raises_information():
    g = torch.Generator().manual_seed(2)
    T = torch.randn(500, 3, generator=g, dtype=torch.float64)
    y = (T[:, 0] + 0.5 * torch.randn(500, generator=g, dtype=torch.float64) > 0).long()
    points = [binned_information_plane(T, y, bins=b) for b in (64, 32, 16, 8, 4, 2, 1)]
    for fine, coarse in zip(points, points[1:]):               # halving merges bins pairwise
        assert coarse.i_xt <= fine.i_xt + 1e-12
        assert coarse.i_ty <= fine.i_ty + 1e-12
    assert points[0].i_xt > points[-2].i_xt                    # and it does fall
    assert points[-1].i_xt == 0.0 and points[-1].i_ty == 0.0   # one bin: one symbol


def test_twelve_bit_task_bounds_for_a_tanh_layer():
    X = twelve_bit_inputs()
    y = (X[:, 0].long() ^ X[:, 5].long())                     # balanced binary label
    W = torch.randn(12, 10, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    T = torch.tanh((2 * X - 1) @ W)
    for kwargs in ({"bins": 4}, {"bins": 30}, {"bins": 1000}, {"bin_width": 0.05}):
        point = binned_information_plane(T, y, value_range=(-1, 1), **kwargs)
        assert 0.0 <= point.i_xt <= 12.0 + 1e-12
        assert point.h_y == pytest.approx(1.0, abs=1e-12)
        assert point.i_ty <= min(point.i_xt, point.h_y) + 1e-12    # data processing
    assert binned_information_plane(T, y, bins=10 ** 6, value_range=(-1, 1)).i_xt == pytest.approx(12.0)


def test_bin_width_is_the_same_partition_as_the_matching_count():
    g = torch.Generator().manual_seed(4)
    T = torch.rand(300, 4, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.randint(0, 3, (300,), generator=g)
    by_width = binned_information_plane(T, y, bin_width=0.1, value_range=(-1, 1))
    by_count = binned_information_plane(T, y, bins=20, value_range=(-1, 1))
    assert by_width.bins == 20
    assert (by_width.i_xt, by_width.i_ty) == pytest.approx((by_count.i_xt, by_count.i_ty), abs=1e-12)
    default = binned_information_plane(T, y)
    assert default.bins == 30
    assert default.value_range == (float(T.min()), float(T.max()))


def test_x_ids_remove_within_input_spread():
    # 4 inputs, each seen 4 times; T takes 2 values per input (noise), 8 values in all:
    # H(T) = 3, H(T|X) = 1, so I(X;T) = 2 bits; Y = x mod 2 is read off T, I(T;Y) = 1.
    x = torch.arange(16) // 4
    r = torch.arange(16) % 4
    T = (2 * x + r % 2).to(torch.float64)[:, None]
    point = binned_information_plane(T, x % 2, bins=8, x_ids=x)
    assert point.i_xt == pytest.approx(2.0, abs=1e-12)
    assert point.i_ty == pytest.approx(1.0, abs=1e-12)
    without_ids = binned_information_plane(T, x % 2, bins=8)
    assert without_ids.i_xt == pytest.approx(3.0, abs=1e-12)


def test_binned_input_errors():
    T = torch.randn(10, 2)
    with pytest.raises(DeepscopeError, match="2-D"):
        binned_information_plane(torch.randn(10), torch.zeros(10))
    with pytest.raises(DeepscopeError, match="labels"):
        binned_information_plane(T, torch.zeros(9))
    bad = T.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(DeepscopeError, match="NaN"):
        binned_information_plane(bad, torch.zeros(10))
    with pytest.raises(DeepscopeError, match="not both"):
        binned_information_plane(T, torch.zeros(10), bins=10, bin_width=0.1)
    with pytest.raises(DeepscopeError, match="hi > lo"):
        binned_information_plane(T, torch.zeros(10), value_range=(1, -1))
    with pytest.raises(DeepscopeError, match="x_ids"):
        binned_information_plane(T, torch.zeros(10), x_ids=torch.arange(8))


# ---------------------------------------------------------------- KDE bounds


@pytest.mark.parametrize("bound", ["upper", "lower"])
def test_kde_gaussian_channel_matches_its_analytic_limit(bound):
    # X ~ N(0, I_d) as n equally likely points, T = X, T~ = T + N(0, s2 I). As n grows the estimate
    # tends to the bound for the continuous mixture; per dimension, with v = a s2 / 2 (a = 2 for KL,
    # 8 for Bhattacharyya): -E ln E' exp(-(t - t')^2 / (2v)) = 1/2 ln(1 + 1/v) + 1/(2 (1 + v)).
    # The true I(X;T~) = d/2 ln(1 + 1/s2) lies between the two limits.
    n, d, s2 = 2000, 2, 1.0
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    y = torch.arange(n) % 2
    v = (s2 if bound == "upper" else 4 * s2)
    limit = d * (0.5 * math.log(1 + 1 / v) + 1 / (2 * (1 + v))) / math.log(2)
    # Tolerance: 5 standard deviations of the outer sample mean, whose terms vary by
    # t^2 / (2 (1 + v)) per dimension (variance 2 / (4 (1 + v)^2)).
    tol = 5 * math.sqrt(d * 2 / (4 * (1 + v) ** 2) / n) / math.log(2)
    point = kde_information_plane(X, y, noise_var=s2, bound=bound)
    assert point.i_xt == pytest.approx(limit, abs=tol)
    truth = d / 2 * math.log2(1 + 1 / s2)
    if bound == "upper":
        assert point.i_xt - tol >= truth
    else:
        assert point.i_xt + tol <= truth
    assert point.method == f"kde-{bound}" and point.noise_var == s2


@pytest.mark.parametrize("bound", ["upper", "lower"])
@pytest.mark.parametrize("device", DEVICES)
def test_kde_well_separated_points_are_exact(bound, device):
    # Points 100 apart with s2 = 0.1: every cross term exp(-D_ij) underflows to 0, so
    # I(X;T~) = log2 n and I(T~;Y) = H(Y) exactly; with identical points both are 0.
    sizes = [2, 3, 5]
    y = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    T = 100.0 * torch.arange(10, dtype=torch.float64)[:, None].repeat(1, 3)
    point = kde_information_plane(T.to(device), y, noise_var=0.1, bound=bound)
    assert point.i_xt == pytest.approx(math.log2(10), abs=1e-12)
    assert point.i_ty == pytest.approx(entropy_bits([s / 10 for s in sizes]), abs=1e-12)
    assert point.i_ty == pytest.approx(point.h_y, abs=1e-12)
    same = kde_information_plane(torch.ones(10, 3), y, noise_var=0.1, bound=bound)
    assert same.i_xt == pytest.approx(0.0, abs=1e-12) and same.i_ty == pytest.approx(0.0, abs=1e-12)


def test_kde_lower_never_exceeds_upper():
    g = torch.Generator().manual_seed(6)
    for noise_var in (1e-3, 1e-1, 10.0):
        T = torch.randn(200, 5, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (200,), generator=g)
        lower = kde_information_plane(T, y, noise_var=noise_var, bound="lower")
        upper = kde_information_plane(T, y, noise_var=noise_var, bound="upper")
        assert 0.0 <= lower.i_xt <= upper.i_xt <= math.log2(200) + 1e-12


def test_kde_independent_classes_give_near_zero():
    # Both classes from one distribution: the only I(T~;Y) left is the finite-sample bias of the
    # class-wise bounds, of order E[1/g]/n_y (g the mixture density ratio; about 4/1000 nats here).
    g = torch.Generator().manual_seed(7)
    n = 2000
    T = torch.randn(n, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (n,), generator=g)
    for bound in ("upper", "lower"):
        assert abs(kde_information_plane(T, y, noise_var=1.0, bound=bound).i_ty) < 0.01


def test_kde_blocks_do_not_change_the_answer():
    g = torch.Generator().manual_seed(8)
    T = torch.randn(50, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (50,), generator=g)
    whole = kde_information_plane(T, y)
    blocked = kde_information_plane(T, y, block_rows=7)
    assert (blocked.i_xt, blocked.i_ty) == pytest.approx((whole.i_xt, whole.i_ty), abs=1e-12)


def test_kde_input_errors():
    T = torch.randn(10, 2)
    with pytest.raises(DeepscopeError, match="bound"):
        kde_information_plane(T, torch.zeros(10), bound="middle")
    with pytest.raises(DeepscopeError, match="noise_var"):
        kde_information_plane(T, torch.zeros(10), noise_var=0.0)
    with pytest.raises(DeepscopeError, match="labels"):
        kde_information_plane(T, torch.zeros(11))
    with pytest.raises(DeepscopeError, match="2-D"):
        kde_information_plane(torch.randn(10), torch.zeros(10))
