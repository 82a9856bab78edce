"""Generated datasets: noise images, Gaussian mixtures, linear and sinusoidal regression.

Each draws exactly ``n`` samples (default 1000) from streams of the seed. What defines the task
(mixture means, regression weights and bias) comes from a split-independent stream, so 'train' and
'test' are two samples of the same problem; the samples themselves come from per-split streams.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import torch

from deepscope.data._rng import stream
from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.errors import DeepscopeError

DEFAULT_N = 1000
DISTRIBUTIONS = ("gaussian", "uniform")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise DeepscopeError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise DeepscopeError(f"{name} must be a number >= 0; got {value!r}.")
    return float(value)


def _class_names(num_classes: int) -> list[str]:
    return [str(i) for i in range(num_classes)]


def load_fakedata(request: SourceRequest, *, image_size: int = 28, channels: int = 1,
                  num_classes: int = 10) -> Dataset:
    """Images of i.i.d. standard-normal pixels with uniformly random labels (pure memorisation data).

    Like torchvision's FakeData, but the pixels stay standard normal (they are not squashed into
    [0, 1]). Shape (channels, s, s) with s = ``size`` if given, else ``image_size``.
    """
    n = request.n or DEFAULT_N
    side = request.size or _positive_int(image_size, "image_size")
    c, k = _positive_int(channels, "channels"), _positive_int(num_classes, "num_classes")
    gen = stream(request.seed, f"fakedata-{request.split}")
    x = torch.randn(n, c, side, side, generator=gen)
    y = torch.randint(0, k, (n,), generator=gen)
    return Dataset(x=x, y=y, class_names=_class_names(k), task="classification", name="fakedata",
                   source=f"generated: standard-normal noise images, random labels (seed {request.seed}, "
                          f"{request.split} stream)")


def load_gaussian_mixture(request: SourceRequest, *, num_classes: int = 3, dim: int = 10,
                          separation: float = 3.0) -> Dataset:
    """Balanced classes of unit-variance isotropic Gaussians in ``dim`` dimensions.

    Class k has mean ``separation * u_k`` with u_k a uniformly random unit vector, so two means are
    about ``separation * sqrt(2)`` apart in high dimension. The means are in ``meta['means']``.
    """
    n = request.n or DEFAULT_N
    k, d = _positive_int(num_classes, "num_classes"), _positive_int(dim, "dim")
    directions = torch.randn(k, d, generator=stream(request.seed, "gaussian-mixture-means"))
    means = _non_negative(separation, "separation") * directions / directions.norm(dim=1, keepdim=True)
    gen = stream(request.seed, f"gaussian-mixture-{request.split}")
    y = torch.arange(n) % k
    y = y[torch.randperm(n, generator=gen)]
    x = means[y] + torch.randn(n, d, generator=gen)
    return Dataset(x=x, y=y, class_names=_class_names(k), task="classification", name="gaussian-mixture",
                   source=f"generated: {k}-class Gaussian mixture in {d} dimensions, separation {separation} "
                          f"(seed {request.seed}, {request.split} stream)",
                   meta={"means": means})


def _fixed(value: Any, shape: tuple[int, ...], name: str, how: str) -> torch.Tensor:
    """A user-fixed parameter as float32 of ``shape``, or a DeepscopeError."""
    try:
        tensor = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DeepscopeError(f"{name} must be numeric of shape {shape}; got {value!r} ({exc}).") from exc
    if tuple(tensor.shape) != shape:
        raise DeepscopeError(f"{name} must have shape {shape} ({how}); got {tuple(tensor.shape)}.")
    return tensor


def _regression(request: SourceRequest, name: str, fn: Callable[[torch.Tensor], torch.Tensor], formula: str, *,
                n_features: int, dim_out: int, noise_scale: float, bias_scale: float, data_distribution: str,
                weights: Any, bias: Any) -> Dataset:
    """y = fn(X W + b) + noise_scale * N(0, 1), X ~ N(0, 1) or U(-1, 1); W, b in meta."""
    n = request.n or DEFAULT_N
    f, d_out = _positive_int(n_features, "n_features"), _positive_int(dim_out, "dim_out")
    noise, b_scale = _non_negative(noise_scale, "noise_scale"), _non_negative(bias_scale, "bias_scale")
    distribution = str(data_distribution).lower()
    if distribution not in DISTRIBUTIONS:
        raise DeepscopeError(f"data_distribution must be one of {DISTRIBUTIONS}; got {data_distribution!r}.")
    task_gen = stream(request.seed, f"{name}-weights")
    w = (torch.randn(f, d_out, generator=task_gen) if weights is None
         else _fixed(weights, (f, d_out), "weights", "n_features x dim_out"))
    b = (b_scale * torch.randn(d_out, generator=task_gen) if bias is None
         else _fixed(bias, (d_out,), "bias", "dim_out"))
    gen = stream(request.seed, f"{name}-{request.split}")
    x = torch.randn(n, f, generator=gen) if distribution == "gaussian" else 2 * torch.rand(n, f, generator=gen) - 1
    y = fn(x @ w + b) + noise * torch.randn(n, d_out, generator=gen)
    return Dataset(x=x, y=y, class_names=[], task="regression", name=name,
                   source=f"generated: y = {formula} + {noise} * N(0, 1), X ~ {distribution}, {f} -> {d_out} "
                          f"(seed {request.seed}, {request.split} stream)",
                   meta={"weights": w, "bias": b})


def load_linear_regression(request: SourceRequest, *, n_features: int = 1, dim_out: int = 1,
                           noise_scale: float = 0.1, bias_scale: float = 0.0, data_distribution: str = "gaussian",
                           weights: Any = None, bias: Any = None) -> Dataset:
    """y = X W + b + noise; W ~ N(0, 1) [n_features, dim_out], b ~ N(0, bias_scale^2) [dim_out] unless fixed."""
    return _regression(request, "linear-regression", lambda z: z, "X W + b", n_features=n_features,
                       dim_out=dim_out, noise_scale=noise_scale, bias_scale=bias_scale,
                       data_distribution=data_distribution, weights=weights, bias=bias)


def load_sinusoidal_regression(request: SourceRequest, *, n_features: int = 1, dim_out: int = 1,
                               noise_scale: float = 0.1, bias_scale: float = 0.0,
                               data_distribution: str = "gaussian", weights: Any = None,
                               bias: Any = None) -> Dataset:
    """y = sin(X W + b) + noise; W ~ N(0, 1) [n_features, dim_out], b ~ N(0, bias_scale^2) unless fixed."""
    return _regression(request, "sinusoidal-regression", torch.sin, "sin(X W + b)", n_features=n_features,
                       dim_out=dim_out, noise_scale=noise_scale, bias_scale=bias_scale,
                       data_distribution=data_distribution, weights=weights, bias=bias)
