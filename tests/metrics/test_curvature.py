"""Hessian-vector products, top eigenvalues, trace and spectral density against exact Hessians.

Oracles: quadratics ½ wᵀAw (H = A, any chosen spectrum), least squares (H = 2 X̃ᵀX̃ / n for the mean squared
error), logistic and softmax regression (closed forms), a tiny MLP's dense Hessian from
torch.autograd.functional.hessian, and curvlinops' HessianLinearOperator with SciPy's eigsh when it is installed.
"""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.metrics import (HessianEigenvalues, HessianOperator, HessianSpectrum, hessian_eigenvalues,
                               hessian_spectrum, hessian_trace)

DT = torch.float64


def rotated(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), dtype=DT, generator=gen)).Q
    return (Q * eigenvalues) @ Q.T


class Quadratic(nn.Module):
    """Outputs its parameter w for every point; with :func:`quadratic_loss` the loss is ½ wᵀAw, so H = A."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(dim, dtype=DT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w.expand(len(x), -1)


def quadratic_loss(A: torch.Tensor):
    return lambda out, y: 0.5 * ((out @ A) * out).sum(dim=1).mean()


def quadratic(A: torch.Tensor, n: int = 6):
    return Quadratic(len(A)), quadratic_loss(A), torch.zeros(n, 1, dtype=DT), torch.zeros(n, dtype=DT)


def dense(model: nn.Module, loss_fn, x, y) -> torch.Tensor:
    """The Hessian of the mean loss by torch.autograd.functional.hessian over the flat trainable parameters."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for p in model.parameters() if p.requires_grad]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])

    def loss(theta):
        parts = dict(zip(names, (c.view(s) for c, s in zip(theta.split([math.prod(s) for s in shapes]), shapes))))
        return loss_fn(torch.func.functional_call(model, parts, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat)


def as_matrix(op: HessianOperator) -> torch.Tensor:
    return op.matvec(torch.eye(op.dim, dtype=op.dtype))


@pytest.fixture(scope="module")
def mlp():
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 10), nn.Tanh(), nn.Linear(10, 10), nn.Tanh(), nn.Linear(10, 3)).double()
    x = torch.randn(40, 6, dtype=DT, generator=gen)
    y = torch.randint(0, 3, (40,), generator=gen)
    return model, F.cross_entropy, x, y, dense(model, F.cross_entropy, x, y)


# ---------------------------------------------------------------------------------------------------------------
# Hessian-vector products


def test_least_squares_hessian_is_twice_the_gram_matrix():
    gen = torch.Generator().manual_seed(1)
    X, t = torch.randn(50, 4, dtype=DT, generator=gen), torch.randn(50, dtype=DT, generator=gen)
    model = nn.Linear(4, 1).double()
    op = HessianOperator(model, lambda out, y: F.mse_loss(out.squeeze(-1), y), X, t)
    Xt = torch.cat([X, torch.ones(50, 1, dtype=DT)], dim=1)  # parameter order: weight, then bias
    torch.testing.assert_close(as_matrix(op), 2 * Xt.T @ Xt / 50)
    assert op.count == op.dim == 5


def test_logistic_regression_hessian():
    gen = torch.Generator().manual_seed(2)
    X = torch.randn(60, 3, dtype=DT, generator=gen)
    t = torch.randint(0, 2, (60,), generator=gen).to(DT)
    model = nn.Linear(3, 1).double()
    op = HessianOperator(model, lambda out, y: F.binary_cross_entropy_with_logits(out.squeeze(-1), y), X, t)
    Xt = torch.cat([X, torch.ones(60, 1, dtype=DT)], dim=1)
    p = torch.sigmoid(model(X).squeeze(-1)).detach()
    torch.testing.assert_close(as_matrix(op), Xt.T @ (Xt * (p * (1 - p))[:, None]) / 60)


def test_softmax_regression_hessian_is_a_sum_of_kronecker_products():
    gen = torch.Generator().manual_seed(3)
    n, d, C = 30, 3, 4
    X, t = torch.randn(n, d, dtype=DT, generator=gen), torch.randint(0, C, (n,), generator=gen)
    model = nn.Linear(d, C).double()
    op = HessianOperator(model, F.cross_entropy, X, t)
    P = torch.softmax(model(X), dim=1).detach()
    Xt = torch.cat([X, torch.ones(n, 1, dtype=DT)], dim=1)
    # H over (class c, feature a) with a = d the bias: (1/n) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x̃_i x̃_iᵀ
    H = sum(torch.kron(torch.diag(P[i]) - torch.outer(P[i], P[i]), torch.outer(Xt[i], Xt[i])) for i in range(n)) / n
    order = [c * (d + 1) + a for c in range(C) for a in range(d)] + [c * (d + 1) + d for c in range(C)]
    torch.testing.assert_close(as_matrix(op), H[order][:, order])


def test_mlp_products_match_the_dense_hessian_in_any_batching(mlp):
    model, loss_fn, x, y, H = mlp
    V = torch.randn(H.shape[0], 3, dtype=DT, generator=torch.Generator().manual_seed(4))
    whole = HessianOperator(model, loss_fn, x, y)
    batched = HessianOperator(model, loss_fn, x, y, batch_size=7)  # 40 = 5 x 7 + 5: a short last batch
    torch.testing.assert_close(whole.matvec(V), H @ V)
    torch.testing.assert_close(batched.matvec(V), whole.matvec(V))
    torch.testing.assert_close(batched.matvec(V[:, 0]), H @ V[:, 0])
    assert (whole.count, batched.count) == (6, 4)


def test_only_trainable_parameters_count(mlp):
    model, loss_fn, x, y, H = mlp
    frozen = copy.deepcopy(model)
    frozen[0].requires_grad_(False)  # the first layer's 70 parameters
    op = HessianOperator(frozen, loss_fn, x, y)
    assert op.dim == H.shape[0] - 70
    torch.testing.assert_close(as_matrix(op), H[70:, 70:])


def test_eval_mode_is_used_then_every_flag_and_statistic_restored():
    gen = torch.Generator().manual_seed(5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 2)).double()
    x, y = torch.randn(20, 4, dtype=DT, generator=gen), torch.randint(0, 2, (20,), generator=gen)
    with torch.no_grad():
        model(x)  # non-trivial running statistics
    model[4].eval()  # a mixed state that must survive
    flags = [m.training for m in model.modules()]
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    first = hessian_eigenvalues(model, F.cross_entropy, x, y, k=2)
    assert [m.training for m in model.modules()] == flags
    expected = hessian_eigenvalues(copy.deepcopy(model).eval(), F.cross_entropy, x, y, k=2)
    assert first.eigenvalues == pytest.approx(expected.eigenvalues, rel=1e-10)  # dropout off, running statistics
    HessianOperator(model, F.cross_entropy, x, y, eval_mode=False).matvec(torch.ones(sum(p.numel() for p in
                                                                                          model.parameters()), dtype=DT))
    assert [m.training for m in model.modules()] == flags
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, stats[key], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------------------
# Top eigenvalues


def test_quadratic_top_k_eigenpairs_are_exact():
    eigenvalues = torch.cat([torch.tensor([5.0, 4.0, 3.5]), torch.linspace(-4.5, 1.0, 57)]).to(DT)
    A = rotated(eigenvalues)
    result = hessian_eigenvalues(*quadratic(A), k=3, tol=1e-10)
    assert result.converged and result.num_products < 60
    assert result.eigenvalues == pytest.approx((5.0, 4.0, 3.5), rel=1e-9)  # largest algebraic, not magnitude
    residual = A @ result.eigenvectors - result.eigenvectors * torch.tensor(result.eigenvalues, dtype=DT)
    assert float(residual.norm()) < 1e-8


def test_a_repeated_top_eigenvalue_is_found_as_often_as_it_occurs():
    # diagonal A with 3 distinct values: each Krylov space closes after 3 steps, so the second copy of 3.0
    # is found only by restarting outside it
    A = torch.diag(torch.tensor([3.0, 3.0] + [1.0] * 10 + [-2.0] * 8, dtype=DT))
    result = hessian_eigenvalues(*quadratic(A), k=3)
    assert result.converged and result.eigenvalues == pytest.approx((3.0, 3.0, 1.0), rel=1e-12)


def test_mlp_top_eigenvalues_match_the_dense_hessian(mlp):
    model, loss_fn, x, y, H = mlp
    exact = torch.linalg.eigh(H)
    for k in (1, 3):
        result = hessian_eigenvalues(model, loss_fn, x, y, k=k, tol=1e-4)
        assert result.converged
        top = exact.eigenvalues.flip(0)[:k]
        assert result.eigenvalues == pytest.approx(top.tolist(), rel=1e-4, abs=1e-4 * float(top[0]))
    overlap = float(result.eigenvectors[:, 0] @ exact.eigenvectors[:, -1])
    assert abs(overlap) > 1 - 1e-4
    batched = hessian_eigenvalues(model, loss_fn, x, y, k=3, batch_size=16)
    assert batched.eigenvalues == pytest.approx(result.eigenvalues, rel=1e-8)


def test_a_float32_network_is_accurate_to_the_tolerance(mlp):
    model, loss_fn, x, y, H = mlp
    result = hessian_eigenvalues(copy.deepcopy(model).float(), loss_fn, x.float(), y, tol=1e-4)
    assert result.eigenvectors.dtype == torch.float32
    assert float(result) == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-4)


def test_a_warm_start_from_the_previous_eigenvector_saves_products(mlp):
    model, loss_fn, x, y, _ = mlp
    before = hessian_eigenvalues(model, loss_fn, x, y)
    moved = copy.deepcopy(model)
    optimizer = torch.optim.SGD(moved.parameters(), lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        loss_fn(moved(x), y).backward()
        optimizer.step()
    cold = hessian_eigenvalues(moved, loss_fn, x, y, tol=1e-6)
    warm = hessian_eigenvalues(moved, loss_fn, x, y, tol=1e-6, v0=before.eigenvectors[:, 0])
    assert warm.converged and warm.num_products < cold.num_products
    assert float(warm) == pytest.approx(float(cold), rel=1e-6) and float(warm) != pytest.approx(float(before), rel=1e-4)


def test_the_global_rng_is_untouched_and_the_seed_decides(mlp):
    model, loss_fn, x, y, _ = mlp
    state = torch.get_rng_state()
    a = hessian_eigenvalues(model, loss_fn, x, y, k=2, seed=3)
    hessian_trace(model, loss_fn, x, y, num_probes=4)
    assert torch.equal(torch.get_rng_state(), state)
    b = hessian_eigenvalues(model, loss_fn, x, y, k=2, seed=3)
    assert a.eigenvalues == b.eigenvalues and a.num_products == b.num_products


# ---------------------------------------------------------------------------------------------------------------
# Trace and spectral density


def test_mlp_trace_is_within_three_standard_errors(mlp):
    model, loss_fn, x, y, H = mlp
    exact = float(torch.trace(H))
    plain = hessian_trace(model, loss_fn, x, y, num_probes=64)
    assert plain.num_probes == 64 and plain.stderr > 0
    assert abs(plain.value - exact) < 3 * plain.stderr
    sketched = hessian_trace(model, loss_fn, x, y, num_probes=64, sketch_size=10)
    assert sketched.stderr < plain.stderr and abs(sketched.value - exact) < 3 * sketched.stderr


def test_quadratic_trace_z_scores_are_honest():
    eigenvalues = torch.linspace(-1.0, 3.0, 40, dtype=DT)
    model, loss_fn, x, y = quadratic(rotated(eigenvalues, seed=6))
    z = np.array([(est.value - float(eigenvalues.sum())) / est.stderr
                  for est in (hessian_trace(model, loss_fn, x, y, num_probes=16, seed=s) for s in range(20))])
    assert abs(z.mean()) < 1.0 and 0.5 < z.std() < 1.6


def test_slq_recovers_a_discrete_spectrum_exactly():
    values = torch.tensor([-1.0, 0.5, 2.0, 7.0], dtype=DT)
    counts = torch.tensor([10, 20, 6, 4])
    A = torch.diag(values.repeat_interleave(counts))  # Rademacher probes see a diagonal matrix's weights exactly
    spectrum = hessian_spectrum(*quadratic(A), num_probes=3, num_steps=8)
    assert isinstance(spectrum, HessianSpectrum) and spectrum.num_products == 24
    live = spectrum.weights > 0
    for v, c in zip(values, counts):
        at = (spectrum.nodes - v).abs() < 1e-9
        assert float(spectrum.weights[at & live].sum()) == pytest.approx(int(c) / 40, rel=1e-9)
    assert float(spectrum.weights.sum()) == pytest.approx(1.0)
    grid = torch.linspace(-3, 9, 2401, dtype=DT)
    rho = spectrum.density(grid, sigma=0.1)
    assert float(rho.sum() * (grid[1] - grid[0])) == pytest.approx(1.0, rel=1e-6)
    assert float(grid[rho.argmax()]) == pytest.approx(0.5, abs=0.01)  # the heaviest eigenvalue


def test_slq_nodes_find_a_rotated_discrete_spectrum(mlp):
    values = torch.tensor([-1.0, 0.5, 2.0, 7.0], dtype=DT)
    A = rotated(values.repeat_interleave(torch.tensor([10, 20, 6, 4])), seed=7)
    spectrum = hessian_spectrum(*quadratic(A), num_probes=4, num_steps=8)
    live = spectrum.nodes[spectrum.weights > 1e-12]
    assert torch.allclose((live[:, None] - values[None]).abs().min(dim=1).values, torch.zeros(len(live), dtype=DT),
                          atol=1e-8)
    model, loss_fn, x, y, H = mlp  # and on a network, the extreme nodes approach the extreme eigenvalues
    eigenvalues = torch.linalg.eigvalsh(H)
    network = hessian_spectrum(model, loss_fn, x, y, num_probes=2, num_steps=40)
    assert float(network.nodes.max()) == pytest.approx(float(eigenvalues[-1]), rel=1e-6)
    assert float(network.nodes.min()) == pytest.approx(float(eigenvalues[0]), abs=1e-3 * float(eigenvalues[-1]))


# ---------------------------------------------------------------------------------------------------------------
# Results and bad input


def test_results_are_numbers_that_print_one_line(mlp):
    model, loss_fn, x, y, _ = mlp
    top = hessian_eigenvalues(model, loss_fn, x, y, k=2)
    assert isinstance(top, HessianEigenvalues) and float(top) == top.eigenvalues[0]
    assert str(top).startswith(f"Hessian λ_max {top.eigenvalues[0]:.6g} (top ") and "converged" in str(top)
    spectrum = hessian_spectrum(model, loss_fn, x, y, num_probes=2, num_steps=5)
    for result in (top, spectrum, hessian_trace(model, loss_fn, x, y, num_probes=4)):
        assert "\n" not in repr(result) and repr(result) == f"<{type(result).__name__} {result}>"
    assert str(hessian_eigenvalues(model, loss_fn, x, y, max_iter=2)).endswith("NOT converged")


class CountingLoss:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, out, y):
        self.calls += 1
        return F.cross_entropy(out, y)


def with_nan(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x[3, 1] = math.nan
    return x


BAD_INPUT = {
    "k=0": (lambda a: {**a, "k": 0}, "1 <= k < 213"),
    "k=dim": (lambda a: {**a, "k": 213}, "1 <= k < 213"),
    "k=True": (lambda a: {**a, "k": True}, "1 <= k"),
    "batch_size=0": (lambda a: {**a, "batch_size": 0}, "batch_size must be a positive"),
    "batch_size=2.5": (lambda a: {**a, "batch_size": 2.5}, "batch_size must be a positive"),
    "tol=0": (lambda a: {**a, "tol": 0.0}, "tol must be"),
    "max_iter<k": (lambda a: {**a, "k": 2, "max_iter": 1}, "max_iter must be"),
    "v0 shape": (lambda a: {**a, "v0": torch.ones(5)}, "v0 must be a tensor of 213"),
    "v0 zero": (lambda a: {**a, "v0": torch.zeros(213)}, "not all zeros"),
    "NaN in x": (lambda a: {**a, "x": with_nan(a["x"])}, r"x has 1 row\(s\) with NaN"),
    "lengths": (lambda a: {**a, "y": a["y"][:-1]}, "x has 40 rows but y has 39"),
    "empty": (lambda a: {**a, "x": a["x"][:0], "y": a["y"][:0]}, "empty"),
    "frozen": (lambda a: {**a, "model": copy.deepcopy(a["model"]).requires_grad_(False)}, "no trainable parameters"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_refused_before_any_work(mlp, case):
    model, _, x, y, _ = mlp
    loss = CountingLoss()
    change, message = BAD_INPUT[case]
    with pytest.raises(DeepscopeError, match=message):
        hessian_eigenvalues(**change(dict(model=model, loss_fn=loss, x=x, y=y)))
    assert loss.calls == 0


def test_other_bad_input_is_explained(mlp):
    model, loss_fn, x, y, _ = mlp
    targets = torch.zeros(40, 3, dtype=DT)
    targets[1, 0] = math.inf
    with pytest.raises(DeepscopeError, match=r"y has 1 row\(s\) with NaN or inf"):
        hessian_trace(model, F.mse_loss, x, targets)
    with pytest.raises(DeepscopeError, match="num_probes >= 1"):
        hessian_trace(model, loss_fn, x, y, num_probes=0)
    with pytest.raises(DeepscopeError, match="scalar"):
        hessian_eigenvalues(model, lambda out, t: F.cross_entropy(out, t, reduction="none"), x, y)
    with pytest.raises(DeepscopeError, match="sigma"):
        hessian_spectrum(model, loss_fn, x, y, num_probes=1, num_steps=2).density([0.0], sigma=0)


# ---------------------------------------------------------------------------------------------------------------
# Peer


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # raised on its import
def test_curvlinops_finds_the_same_top_eigenvalue(mlp):
    curvlinops = pytest.importorskip("curvlinops")
    from scipy.sparse.linalg import eigsh
    model, loss_fn, x, y, _ = mlp
    peer = curvlinops.HessianLinearOperator(model, nn.CrossEntropyLoss(), list(model.parameters()),
                                            [(x[:16], y[:16]), (x[16:], y[16:])]).to_scipy()
    theirs = float(eigsh(peer, k=1, which="LA", tol=1e-10)[0][0])
    assert float(hessian_eigenvalues(model, loss_fn, x, y, tol=1e-8)) == pytest.approx(theirs, rel=1e-8)
