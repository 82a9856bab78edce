"""Every dataset `deepscope datasets` lists runs through `deepscope esl` with its defaults.

Only the dataset's own required flag is added (``--root`` for file sets, pointed at small files in
the real formats written here) and the training is cut to one epoch, which no dataset depends on.
Regression sets have no classes to separate: they are refused with a message, exit 2, nothing stored.
"""
import json

import numpy as np
import pytest
from datafiles import make_pair, write_cifar, write_cifar100, write_image_folder

from deepscope.cli import main
from deepscope.data import available_datasets
from deepscope.store import Store

FILES = {
    "fashion-mnist": lambda root: (make_pair(root, "train", 1000, 0, False), make_pair(root, "t10k", 100, 1, False)),
    "cifar10": lambda root: write_cifar(root, per_batch=200),
    "cifar100": lambda root: write_cifar100(root, per_file=1000),
    "image-folder": lambda root: write_image_folder(root, per_class=500),
}
REGRESSION = {"linear-regression", "sinusoidal-regression"}


def test_every_file_dataset_has_a_writer_here():
    assert {info.name for info in available_datasets() if info.needs_root} - {"mnist"} == set(FILES)


@pytest.mark.slow
@pytest.mark.parametrize("name", [info.name for info in available_datasets()])
def test_dataset_runs_through_esl_with_defaults(name, tmp_path, capsys):
    argv = ["esl", "--dataset", name, "--num-epochs", "1", "--out", str(tmp_path / "out"), "--json"]
    if name in FILES:
        FILES[name](tmp_path / "data")
        argv += ["--root", str(tmp_path / "data")]
    code = main(argv)
    captured = capsys.readouterr()
    if name in REGRESSION:
        assert code == 2 and "--dataset" in captured.err and "regression" in captured.err
        assert Store(tmp_path / "out").runs().empty
        return
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert len(out["log_d"]) == 6 and np.isfinite(out["log_d"]).all()
    assert out["verdicts"][0]["holds"] in (True, False)
