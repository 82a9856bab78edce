"""The DSE/DSMI-through-training study: verdicts on constructed runs, the bootstrap, tiny runs (Z only and every
probe point, stored per layer), and bad settings refused before training."""
import dataclasses

import numpy as np
import pytest

from deepscope.cli import main
from deepscope.config import ConfigError
from deepscope.store import Store
from deepscope.studies import dse
from deepscope.studies.bootstrap import bootstrap_interval, spearman

TINY = dse.STUDY.configure(dse.STUDY.preset("tiny"))


def run_of(dsmi, accuracy):
    return [dse.Checkpoint(e, a, {m: (d if m == "dsmi_zy" else 0.0) for m in dse.MEASURES})
            for e, (d, a) in enumerate(zip(dsmi, accuracy))]


def result_with(true_dsmi, true_acc, shuffled_dsmi, shuffled_acc):
    return dse.DSEResult(TINY, {"true": run_of(true_dsmi, true_acc), "shuffled": run_of(shuffled_dsmi, shuffled_acc)},
                         num_classes=10)


def test_tracking_dsmi_and_a_flat_shuffled_run_hold():
    result = result_with([0.0, 0.3, 0.5, 0.6, 0.7, 0.8], [0.1, 0.6, 0.8, 0.85, 0.9, 0.92],
                         [0.0, 0.02, 0.05, 0.03, 0.02, 0.02], [0.1, 0.11, 0.1, 0.12, 0.1, 0.11])
    tracks, near_zero, chance = dse.verdict(result)
    assert tracks.holds and tracks.measured == pytest.approx(1.0)
    assert near_zero.holds and near_zero.measured == pytest.approx(0.05 / 0.8)
    assert chance.holds and chance.measured == pytest.approx(0.11)


def test_dsmi_that_does_not_follow_accuracy_or_a_learning_shuffled_run_fail():
    result = result_with([0.8, 0.1, 0.7, 0.2, 0.6, 0.3], [0.1, 0.6, 0.8, 0.85, 0.9, 0.92],
                         [0.0, 0.2, 0.3, 0.3, 0.3, 0.3], [0.1, 0.2, 0.3, 0.3, 0.3, 0.3])
    tracks, near_zero, chance = dse.verdict(result)
    assert tracks.holds is False and near_zero.holds is False and chance.holds is False
    few = dse.verdict(result_with([0.1, 0.2], [0.1, 0.5], [0.0, 0.0], [0.1, 0.1]))[0]
    assert few.holds is None and "2 checkpoints" in few.reason


def test_bootstrap_interval_of_a_perfect_and_of_an_absent_association():
    x = np.arange(30.0)
    assert bootstrap_interval(spearman, x, 2 * x + 1) == pytest.approx((1.0, 1.0))
    noise = np.random.default_rng(1).normal(size=200)
    low, high = bootstrap_interval(spearman, np.arange(200.0), noise, resamples=300)
    assert low < 0 < high and high - low < 0.4


def test_a_tiny_run_measures_both_runs_on_every_class():
    result = dse.run(dataclasses.replace(TINY, epochs=3, checkpoints=3))
    assert set(result.runs) == {"true", "shuffled"}
    for checkpoints in result.runs.values():
        assert [c.epoch for c in checkpoints] == [0, 1, 3]
        assert set(checkpoints[-1].values) == set(dse.MEASURES)
        assert all(v >= 0 for c in checkpoints for v in c.values.values())
    assert result.runs["true"][0].values == result.runs["shuffled"][0].values   # same init, same evaluation set
    assert result.measure_seconds > 0 and result.train_seconds > 0


def test_an_evaluation_set_larger_than_the_test_split_is_refused():
    with pytest.raises(ConfigError) as err:
        dse.run(dataclasses.replace(TINY, eval_points=100_000))
    assert err.value.field == "eval_points"


def test_every_probe_point_is_measured_and_stored_per_layer_on_request(tmp_path):
    config = dataclasses.replace(TINY, epochs=1, checkpoints=2, eval_points=60, layers="all")
    result = dse.run(config, Store(tmp_path))
    points = ["input", "hidden1", "hidden2", "logits"]                     # depth 3: the MLP's probe points
    assert result.layers == points
    for checkpoints in result.runs.values():
        for c in checkpoints:
            assert list(c.layers) == points and c.layers["hidden2"] == c.values   # Z = the penultimate layer
            assert all(set(values) == set(dse.MEASURES) for values in c.layers.values())
        assert checkpoints[0].layers["input"] == checkpoints[-1].layers["input"]   # the inputs do not train
    rows = Store(tmp_path).metrics(result.run_id)
    measured = rows[rows.metric.isin(dse.MEASURES)]
    assert set(measured.layer) == {f"{run}/{p}" for run in dse.RUNS for p in points}
    assert len(measured) == len(dse.RUNS) * 2 * len(points) * len(dse.MEASURES)   # 2 checkpoints each
    stored = measured[(measured.layer == "true/hidden1") & (measured.metric == "dsmi_zy")].value.tolist()
    assert stored == pytest.approx(result.series("true", "dsmi_zy", "hidden1"))
    assert dse.figure(result, tmp_path / "all.png").stat().st_size > 1000
    assert "every probe point at the last epoch" in dse.report(result)


def test_by_default_only_the_penultimate_layer_is_stored(tmp_path):
    result = dse.run(dataclasses.replace(TINY, epochs=1, checkpoints=2, eval_points=60), Store(tmp_path))
    assert result.layers == [] and all(not c.layers for c in result.runs["true"])
    rows = Store(tmp_path).metrics(result.run_id)
    assert set(rows[rows.metric.isin(dse.MEASURES)].layer) == {"true/hidden2", "shuffled/hidden2"}


@pytest.mark.parametrize(("argv", "needle"), [
    (["--checkpoints", "14"], "--checkpoints is 14 but a run of 12 epochs"),
    (["--dataset", "linear-regression"], "--dataset linear-regression is a regression set"),
    (["--eval-points", "10"], "--eval-points = 10 leaves a class out of the evaluation set"),
    (["--bins", "1"], "--bins must be >= 2"),
    (["--layers", "some"], "--layers must be one of penultimate, all"),
])
def test_bad_settings_are_refused_before_training(argv, needle, tmp_path, capsys):
    code = main(["dse", "--preset", "tiny", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err
    assert not (tmp_path / "deepscope.sqlite").exists() or Store(tmp_path).runs().empty
