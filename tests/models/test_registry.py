import json

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import MLP, MODELS, REQUIRED, build_model, format_models_table


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_existing_mlp_calls_still_work():
    m = build_model("mlp", in_features=100, num_classes=10, hidden_dim=100, depth=6, p=0.05)
    assert isinstance(m, MLP) and len(m.hidden) == 5 and m.hidden[0].dropout.p == 0.05
    m = build_model("mlp", in_features=20, num_classes=4, hidden=(16, 8), p=0.1, activation="tanh", batchnorm=False)
    assert [block.linear.out_features for block in m.hidden] == [16, 8] and not hasattr(m.head, "bn")
    assert m.build_spec["options"]["hidden"] == [16, 8]                     # a tuple is stored as a JSON list
    with pytest.raises(DeepscopeError, match="depth"):
        build_model("mlp", in_features=4, num_classes=2, depth=0)


def test_seed_reproduces_torch_manual_seed_without_touching_the_global_rng(small):
    name, options, _ = small
    state = torch.get_rng_state()
    a, b = build_model(name, seed=3, **options), build_model(name, seed=3, **options)
    assert torch.equal(torch.get_rng_state(), state)                        # caller's RNG untouched
    assert _same_weights(a, b)
    assert not _same_weights(a, build_model(name, seed=4, **options))
    torch.manual_seed(3)
    assert _same_weights(a, MODELS[name].constructor(**options))            # what seeding by hand gives


def test_seed_none_draws_from_the_global_rng():
    options = {"in_channels": 1, "num_classes": 3, "input_size": 16}
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a = build_model("lenet", seed=None, **options)
    assert not torch.equal(torch.get_rng_state(), before)                   # it drew from the global RNG
    torch.manual_seed(7)
    assert _same_weights(a, build_model("lenet", seed=None, **options))
    assert a.build_spec["seed"] is None
    with pytest.raises(DeepscopeError, match="seed must be an integer"):
        build_model("lenet", seed=1.5)


def test_build_spec_is_complete_plain_data_and_rebuilds_the_model(small):
    name, options, _ = small
    model = build_model(name, seed=5, **options)
    spec = json.loads(json.dumps(model.build_spec))
    assert spec["name"] == name and spec["seed"] == 5
    assert list(spec["options"]) == list(MODELS[name].options)              # every option, defaults filled in
    assert _same_weights(model, build_model(spec["name"], seed=spec["seed"], **spec["options"]))


def test_numpy_scalars_become_python_numbers_and_objects_are_refused():
    m = build_model("lenet", num_classes=np.int64(3))
    assert type(m.build_spec["options"]["num_classes"]) is int
    with pytest.raises(DeepscopeError, match="plain data"):
        build_model("mlp", in_features=4, num_classes=2, hidden=[torch.nn.Linear(1, 1)])


def test_unknown_model_lists_the_models():
    with pytest.raises(DeepscopeError, match="unknown model 'vgg'.*mlp, lenet, resnet18, transformer"):
        build_model("vgg")


def test_unknown_and_missing_options_name_the_option_and_list_the_accepted_ones():
    with pytest.raises(DeepscopeError, match=r"unknown option\(s\) widht.*in_channels=3, num_classes=10, width=64"):
        build_model("resnet18", widht=8)
    with pytest.raises(DeepscopeError, match=r"missing required option\(s\) num_classes.*vocab_size \(required\)"):
        build_model("transformer", vocab_size=10)


def test_options_come_from_the_constructor_signature():
    assert MODELS["lenet"].options == {"in_channels": 1, "num_classes": 10, "input_size": 32}
    assert MODELS["mlp"].options["in_features"] is REQUIRED and MODELS["mlp"].options["depth"] == 6
    assert all(info.description and "\n" not in info.description for info in MODELS.values())


def test_models_table_lists_names_options_and_probe_points():
    table = format_models_table()
    for name, info in MODELS.items():
        assert f"{name}: {info.description}" in table and info.options_text() in table
        example = build_model(name, **info.example)
        assert ", ".join(example.probe_points()) in table
    assert "input, hidden1..hidden{depth-1}, logits" in table
