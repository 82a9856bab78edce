import warnings

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.probe import LargeCaptureWarning, SkippedProbePointWarning, capture, probe_points


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


class Reordered(nn.Module):
    """Registered in another order than it runs: head first, body last."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(5, 2)
        self.body = nn.Sequential(nn.Linear(4, 5), nn.Tanh())

    def forward(self, x):
        return self.head(self.body(x))


def test_default_points_are_leaf_modules_in_forward_order():
    torch.manual_seed(0)
    net, x = Reordered(), torch.randn(7, 4)
    assert probe_points(net) == ["head", "body.0", "body.1"]        # registration order, no containers
    assert probe_points(net, x) == ["body.0", "body.1", "head"]     # the order the hooks fire
    feats = capture(net, x)
    assert list(feats) == ["body.0", "body.1", "head"]
    with torch.no_grad():
        torch.testing.assert_close(feats["head"], net(x))
        torch.testing.assert_close(feats["body.1"], torch.tanh(net.body[0](x)))
    assert list(capture(net, x, ["head", "body.0"])) == ["body.0", "head"]   # forward order, not the caller's


def test_declared_probe_points_are_the_default():
    m = _trained_like_mlp()
    assert probe_points(m) == list(m.probe_points()) == ["input", "hidden1", "hidden2", "hidden3", "logits"]


def test_a_single_name_is_one_point():
    feats = capture(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), torch.randn(5, 3), "1")
    assert list(feats) == ["1"] and feats["1"].shape == (5, 4)


def test_numpy_inputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    x = np.random.default_rng(0).normal(size=(6, 4))                # float64 -> float32
    torch.testing.assert_close(capture(net, x)["1"], capture(net, torch.tensor(x, dtype=torch.float32))["1"])
    assert probe_points(net, x) == ["0", "1"]
    emb = nn.Sequential(nn.Embedding(10, 3))
    ids = np.array([[1, 2], [3, 9]], dtype=np.int32)                # integers -> int64 token ids
    torch.testing.assert_close(capture(emb, ids)["0"], emb[0].weight.detach()[torch.tensor(ids).long()].reshape(2, 6))
    with pytest.raises(DeepscopeError, match="dtype bool"):
        capture(net, np.ones((2, 4), dtype=bool))
    with pytest.raises(DeepscopeError, match="torch.Tensor or a numpy array"):
        capture(net, [[0.0] * 4])
    with pytest.raises(DeepscopeError, match="no samples"):
        capture(net, np.zeros((0, 4)))


def test_outputs_are_copied_before_in_place_operations():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))
    x = torch.randn(20, 4)
    feats = capture(net, x, ["0"])
    with torch.no_grad():
        torch.testing.assert_close(feats["0"], net[0](x))
    assert bool((feats["0"] < 0).any())


def test_large_capture_warns_with_points_size_and_advice():
    net = nn.Sequential(nn.Linear(3, 1000), nn.ReLU(), nn.Linear(1000, 10))
    x = torch.randn(50, 3)
    with pytest.warns(LargeCaptureWarning) as record:
        capture(net, x, batch_size=20, warn_bytes=100_000)
    message = str(record[0].message)
    # (1000 + 1000 + 10) features x 50 samples x 4 bytes = 402,000 bytes = 393 KiB; each wide point 195 KiB
    assert "3 probe point(s) for 50 samples" in message and "393 KiB" in message
    assert "'0' 195 KiB" in message and "'1' 195 KiB" in message
    assert "fewer points" in message and "fewer samples" in message and "out_device='cpu'" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        capture(net, x)                                             # far below the 1 GiB default


class SharedActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(3, 4), nn.Linear(4, 4), nn.ReLU()
        self.unused = nn.Linear(4, 4)

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


def test_a_module_used_twice_is_refused_when_asked_for_and_left_out_by_default():
    net, x = SharedActivation(), torch.randn(6, 3)
    with pytest.raises(DeepscopeError, match=r"'act' \(ReLU\) ran more than once in one forward pass \(2 times\)"
                                             r".*distinct module instance"):
        capture(net, x, ["fc1", "act"])
    with pytest.warns(SkippedProbePointWarning, match="'act'"):
        feats = capture(net, x)
    assert list(feats) == ["fc1", "fc2"]                            # 'unused' never ran: left out silently
    with pytest.raises(DeepscopeError, match="'unused' .*never ran"):
        capture(net, x, "unused")


def test_two_names_for_one_module_object_are_refused():
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.Tanh())
    net.add_module("again", shared)
    with pytest.raises(DeepscopeError, match=r"\['0', 'again'\] are all the same Linear object"):
        capture(net, torch.randn(4, 3), ["0", "again"])
