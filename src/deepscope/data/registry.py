"""The named datasets: what each is, whether it needs files, which extra options it takes."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from deepscope.data.cifar import load_cifar10, load_cifar100
from deepscope.data.dataset import KINDS, Dataset, SourceRequest
from deepscope.data.embedded import load_digits, load_mnist
from deepscope.data.geomnist import load_geomnist
from deepscope.data.idx_datasets import load_fashion_mnist
from deepscope.data.image_folder import load_image_folder
from deepscope.data.mnist1d import load_mnist1d
from deepscope.data.modular import load_modular
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
        kind: what its samples are (:data:`deepscope.data.dataset.KINDS`), known before loading.
        has_test: False when it has no held-out split (``split='test'`` is refused).
    """

    name: str
    description: str
    needs_root: bool
    generated: bool
    loader: Loader
    kind: str
    has_test: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DeepscopeError(f"dataset {self.name!r}: kind must be one of {KINDS}; got {self.kind!r}.")

    @property
    def images(self) -> bool:
        """True when it loads images [n, C, H, W], so ``size=`` and ``grayscale=`` apply."""
        return self.kind == "image"

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
                         "60k/10k IDX files", False, False, load_mnist, "image"),
    DatasetInfo("digits", "scikit-learn's 1,797 8x8 handwritten digits (embedded)", False, False, load_digits,
                "image"),
    DatasetInfo("mnist1d", "MNIST-1D: 1-D digit signals of length 40, 4,000/1,000, generated offline from seed=",
                False, False, load_mnist1d, "vector"),
    DatasetInfo("geomnist", "GeoMNIST (LE-SDE): blurred rotated triangles/rectangles/ellipses, 32x32, 3 classes",
                False, False, load_geomnist, "image"),
    DatasetInfo("modular", "a op b mod p (op + - * /) as token sequences [a, op, b, =] (grokking); seeded split",
                False, False, load_modular, "tokens"),
    DatasetInfo("fakedata", "Gaussian-noise images with random labels (memorisation)", False, True, load_fakedata,
                "image"),
    DatasetInfo("gaussian-mixture", "balanced isotropic Gaussian clusters with random means", False, True,
                load_gaussian_mixture, "vector"),
    DatasetInfo("linear-regression", "y = X W + b + Gaussian noise", False, True, load_linear_regression, "vector"),
    DatasetInfo("sinusoidal-regression", "y = sin(X W + b) + Gaussian noise", False, True,
                load_sinusoidal_regression, "vector"),
    DatasetInfo("fashion-mnist", "Fashion-MNIST 60k/10k from IDX files", True, False, load_fashion_mnist, "image"),
    DatasetInfo("cifar10", "CIFAR-10 50k/10k from the python batches", True, False, load_cifar10, "image"),
    DatasetInfo("cifar100", "CIFAR-100 50k/10k from the python files (100 fine or 20 coarse classes)", True, False,
                load_cifar100, "image"),
    DatasetInfo("image-folder", "your images as root/<class name>/<image>", True, False, load_image_folder, "image",
                has_test=False),
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
