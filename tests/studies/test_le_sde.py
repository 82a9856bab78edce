"""deepscope le-sde: the stacked logger against plain trials, a fresh net's chance level, the data layout,
settings refused before any work, and the transition read off a sweep."""
import math

import numpy as np
import pytest
import torch

from deepscope.config import ConfigError
from deepscope.data import load_dataset
from deepscope.studies import le_sde as study
from deepscope.studies.le_sde_logger import log_trials, plain_trial


@pytest.fixture(scope="module")
def geomnist():
    options = {"n_per_class": 60, "train_fraction": 0.5, "seed": 3}
    return load_dataset("geomnist", **options), load_dataset("geomnist", split="test", **options)


def test_a_trial_run_together_equals_the_same_trial_run_alone(geomnist):
    train, val = geomnist
    log = log_trials(train.x, train.y, val.x, val.y, seeds=[11, 12, 13], iterations=25, lr=0.05, evaluations=2)
    for t, seed in enumerate([11, 12, 13]):
        logits, losses = plain_trial(train.x, train.y, seed=seed, iterations=25, lr=0.05, num_classes=3)
        np.testing.assert_allclose(log.logits[t], logits, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(log.loss[t], losses, rtol=1e-4, atol=1e-5)
    assert not np.allclose(log.logits[0], log.logits[1])            # trials differ: own init, own draws


def test_a_fresh_net_is_at_chance(geomnist):
    train, val = geomnist
    log = log_trials(train.x, train.y, val.x, val.y, seeds=list(range(6)), iterations=2, lr=0.01, evaluations=2)
    assert log.eval_steps.tolist() == [0, 2]
    np.testing.assert_allclose(log.val_loss[:, 0], math.log(3), atol=0.02)  # ≈ ln 3, as the seed's head shows
    assert abs(log.val_accuracy[:, 0].mean() - 1 / 3) < 0.15


def test_data_layout_true_classes_and_distinct_class_means():
    config = study.LESDEConfig(n_train=30, n_val=10)
    x, y, classes, x_val, y_val = study._data(config, 0.4)
    assert classes.tolist() == [0] * 30 + [1] * 30 + [2] * 30             # 0 triangle, 1 rectangle, 2 ellipse
    assert y_val.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert (y != classes).sum() == 3 * int(0.4 * 30)                      # noisy labels, true classes kept
    means = torch.stack([x[classes == k].mean(0).flatten() for k in range(3)])
    assert torch.cdist(means, means)[~torch.eye(3, dtype=torch.bool)].min() > 1.0
    assert study.CLASS_NAMES == ["triangle", "rectangle", "ellipse"]


@pytest.mark.parametrize("settings, field", [
    ({"noise": [0.0, 1.0]}, "noise"), ({"noise": [-0.1]}, "noise"), ({"trials": 0}, "trials"),
    ({"window": 150}, "window"), ({"window": 2001}, "window"), ({"ode_window": 20}, "ode_window"),
    ({"tail": 2000}, "tail"), ({"estimator": "X"}, "estimator")])
def test_bad_settings_are_refused_before_any_work(settings, field):
    with pytest.raises(ConfigError) as info:
        study.STUDY.configure(settings)
    assert info.value.field == field


def _level(p: float, late: float, boot: list[float]) -> study.Level:
    return study.Level(p, late, [late, late], late, boot, 1.0, 1.0, 1.0, 1.0, 0.01, [0, 1], [1.1, 0.1],
                       [0.3, 0.9], [0.0, 0.0], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1])


def test_transition_is_where_the_late_rate_turns_non_positive():
    levels = [_level(0.0, 3.0, [3, 3]), _level(0.6, 1.0, [1, 2]), _level(0.7, -1.0, [-1, 2]),
              _level(0.8, -2.0, [-2, -2])]
    found = study.transition(levels)
    assert found["estimate"] == pytest.approx(0.65)                       # 0.6 + 0.1 * 1 / (1 + 1)
    assert found["interval"][0] == pytest.approx(0.65) and found["interval"][1] == pytest.approx(0.7 + 0.1 * 2 / 4)
    result = study.LESDEResult(study.LESDEConfig(), levels)
    elastic, loss, where = study.verdict(result)
    assert elastic.holds is True and loss.holds is True and where.holds is True
    never = study.transition([_level(0.0, 1.0, [1]), _level(0.8, 0.5, [0.5])])
    assert never["estimate"] == math.inf


def test_summary_restores_the_same_result():
    levels = [_level(0.0, 3.0, [3, 3]), _level(0.8, -2.0, [-2, -2])]
    result = study.LESDEResult(study.LESDEConfig(), levels, [0, 1], [[[1.0] * 3] * 3] * 2, [[[1.0] * 3] * 3] * 2,
                               [[[0.0] * 3] * 3] * 2)
    back = study.from_summary(result.config, result.summary(), "x")
    assert back.levels == result.levels and back.means == result.means and back.reused
