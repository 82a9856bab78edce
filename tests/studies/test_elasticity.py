"""deepscope elasticity: settings refused before training, verdict rules, and a record restored as it was."""
import dataclasses

import pytest

from deepscope.config import ConfigError
from deepscope.errors import DeepscopeError
from deepscope.studies import elasticity as study


def _measure(ratio: float) -> study.Measure:
    return study.Measure([[1.0, 0.5], [0.5, 1.0]], ratio, 1.0, ratio, [[1.0, 0.5], [0.5, 1.0]], ratio, 1.0, ratio,
                         0.9)


def _result(ratio: float, train_accuracy: float = 1.0, per_class: int = 10) -> study.ElasticityResult:
    config = study.ElasticityConfig(probe_per_class=per_class)
    row = study.DatasetRow("geomnist", ["a", "b"], 2 * per_class, train_accuracy, 0.95, _measure(1.0), _measure(ratio))
    return study.ElasticityResult(config, [row])


def test_verdict_compares_the_trained_ratio_with_one():
    assert study.verdict(_result(1.7))[0].holds is True
    assert study.verdict(_result(0.8))[0].holds is False


def test_an_untrained_network_or_too_few_probes_is_undecided():
    untrained = study.verdict(_result(1.7, train_accuracy=0.5))[0]
    assert untrained.holds is None and "not a trained network" in untrained.reason
    few = study.verdict(_result(1.7, per_class=2))[0]
    assert few.holds is None and "needs at least" in few.reason


def test_summary_restores_the_same_result():
    result = _result(1.3)
    back = study.from_summary(result.config, result.summary(), "abc")
    assert back.rows == result.rows and back.reused


def test_bad_settings_are_refused_before_any_training():
    with pytest.raises(ConfigError, match="datasets"):
        study.STUDY.configure({"datasets": ["mnist1d"]})
    with pytest.raises(ConfigError, match="data_size"):
        study.STUDY.configure({"data_size": 8})
    config = study.STUDY.configure(study.STUDY.preset("tiny"), {"probe_per_class": 10_000})
    with pytest.raises(DeepscopeError, match="--probe-per-class"):
        study.run(config, progress=False)


def test_tiny_run_measures_both_states():
    config = study.STUDY.configure(study.STUDY.preset("tiny"))
    result = study.run(config, progress=False)
    (row,) = result.rows
    assert row.probes == 3 * config.probe_per_class and len(row.trained.matrix) == 3
    for m in (row.init, row.trained):
        assert m.same > 0 and m.other > 0 and m.ratio == pytest.approx(m.same / m.other)
        assert m.agreement > 0.5                     # the NTK form tracks the finite step at this step size
    assert dataclasses.asdict(config)["datasets"] == ["geomnist"]
