import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import ResNet18, build_model
from deepscope.probe.capture import capture


def test_parameter_count_matches_cifar_resnet18():
    model = build_model("resnet18", in_channels=3, num_classes=10)
    assert isinstance(model, ResNet18) and sum(p.numel() for p in model.parameters()) == 11_173_962


def test_architecture_cifar_stem_stages_and_shortcuts():
    model = build_model("resnet18", in_channels=2, num_classes=5, width=4)
    conv = model.stem.conv_bn.conv
    assert (conv.kernel_size, conv.stride, conv.padding, conv.bias) == ((3, 3), (1, 1), (1, 1), None)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert [len(stage) for stage in model.stages] == [2, 2, 2, 2]
    assert isinstance(model.stages[0][0].shortcut, torch.nn.Identity)                     # same shape: identity
    assert all(stage[0].shortcut.conv.kernel_size == (1, 1) for stage in model.stages[1:])  # 1x1 conv + BN
    features = capture(model, torch.randn(3, 2, 16, 16), ["stem", "stage1", "stage2", "stage3", "stage4", "pool"])
    assert [f.shape[1] for f in features.values()] == [4 * 256, 4 * 256, 8 * 64, 16 * 16, 32 * 4, 32]
    assert all((f >= 0).all() for f in features.values())                                # post-ReLU, pooled ReLU
    assert model.eval()(torch.randn(3, 2, 16, 16)).shape == (3, 5)


def test_block_and_fc_dropout_are_separate_and_used():
    model = build_model("resnet18", width=4, block_dropout=0.3, fc_dropout=0.6)
    assert [d.p for d in model.stage_dropouts] == [0.3] * 4 and model.fc_dropout.p == 0.6
    dropouts = [*model.stage_dropouts, model.fc_dropout]
    assert len({id(d) for d in dropouts}) == 5
    calls = []
    for d in dropouts:
        d.register_forward_hook(lambda module, inputs, output: calls.append((module, inputs[0], output)))
    model.train()(torch.randn(2, 3, 8, 8))
    assert [module for module, _, _ in calls] == dropouts                          # each runs once, in order
    assert all(not torch.equal(i, o) for _, i, o in calls)                          # and drops in training


def test_stage_probe_sees_the_output_before_dropout():
    model = build_model("resnet18", width=4, block_dropout=0.5)
    seen = {}
    model.stages[1].register_forward_hook(lambda m, i, o: seen.setdefault("stage", o))
    model.stage_dropouts[1].register_forward_hook(lambda m, i, o: seen.setdefault("dropout_in", i[0]))
    model.train()(torch.randn(2, 3, 8, 8))
    assert seen["stage"] is seen["dropout_in"]


def test_bad_options_and_inputs_are_refused():
    with pytest.raises(DeepscopeError, match="fc_dropout is a dropout probability"):
        build_model("resnet18", fc_dropout=1.0)
    with pytest.raises(DeepscopeError, match="width must be an integer >= 1"):
        build_model("resnet18", width=0)
    with pytest.raises(DeepscopeError, match=r"\[n, 3, H, W\]"):
        build_model("resnet18", width=4)(torch.randn(2, 1, 8, 8))
