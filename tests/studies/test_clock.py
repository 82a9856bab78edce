"""SplitClock: a measured run's wall time split into the measuring callbacks and the rest."""
import time

from deepscope.studies.clock import SplitClock


class _Trainer:
    """Trains for 0.05 s around one checkpoint whose callback takes 0.1 s."""

    def __init__(self, callback):
        self.callback = callback

    def fit(self):
        time.sleep(0.025)
        self.callback(None)
        time.sleep(0.025)
        return "result"


def test_measuring_time_is_taken_out_of_the_training_time_and_runs_add_up():
    clock = SplitClock()
    for _ in range(2):
        assert clock.fit(_Trainer(clock.measuring(lambda state: time.sleep(0.1)))) == "result"
    assert 0.2 <= clock.measure_seconds < 0.3
    assert 0.1 <= clock.train_seconds < 0.19
