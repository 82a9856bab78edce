"""Metrics by name, for scheduling during training and for ``deepscope metrics`` on saved arrays.

Each entry maps (features [n, p], labels or None) to one number or to a few named numbers, so one
captured representation can feed many metrics (DESIGN: one activation pass, many metrics). The name
asked for is the name reported: a single-valued metric is reported under its registry name (``twonn``,
``dse``, ...), a multi-valued one under ``<name>.<part>`` (``nc.nc1``, ``info_binned.i_xt``, ...).
Aliases (``id`` for ``twonn``, ``separation`` for ``log_d``) resolve to the registry name, which is the
one stored.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from deepscope.errors import DeepscopeError
from deepscope.metrics.collapse import NeuralCollapse, neural_collapse
from deepscope.metrics.entropy import binned_entropy, diffusion_spectral_entropy
from deepscope.metrics.information import binned_information_plane, kde_information_plane
from deepscope.metrics.intrinsic_dim import mle_id, pca_dim, twonn
from deepscope.metrics.linear_probe import layerwise_linear_probe
from deepscope.metrics.mutual_information import binned_mutual_information, diffusion_spectral_mutual_information
from deepscope.metrics.separation import separation_fuzziness

MetricFn = Callable[[Any, Any], "float | Mapping[str, float]"]
"""``fn(features [n, p], labels or None)``: one number, or ``{part: number}`` for a multi-valued metric."""


@dataclass(frozen=True)
class MetricSpec:
    """A named metric: what it computes, whether it needs labels, the function, and its parts.

    ``parts`` names the values of a multi-valued metric, reported as ``<name>.<part>``; it is empty for a
    single-valued metric, reported as ``<name>``. ``note`` says when parts are left out.
    """

    name: str
    description: str
    needs_labels: bool
    fn: MetricFn
    parts: tuple[str, ...] = ()
    note: str = ""

    def keys(self) -> list[str]:
        """The keys this metric's values are reported under."""
        return [f"{self.name}.{part}" for part in self.parts] if self.parts else [self.name]


def _log_separation(X: Any, y: Any) -> float:
    d = separation_fuzziness(X, y)
    return math.log(d) if d > 0 else -math.inf


def _probe(X: Any, y: Any) -> dict[str, float]:
    result = layerwise_linear_probe({"layer": X}, y)["layer"]
    return {"train_accuracy": result.train_accuracy, "test_accuracy": result.test_accuracy}


def _plane(estimate: Callable) -> MetricFn:
    def fn(X: Any, y: Any) -> dict[str, float]:
        point = estimate(X, y)
        return {"i_xt": point.i_xt, "i_ty": point.i_ty}
    return fn


_NC_PARTS = tuple(f.name for f in fields(NeuralCollapse) if f.name not in ("nc3", "nc4", "num_classes"))
"""What ``neural_collapse(X, y)`` measures without a classifier: nc3 and nc4 need one."""

REGISTRY: dict[str, MetricSpec] = {}
ALIASES = {"id": "twonn", "separation": "log_d"}


def register(spec: MetricSpec) -> None:
    """Add a metric to the registry (a later registration of the same name replaces it)."""
    REGISTRY[spec.name] = spec


for _spec in (
    MetricSpec("log_d", "log separation fuzziness log D = log Tr(SS_w SS_b^+) (He & Su 2023)", True,
               _log_separation),
    MetricSpec("nc", "neural collapse without a classifier (Papyan, Han & Donoho 2020): NC1, NC2, and the accuracy "
                     "of NC4's nearest-class-centre rule", True, lambda X, y: neural_collapse(X, y).as_metrics(),
               _NC_PARTS, "never nc3/nc4, here or for saved activations: they compare the model's classifier with "
                          "the class means (neural_collapse(X, y, weight, bias))"),
    MetricSpec("twonn", "TwoNN intrinsic dimension, act_ids variant (Facco et al. 2017)", False,
               lambda X, y: float(twonn(X))),
    MetricSpec("mle", "Levina-Bickel MLE intrinsic dimension, k = 20", False, lambda X, y: float(mle_id(X))),
    MetricSpec("pca", "principal components explaining 90% of the variance", False, lambda X, y: float(pca_dim(X))),
    MetricSpec("dse", "diffusion spectral entropy, sigma = 10, t = 1 (Liao et al. 2023; dse-dsmi defaults)", False,
               lambda X, y: diffusion_spectral_entropy(X)),
    MetricSpec("dse_median", "diffusion spectral entropy, sigma = median pairwise distance, t = 1", False,
               lambda X, y: diffusion_spectral_entropy(X, sigma="median")),
    MetricSpec("dsmi", "diffusion spectral mutual information with the labels, sigma = 10, t = 1", True,
               diffusion_spectral_mutual_information),
    MetricSpec("dsmi_median", "diffusion spectral mutual information with the labels, sigma = median", True,
               lambda X, y: diffusion_spectral_mutual_information(X, y, sigma="median")),
    MetricSpec("binned_entropy", "classic Shannon entropy after 2 bins per feature (bits)", False,
               lambda X, y: binned_entropy(X)),
    MetricSpec("binned_mi", "classic binned Shannon mutual information with the labels (bits, plug-in, "
                            "negative estimates reported as 0)", True, binned_mutual_information),
    MetricSpec("info_binned", "information plane I(X;T), I(T;Y) by 30-bin binning (Shwartz-Ziv & Tishby 2017)",
               True, _plane(binned_information_plane), ("i_xt", "i_ty")),
    MetricSpec("info_kde", "information plane by the pairwise KDE upper bound, noise 0.1 (Kolchinsky & Tracey)",
               True, _plane(kde_information_plane), ("i_xt", "i_ty")),
    MetricSpec("probe", "linear-probe (ridge) accuracy on a stratified 75/25 split", True, _probe,
               ("train_accuracy", "test_accuracy")),
):
    register(_spec)


def canonical_metric(name: str) -> str:
    """The registry name behind ``name``: aliases resolve (``id`` -> ``twonn``, ``separation`` -> ``log_d``),
    also in front of a part (``separation.x`` -> ``log_d.x``); any other name comes back unchanged, so
    names stored by other means can be looked up too."""
    metric, dot, part = name.partition(".")
    return ALIASES.get(metric, metric) + dot + part


def metric_keys_match(query: str, key: str) -> bool:
    """Whether the stored ``key`` is a value of the metric (or key) ``query``: equal after alias resolution,
    or one of its parts (``nc`` matches ``nc.nc1``; ``separation`` matches ``log_d``)."""
    query, key = canonical_metric(query), canonical_metric(key)
    return key == query or key.startswith(query + ".")


def resolve(names: Sequence[str] | str) -> list[MetricSpec]:
    """The specs for ``names`` (one name or several; aliases resolved, repeats dropped); an unknown name
    lists the available ones."""
    keys = list(dict.fromkeys(canonical_metric(n) for n in ([names] if isinstance(names, str) else names)))
    unknown = [k for k in keys if k not in REGISTRY]
    if unknown:
        raise DeepscopeError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(sorted(REGISTRY))} "
                             f"(aliases: {', '.join(f'{a}={b}' for a, b in ALIASES.items())}).")
    return [REGISTRY[k] for k in keys]


def describe() -> str:
    """Per metric: its name and aliases, whether it needs labels, what it computes, and, for a multi-valued
    metric, the keys it yields and when parts are left out."""
    lines = [f"{'metric':<15} {'needs':<6}  reported as <metric>, or as the <metric>.<part> keys listed"]
    for spec in REGISTRY.values():
        aliases = [a for a, target in ALIASES.items() if target == spec.name]
        lines.append(f"{spec.name:<15} {'labels' if spec.needs_labels else '':<6}  {spec.description}"
                     + (f" (alias: {', '.join(aliases)})" if aliases else ""))
        if spec.parts:
            lines.append(f"{'':<23} -> {', '.join(spec.keys())}" + (f"; {spec.note}" if spec.note else ""))
    return "\n".join(lines)


def _checked_specs(labels: Any, names: Sequence[str] | str) -> list[MetricSpec]:
    specs = resolve(names)
    needing = [s.name for s in specs if s.needs_labels]
    if labels is None and needing:
        raise DeepscopeError(f"metric(s) {', '.join(needing)} need class labels; pass labels (--labels KEY).")
    return specs


def _measure(features: Mapping[str, Any], labels: Any,
             specs: Sequence[MetricSpec]) -> Iterator[tuple[str, dict[str, float], str | None]]:
    """Per layer, in order: (layer, {key: value} of the metrics that worked, the failures' message or None).

    Only :class:`DeepscopeError` (bad input for that layer) is caught; the message starts with the layer name.
    """
    for layer, X in features.items():
        row: dict[str, float] = {}
        failures = []
        for spec in specs:
            try:
                value = spec.fn(X, labels)
            except DeepscopeError as exc:
                failures.append(f"{spec.name}: {exc}")
                continue
            if spec.parts:
                row.update({f"{spec.name}.{part}": float(v) for part, v in value.items()})
            else:
                row[spec.name] = float(value)
        yield layer, row, (f"layer {layer!r}: " + "; ".join(failures)) if failures else None


def compute(features: Mapping[str, Any], labels: Any, names: Sequence[str] | str) -> dict[str, dict[str, float]]:
    """Run the named metrics on every layer: ``{layer: {key: value}}``, keys as in :meth:`MetricSpec.keys`.

    The first layer with a failing metric raises a :class:`DeepscopeError` whose message starts with
    ``layer '<name>': <metric>: ``; :func:`compute_each` measures the other layers anyway.
    """
    out: dict[str, dict[str, float]] = {}
    for layer, row, error in _measure(features, labels, _checked_specs(labels, names)):
        if error is not None:
            raise DeepscopeError(error)
        out[layer] = row
    return out


def compute_each(features: Mapping[str, Any], labels: Any,
                 names: Sequence[str] | str) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Like :func:`compute`, measuring every layer whatever fails: ``(values, errors)``.

    ``values[layer]`` holds the keys of every metric that could be measured there (a layer where none could
    is absent); ``errors[layer]`` says why the others could not, starting with ``layer '<name>': ``. A bad
    metric name or missing labels still raise, as they concern every layer.
    """
    values: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for layer, row, error in _measure(features, labels, _checked_specs(labels, names)):
        if row:
            values[layer] = row
        if error is not None:
            errors[layer] = error
    return values, errors
