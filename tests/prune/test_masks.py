"""Masks as parametrization buffers: the effective weight is weight * mask and removed weights stay 0."""
import pytest
import torch
from conftest import train_config

from deepscope import DeepscopeError, Trainer
from deepscope.prune import (apply_masks, default_prunable, masks_of, prune_by_magnitude, remove_masks,
                             sparsity)
from deepscope.prune.masks import weight_of

NAMES = ["hidden.0.linear.weight", "hidden.1.linear.weight", "head.linear.weight"]


def assert_removed_are_zero(model, masks):
    for name, mask in masks.items():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        assert torch.equal(weight_of(model, name)[~mask], torch.zeros(int((~mask).sum())))
        assert bool((module.parametrizations.weight.original[~mask] == 0).all())
    assert torch.equal(masks_of(model)["head.linear.weight"], masks["head.linear.weight"])


def test_default_prunable_weights_are_linear_weights_only(mlp):
    assert default_prunable(mlp) == NAMES
    assert default_prunable(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))) == ["0.weight"]


def test_forward_uses_weight_times_mask(mlp, data):
    x = data[0]
    masks = prune_by_magnitude(mlp, 0.5)
    dense = {name: weight_of(mlp, name).detach().clone() for name in NAMES}
    apply_masks(mlp, masks)
    assert mlp.hidden[0].linear.parametrizations.weight[0].mask.dtype == torch.bool
    for name in NAMES:
        assert torch.equal(weight_of(mlp, name), dense[name] * masks[name])
    h = torch.relu(x @ (dense[NAMES[0]] * masks[NAMES[0]]).T + mlp.hidden[0].linear.bias)
    assert torch.allclose(mlp.hidden[0](x), h)


@pytest.mark.parametrize("settings", [{"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-2},
                                      {"optimizer": "adam", "lr": 1e-2, "weight_decay": 1e-2},
                                      {"optimizer": "adamw", "lr": 1e-2, "weight_decay": 1e-2}])
def test_removed_weights_stay_zero_with_the_trainers_flat_optimizers(mlp, data, settings):
    masks = prune_by_magnitude(mlp, 0.6, scope="layerwise")
    apply_masks(mlp, masks)
    before = weight_of(mlp, NAMES[0]).detach().clone()
    Trainer(mlp, *data, train_config(**settings)).fit()
    assert not torch.equal(weight_of(mlp, NAMES[0]), before)  # it trained
    assert_removed_are_zero(mlp, masks)


def test_removed_weights_stay_zero_with_torch_sgd_momentum_and_weight_decay(mlp, data):
    masks = prune_by_magnitude(mlp, 0.3)
    apply_masks(mlp, masks)
    optimizer = torch.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    Trainer(mlp, *data, train_config(), optimizer=optimizer).fit()
    assert_removed_are_zero(mlp, masks)


def test_effective_weight_is_zero_even_with_momentum_from_before_pruning(mlp, data):
    optimizer = torch.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    Trainer(mlp, *data, train_config(epochs=1), optimizer=optimizer).fit()
    masks = prune_by_magnitude(mlp, 0.5)
    apply_masks(mlp, masks)  # the same Parameter objects, so the old optimizer and its momentum still act on them
    Trainer(mlp, *data, train_config(epochs=1), optimizer=optimizer).fit()
    for name, mask in masks.items():
        assert not bool(weight_of(mlp, name)[~mask].any())


def test_sparsity_counts_the_masks(mlp):
    assert sparsity(mlp).overall == 1.0 and sparsity(mlp).size == dict(zip(NAMES, [320, 128, 24]))
    masks = {name: torch.ones_like(weight_of(mlp, name), dtype=torch.bool) for name in NAMES}
    masks[NAMES[1]][:4] = False  # 4 rows of 16
    apply_masks(mlp, masks)
    remaining = sparsity(mlp)
    assert remaining.kept == {NAMES[0]: 320, NAMES[1]: 64, NAMES[2]: 24}
    assert remaining.per_layer[NAMES[1]] == 0.5 and remaining.overall == (472 - 64) / 472


def test_masks_on_chosen_tensors_only(mlp):
    apply_masks(mlp, {NAMES[1]: torch.zeros(8, 16)})
    assert list(masks_of(mlp)) == [NAMES[1]] and list(sparsity(mlp).kept) == [NAMES[1]]
    assert list(prune_by_magnitude(mlp, 0.2)) == [NAMES[1]]


def test_remove_masks_bakes_them_in(mlp):
    masks = prune_by_magnitude(mlp, 0.5)
    effective = {name: weight_of(apply_masks(mlp, masks), name).detach().clone() for name in NAMES}
    remove_masks(mlp)
    assert masks_of(mlp) == {} and set(mlp.state_dict()) == {f"{n}.{t}" for n in
                                                             ("hidden.0.linear", "hidden.1.linear", "head.linear")
                                                             for t in ("weight", "bias")}
    for name in NAMES:
        assert isinstance(weight_of(mlp, name), torch.nn.Parameter)
        assert torch.equal(weight_of(mlp, name), effective[name])


def test_reapplying_masks_replaces_them(mlp):
    first = prune_by_magnitude(mlp, 0.2)
    apply_masks(mlp, first)
    second = prune_by_magnitude(mlp, 0.2)
    apply_masks(mlp, second)
    assert all(torch.equal(masks_of(mlp)[n], second[n]) for n in NAMES)
    assert len(mlp.hidden[0].linear.parametrizations.weight) == 1


def test_bad_masks_are_refused(mlp):
    with pytest.raises(DeepscopeError, match=r"shape \(16, 19\) but the weight is \(16, 20\)"):
        apply_masks(mlp, {NAMES[0]: torch.ones(16, 19)})
    with pytest.raises(DeepscopeError, match="other than 0 and 1"):
        apply_masks(mlp, {NAMES[0]: torch.full((16, 20), 0.5)})
    with pytest.raises(DeepscopeError, match="not a floating-point tensor"):
        apply_masks(mlp, {"hidden.7.linear.weight": torch.ones(16, 20)})
    assert masks_of(mlp) == {}


def test_a_model_without_prunable_weights_is_refused():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(4))
    for call in (sparsity, lambda m: prune_by_magnitude(m, 0.2)):
        with pytest.raises(DeepscopeError, match="no prunable weights"):
            call(model)
