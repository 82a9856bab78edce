"""The named datasets: what each is, whether it needs files, which extra options it takes."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from deepscope.data.cifar import load_cifar10
from deepscope.data.dataset import Dataset, SourceRequest
from deepscope.data.embedded import load_digits, load_mnist
from deepscope.data.idx_datasets import load_fashion_mnist
from deepscope.data.image_folder import load_image_folder
from deepscope.data.synthetic import (load_fakedata, load_gaussian_mixture, load_linear_regression,
                                      load_sinusoidal_regression)
from deepscope.errors import DeepscopeError

Loader = Callable[..., Dataset]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset.

    Attributes:
        name: what to pass to ``load_dataset``.
        description: one line.
        needs_root: True when it is read from files under ``root`` (False: works offline as is).
        generated: True when it is drawn fresh, ``n`` samples at a time (``n`` is a size, not a subset).
        loader: ``loader(SourceRequest, **options) -> Dataset``.
    """

    name: str
    description: str
    needs_root: bool
    generated: bool
    loader: Loader

    @property
    def options(self) -> dict[str, object]:
        """The dataset's own keyword options and their defaults (beyond load_dataset's common ones)."""
        params = inspect.signature(self.loader).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def load(self, request: SourceRequest, options: dict[str, object]) -> Dataset:
        """Run the loader after checking ``options`` against :attr:`options`."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(self.options) or "none"
            raise DeepscopeError(f"{self.name!r} does not take option(s) {unknown}; its own options are: {accepted}.")
        return self.loader(request, **options)


DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (
    DatasetInfo("mnist", "real MNIST digits: embedded 5,000-image subset (4,000/1,000); root= for the full "
                         "60k/10k IDX files", False, False, load_mnist),
    DatasetInfo("digits", "scikit-learn's 1,797 8x8 handwritten digits (embedded)", False, False, load_digits),
    DatasetInfo("fakedata", "Gaussian-noise images with random labels (memorisation)", False, True, load_fakedata),
    DatasetInfo("gaussian-mixture", "balanced isotropic Gaussian clusters with random means", False, True,
                load_gaussian_mixture),
    DatasetInfo("linear-regression", "y = X W + b + Gaussian noise", False, True, load_linear_regression),
    DatasetInfo("sinusoidal-regression", "y = sin(X W + b) + Gaussian noise", False, True,
                load_sinusoidal_regression),
    DatasetInfo("fashion-mnist", "Fashion-MNIST 60k/10k from IDX files", True, False, load_fashion_mnist),
    DatasetInfo("cifar10", "CIFAR-10 50k/10k from the python batches", True, False, load_cifar10),
    DatasetInfo("image-folder", "your images as root/<class name>/<image>", True, False, load_image_folder),
)}


def get_dataset_info(name: str) -> DatasetInfo:
    """The registered dataset ``name``, or a DeepscopeError listing the available names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DeepscopeError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}. "
                             f"Or pass your own (x, y) tensors or a torch Dataset.") from None


def available_datasets() -> list[DatasetInfo]:
    """Every registered dataset, in table order."""
    return list(DATASETS.values())


def format_datasets_table() -> str:
    """A plain-text table of the datasets: name, offline or needs root, description, and own options."""
    rows = [(info.name, "needs root" if info.needs_root else "offline", info.description, info.options)
            for info in available_datasets()]
    name_width = max(len("name"), *(len(row[0]) for row in rows))
    indent = " " * (name_width + 2 + len("needs root") + 2)
    lines = [f"{'name':<{name_width}}  {'data':<10}  description"]
    for name, data, description, options in rows:
        lines.append(f"{name:<{name_width}}  {data:<10}  {description}")
        if options:
            lines.append(indent + "options: " + ", ".join(f"{key}={value!r}" for key, value in options.items()))
    return "\n".join(lines)
