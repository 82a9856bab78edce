"""Stochastic Lanczos quadrature: known spectra, unbiasedness, honest error bars, the Hutch++ sketch."""
import math
import random

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics.slq import lanczos_quadrature, slq_trace, stochastic_lanczos_quadrature


def diagonal(d: torch.Tensor):
    return lambda V: d[:, None] * V


def rotated(eigenvalues: torch.Tensor, seed: int = 0) -> torch.Tensor:
    n = eigenvalues.numel()
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen)).Q
    return (Q * eigenvalues) @ Q.T


def xlogx(x: torch.Tensor) -> torch.Tensor:
    return torch.xlogy(x, x)


@pytest.mark.parametrize("f, rel", [(torch.exp, 1e-12), (xlogx, 1e-7), (torch.sqrt, 1e-6), (torch.log, 1e-5)])
def test_diagonal_matrix_recovers_the_trace(f, rel):
    # Rademacher probes see a diagonal matrix exactly (z_i² = 1), so only the quadrature can err: 20 Gauss
    # nodes on [0.01, 1] are exact to rounding for the entire exp, less so near the singularities at 0
    d = torch.linspace(0.01, 1, 500, dtype=torch.float64)
    est = slq_trace(diagonal(d), 500, f, num_steps=20)
    assert est.value == pytest.approx(float(f(d).sum()), rel=rel)
    assert est.stderr < 1e-9


def test_few_distinct_eigenvalues_stop_early_and_are_exact():
    d = torch.tensor([0.1, 0.5, 2.0], dtype=torch.float64).repeat_interleave(50)  # Krylov space of dimension 3
    est = slq_trace(diagonal(d), 150, torch.log, num_steps=20)
    assert est.value == pytest.approx(float(torch.log(d).sum()), rel=1e-12)
    quad = lanczos_quadrature(diagonal(d), torch.ones(150, 2, dtype=torch.float64), 20)
    assert (quad.weights[:, 3:] == 0).all() and torch.isfinite(quad.nodes).all()
    assert torch.allclose(quad.weights.sum(dim=1), torch.full((2,), 150.0, dtype=torch.float64))


def test_rotated_spectrum_is_unbiased_with_honest_error_bars():
    eigenvalues = torch.linspace(0.05, 2.0, 200, dtype=torch.float64)
    A = rotated(eigenvalues)
    truth = float(torch.exp(eigenvalues).sum())
    z = []
    for seed in range(20):
        est = slq_trace(lambda V: A @ V, 200, torch.exp, num_probes=8, num_steps=15, seed=seed)
        z.append((est.value - truth) / est.stderr)
    z = np.array(z)
    assert abs(z.mean()) < 1.0                   # no bias beyond the noise of 20 means
    assert 0.5 < z.std() < 1.6                   # the error bar matches the spread across seeds
    assert (np.abs(z) < 3.5).all()


def test_sketch_removes_the_variance_of_a_few_large_eigenvalues():
    eigenvalues = torch.cat([torch.tensor([50.0, 40.0, 30.0, 20.0, 10.0]),
                             torch.linspace(0.01, 0.1, 295)]).double()
    A = rotated(eigenvalues, seed=1)
    truth = float(eigenvalues.sum())
    plain = slq_trace(lambda V: A @ V, 300, lambda x: x, num_probes=16, num_steps=10)
    sketched = slq_trace(lambda V: A @ V, 300, lambda x: x, num_probes=16, num_steps=10, sketch_size=8)
    assert sketched.stderr < plain.stderr / 20
    assert abs(sketched.value - truth) < 4 * sketched.stderr + 1e-9 * truth
    assert abs(plain.value - truth) < 4 * plain.stderr


def test_known_invariant_vectors_are_taken_exactly():
    eigenvalues = torch.linspace(0.1, 1.0, 100, dtype=torch.float64)
    eigenvalues[-1] = 100.0
    A = rotated(eigenvalues, seed=2)
    top = torch.linalg.eigh(A).eigenvectors[:, -1:]
    quad = stochastic_lanczos_quadrature(lambda V: A @ V, 100, num_probes=8, num_steps=12, known=top)
    assert float(quad.sketch.quadratic_forms(torch.log).sum()) == pytest.approx(math.log(100.0))
    est = quad.trace(torch.log)
    assert abs(est.value - float(torch.log(eigenvalues).sum())) < 4 * est.stderr


def test_float32_operator_with_float64_recursion():
    d = torch.linspace(0.1, 1, 300)
    est = slq_trace(diagonal(d), 300, torch.log, num_steps=20, dtype=torch.float32)
    assert est.value == pytest.approx(float(torch.log(d.double()).sum()), rel=1e-5)


def test_seeded_and_global_rngs_untouched():
    A = rotated(torch.linspace(0.1, 1, 50, dtype=torch.float64))
    random.seed(3)
    torch.manual_seed(3)
    states = random.getstate(), torch.get_rng_state().clone()
    a = slq_trace(lambda V: A @ V, 50, torch.exp, num_probes=4, sketch_size=2, seed=9)
    b = slq_trace(lambda V: A @ V, 50, torch.exp, num_probes=4, sketch_size=2, seed=9)
    assert a == b
    assert random.getstate() == states[0] and torch.equal(torch.get_rng_state(), states[1])


def test_bad_operators_and_arguments_are_explained():
    with pytest.raises(DeepscopeError, match="matvec"):
        slq_trace(lambda V: V[:, :1], 10, torch.exp, num_probes=3)
    with pytest.raises(DeepscopeError, match="num_probes"):
        slq_trace(lambda V: V, 10, torch.exp, num_probes=0)
