"""Capture the representations at named probe points with forward hooks.

One pass serves every metric: ``capture`` runs the model once over the data (in eval mode, without
gradients, in batches to bound memory) and returns ``{probe point: features [n, p]}``, each output
flattened per sample, in forward order. By default the probe points are the ones the model declares
(``model.probe_points()``, as deepscope's models do) or else its leaf modules (those without children),
by qualified name; any name from ``model.named_modules()`` can be asked for.
"""
from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import DeepscopeError

LARGE_CAPTURE_BYTES = 2 ** 30
"""Default ``warn_bytes`` of :func:`capture`: a capture estimated above this size warns (1 GiB)."""


_NEVER_RAN = "never ran in the forward pass"


class LargeCaptureWarning(UserWarning):
    """A capture whose features are estimated to take more memory than ``warn_bytes``."""


class SkippedProbePointWarning(UserWarning):
    """Leaf modules left out of a default capture because their outputs cannot be captured one per sample."""


def as_input(x: Any) -> torch.Tensor:
    """``x`` as a model input: tensors unchanged; numpy floats become float32 and numpy integers int64
    (e.g. token ids), converted once. Anything else raises a :class:`DeepscopeError`."""
    if isinstance(x, torch.Tensor):
        return x
    if not isinstance(x, np.ndarray):
        raise DeepscopeError(f"x must be a torch.Tensor or a numpy array [n, ...]; got {type(x).__name__}. "
                             f"Convert it first, e.g. torch.as_tensor(x).")
    if np.issubdtype(x.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if np.issubdtype(x.dtype, np.integer):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))
    raise DeepscopeError(f"x has numpy dtype {x.dtype}; capture takes floating-point inputs (converted to "
                         f"float32) or integer ones such as token ids (int64). Convert it, e.g. x.astype(np.float32).")


def probe_points(model: nn.Module, x: Any = None) -> list[str]:
    """The names :func:`capture` probes by default, in forward order.

    Those are the model's declared probe points (``model.probe_points()``, a mapping {name: module}
    in forward order) when it has them, else the qualified names of its leaf modules (modules without
    children). Without ``x`` leaf modules come in registration order, which is forward order for
    ``nn.Sequential`` and most models. With an input ``x`` (tensor or numpy array; only its first
    row is used) they come in the order their forward hooks fire, leaving out the leaf modules that
    :func:`capture` leaves out by default (those that run more than once or never).
    """
    if x is None:
        return list(_default_points(model)[0])
    return list(capture(model, as_input(x)[:1], warn_bytes=None))


def capture(model: nn.Module, x: Any, points: Sequence[str] | str | None = None, *, batch_size: int = 1024,
            device: str | torch.device | None = None, out_device: str | torch.device | None = None,
            warn_bytes: int | None = LARGE_CAPTURE_BYTES) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` and return ``{point: features [n, p]}`` in forward order.

    The points come in the order their forward hooks fire during the forward pass, whatever the
    order they were listed in (fits over depth, e.g. the equi-separation law, rely on it).

    Args:
        model: any ``nn.Module``. It is put in eval mode (BatchNorm uses running statistics,
            dropout is off) and restored to its previous mode afterwards.
        x: inputs [n, ...], a tensor or a numpy array (floats become float32, integers int64).
        points: one name or several (the model's declared probe points or any submodule name
            from ``model.named_modules()``); default :func:`probe_points`. A named point that
            never runs, runs more than once per forward pass (a module object used at several
            places) or shares its module with another named point is an error; the default
            leaf modules that cannot be captured are left out instead, with a
            :class:`SkippedProbePointWarning` for those that ran more than once or whose output
            is not a batch-first tensor.
        batch_size: rows per forward pass.
        device: where the model runs; default the model's (its first parameter's) device.
        out_device: where the features are kept; default ``device``. ``"cpu"`` keeps a large
            capture off the accelerator.
        warn_bytes: after the first batch the features' total size is estimated as
            (features per sample, summed over points) × n × bytes per value; above ``warn_bytes``
            a :class:`LargeCaptureWarning` gives the number of points, the size and the biggest
            points. None: never warn.

    Each output is flattened per sample; a tuple or list output contributes its first element.
    Outputs are copied as they are produced, so a later in-place operation cannot change them.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DeepscopeError(f"batch_size must be a positive integer; got {batch_size!r}.")
    x = as_input(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise DeepscopeError(f"x has no samples (shape {tuple(x.shape)}); pass inputs [n, ...] with n >= 1.")
    chosen, strict = _select(model, points)
    params = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (params.device if params is not None else x.device)
    out_device = torch.device(out_device) if out_device is not None else device
    recorder = _Recorder(chosen, out_device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), recorder:
            for lo in range(0, x.shape[0], batch_size):
                batch = x[lo:lo + batch_size]
                recorder.start(batch.shape[0])
                model(batch.to(device))
                problems = recorder.problems()
                first = lo == 0
                if problems and (strict or not first):
                    raise DeepscopeError(_problem_message(model, chosen, problems))
                if first:
                    _leave_out(model, chosen, recorder, problems)
                    _warn_if_large(recorder, x.shape[0], out_device, warn_bytes)
    finally:
        model.train(was_training)
    return recorder.features()


# ---------------------------------------------------------------------------------------------
# Choosing the points


def _default_points(model: nn.Module) -> tuple[dict[str, nn.Module], bool]:
    """The default points and whether they are strict: declared ones are, leaf modules are not."""
    declared = getattr(model, "probe_points", None)
    if callable(declared):
        points = declared()
        if not isinstance(points, Mapping):
            raise DeepscopeError(f"{type(model).__name__}.probe_points() must return a mapping {{name: module}} "
                                 f"in forward order; got {type(points).__name__}.")
        return dict(points), True
    leaves = {name: module for name, module in model.named_modules() if name and next(module.children(), None) is None}
    return leaves, False


def _select(model: nn.Module, points: Sequence[str] | str | None) -> tuple[dict[str, nn.Module], bool]:
    """The modules behind ``points`` (default: :func:`_default_points`), and whether every one must be captured."""
    available, strict = _default_points(model)
    if points is not None:
        names = list(dict.fromkeys([points] if isinstance(points, str) else points))
        if not names:
            raise DeepscopeError("points is empty; name at least one probe point, or pass None for the defaults.")
        modules = {name: module for name, module in model.named_modules(remove_duplicate=False) if name}
        unknown = [name for name in names if name not in available and name not in modules]
        if unknown:
            listed = list(available)
            shown = ", ".join(listed[:20]) + (f", ... ({len(listed)} in all)" if len(listed) > 20 else "")
            raise DeepscopeError(f"unknown probe point(s) {unknown}; this model has {shown or 'none'} (or any "
                                 f"submodule name from model.named_modules()).")
        available, strict = {name: available.get(name, modules.get(name)) for name in names}, True
    if not available:
        raise DeepscopeError(f"{type(model).__name__} has no submodules to probe; wrap it, e.g. "
                             f"nn.Sequential(model), or give it named submodules.")
    by_module: dict[int, list[str]] = {}
    for name, module in available.items():
        by_module.setdefault(id(module), []).append(name)
    shared = [names for names in by_module.values() if len(names) > 1]
    if shared:
        described = "; ".join(f"{names} are all the same {type(available[names[0]]).__name__} object"
                              for names in shared)
        raise DeepscopeError(f"probe points {described}, so their outputs cannot be told apart. Probe one name per "
                             f"module, or give the model a distinct module instance at each place.")
    return available, strict


# ---------------------------------------------------------------------------------------------
# Recording


class _Recorder:
    """Forward hooks on the chosen modules that copy each output, flattened per sample, to ``out_device``,
    and note per batch which points fired (in order) and which returned something other than a batch."""

    def __init__(self, modules: dict[str, nn.Module], out_device: torch.device) -> None:
        self.modules = modules
        self.out_device = out_device
        self.chunks: dict[str, list[torch.Tensor]] = {name: [] for name in modules}
        self.order: list[str] = []      # forward order, from the first batch
        self.fired: list[str] = []      # this batch
        self.bad: dict[str, str] = {}   # this batch: point -> what it returned instead of a batch
        self.rows = 0
        self.handles: dict[str, torch.utils.hooks.RemovableHandle] = {}

    def __enter__(self) -> _Recorder:
        self.handles = {name: module.register_forward_hook(self._hook(name)) for name, module in self.modules.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles.values():
            handle.remove()

    def _hook(self, name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Any) -> None:
            self.fired.append(name)
            out = output[0] if isinstance(output, (tuple, list)) and len(output) else output
            if not isinstance(out, torch.Tensor):
                self.bad[name] = f"returned a {type(out).__name__}, not a tensor"
            elif out.ndim == 0 or out.shape[0] != self.rows:
                self.bad[name] = f"returned shape {tuple(out.shape)}, not the batch of {self.rows} first"
            else:
                self.chunks[name].append(out.detach().reshape(self.rows, -1).to(self.out_device, copy=True))
        return hook

    def start(self, rows: int) -> None:
        self.rows, self.fired, self.bad = rows, [], {}

    def problems(self) -> dict[str, str]:
        """Points of this batch that did not give exactly one batch-first tensor, and what they did instead."""
        if not self.order:
            self.order = list(dict.fromkeys(self.fired))
        counts = Counter(self.fired)
        problems = {}
        for name in self.chunks:
            if name in self.bad:
                problems[name] = self.bad[name]
            elif counts[name] != 1:
                problems[name] = (f"ran more than once in one forward pass ({counts[name]} times)" if counts[name]
                                  else _NEVER_RAN)
        return problems

    def drop(self, names: Sequence[str]) -> None:
        """Stop recording ``names`` and forget what they gave."""
        for name in names:
            self.handles.pop(name).remove()
            del self.chunks[name]

    def features(self) -> dict[str, torch.Tensor]:
        return {name: torch.cat(self.chunks[name]) for name in self.order if name in self.chunks}


def _names_of(model: nn.Module, module: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules(remove_duplicate=False) if m is module and name]


def _problem_message(model: nn.Module, chosen: dict[str, nn.Module], problems: dict[str, str]) -> str:
    parts = []
    for name, problem in problems.items():
        module = chosen[name]
        where = _names_of(model, module)
        registered = f", registered as {where}" if where and where != [name] else ""
        parts.append(f"probe point {name!r} ({type(module).__name__}{registered}) {problem}")
    advice = []
    if any(p.startswith("ran more") for p in problems.values()):
        advice.append("a module object used at several places in the forward pass gives outputs that cannot be "
                      "told apart: use a distinct module instance at each place (e.g. a new nn.ReLU() per use) or "
                      "probe a module that runs once")
    if _NEVER_RAN in problems.values():
        advice.append("pick points on the path from input to output (see deepscope.probe.probe_points(model, x))")
    if any(p.startswith("returned") for p in problems.values()):
        advice.append("probe a module whose output is a tensor with the batch dimension first")
    fix = "; ".join(advice)
    return "; ".join(parts) + ". " + fix[0].upper() + fix[1:] + "."


def _leave_out(model: nn.Module, chosen: dict[str, nn.Module], recorder: _Recorder,
               problems: dict[str, str]) -> None:
    """Drop the default leaf modules that cannot be captured; warn about those that ran but gave no batch."""
    recorder.drop(list(problems))
    if not recorder.chunks:
        raise DeepscopeError(f"no leaf module of {type(model).__name__} gives one output per sample in the forward "
                             f"pass: {_problem_message(model, chosen, problems)} Pass points=[...] to choose probe "
                             f"points.")
    worth_saying = {name: p for name, p in problems.items() if p != _NEVER_RAN}
    if worth_saying:
        message = _problem_message(model, chosen, worth_saying)
        warnings.warn(f"capture left out {len(worth_saying)} leaf module(s): {message} Pass points=[...] to choose "
                      f"the probe points.", SkippedProbePointWarning, stacklevel=3)


def _warn_if_large(recorder: _Recorder, n: int, out_device: torch.device, warn_bytes: int | None) -> None:
    sizes = {name: chunks[0].shape[1] * chunks[0].element_size() * n for name, chunks in recorder.chunks.items()}
    total = sum(sizes.values())
    if warn_bytes is None or total <= warn_bytes:
        return
    biggest = sorted(sizes, key=sizes.get, reverse=True)[:3]
    warnings.warn(f"capture of {len(sizes)} probe point(s) for {n} samples will hold {_size(total)} on {out_device} "
                  f"(biggest: {', '.join(f'{name!r} {_size(sizes[name])}' for name in biggest)}). To use less, capture "
                  f"fewer points (points=[...]), fewer samples, or pass out_device='cpu' to keep the features off "
                  f"the accelerator.", LargeCaptureWarning, stacklevel=3)


def _size(num_bytes: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    while num_bytes >= 1024 and len(units) > 1:
        num_bytes /= 1024
        units.pop(0)
    return f"{num_bytes:.3g} {units[0]}"
