"""Rewinding a pruned network to saved weights, and the random re-initialisation control.

Frankle & Carbin (ICLR 2019) reset the surviving weights to their values at initialisation after
each pruning round; Frankle, Dziugaite, Roy & Carbin (ICML 2020, "Linear Mode Connectivity and the
Lottery Ticket Hypothesis") rewind instead to their values at iteration ``k`` of training, which
finds matching sub-networks of deeper nets. The rule: ``rewind`` copies every saved parameter and
buffer back bit for bit and then applies the masks, so a kept weight equals its saved value and a
removed one is 0. The control re-initialises the sub-network at random (``reinitialize``), keeping
the masks.

A snapshot is a plain ``{name: tensor}`` dict of copies of the model's parameters and buffers under
the unmasked names (``"hidden.0.linear.weight"``, never ``...parametrizations.weight.original``),
without the masks, so a snapshot taken before pruning rewinds a pruned model; ``torch.save`` writes it.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.prune.masks import apply_masks, check_masks, masks_of


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's own parameters and buffers (the live tensors) under their unmasked names, masks left out."""
    renamed: dict[str, str | None] = {}
    for name in masks_of(model):
        path, _, tensor = name.rpartition(".")
        prefix = f"{path}.parametrizations.{tensor}" if path else f"parametrizations.{tensor}"
        renamed[f"{prefix}.original"] = name
        renamed[f"{prefix}.0.mask"] = None
    state = model.state_dict(keep_vars=True)
    return {renamed.get(key, key): value for key, value in state.items() if renamed.get(key, key) is not None}


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model``'s weights and buffers to rewind to (take it at initialisation or, from a Trainer
    callback, at iteration k). Masked weights are saved as stored (zero where removed)."""
    return {name: value.detach().clone() for name, value in _state(model).items()}


def rewind(model: nn.Module, saved: Mapping[str, torch.Tensor],
           masks: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """Restore ``saved`` (from :func:`snapshot`) into ``model`` in place, then attach ``masks`` (None: keep
    the masks ``model`` carries). Kept weights equal the saved ones bit for bit; returns ``model``."""
    masks = masks_of(model) if masks is None else check_masks(model, masks)
    state = _state(model)
    misfits = [f"{what}: {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}" for what, names in (
        ("missing from the snapshot", [k for k in state if k not in saved]),
        (f"missing from this {type(model).__name__}", [k for k in saved if k not in state]),
        ("shaped differently", [f"{k} {tuple(saved[k].shape)} against {tuple(v.shape)}" for k, v in state.items()
                                if k in saved and saved[k].shape != v.shape])) if names]
    if misfits:
        raise DeepscopeError(f"the snapshot is of another architecture ({'; '.join(misfits)}); rewind to a "
                             f"snapshot taken of this model (deepscope.prune.snapshot).")
    with torch.no_grad():
        for name, value in state.items():
            value.copy_(saved[name])
    return apply_masks(model, masks)


def reinitialize(model: nn.Module, seed: int) -> nn.Module:
    """Give ``model`` the fresh initialisation ``build_model`` draws for ``seed`` (same architecture and
    options, from ``model.build_spec``), keeping its masks: the random re-initialisation control of
    Frankle & Carbin (ICLR 2019). The global RNG is left as it was; returns ``model``."""
    spec = getattr(model, "build_spec", None)
    if spec is None:
        raise DeepscopeError(f"this {type(model).__name__} has no build_spec, so its initialisation cannot be "
                             f"redrawn; build it with deepscope.build_model, or rewind it to a snapshot of a "
                             f"freshly built twin.")
    return rewind(model, snapshot(build_model(spec["name"], seed=seed, **spec["options"])))
