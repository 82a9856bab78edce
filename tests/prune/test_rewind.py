"""Rewinding to saved weights bit for bit with the masks kept, and the re-initialisation control."""
import pytest
import torch
from conftest import small_mlp, train_config

import deepscope
from deepscope import DeepscopeError, Schedule, Trainer
from deepscope.prune import masks_of, prune_by_magnitude, reinitialize, rewind, snapshot, sparsity
from deepscope.prune.masks import weight_of


def test_rewind_to_iteration_k_restores_kept_weights_bit_for_bit(mlp, data):
    saved = []
    config = train_config(optimizer="sgd", lr=0.1, momentum=0.9)
    Trainer(mlp, *data, config, schedule=Schedule.at([3]), callbacks=[lambda s: saved.append(snapshot(s.model))]).fit()
    at_k = saved[0]
    assert not torch.equal(at_k["hidden.0.linear.weight"], weight_of(mlp, "hidden.0.linear.weight"))
    masks = prune_by_magnitude(mlp, 0.2, scope="layerwise")
    rewind(mlp, at_k, masks)
    for name, value in at_k.items():
        expected = value * masks[name] if name in masks else value
        assert torch.equal(mlp.get_parameter(name) if name not in masks else weight_of(mlp, name), expected)
    assert all(torch.equal(masks_of(mlp)[n], m) for n, m in masks.items())
    Trainer(mlp, *data, config).fit()  # a second round trains the rewound, masked model
    assert sparsity(mlp).kept == {n: int(m.sum()) for n, m in masks.items()}


def test_snapshot_is_a_copy_and_rewind_keeps_current_masks_by_default(mlp, data):
    start = snapshot(mlp)
    masks = prune_by_magnitude(mlp, 0.5)
    rewind(mlp, start, masks)
    masked_start = snapshot(mlp)
    assert set(masked_start) == set(start)
    Trainer(mlp, *data, train_config(optimizer="adam", lr=1e-2)).fit()
    assert not torch.equal(start["head.linear.bias"], mlp.head.linear.bias)
    rewind(mlp, start)
    assert all(torch.equal(masks_of(mlp)[n], m) for n, m in masks.items())
    assert all(torch.equal(v, masked_start[k]) for k, v in snapshot(mlp).items())


def test_reinitialize_draws_new_weights_and_keeps_masks(mlp):
    masks = prune_by_magnitude(mlp, 0.5)
    rewind(mlp, snapshot(mlp), masks)
    before = weight_of(mlp, "hidden.0.linear.weight").detach().clone()
    state = torch.get_rng_state()
    reinitialize(mlp, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    fresh = small_mlp(seed=7)
    after = weight_of(mlp, "hidden.0.linear.weight")
    assert not torch.equal(after, before)
    assert torch.equal(after, fresh.hidden[0].linear.weight * masks["hidden.0.linear.weight"])
    assert all(torch.equal(masks_of(mlp)[n], m) for n, m in masks.items())


def test_snapshot_of_another_architecture_is_refused(mlp):
    other = deepscope.build_model("mlp", in_features=20, num_classes=3, hidden=[16, 9], batchnorm=False)
    with pytest.raises(DeepscopeError, match=r"shaped differently: hidden.1.linear.weight \(9, 16\) against \(8, 16\)"):
        rewind(mlp, snapshot(other))
    with pytest.raises(DeepscopeError, match="missing from this MLP: hidden.0.bn.weight"):
        rewind(mlp, snapshot(deepscope.build_model("mlp", in_features=20, num_classes=3, hidden=[16, 8])))


def test_reinitialize_needs_a_build_spec():
    with pytest.raises(DeepscopeError, match="no build_spec"):
        reinitialize(torch.nn.Linear(3, 2), seed=0)
