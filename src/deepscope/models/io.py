"""Model files: one ``torch.save`` archive holding how the model was built and its weights.

The file is ``{"format": "deepscope-model", "version": 1, "spec": model.build_spec, "state_dict": ...}``;
``load_model`` rebuilds the model with :func:`build_model` from the spec and loads the weights, reading the
file with ``torch.load(weights_only=True)`` (no arbitrary code runs). A pruned model (masks from
:mod:`deepscope.prune`) is saved under its unmasked names with ``"masks": {tensor name: bool mask}``, and
comes back with the same masks attached.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models.registry import build_model

FORMAT = "deepscope-model"
VERSION = 1


def save_model(model: nn.Module, path: str | Path) -> Path:
    """Write ``model``'s build spec and weights to ``path`` (parent folders are created); returns the path."""
    spec = getattr(model, "build_spec", None)
    if spec is None:
        raise DeepscopeError(f"this {type(model).__name__} has no build_spec, so a file could not rebuild it (it was "
                             f"built outside build_model; save its state_dict yourself with torch.save, or build "
                             f"it with deepscope.models.build_model).")
    from deepscope.prune import masks_of, snapshot  # deepscope.prune builds models: import it when used

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    masks = masks_of(model)
    state = snapshot(model) if masks else model.state_dict()
    torch.save({"format": FORMAT, "version": VERSION, "spec": spec, "state_dict": state,
                **({"masks": masks} if masks else {})}, path)
    return path


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """The model saved at ``path`` by :func:`save_model`, on ``map_location``, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise DeepscopeError(f"no model file at {path}; pass the path written by save_model.")
    not_ours = f"{path} is not a deepscope model file (expected one written by deepscope.models.save_model)"
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors for foreign files
        raise DeepscopeError(f"{not_ours}; reading it failed with: {err}".splitlines()[0]) from err
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise DeepscopeError(f"{not_ours}.")
    if saved.get("version") != VERSION:
        raise DeepscopeError(f"{path} is a deepscope model file of version {saved.get('version')!r}, but this "
                             f"deepscope reads version {VERSION}; load it with the deepscope that wrote it.")
    spec = saved["spec"]
    try:
        model = build_model(spec["name"], seed=spec["seed"], **spec["options"])
        model.to(map_location).load_state_dict(saved["state_dict"])
        if saved.get("masks"):
            from deepscope.prune import apply_masks

            apply_masks(model, saved["masks"])
    except (DeepscopeError, RuntimeError, KeyError, TypeError) as err:  # unknown model, bad spec, misfit weights
        raise DeepscopeError(f"cannot rebuild the model saved in {path}: {' '.join(str(err).split())}") from err
    return model.eval()
