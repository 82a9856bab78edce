import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import LeNet, build_model
from deepscope.probe.capture import capture


def test_parameter_count_matches_lenet5():
    model = build_model("lenet", in_channels=1, num_classes=3, input_size=32)
    assert isinstance(model, LeNet) and sum(p.numel() for p in model.parameters()) == 61_111
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert [m.out_channels for m in (model.conv1.conv, model.conv2.conv)] == [6, 16]
    assert [model.fc1.linear.out_features, model.fc2.linear.out_features, model.logits.out_features] == [120, 84, 3]


@pytest.mark.parametrize(("size", "side"), [(32, 5), (28, 4), (17, 1), (16, 1)])
def test_flatten_size_follows_input_size(size, side):
    model = build_model("lenet", in_channels=3, num_classes=4, input_size=size)
    assert model.fc1.linear.in_features == 16 * side * side
    features = capture(model, torch.randn(2, 3, size, size), ["conv1", "conv2", "fc1", "fc2", "logits"])
    assert [f.shape[1] for f in features.values()] == [6 * ((size - 4) // 2) ** 2, 16 * side * side, 120, 84, 4]


def test_input_too_small_or_of_the_wrong_shape_is_refused():
    with pytest.raises(DeepscopeError, match="input_size 15 is too small.*16x16"):
        build_model("lenet", input_size=15)
    with pytest.raises(DeepscopeError, match="num_classes must be an integer >= 1"):
        build_model("lenet", num_classes=0)
    model = build_model("lenet", input_size=28)
    with pytest.raises(DeepscopeError, match=r"\[n, 1, 28, 28\].*\[2, 1, 32, 32\]"):
        model(torch.randn(2, 1, 32, 32))
