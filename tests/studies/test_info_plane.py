"""The information-plane study: the generated 12-bit task, the compression measure and verdicts, one tiny run."""
import dataclasses

import pytest
import torch

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


def result_with(curves):
    """curves: activation -> list (one per seed) of binned I(X;T) series of the last hidden layer."""
    runs = {}
    for activation, seeds in curves.items():
        runs[activation] = [[info_plane.Checkpoint(e, 1.0, 1.0, {"hidden5": {k: v for k in (
            "bin_x", "bin_y", "kde_x", "kde_y", "dse_x", "dse_y")}}) for e, v in enumerate(series)] for series in seeds]
    return info_plane.InfoPlaneResult(TINY, runs)


def test_compression_is_the_fall_after_the_peak_of_the_seed_mean():
    result = result_with({"tanh": [[1, 6, 4], [1, 4, 2]], "relu": [[1, 3, 5], [1, 4, 5]]})
    assert result.compression("tanh", "bin") == pytest.approx((5 - 3) / 5)
    assert result.compression("relu", "bin") == 0.0
    tanh, relu = info_plane.verdict(result)
    assert tanh.holds and relu.holds
    swapped = info_plane.verdict(result_with({"tanh": [[1, 3, 5], [1, 4, 5]], "relu": [[1, 6, 4], [1, 4, 2]]}))
    assert [v.holds for v in swapped] == [False, False]
    single = info_plane.verdict(result_with({"tanh": [[1, 6, 4]], "relu": [[1, 3, 5]]}))
    assert all(v.holds is None and "1 seeds" in v.reason for v in single)


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
