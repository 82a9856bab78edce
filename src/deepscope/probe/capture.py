"""Capture the representations at named probe points with forward hooks.

One pass serves every metric: ``capture`` runs the model once over the data (in eval mode, without
gradients, in batches to bound memory) and returns ``{probe point: features [n, p]}``, each
output flattened per sample. Models built by deepscope name their probe points
(``model.probe_points()``); any other ``nn.Module`` is probed by submodule name
(``dict(model.named_modules())``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepscope.errors import DeepscopeError


def probe_points(model: nn.Module) -> dict[str, nn.Module]:
    """The model's named probe points, or all its named submodules when it names none."""
    if hasattr(model, "probe_points"):
        return dict(model.probe_points())
    return {name: module for name, module in model.named_modules() if name}


def _select(model: nn.Module, points: Sequence[str] | None) -> dict[str, nn.Module]:
    available = probe_points(model)
    if points is None:
        return available
    modules = dict(model.named_modules())
    chosen: dict[str, nn.Module] = {}
    for name in points:
        if name in available:
            chosen[name] = available[name]
        elif name in modules and name:
            chosen[name] = modules[name]
        else:
            raise DeepscopeError(f"unknown probe point {name!r}; this model has {', '.join(available)} "
                                 f"(or any submodule name from model.named_modules()).")
    return chosen


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor, points: Sequence[str] | None = None, *, batch_size: int = 1024,
            device: str | torch.device | None = None, out_device: str | torch.device | None = None
            ) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` and return ``{point: features [n, p]}`` in forward order of ``points``.

    The model is put in eval mode (BatchNorm uses running statistics, dropout is off) and restored
    to its previous mode afterwards. ``device`` defaults to the model's; features are returned on
    ``out_device`` (default: the same device). Tuple outputs contribute their first element.
    """
    chosen = _select(model, points)
    if batch_size < 1:
        raise DeepscopeError(f"batch_size must be >= 1; got {batch_size}.")
    params = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (params.device if params is not None else x.device)
    out_device = torch.device(out_device) if out_device is not None else device
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in chosen}

    def hook_for(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output) -> None:
            out = output[0] if isinstance(output, (tuple, list)) else output
            chunks[name].append(out.detach().reshape(out.shape[0], -1).to(out_device))
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in chosen.items()]
    was_training = model.training
    model.eval()
    try:
        for lo in range(0, x.shape[0], batch_size):
            model(x[lo:lo + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    missing = [name for name, parts in chunks.items() if not parts and x.shape[0]]
    if missing:
        raise DeepscopeError(f"probe point(s) {missing} never ran in the forward pass; pick points on the path "
                             f"from input to output.")
    features = {name: torch.cat(parts) for name, parts in chunks.items()}
    repeated = [name for name, f in features.items() if f.shape[0] != x.shape[0]]
    if repeated:
        raise DeepscopeError(f"probe point(s) {repeated} ran more than once per forward pass (a shared module); "
                             f"probe a module that runs once, e.g. a distinct submodule or nn.Identity.")
    return features
