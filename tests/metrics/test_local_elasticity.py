"""Local elasticity (He & Su 2020): the one-step impact against its closed form and its NTK limit."""
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.metrics.dynamics import empirical_ntk
from deepscope.metrics.elasticity import local_elasticity, ntk_impact, step_impact


def _linear(d: int, k: int, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(d, k).double()


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_linear_model_step_equals_the_closed_form_for_any_step(loss):
    torch.manual_seed(1)
    x = torch.randn(7, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (7,))
    phi = torch.cat([x, torch.ones(7, 1, dtype=torch.float64)], 1)     # the bias is a weight on a constant 1
    gram = phi @ phi.T
    expected = gram.abs() / gram.diagonal()[:, None]                  # |φ(x_i)ᵀφ(x_j)| / ‖φ(x_i)‖²
    for lr in (1e-3, 0.5, 3.0):
        model = _linear(5, 3)
        before = [p.clone() for p in model.parameters()]
        got = step_impact(model, x, y, lr, loss=loss, chunk=3)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))   # the model is untouched
    torch.testing.assert_close(ntk_impact(_linear(5, 3), x, y, loss=loss), expected, rtol=1e-9, atol=1e-12)


def test_one_step_by_hand_on_a_small_net():
    """S[i, j] from an explicit optimizer.step() on a copy of the net, one source at a time."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    got = step_impact(net, x, y, 0.1, chunk=2)
    for i in range(5):
        copy = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
        copy.load_state_dict(net.state_dict())
        opt = torch.optim.SGD(copy.parameters(), lr=0.1)
        nn.functional.cross_entropy(copy(x[i:i + 1]), y[i:i + 1]).backward()
        before = copy(x).detach()
        opt.step()
        change = (copy(x).detach() - before).norm(dim=1)
        torch.testing.assert_close(got[i], change / change[i], rtol=1e-10, atol=1e-12)


def test_ntk_form_is_the_small_step_limit_to_first_order():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 2, 2])
    limit = ntk_impact(net, x, y)
    errors = [float((step_impact(net, x, y, lr) - limit).abs().max()) for lr in (0.4, 0.2, 0.1, 0.05)]
    assert errors[0] > 1e-4                                           # a finite step is not first order ...
    for big, small in zip(errors, errors[1:]):
        assert 0.35 < small / big < 0.65                              # ... the gap halves with the step: O(η)
    assert float((step_impact(net, x, y, 1e-6) - limit).abs().max()) < 1e-5


def test_ntk_form_is_the_empirical_ntk_contracted_with_the_loss_gradient():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0])
    kernel = empirical_ntk(net, x)                                    # Θ[j, i, l, k]
    probs = torch.softmax(net(x).detach(), 1)
    g = probs - nn.functional.one_hot(y, 4).double()                  # ∂CE/∂f at each x_i
    change = torch.einsum("jilk,ik->ijl", kernel, g).norm(dim=2)
    torch.testing.assert_close(ntk_impact(net, x, y, chunk=2), change / change.diagonal()[:, None])


def test_class_matrix_and_ratio_by_hand():
    impact = torch.tensor([[1.0, 0.8, 0.1, 0.3],
                           [0.6, 1.0, 0.2, 0.2],
                           [0.1, 0.1, 1.0, 0.4],
                           [0.5, 0.3, 0.9, 1.0]])
    y = torch.tensor([0, 0, 1, 1])
    le = local_elasticity(impact, y)
    torch.testing.assert_close(le.matrix, torch.tensor([[0.7, 0.2], [0.25, 0.65]], dtype=torch.float64))
    assert le.same == pytest.approx((0.8 + 0.6 + 0.4 + 0.9) / 4)
    assert le.other == pytest.approx((0.1 + 0.3 + 0.2 + 0.2 + 0.1 + 0.1 + 0.5 + 0.3) / 8)
    assert float(le) == pytest.approx(le.same / le.other)


def test_bad_input_is_refused():
    net = _linear(3, 2)
    x, y = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1])
    with pytest.raises(DeepscopeError, match="lr"):
        step_impact(net, x, y, 0.0)
    with pytest.raises(DeepscopeError, match="loss"):
        step_impact(net, x, y, 0.1, loss="hinge")
    with pytest.raises(DeepscopeError, match="int64"):
        step_impact(net, x, y.float(), 0.1)
    with pytest.raises(DeepscopeError, match="two"):
        local_elasticity(torch.ones(2, 2), torch.tensor([0, 1]))
