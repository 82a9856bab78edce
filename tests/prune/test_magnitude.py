"""Magnitude pruning: exact counts per round, smallest |w| first, the output layer at its own rate."""
import math

import pytest
import torch

from deepscope import DeepscopeError
from deepscope.prune import apply_masks, masks_of, prune_by_magnitude, random_masks_like, sparsity
from deepscope.prune.masks import weight_of

SIZES = {"hidden.0.linear.weight": 320, "hidden.1.linear.weight": 128, "head.linear.weight": 24}


def after_round(kept: int, rate: float) -> int:
    return kept - math.floor(rate * kept + 0.5)


def perturb(model, generator):
    """Move every weight (as training would), keeping removed weights at 0."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator))
    apply_masks(model, masks_of(model))


def removed_are_smallest(weights, old, new):
    """Every weight removed this round is no larger in |w| than every weight kept."""
    w = torch.cat([weights[n].detach().abs().flatten() for n in new])
    was, now = (torch.cat([m[n].flatten() for n in new]) for m in (old, new))
    return bool(w[was & ~now].max() <= w[now].min())


def test_global_rounds_remove_exact_counts_of_the_smallest(mlp):
    g = torch.Generator().manual_seed(0)
    total, layers_differ = 472, False
    for _ in range(5):
        old = {n: masks_of(mlp).get(n, torch.ones(weight_of(mlp, n).shape, dtype=torch.bool)) for n in SIZES}
        new = prune_by_magnitude(mlp, 0.2)
        total = after_round(total, 0.2)
        assert sum(int(m.sum()) for m in new.values()) == total
        assert all(bool((new[n] <= old[n]).all()) for n in SIZES)  # pruned weights stay pruned
        assert removed_are_smallest({n: weight_of(mlp, n) for n in SIZES}, old, new)
        apply_masks(mlp, new)
        layers_differ |= len({round(f, 3) for f in sparsity(mlp).per_layer.values()}) > 1
        perturb(mlp, g)
    assert sparsity(mlp).overall == total / 472 and total == 155  # 472 -> 378 -> 302 -> 242 -> 194 -> 155
    assert layers_differ  # one threshold across layers, not one fraction per layer


def test_layerwise_rounds_prune_each_layer_and_the_output_at_half_rate(mlp):
    g = torch.Generator().manual_seed(0)
    kept = dict(SIZES)
    for _ in range(4):
        old = {n: masks_of(mlp).get(n, torch.ones(weight_of(mlp, n).shape, dtype=torch.bool)) for n in SIZES}
        new = prune_by_magnitude(mlp, 0.2, scope="layerwise")
        kept = {n: after_round(k, 0.1 if n.startswith("head") else 0.2) for n, k in kept.items()}
        assert {n: int(m.sum()) for n, m in new.items()} == kept
        for n in SIZES:
            assert removed_are_smallest({n: weight_of(mlp, n)}, {n: old[n]}, {n: new[n]})
        apply_masks(mlp, new)
        perturb(mlp, g)
    assert kept == {"hidden.0.linear.weight": 131, "hidden.1.linear.weight": 53, "head.linear.weight": 16}
    assert sparsity(mlp).kept == kept


def test_output_rate_separates_the_output_layer_under_global_scope(mlp):
    masks = prune_by_magnitude(mlp, 0.5, output_rate=0.25)
    assert int(masks["head.linear.weight"].sum()) == 18
    assert sum(int(masks[n].sum()) for n in list(SIZES)[:2]) == 224
    kept = prune_by_magnitude(mlp, 0.5, scope="layerwise", output_rate=0)
    assert bool(kept["head.linear.weight"].all()) and int(kept["hidden.1.linear.weight"].sum()) == 64


def test_ties_go_to_the_first_entries(mlp):
    with torch.no_grad():
        mlp.hidden[0].linear.weight.fill_(1.0)
    mask = prune_by_magnitude(mlp, 0.25, scope="layerwise")["hidden.0.linear.weight"].flatten()
    assert not bool(mask[:80].any()) and bool(mask[80:].all())


def test_pruning_does_not_change_the_model(mlp):
    state = {k: v.clone() for k, v in mlp.state_dict().items()}
    prune_by_magnitude(mlp, 0.5)
    assert masks_of(mlp) == {} and all(torch.equal(v, state[k]) for k, v in mlp.state_dict().items())


def test_random_masks_keep_the_per_layer_counts(mlp):
    masks = prune_by_magnitude(mlp, 0.7, scope="layerwise")
    random = random_masks_like(masks, seed=3)
    assert {n: int(m.sum()) for n, m in random.items()} == {n: int(m.sum()) for n, m in masks.items()}
    assert any(not torch.equal(random[n], masks[n]) for n in masks)
    again = random_masks_like(masks, torch.Generator().manual_seed(3))
    assert all(torch.equal(again[n], random[n]) for n in masks)
    assert not torch.equal(random_masks_like(masks, seed=4)["hidden.0.linear.weight"], random["hidden.0.linear.weight"])


@pytest.mark.parametrize("rate", [0, 1, -0.1, 1.5, True, "0.2"])
def test_rates_outside_the_open_unit_interval_are_refused(mlp, rate):
    with pytest.raises(DeepscopeError, match=r"rate .* must lie in \(0, 1\)"):
        prune_by_magnitude(mlp, rate)


def test_bad_output_rate_and_scope_are_refused(mlp):
    with pytest.raises(DeepscopeError, match=r"output_rate .* must lie in \[0, 1\)"):
        prune_by_magnitude(mlp, 0.2, output_rate=1.0)
    with pytest.raises(DeepscopeError, match="unknown pruning scope 'local'"):
        prune_by_magnitude(mlp, 0.2, scope="local")
