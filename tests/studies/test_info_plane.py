"""The information-plane study: the two tasks, the compression measure and the verdicts per estimator, I(X;T) =
H(T) on distinct inputs, tiny runs, and bad settings refused before training."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from deepscope.cli import main
from deepscope.models import build_model
from deepscope.probe import capture
from deepscope.store import Store
from deepscope.studies import info_plane

TINY = info_plane.STUDY.configure(info_plane.STUDY.preset("tiny"))


def test_the_twelve_bit_task_has_every_input_once_and_balanced_quadratic_labels():
    x, y = info_plane.twelve_bit_task(0)
    assert x.shape == (4096, 12) and len({tuple(r) for r in x.int().tolist()}) == 4096
    assert int(y.sum()) == 2048
    z = 2 * x.double() - 1
    linear = torch.linalg.lstsq(torch.cat([z, torch.ones(4096, 1, dtype=torch.float64)], 1),
                                2 * y.double() - 1).solution
    fitted = (torch.cat([z, torch.ones(4096, 1, dtype=torch.float64)], 1) @ linear > 0).long()
    assert float((fitted == y).double().mean()) < 0.95           # not a linear rule
    assert torch.equal(info_plane.twelve_bit_task(0)[1], y) and not torch.equal(info_plane.twelve_bit_task(1)[1], y)


def test_the_mnist_task_is_the_5000_embedded_images_flattened_and_distinct():
    for name, task in info_plane.TASKS.items():
        x, y = info_plane.task_data(dataclasses.replace(TINY, dataset=name))
        assert x.shape == (task.inputs, task.features) and int(y.max()) + 1 == task.classes
        assert len(torch.unique(x, dim=0)) == task.inputs                     # every input once: X = the row index
    x, _ = info_plane.task_data(dataclasses.replace(TINY, dataset="mnist"))
    assert 0 <= float(x.min()) and float(x.max()) <= 1


def result_with(curves, others=None):
    """curves: activation -> list (one per seed) of I(X;T)-like series of the last hidden layer, used for every
    estimator unless ``others`` (activation -> seeds) gives the KDE and DSE series."""
    runs = {}
    for activation, seeds in curves.items():
        runs[activation] = []
        for s, series in enumerate(seeds):
            kernel = series if others is None else others[activation][s]
            runs[activation].append([info_plane.Checkpoint(e, 1.0, 1.0, {"hidden5": {
                "bin_x": v, "bin_y": v, "kde_x": k, "kde_y": k, "dse_x": k, "dse_y": k}})
                for e, (v, k) in enumerate(zip(series, kernel))])
    return info_plane.InfoPlaneResult(TINY, runs)


def test_compression_is_the_fall_after_the_peak_of_the_seed_mean():
    result = result_with({"tanh": [[1, 6, 4], [1, 4, 2]], "relu": [[1, 3, 5], [1, 4, 5]]})
    assert result.compression("tanh", "bin") == pytest.approx((5 - 3) / 5)
    assert result.compression("relu", "bin") == 0.0
    verdicts = info_plane.verdict(result)
    assert len(verdicts) == 2 * len(info_plane.ESTIMATES) and all(v.holds for v in verdicts)
    assert [v.claim for v in verdicts[:2]] == ["tanh: the last hidden layer compresses (binning)",
                                               "ReLU: the last hidden layer does not compress (binning)"]
    swapped = info_plane.verdict(result_with({"tanh": [[1, 3, 5], [1, 4, 5]], "relu": [[1, 6, 4], [1, 4, 2]]}))
    assert [v.holds for v in swapped] == [False] * 6
    single = info_plane.verdict(result_with({"tanh": [[1, 6, 4]], "relu": [[1, 3, 5]]}))
    assert all(v.holds is None and "1 seeds" in v.reason for v in single)


def test_each_estimator_gets_its_own_verdicts_with_the_same_threshold():
    # binning compresses for tanh (20%); the kernel estimators rise to the end for both networks
    result = result_with({"tanh": [[1, 5, 4], [1, 5, 4]], "relu": [[1, 3, 5], [1, 3, 5]]},
                         others={"tanh": [[1, 2, 3], [1, 2, 3]], "relu": [[1, 2, 3], [1, 2, 3]]})
    verdicts = {v.claim: v for v in info_plane.verdict(result)}
    assert verdicts["tanh: the last hidden layer compresses (binning)"].holds
    for name in ("KDE upper bound", "DSE"):
        compresses = verdicts[f"tanh: the last hidden layer compresses ({name})"]
        assert compresses.holds is False and compresses.measured == 0.0
        assert compresses.threshold == info_plane.COMPRESSION and compresses.direction == ">="
        assert verdicts[f"ReLU: the last hidden layer does not compress ({name})"].holds
    assert "DSE(T)" in verdicts["tanh: the last hidden layer compresses (DSE)"].quantity


def test_a_tiny_run_measures_every_hidden_layer_with_three_estimators():
    result = info_plane.run(dataclasses.replace(TINY, epochs=4, checkpoints=3, seeds=1))
    for activation in info_plane.ACTIVATIONS:
        (checkpoints,) = result.runs[activation]
        assert [c.epoch for c in checkpoints] == [0, 1, 4]
        layers = checkpoints[-1].layers
        assert list(layers) == [f"hidden{i}" for i in range(1, 6)]
        for values in layers.values():
            assert 0 <= values["bin_x"] <= 12 and 0 <= values["bin_y"] <= 1 + 1e-9   # H(X) = 12 bits, H(Y) = 1 bit
            assert values["kde_x"] >= 0 and values["dse_x"] >= 0


def test_on_distinct_mnist_images_the_binned_i_xt_is_the_entropy_of_the_binned_layer():
    config = dataclasses.replace(TINY, dataset="mnist", hidden=[16, 4], epochs=1, checkpoints=2, seeds=1)
    result = info_plane.run(config)
    x, y = info_plane.task_data(config)
    model = build_model("mlp", in_features=784, num_classes=10, hidden=[16, 4], activation="tanh", batchnorm=False,
                        seed=config.seed)                              # the tanh network at epoch 0 (untrained)
    for layer, T in capture(model, x, ["hidden1", "hidden2"]).items():
        codes = np.clip(np.floor((T.double().numpy() + 1) / 2 * config.bins), 0, config.bins - 1)
        _, counts = np.unique(codes, axis=0, return_counts=True)
        p = counts / counts.sum()
        entropy = float(-(p * np.log2(p)).sum())                       # H(T_binned), by hand
        values = result.runs["tanh"][0][0].layers[layer]
        assert values["bin_x"] == pytest.approx(entropy, abs=1e-9) and entropy <= math.log2(5000)
        assert values["bin_y"] <= math.log2(10) + 1e-9 and values["kde_x"] <= math.log2(config.kde_points) + 1e-9


def _cli(argv, tmp_path, capsys):
    code = main(["info-plane", "--preset", "tiny", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert not (tmp_path / "deepscope.sqlite").exists() or Store(tmp_path).runs().empty
    return err


@pytest.mark.parametrize(("argv", "needle"), [
    (["--kde-points", "4097"], "--kde-points is 4097 but tishby12 has 4096 inputs"),
    (["--dataset", "mnist", "--kde-points", "5001"], "--kde-points is 5001 but mnist has 5000 inputs"),
    (["--dataset", "mnist", "--kde-points", "16"], "--kde-points is 16, which leaves 3 of the 10 classes out"),
    (["--checkpoints", "32"], "--checkpoints is 32 but a run of 30 epochs"),
    (["--optimizer", "adam"], "--momentum is 0.9 but momentum is an SGD setting"),
    (["--bins", "1"], "--bins must be >= 2"),
    (["--noise-var", "0"], "--noise-var must be > 0"),
])
def test_bad_settings_are_refused_before_training(argv, needle, tmp_path, capsys):
    assert needle in _cli(argv, tmp_path, capsys)
