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
from deepscope.metrics.entropy import binned_entropy, diffusion_spectral_entropy
from deepscope.metrics.information import binned_information_plane, kde_information_plane
from deepscope.metrics.intrinsic_dim import mle_id, pca_dim, twonn
from deepscope.metrics.linear_probe import layerwise_linear_probe
from deepscope.metrics.mutual_information import binned_mutual_information, diffusion_spectral_mutual_information
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


def _probe(X: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
    result = layerwise_linear_probe({"layer": X}, y)["layer"]
    return {"probe_train_accuracy": result.train_accuracy, "probe_test_accuracy": result.test_accuracy}


def _plane(suffix: str, estimate: Callable) -> MetricFn:
    def fn(X: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        point = estimate(X, y)
        return {f"i_xt_{suffix}": point.i_xt, f"i_ty_{suffix}": point.i_ty}
    return fn


def _value(key: str, estimate: Callable[..., float]) -> MetricFn:
    return lambda X, y: {key: float(estimate(X))}


def _labelled(key: str, estimate: Callable[..., float]) -> MetricFn:
    return lambda X, y: {key: float(estimate(X, y))}


REGISTRY: dict[str, MetricSpec] = {}
ALIASES = {"id": "twonn"}


def register(spec: MetricSpec) -> None:
    """Add a metric to the registry (a later registration of the same name replaces it)."""
    REGISTRY[spec.name] = spec


for _spec in (
    MetricSpec("separation", "log separation fuzziness log D = log Tr(SS_w SS_b^+) (He & Su 2023)", True,
               _separation),
    MetricSpec("nc", "neural collapse NC1-NC4 without a classifier (Papyan, Han & Donoho 2020)", True, _collapse),
    MetricSpec("twonn", "TwoNN intrinsic dimension, act_ids variant (Facco et al. 2017; alias: id)", False,
               _value("id_twonn", lambda X: twonn(X).dimension)),
    MetricSpec("mle", "Levina-Bickel MLE intrinsic dimension, k = 20", False,
               _value("id_mle", lambda X: mle_id(X).dimension)),
    MetricSpec("pca", "principal components explaining 90% of the variance", False,
               _value("pca_dim", lambda X: pca_dim(X).dimension)),
    MetricSpec("dse", "diffusion spectral entropy, sigma = 10, t = 1 (Liao et al. 2023; dse-dsmi defaults)", False,
               _value("dse", diffusion_spectral_entropy)),
    MetricSpec("dse_median", "diffusion spectral entropy, sigma = median pairwise distance, t = 1", False,
               _value("dse_median", lambda X: diffusion_spectral_entropy(X, sigma="median"))),
    MetricSpec("dsmi", "diffusion spectral mutual information with the labels, sigma = 10, t = 1", True,
               _labelled("dsmi", diffusion_spectral_mutual_information)),
    MetricSpec("dsmi_median", "diffusion spectral mutual information with the labels, sigma = median", True,
               _labelled("dsmi_median", lambda X, y: diffusion_spectral_mutual_information(X, y, sigma="median"))),
    MetricSpec("binned_entropy", "classic Shannon entropy after 2 bins per feature (bits)", False,
               _value("binned_entropy", binned_entropy)),
    MetricSpec("binned_mi", "classic binned Shannon mutual information with the labels (bits)", True,
               _labelled("binned_mi", binned_mutual_information)),
    MetricSpec("info_binned", "information plane I(X;T), I(T;Y) by 30-bin binning (Shwartz-Ziv & Tishby 2017)",
               True, _plane("binned", binned_information_plane)),
    MetricSpec("info_kde", "information plane by the pairwise KDE upper bound, noise 0.1 (Kolchinsky & Tracey)",
               True, _plane("kde", kde_information_plane)),
    MetricSpec("probe", "linear-probe (ridge) accuracy on a stratified 75/25 split", True, _probe),
):
    register(_spec)


def resolve(names: Sequence[str]) -> list[MetricSpec]:
    """The specs for ``names``; an unknown name lists the available ones."""
    keys = [ALIASES.get(n, n) for n in names]
    unknown = [n for n, k in zip(names, keys) if k not in REGISTRY]
    if unknown:
        raise DeepscopeError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(sorted(REGISTRY))} "
                             f"(aliases: {', '.join(f'{a}={b}' for a, b in ALIASES.items())}).")
    return [REGISTRY[k] for k in keys]


def describe() -> str:
    """One line per metric: name, whether it needs labels, what it computes."""
    return "\n".join(f"{s.name:<15} {'labels' if s.needs_labels else '      '}  {s.description}"
                     for s in REGISTRY.values())


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
