"""The DSE/DSMI-through-training study: verdicts on constructed runs, the bootstrap, and one tiny run."""
import dataclasses

import numpy as np
import pytest

from deepscope.config import ConfigError
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
