import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import Transformer, build_model
from deepscope.probe.capture import capture

OPTIONS = {"vocab_size": 13, "num_classes": 3, "seq_len": 5, "n_layer": 2, "n_embd": 16, "n_head": 4}


def _outputs(model: Transformer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-position outputs [n, T, d] of every attention and MLP sub-block and block."""
    out: dict[str, torch.Tensor] = {}
    points = {name: m for name, m in model.probe_points().items() if name.startswith("block")}
    handles = [m.register_forward_hook(lambda _m, _i, o, name=name: out.__setitem__(name, o))
               for name, m in points.items()]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return out


def test_shapes_parameter_count_and_probe_points():
    model = build_model("transformer", **OPTIONS)
    d, v, s, k, n_layer = 16, 13, 5, 3, 2
    assert sum(p.numel() for p in model.parameters()) == v * d + s * d + n_layer * (12 * d * d + 13 * d) + 2 * d \
        + d * k + k                                        # embeddings, blocks (4x MLP), final LN, head
    assert list(model.probe_points()) == ["block1.attn", "block1.mlp", "block1", "block2.attn", "block2.mlp",
                                          "block2", "features", "logits"]
    x = torch.randint(0, 13, (4, 5))
    features = capture(model, x)
    assert features["block1.attn"].shape == (4, 5 * d) and features["features"].shape == (4, d)
    assert features["logits"].shape == (4, 3)
    assert model(x[:, :2]).shape == (4, 3)                 # shorter sequences are fine


def test_features_are_the_final_layernorm_at_the_last_position():
    model = build_model("transformer", **OPTIONS).eval()
    x = torch.randint(0, 13, (3, 4))
    stream = _outputs(model, x)["block2"]
    features = capture(model, x, ["features"])["features"]
    torch.testing.assert_close(features, model.ln_f(stream[:, -1]))


def test_attention_is_causal():
    model = build_model("transformer", **OPTIONS)
    x = torch.randint(0, 13, (2, 5))
    later, earlier = x.clone(), x.clone()
    later[:, 3] = (x[:, 3] + 1) % 13
    earlier[:, 1] = (x[:, 1] + 1) % 13
    base, changed_later, changed_earlier = _outputs(model, x), _outputs(model, later), _outputs(model, earlier)
    for name, out in base.items():
        torch.testing.assert_close(changed_later[name][:, :3], out[:, :3])     # the past never sees the future
        assert not torch.allclose(changed_later[name][:, 3:], out[:, 3:])
        assert (changed_earlier[name][:, 1:] - out[:, 1:]).abs().amax(dim=2).gt(1e-6).all()  # every later position
        torch.testing.assert_close(changed_earlier[name][:, :1], out[:, :1])


def test_dropout_is_used_in_training_only():
    model = build_model("transformer", **{**OPTIONS, "dropout": 0.5})
    x = torch.randint(0, 13, (2, 5))
    assert not torch.equal(model.train()(x), model(x))
    assert torch.equal(model.eval()(x), model(x))


def test_bad_options_and_inputs_are_refused():
    with pytest.raises(DeepscopeError, match=r"n_embd \(10\) must be divisible by n_head \(4\)"):
        build_model("transformer", vocab_size=5, num_classes=2, n_embd=10, n_head=4)
    model = build_model("transformer", **OPTIONS)
    with pytest.raises(DeepscopeError, match="seq_len = 5.*shape \\[2, 6\\]"):
        model(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(DeepscopeError, match="int64 token ids"):
        model(torch.zeros(2, 3))
    with pytest.raises(DeepscopeError, match=r"\[0, vocab_size = 13\)"):
        model(torch.full((2, 3), 13))
