"""Datasets as tensors: embedded and generated sets that work offline, file formats, and your own data.

``load_dataset(name, ...)`` returns a :class:`Dataset` (x, y, class names, source); see
``available_datasets()`` or ``deepscope datasets`` for the names.
"""
from deepscope.data.dataset import Dataset
from deepscope.data.load import load_dataset
from deepscope.data.registry import DatasetInfo, available_datasets, format_datasets_table
from deepscope.data.select import SubsetTooLarge, SubsetTooSmall
from deepscope.data.user import from_tensors, from_torch_dataset

__all__ = ["Dataset", "DatasetInfo", "SubsetTooLarge", "SubsetTooSmall", "available_datasets",
           "format_datasets_table", "from_tensors", "from_torch_dataset", "load_dataset"]
