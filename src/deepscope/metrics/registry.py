"""Metrics by name, for scheduling during training and for ``deepscope metrics`` on saved arrays.

Each entry maps (features [n, p], labels or None) to a dict of named numbers, so one captured
representation can feed many metrics (DESIGN: one activation pass, many metrics).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

from deepscope.errors import DeepscopeError
from deepscope.metrics.collapse import neural_collapse
from deepscope.metrics.separation import separation_fuzziness

MetricFn = Callable[[torch.Tensor, "torch.Tensor | None"], dict[str, float]]


@dataclass(frozen=True)
class MetricSpec:
    """A named metric: what it computes, whether it needs labels, and the function."""

    name: str
    description: str
    needs_labels: bool
    fn: MetricFn


def _separation(X: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
    d = separation_fuzziness(X, y)
    return {"log_d": math.log(d) if d > 0 else -math.inf}


def _collapse(X: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
    return neural_collapse(X, y).as_metrics()


REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> None:
    """Add a metric to the registry (a later registration of the same name replaces it)."""
    REGISTRY[spec.name] = spec


register(MetricSpec("separation", "log separation fuzziness log D = log Tr(SS_w SS_b^+) (He & Su 2023)", True,
                    _separation))
register(MetricSpec("nc", "neural collapse NC1-NC4 without a classifier (Papyan, Han & Donoho 2020)", True,
                    _collapse))


def resolve(names: Sequence[str]) -> list[MetricSpec]:
    """The specs for ``names``; an unknown name lists the available ones."""
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise DeepscopeError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(sorted(REGISTRY))}.")
    return [REGISTRY[n] for n in names]


def compute(features: Mapping[str, torch.Tensor], labels: torch.Tensor | None,
            names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Run the named metrics on every layer: ``{layer: {metric: value}}``."""
    specs = resolve(names)
    if labels is None and any(s.needs_labels for s in specs):
        needing = [s.name for s in specs if s.needs_labels]
        raise DeepscopeError(f"metric(s) {', '.join(needing)} need class labels; pass labels (--labels KEY).")
    out: dict[str, dict[str, float]] = {}
    for layer, X in features.items():
        row: dict[str, float] = {}
        for spec in specs:
            row.update(spec.fn(X, labels))
        out[layer] = row
    return out
