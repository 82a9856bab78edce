"""Relative parameter change and the empirical NTK against hand computations and a dense Jacobian."""
import math

import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.metrics.dynamics import empirical_ntk, kernel_distance, relative_change

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # torch's jvp


def tiny(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def test_relative_change_both_forms_by_hand():
    a = {"w": torch.tensor([3.0, 4.0]), "b": torch.tensor([0.0, 1.0])}      # norms 5 and 1
    b = {"w": torch.tensor([3.0, 4.0]) * 1.2, "b": torch.tensor([0.0, 2.0])}  # moved by 1 and 1
    rc = relative_change(a, b)
    assert rc.global_ == pytest.approx(math.sqrt(2) / math.sqrt(26))
    assert rc.sum_of_norms == pytest.approx(2 / 6)                           # the seed's ratio of sums
    assert rc.per_tensor == pytest.approx({"w": 0.2, "b": 1.0}) and float(rc) == rc.global_
    model = tiny()
    assert relative_change(model, model).global_ == 0.0
    with pytest.raises(DeepscopeError, match="same parameter names"):
        relative_change(a, {"w": a["w"]})


def test_ntk_equals_the_dense_jacobian_product():
    model = tiny().double()
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    params = dict(model.named_parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params.values()])

    def f(theta):
        chunks = torch.split(theta, [p.numel() for p in params.values()])
        shaped = {k: c.reshape(p.shape) for (k, p), c in zip(params.items(), chunks)}
        return torch.func.functional_call(model, shaped, (x,))

    J = torch.autograd.functional.jacobian(f, flat).reshape(4 * 2, -1)     # rows (i, k)
    dense = (J @ J.T).reshape(4, 2, 4, 2).permute(0, 2, 1, 3)               # [i, j, k, l]
    assert torch.allclose(empirical_ntk(model, x), dense, atol=1e-12)


def test_kernel_distance():
    K = torch.randn(5, 5)
    K = K @ K.T
    assert kernel_distance(K, 3 * K) == pytest.approx(0.0, abs=1e-12)
    assert kernel_distance(torch.eye(2), torch.tensor([[0.0, 1.0], [1.0, 0.0]])) == pytest.approx(1.0)
    with pytest.raises(DeepscopeError, match="same shape"):
        kernel_distance(K, K[:2])


def test_ntk_bad_input():
    with pytest.raises(DeepscopeError, match="NaN"):
        empirical_ntk(tiny(), torch.full((2, 3), float("nan")))
    frozen = tiny().requires_grad_(False)
    with pytest.raises(DeepscopeError, match="no trainable parameters"):
        empirical_ntk(frozen, torch.zeros(2, 3))
