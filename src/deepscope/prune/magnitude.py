"""Magnitude pruning (Frankle & Carbin, ICLR 2019) and its random-pruning control.

The rule of one round: of the ``m`` weights a group still keeps, remove the
``k = floor(rate * m + 1/2)`` (nearest integer, halves up) with the smallest ``|w|``; ties go to the
entry that comes first (tensors in module order, entries in row-major order), so the count is exact
and the choice deterministic. Removed weights stay removed. A group is all pruning targets but the
output layer (``scope="global"``: one threshold across layers) or each target alone
(``scope="layerwise"``: the same fraction of every layer). Frankle & Carbin prune the output layer
at half the rate of the others (e.g. 20% of the hidden weights and 10% of the output layer per round
for Lenet-300-100), so the output layer forms its own group at ``output_rate``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.prune.masks import masks_of, pruning_targets, weight_of

SCOPES = ("global", "layerwise")


def _check_rate(rate: float, name: str, *, low_closed: bool = False) -> None:
    number = isinstance(rate, (int, float)) and not isinstance(rate, bool)
    ok = number and (0 <= rate if low_closed else 0 < rate) and rate < 1
    if not ok:
        interval = "[0, 1)" if low_closed else "(0, 1)"
        raise DeepscopeError(f"{name} is the fraction of the remaining weights removed per round and must lie in "
                             f"{interval}; got {rate!r}. Pass e.g. 0.2 for 20%.")


def _prune_group(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], rate: float) -> list[torch.Tensor]:
    """New masks for one group: the ``round(rate * kept)`` smallest ``|w|`` still kept are removed."""
    scores = torch.cat([w.detach().abs().flatten() for w in weights])
    alive = torch.cat([m.flatten() for m in masks])
    candidates = alive.nonzero().squeeze(1)
    count = math.floor(rate * candidates.numel() + 0.5)
    order = torch.argsort(scores[candidates], stable=True)
    alive[candidates[order[:count]]] = False
    return [part.view_as(m) for part, m in zip(alive.split([m.numel() for m in masks]), masks)]


def prune_by_magnitude(model: nn.Module, rate: float, *, scope: str = "global",
                       output_rate: float | None = None) -> dict[str, torch.Tensor]:
    """New masks for ``model``'s :func:`~deepscope.prune.masks.pruning_targets` after one round of
    magnitude pruning at ``rate`` (the model is not changed; attach them with ``apply_masks`` or ``rewind``).

    The last target is the output layer, pruned as its own group at ``output_rate``; ``output_rate=None``
    means ``rate / 2`` with ``scope="layerwise"`` (Frankle & Carbin's fully connected and conv nets) and
    no separate rate with ``scope="global"`` (the output layer joins the global threshold, as in their
    VGG and ResNet experiments). ``output_rate=0`` leaves the output layer as it is.
    """
    _check_rate(rate, "rate")
    if scope not in SCOPES:
        raise DeepscopeError(f"unknown pruning scope {scope!r}; choose 'global' (one threshold over all layers) or "
                             f"'layerwise' (the same fraction of every layer).")
    if output_rate is None and scope == "layerwise":
        output_rate = rate / 2
    if output_rate is not None:
        _check_rate(output_rate, "output_rate", low_closed=True)
    names = pruning_targets(model)
    current = masks_of(model)
    weights = {name: weight_of(model, name) for name in names}
    masks = {name: current[name] if name in current else torch.ones_like(weights[name], dtype=torch.bool)
             for name in names}
    body, head = (names, []) if output_rate is None else (names[:-1], names[-1:])
    groups = [([name], rate) for name in body] if scope == "layerwise" else [(body, rate)]
    groups += [(head, output_rate)] if head else []
    new: dict[str, torch.Tensor] = {}
    for group, group_rate in groups:
        if group:
            new.update(zip(group, _prune_group([weights[n] for n in group], [masks[n] for n in group], group_rate)))
    return {name: new[name] for name in names}


def random_masks_like(masks: Mapping[str, torch.Tensor], seed: int | torch.Generator) -> dict[str, torch.Tensor]:
    """Random masks keeping as many entries of each tensor as ``masks`` does, at uniformly random positions
    (the random-pruning control of Frankle & Carbin, ICLR 2019). ``seed`` (an int or a CPU
    ``torch.Generator``) drives the draw; the global RNG is not used."""
    generator = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for name, mask in masks.items():
        keep = torch.randperm(mask.numel(), generator=generator)[:int(mask.count_nonzero())]
        flat = torch.zeros(mask.numel(), dtype=torch.bool)
        flat[keep] = True
        out[name] = flat.view(mask.shape).to(mask.device)
    return out
