"""Binary pruning masks attached to weight tensors, so the network computes with ``weight * mask``.

Iterative magnitude pruning (Frankle & Carbin, ICLR 2019, "The Lottery Ticket Hypothesis") trains a
sub-network whose removed weights are fixed at zero. The rule here: a masked tensor ``W`` of a module
is replaced by ``torch.nn.utils.parametrize`` with the product ``W_orig * m`` of the trainable
``W_orig`` and a registered boolean buffer ``m`` (:class:`Mask`), and ``W_orig`` is zeroed where
``m`` is 0 when the mask is attached.

Why a parametrization rather than re-applying the mask after each optimizer step: the forward pass
itself multiplies by the mask, so the effective weight is exactly zero whatever the optimizer does,
with no hook to install on it (deepscope's Trainer builds its own optimizer over one flat parameter
buffer, to which no per-tensor step hook could be attached). The gradient of ``W_orig`` is the
gradient of ``W`` times ``m``, exactly zero at removed entries, so with ``W_orig`` zeroed there,
SGD with momentum and weight decay (0 + wd * 0), Adam (a zero update from zero moments) and AdamW
leave those entries at exactly 0 too. The mask is a buffer, so it moves with ``model.to`` and is
part of ``state_dict``.

Tensors are named ``"<module path>.<tensor>"``, e.g. ``"hidden.0.linear.weight"``, whether masked
or not. By default the prunable tensors are the ``weight`` of every ``nn.Linear`` and
``nn.Conv1d/2d/3d``; biases and normalisation layers are never pruned.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from deepscope.errors import DeepscopeError

PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class Mask(nn.Module):
    """The parametrization ``W = W_orig * mask`` with ``mask`` a registered boolean buffer."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


def _split(name: str) -> tuple[str, str]:
    """``"a.b.weight"`` -> ``("a.b", "weight")``; a tensor of the root module has path ``""``."""
    path, _, tensor = name.rpartition(".")
    return path, tensor


def _join(path: str, tensor: str) -> str:
    return f"{path}.{tensor}" if path else tensor


def _mask_module(module: nn.Module, tensor: str) -> Mask | None:
    """The :class:`Mask` on ``module.<tensor>``, or None when it carries none."""
    if not parametrize.is_parametrized(module, tensor):
        return None
    return next((p for p in module.parametrizations[tensor] if isinstance(p, Mask)), None)


def _attached(model: nn.Module) -> dict[str, Mask]:
    """Tensor name -> its :class:`Mask`, in module order."""
    found: dict[str, Mask] = {}
    for path, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for tensor in module.parametrizations:
                mask = _mask_module(module, tensor)
                if mask is not None:
                    found[_join(path, tensor)] = mask
    return found


def default_prunable(model: nn.Module) -> list[str]:
    """Names of the ``weight`` of every Linear and Conv1d/2d/3d of ``model``, in module order."""
    return [_join(path, "weight") for path, module in model.named_modules() if isinstance(module, PRUNABLE_TYPES)]


def pruning_targets(model: nn.Module) -> list[str]:
    """The tensors pruning acts on, in module order: the masked ones if ``model`` carries masks, else
    :func:`default_prunable`. The last one is treated as the output layer."""
    names = list(_attached(model)) or default_prunable(model)
    if not names:
        raise DeepscopeError(f"this {type(model).__name__} has no prunable weights (no nn.Linear or nn.Conv1d/2d/3d "
                             f"and no masks attached); attach masks to chosen tensors with apply_masks first.")
    return names


def weight_of(model: nn.Module, name: str) -> torch.Tensor:
    """The effective (masked) tensor ``name`` of ``model``."""
    path, tensor = _split(name)
    try:
        module = model.get_submodule(path)
    except AttributeError:
        module = None
    value = getattr(module, tensor, None) if module is not None else None
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise DeepscopeError(f"{name!r} is not a floating-point tensor of this {type(model).__name__}; name tensors "
                             f"as '<module path>.<tensor>', e.g. {default_prunable(model)[:2]}.")
    return value


def check_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``masks`` as boolean tensors on their weights' devices, after checking names, shapes and values."""
    checked: dict[str, torch.Tensor] = {}
    for name, mask in masks.items():
        weight = weight_of(model, name)
        if not isinstance(mask, torch.Tensor) or mask.shape != weight.shape:
            shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise DeepscopeError(f"the mask for {name!r} has shape {shape} but the weight is {tuple(weight.shape)}; "
                                 f"pass one mask per tensor, shaped like it (e.g. from masks_of or "
                                 f"prune_by_magnitude on this model).")
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            raise DeepscopeError(f"the mask for {name!r} holds values other than 0 and 1; pass a binary mask "
                                 f"(bool, or 0/1 numbers).")
        checked[name] = mask.to(device=weight.device, dtype=torch.bool)
    return checked


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Attach (or replace) the mask of each named tensor; returns ``model``, changed in place.

    The stored weight is zeroed where the mask is 0 and the forward pass uses ``weight * mask`` (see
    the module docstring). Tensors not named in ``masks`` keep whatever mask they had. Build the
    optimizer after this call: ``apply_masks`` moves each newly masked weight to
    ``<module>.parametrizations.<tensor>.original`` (the same Parameter object).
    """
    for name, mask in check_masks(model, masks).items():
        path, tensor = _split(name)
        module = model.get_submodule(path)
        attached = _mask_module(module, tensor)
        if attached is not None:
            attached.mask.copy_(mask)
        elif parametrize.is_parametrized(module, tensor):
            raise DeepscopeError(f"{name!r} already carries another parametrization; pruning masks need the plain "
                                 f"tensor. Remove that parametrization or mask a different tensor.")
        else:
            parametrize.register_parametrization(module, tensor, Mask(mask))
        with torch.no_grad():
            module.parametrizations[tensor].original.masked_fill_(~mask, 0)
    return model


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the attached masks (boolean), by tensor name in module order; empty when none."""
    return {name: mask.mask.clone() for name, mask in _attached(model).items()}


def remove_masks(model: nn.Module) -> nn.Module:
    """Bake every mask into its weight (``weight = weight * mask``, now a plain Parameter) and detach it.

    The baked weights are new Parameter objects: build the optimizer after this call.
    """
    for name in _attached(model):
        path, tensor = _split(name)
        parametrize.remove_parametrizations(model.get_submodule(path), tensor, leave_parametrized=True)
    return model


@dataclass(frozen=True)
class Remaining:
    """How much of each pruning target is left: ``kept[name]`` of ``size[name]`` entries."""

    kept: dict[str, int]
    size: dict[str, int]

    @property
    def overall(self) -> float:
        """Fraction of all prunable weights remaining."""
        return sum(self.kept.values()) / sum(self.size.values())

    @property
    def per_layer(self) -> dict[str, float]:
        """Fraction remaining of each tensor."""
        return {name: self.kept[name] / self.size[name] for name in self.size}


def sparsity(model: nn.Module) -> Remaining:
    """The fraction of the :func:`pruning_targets` weights that the masks keep, overall and per tensor
    (1.0 for an unmasked one). Counted from the masks, not from weights that happen to be zero."""
    masks = masks_of(model)
    sizes = {name: weight_of(model, name).numel() for name in pruning_targets(model)}
    kept = {name: int(masks[name].sum()) if name in masks else size for name, size in sizes.items()}
    return Remaining(kept, sizes)
