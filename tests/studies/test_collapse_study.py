"""The neural-collapse study: verdicts on constructed trajectories, and what one run measures."""
import dataclasses

import pytest

from deepscope.studies import collapse

TINY = collapse.STUDY.configure(collapse.STUDY.preset("tiny"))


def result_with(train_accuracy, nc1, etf=(0.4, 0.1), nc3=(0.3, 0.1), nc4=(0.0, 0.0)):
    """Checkpoints at epochs 0, 1, 2, ... with the given train accuracies; NC values interpolate linearly in
    the checkpoint index from the first to the last value given for each measure."""
    n = len(train_accuracy)

    def at(pair, i):
        return pair[0] + (pair[1] - pair[0]) * i / (n - 1)

    checkpoints = [collapse.Checkpoint(i, acc, 0.9, {"nc1": at(nc1, i), "nc2_etf_distance": at(etf, i),
                                                     "nc2_equinorm": 0.1, "nc2_equiangular": 0.1, "nc3": at(nc3, i),
                                                     "nc4": at(nc4, i)}, [])
                   for i, acc in enumerate(train_accuracy)]
    return collapse.CollapseResult(TINY, checkpoints, last_layer="hidden2")


def test_collapse_past_zero_error_holds_and_a_shallow_fall_fails():
    full = result_with([0.5, 1.0, 1.0, 1.0, 1.0], nc1=(2.0, 0.01))   # NC1 0.4975 at the TPT start -> 0.01
    nc1, nc2, nc3, nc4 = collapse.verdict(full)
    assert full.zero_error().epoch == 1
    assert nc1.holds and nc1.measured == pytest.approx(0.01 / 1.5025)
    assert nc2.holds and nc3.holds and nc4.holds
    shallow, *_ = collapse.verdict(result_with([0.5, 1.0, 1.0, 1.0, 1.0], nc1=(1.0, 0.5)))
    assert shallow.holds is False and shallow.measured == pytest.approx(0.5 / 0.875)
    *_, ncc = collapse.verdict(result_with([0.5, 1.0, 1.0, 1.0], nc1=(1.0, 0.01), nc4=(0.2, 0.02)))
    assert ncc.holds is False and ncc.measured == pytest.approx(0.02)


def test_no_zero_error_or_too_short_a_terminal_phase_is_undecided():
    never = collapse.verdict(result_with([0.5, 0.9, 0.99], nc1=(1.0, 0.01)))
    assert all(v.holds is None and "never reached zero" in v.reason for v in never)
    short = collapse.verdict(result_with([0.5, 0.9, 1.0, 1.0], nc1=(1.0, 0.01)))
    assert all(v.holds is None and "2 checkpoints at zero training error" in v.reason for v in short)


def test_a_run_measures_every_layer_at_log_spaced_epochs_with_the_decay_at_thirds(monkeypatch):
    rates = []
    original = collapse.Trainer.fit

    def spy(self):
        rates.append(self.config.lr_milestones)
        return original(self)

    monkeypatch.setattr(collapse.Trainer, "fit", spy)
    result = collapse.run(dataclasses.replace(TINY, epochs=30, checkpoints=5))
    assert rates == [[10, 20]]
    epochs = [c.epoch for c in result.checkpoints]
    assert epochs[0] == 0 and epochs[-1] == 30 and epochs == sorted(set(epochs))
    assert [p for p, _ in result.checkpoints[-1].nc1_by_layer] == ["input", "hidden1", "hidden2"]
    assert result.last_layer == "hidden2" and result.measure_seconds > 0 and result.train_seconds > 0
    assert {"nc1", "nc2_etf_distance", "nc2_equinorm", "nc2_equiangular", "nc3", "nc4"} <= set(result.checkpoints[-1].nc)
