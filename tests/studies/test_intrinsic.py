"""The `deepscope id` study: its verdicts on known ID profiles, the checkpoint schedule, the settings it
refuses, and that each checkpoint's numbers are TwoNN of one capture of the network."""
import dataclasses
import math

import pytest
import torch

from deepscope.config import ConfigError
from deepscope.metrics.intrinsic_dim import twonn
from deepscope.probe import capture
from deepscope.studies import intrinsic as idst

TINY = idst.STUDY.configure(idst.STUDY.preset("tiny"))


def result_with(profile_over_time, input_id=10.0, layers=("a", "b", "c")):
    """An IDResult whose layer IDs at checkpoint i are profile_over_time[i]."""
    steps = list(range(len(profile_over_time)))
    ids = {name: [row[j] for row in profile_over_time] for j, name in enumerate(layers)}
    return idst.IDResult(TINY, steps, list(layers), ids, {n: [0.0] * len(steps) for n in layers}, input_id, 0.0,
                         [0.5] * len(steps), 100)


def test_hunchback_holds_for_rise_then_fall_and_fails_for_a_falling_profile():
    rising_falling = result_with([[12, 20, 8]])
    verdict = idst.hunchback(rising_falling)
    assert verdict.holds is True and verdict.measured == pytest.approx(min(20 / 10, 20 / 8))
    assert "peak at b" in verdict.detail
    falling = idst.hunchback(result_with([[9, 8, 7]]))
    assert falling.holds is False and falling.measured == pytest.approx(9 / 10)
    peak_last = idst.hunchback(result_with([[11, 12, 13]]))          # the peak is the last hidden layer
    assert peak_last.holds is False and peak_last.measured == pytest.approx(1.0)
    barely = idst.hunchback(result_with([[10.3, 10.4, 9]]))           # within the 5% noise margin of the input
    assert barely.holds is False


def test_llid_falls_after_its_rise():
    rise_fall = idst.llid_falls(result_with([[1, 1, 10], [1, 1, 14], [1, 1, 12], [1, 1, 7]]))
    assert rise_fall.holds is True and rise_fall.measured == pytest.approx(7 / 14)
    assert "largest 14.00 at step 1" in rise_fall.detail and "rise of 40%" in rise_fall.detail
    keeps_rising = idst.llid_falls(result_with([[1, 1, 10], [1, 1, 11], [1, 1, 12], [1, 1, 13]]))
    assert keeps_rising.holds is False and keeps_rising.measured == 1.0


def test_pid_and_llid_follow_the_papers_meanings():
    result = result_with([[12, 20, 8], [15, 11, 9]])
    assert result.llid == [8, 9] and result.pid == [20, 15]
    assert result.profile(0) == [10.0, 12, 20, 8]


def test_too_little_evidence_is_undecided():
    one_layer = idst.hunchback(result_with([[5.0]], layers=("a",)))
    assert one_layer.holds is None and "1 hidden layers" in one_layer.reason
    short = idst.llid_falls(result_with([[1, 1, 10], [1, 1, 14], [1, 1, 7]]))
    assert short.holds is None and "3 checkpoints" in short.reason


def test_checkpoints_are_log_spaced_from_zero_to_the_last_step():
    config = dataclasses.replace(TINY, data_length=300, batch_size=100, epochs=10, checkpoints=6)
    steps = idst.checkpoint_steps(config)
    assert idst.iterations(config) == 30 and steps[0] == 0 and steps[-1] == 30 and len(steps) == 6
    assert all(b > a for a, b in zip(steps, steps[1:]))
    assert idst.checkpoint_steps(dataclasses.replace(config, steps=[7, 0, 3])) == [0, 3, 7]


def test_evaluation_set_takes_the_first_points_of_each_class():
    y = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])
    assert idst.evaluation_set(y, 2).tolist() == [0, 1, 2, 3, 4, 6]


@pytest.mark.parametrize("changes, field, needle", [
    ({"steps": [0, 10]}, "steps", "9 iterations"),
    ({"layers": ["hidden1", "conv9"]}, "layers", "'conv9'"),
    ({"layers": ["input", "logits"]}, "layers", "no hidden layer"),
    ({"nres": 3, "subsample": 1.0}, "subsample", "all be the same"),
    ({"lr_milestones": [3]}, "lr_milestones", "below --epochs"),
])
def test_bad_settings_are_refused_before_any_training(changes, field, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        idst.STUDY.validated(dataclasses.replace(TINY, **changes))
    assert info.value.field == field


def test_a_cnn_on_vectors_is_refused_before_training():
    with pytest.raises(ConfigError, match="takes images"):
        idst.run(dataclasses.replace(TINY, dataset="mnist1d", model="lenet"))


def test_each_checkpoint_is_twonn_of_one_capture():
    config = dataclasses.replace(TINY, epochs=1, steps=[0, 3])
    result = idst.run(config)
    assert result.steps == [0, 3] and result.layers == ["hidden1", "hidden2"] and result.n_eval == 200
    x, y, classes, x_eval, y_eval = idst._data(config)
    assert result.input_id == twonn(x_eval, 0.9, 2, 0.9, 0).dimension
    features = capture(idst._model(config, x, classes), x_eval)          # the untrained net: step 0
    for name in result.layers:
        assert result.ids[name][0] == twonn(features[name], 0.9, 2, 0.9, 0).dimension
    assert result.accuracy[0] == float((features["logits"].argmax(1) == y_eval).float().mean())
    assert all(math.isfinite(v) for v in result.llid + result.pid)


def test_lr_milestones_reach_the_trainer(monkeypatch):
    """The step decay itself is the Trainer's (tests/train/test_trainer.py); the study must pass it on."""
    seen = []
    fit = idst.Trainer.fit

    def spy(self):
        seen.append((self.config.lr_milestones, self.config.lr_gamma))
        return fit(self)

    monkeypatch.setattr(idst.Trainer, "fit", spy)
    idst.run(dataclasses.replace(TINY, epochs=max(TINY.epochs, 2), lr_milestones=[1], lr_gamma=0.2))
    assert seen == [([1], 0.2)]


def test_lenet_dropout_is_on_in_training_and_off_when_measured():
    config = dataclasses.replace(TINY, model="lenet", dropout=0.5)
    x = torch.randn(8, 1, 28, 28)
    model = idst._model(config, x, 10)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))
    assert torch.equal(capture(model, x)["fc2"], capture(model, x)["fc2"])
