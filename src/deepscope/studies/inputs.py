"""The data of a classification study, from the settings every such study names alike.

A study config with ``dataset``, ``data_length``, ``data_size``, ``seed``, ``root`` and ``device``
loads its data here: ``data_size`` resizes images only (vectors and tokens are used as they are,
tokens one-hot encoded), the training subset is stratified, and the loader's errors about sizes
and tasks come back as :class:`ConfigError` naming the setting the user typed (``--data-length``,
``--dataset``), so the CLI reports them against the flag and stores no run.
"""
from __future__ import annotations

from typing import Any

from deepscope.config import ConfigError
from deepscope.data import Dataset, load_dataset
from deepscope.data.registry import get_dataset_info
from deepscope.data.select import SubsetTooLarge, SubsetTooSmall


def classification_data(config: Any, *, split: str = "train", name: Any = None, normalize: bool = False,
                        grayscale: bool = False) -> Dataset:
    """The ``split`` of ``name`` (default ``config.dataset``): a subset of ``config.data_length`` for
    training, the whole test split otherwise; inputs ready for a model (tokens one-hot)."""
    name = config.dataset if name is None else name
    info = get_dataset_info(name) if isinstance(name, str) else None
    try:
        data = load_dataset(name, n=config.data_length if split == "train" else None,
                            size=config.data_size if info is not None and info.images else None,
                            normalize=normalize and (info is None or info.kind != "tokens"), grayscale=grayscale,
                            seed=config.seed, split=split, root=config.root, device=config.device)
    except SubsetTooLarge as exc:
        raise ConfigError("data_length", f"is {exc.requested} but {config.dataset} has {exc.available} training "
                                         f"samples here; pass at most {exc.available}") from None
    except SubsetTooSmall as exc:
        raise ConfigError("data_length", f"is {exc.requested} but {config.dataset} has {exc.num_classes} classes; "
                                         f"pass at least {exc.num_classes} so that every class has a sample") from None
    if data.task != "classification":
        raise ConfigError("dataset", f"{config.dataset} is a {data.task} set, but this study measures classes; "
                                     f"choose a classification set (`deepscope datasets`)")
    return data.as_features()
