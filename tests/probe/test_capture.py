import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.probe import capture


def _trained_like_mlp():
    torch.manual_seed(0)
    m = build_model("mlp", in_features=12, num_classes=3, hidden_dim=7, depth=4, p=0.5)
    m.train()
    m(torch.randn(64, 12))  # non-trivial BatchNorm running statistics
    return m


def test_shapes_order_eval_mode_and_mode_restored():
    m = _trained_like_mlp()
    x = torch.randn(50, 3, 2, 2)
    feats = capture(m, x)
    assert list(feats) == ["input", "hidden1", "hidden2", "hidden3", "logits"]
    assert feats["input"].shape == (50, 12) and feats["hidden2"].shape == (50, 7) and feats["logits"].shape == (50, 3)
    torch.testing.assert_close(feats["input"], x.reshape(50, -1))  # raw input, before any BatchNorm
    assert m.training                                               # mode restored
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(feats["logits"], m(x))           # eval mode: dropout off, running stats
        h1 = m.hidden[0].act(m.hidden[0].linear(m.hidden[0].bn(x.reshape(50, -1))))
    torch.testing.assert_close(feats["hidden1"], h1)                # post-activation, before dropout


def test_batching_does_not_change_features():
    m = _trained_like_mlp()
    x = torch.randn(33, 12)
    whole = capture(m, x, ["hidden3"], batch_size=1000)
    pieces = capture(m, x, ["hidden3"], batch_size=4)
    torch.testing.assert_close(whole["hidden3"], pieces["hidden3"])


def test_any_module_by_submodule_name():
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    feats = capture(net, torch.randn(6, 4), ["1"])
    assert feats["1"].shape == (6, 5) and float(feats["1"].abs().max()) <= 1.0


def test_errors():
    m = _trained_like_mlp()
    with pytest.raises(DeepscopeError, match="unknown probe point"):
        capture(m, torch.randn(3, 12), ["nope"])
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    with pytest.raises(DeepscopeError, match="more than once"):
        capture(net, torch.randn(4, 3), ["0"])
