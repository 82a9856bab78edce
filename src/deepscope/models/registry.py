"""The model registry: build any model by name from keyword options and a seed, and describe them all.

``build_model(name, seed=0, **options)`` checks the options against the constructor's signature, builds the
model under a private RNG seeded with ``seed`` and records ``model.build_spec = {"name", "options", "seed"}``
(plain JSON values, every option filled in) so :func:`deepscope.models.load_model` can rebuild it.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.models.lenet import LeNet
from deepscope.models.mlp import MLP
from deepscope.models.resnet import ResNet18
from deepscope.models.transformer import Transformer


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()
"""The default shown in :attr:`ModelInfo.options` for an option without a default."""


def make_mlp(*, in_features: int, num_classes: int, hidden_dim: int = 100, depth: int = 6,
             hidden: Sequence[int] | None = None, p: float = 0.0, activation: str = "relu",
             batchnorm: bool = True) -> MLP:
    """The equi-separation MLP: ``depth`` linear layers, hidden width ``hidden_dim`` (or the list ``hidden``)."""
    if hidden is None:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise DeepscopeError(f"mlp: depth must be an integer >= 1 (the number of linear layers); got {depth!r}.")
        hidden = [hidden_dim] * (depth - 1)
    return MLP(in_features, num_classes, hidden, p=p, activation=activation, batchnorm=batchnorm)


@dataclass(frozen=True)
class ModelInfo:
    """One registered model: its constructor (keyword options only) and how to describe it.

    ``example`` holds the options of the representative instance whose probe points
    :func:`format_models_table` lists; ``probe_pattern`` names the probe points in general.
    """

    name: str
    description: str
    constructor: Callable[..., nn.Module]
    probe_pattern: str
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        """Option name -> default (:data:`REQUIRED` when there is none), in signature order."""
        return {name: REQUIRED if param.default is inspect.Parameter.empty else param.default
                for name, param in inspect.signature(self.constructor).parameters.items()}

    def options_text(self) -> str:
        """The options as ``name=default`` (``name (required)``), comma-separated."""
        return ", ".join(f"{name} (required)" if default is REQUIRED else f"{name}={default!r}"
                         for name, default in self.options.items())


MODELS: dict[str, ModelInfo] = {info.name: info for info in (
    ModelInfo("mlp", "fully connected BatchNorm-before-Linear net of the equi-separation law (He & Su, PNAS 2023)",
              make_mlp, "input, hidden1..hidden{depth-1}, logits", {"in_features": 784, "num_classes": 10}),
    ModelInfo("lenet", "LeNet-5: two 5x5 conv + ReLU + max-pool stages, FC 120-84-K (LeCun et al. 1998)",
              LeNet, "conv1, conv2, fc1, fc2, logits"),
    ModelInfo("resnet18", "CIFAR ResNet-18: 3x3 stem without max-pool, BasicBlock stages [2,2,2,2] (He et al. 2016)",
              ResNet18, "stem, stage1, stage2, stage3, stage4, pool, logits"),
    ModelInfo("transformer", "GPT-2-style pre-LN causal decoder classifying from the last position "
              "(Radford et al. 2019)", Transformer,
              "block{i}.attn, block{i}.mlp, block{i} for i = 1..n_layer, features, logits",
              {"vocab_size": 64, "num_classes": 10}),
)}


def _plain(name: str, option: str, value: Any) -> Any:
    """``value`` as plain JSON data (tuples become lists, numpy/torch scalars Python numbers), or an error."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(name, option, v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise DeepscopeError(f"{name}: option {option} must be plain data (number, string, bool, None or a list of "
                         f"them) so the model can be rebuilt from its build_spec; got {type(value).__name__}.")


def _resolve(info: ModelInfo, options: dict[str, Any]) -> dict[str, Any]:
    """Every option of ``info``'s constructor: the given ones (checked) and the defaults of the rest."""
    accepted = info.options
    unknown = [option for option in options if option not in accepted]
    missing = [option for option, default in accepted.items() if default is REQUIRED and option not in options]
    problems = [f"{kind} option(s) {', '.join(names)}" for kind, names in
                (("unknown", unknown), ("missing required", missing)) if names]
    if problems:
        raise DeepscopeError(f"model {info.name!r}: {'; '.join(problems)}. It accepts: {info.options_text()}. "
                             f"See `deepscope models`.")
    return {option: _plain(info.name, option, options.get(option, default)) for option, default in accepted.items()}


def build_model(name: str, *, seed: int | None = 0, **options: Any) -> nn.Module:
    """Build the model ``name`` of :data:`MODELS` with keyword ``options``, e.g.
    ``build_model("lenet", in_channels=1, num_classes=3)``.

    ``seed`` fixes the initialisation without touching the caller's RNG: the model is constructed under a forked
    CPU RNG seeded with ``seed`` (the same weights as ``torch.manual_seed(seed)`` before construction would give).
    ``seed=None`` draws from the global RNG, as constructing the module directly does. The returned model carries
    ``build_spec = {"name": name, "options": {every option}, "seed": seed}``.
    """
    if name not in MODELS:
        raise DeepscopeError(f"unknown model {name!r}; available: {', '.join(MODELS)}. See `deepscope models`.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise DeepscopeError(f"seed must be an integer (or None for the global RNG); got {seed!r}.")
    info = MODELS[name]
    resolved = _resolve(info, options)
    if seed is None:
        model = info.constructor(**resolved)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            model = info.constructor(**resolved)
    model.build_spec = {"name": name, "options": resolved, "seed": seed}
    return model


def format_models_table() -> str:
    """Every registered model as plain text: name, description, options with defaults and probe points.

    Where the probe points depend on the options, the names of the ``example`` instance follow the pattern.
    """
    lines: list[str] = []
    for info in MODELS.values():
        names = ", ".join(build_model(info.name, **info.example).probe_points())
        lines += [f"{info.name}: {info.description}", f"  options:      {info.options_text()}",
                  f"  probe points: {info.probe_pattern}"]
        if names != info.probe_pattern:
            example = ", ".join(f"{k}={v!r}" for k, v in info.example.items()) or "defaults"
            lines.append(f"    e.g. ({example}): {names}")
        lines.append("")
    return "\n".join(lines[:-1])
