import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import MLP, build_model


def test_architecture_matches_the_seed():
    m = build_model("mlp", in_features=100, num_classes=10, hidden_dim=50, depth=6, p=0.05)
    assert len(m.hidden) == 5
    first = m.hidden[0]
    assert isinstance(first.bn, torch.nn.BatchNorm1d) and first.bn.num_features == 100   # BN on the raw input
    assert isinstance(first.act, torch.nn.ReLU) and isinstance(first.dropout, torch.nn.Dropout)
    assert isinstance(m.head.bn, torch.nn.BatchNorm1d) and m.head.linear.out_features == 10
    assert list(m.probe_points()) == ["input", *[f"hidden{i}" for i in range(1, 6)], "logits"]
    assert m(torch.randn(4, 1, 10, 10)).shape == (4, 10)


def test_width_not_tied_to_input_and_options():
    m = MLP(784, 3, [32, 7], activation="tanh", batchnorm=False)
    assert not hasattr(m.hidden[0], "bn") and isinstance(m.hidden[1].act, torch.nn.Tanh)
    assert m(torch.randn(2, 784)).shape == (2, 3)
    with pytest.raises(DeepscopeError):
        MLP(10, 2, [5], activation="gelu")
    with pytest.raises(DeepscopeError):
        MLP(10, 2, [5], p=1.0)


def test_effective_classifier_folds_batchnorm():
    torch.manual_seed(0)
    m = build_model("mlp", in_features=6, num_classes=4, hidden_dim=8, depth=3)
    m.train()
    for _ in range(3):
        m(torch.randn(32, 6))      # move the running statistics away from their init
    m.eval()
    h = {}
    m.hidden[-1].act.register_forward_hook(lambda mod, i, o: h.setdefault("h", o))
    x = torch.randn(5, 6)
    logits = m(x)
    W, b = m.effective_classifier()
    torch.testing.assert_close(h["h"] @ W.T + b, logits)
