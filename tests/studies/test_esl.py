import dataclasses
import math

import pytest
import torch

from deepscope.data import load_dataset
from deepscope.errors import DeepscopeError
from deepscope.metrics.separation import separation_fuzziness
from deepscope.store import Store
from deepscope.studies import esl as study
from deepscope.studies.esl_api import ESL

SMALL = study.ESLConfig(dataset="digits", data_length=300, data_size=8, hidden_dim=32, depth=4, num_epochs=15,
                        stop_loss=None, batch_size=50)


def test_small_run_measures_the_seed_layers_and_is_reproducible():
    a = study.run(SMALL)
    b = study.run(SMALL)
    assert a.layers == ("input", "hidden1", "hidden2", "hidden3")    # raw input + hidden layers, not logits
    assert a.log_d == b.log_d and a.final_train_loss == b.final_train_loss
    data = study.load_data(SMALL)
    assert math.isclose(a.log_d[0], math.log(separation_fuzziness(data.flat(), data.y)), rel_tol=1e-9)
    assert a.ratio == pytest.approx(math.exp(a.slope))
    assert set(a.nc) >= {"nc1", "nc2_equinorm", "nc3", "nc4", "ncc_accuracy"}
    c = study.run(dataclasses.replace(SMALL, seed=1))
    assert c.log_d != a.log_d


def test_store_reuses_finished_run_and_force_reruns(tmp_path):
    store = Store(tmp_path)
    first = study.run(SMALL, store)
    again = study.run(SMALL, store)
    assert again.reused and again.run_id == first.run_id and again.log_d == list(first.log_d)
    assert study.verdict(again).holds == study.verdict(first).holds
    forced = study.run(SMALL, store, force=True)
    assert not forced.reused
    runs = store.runs()
    assert len(runs) == 1 and runs.iloc[0]["status"] == "finished"
    metrics = store.metrics(first.run_id, metric="log_d")
    assert sorted(metrics["layer"]) == sorted(first.layers)


def test_checkpoints_record_log_d_during_training(tmp_path):
    store = Store(tmp_path)
    result = study.run(dataclasses.replace(SMALL, every=5, metrics=["nc"]), store)
    rows = store.metrics(result.run_id, metric="log_d")
    steps = sorted(set(rows["step"]))
    per_epoch = math.ceil(SMALL.data_length / SMALL.batch_size)
    assert steps[:3] == [0, 5 * per_epoch, 10 * per_epoch] and steps[-1] == result.iterations
    assert len(rows) == len(set(zip(rows["step"], rows["layer"])))     # the final model is measured once
    assert "nc.nc1" in set(store.metrics(result.run_id)["metric"])
    assert set(store.metrics(result.run_id, metric="nc")["metric"]) >= {"nc.nc1", "nc.ncc_accuracy"}
    assert set(result.extra["hidden3"]) >= {"nc.nc1", "nc.ncc_accuracy"}
    epochs = store.metrics(result.run_id, metric="log_d")[["step", "epoch"]].drop_duplicates()
    assert list(epochs["epoch"]) == [s // per_epoch for s in epochs["step"]]   # both units are stored


def test_divergence_is_recorded_not_finished(tmp_path):
    store = Store(tmp_path)
    config = dataclasses.replace(SMALL, opt="sgd", lr=1e12, batchnorm=False, num_epochs=5)
    result = study.run(config, store)
    assert result.diverged and "diverged" in result.message
    assert store.runs().iloc[0]["status"] == "diverged"
    assert not study.verdict(result).holds


def test_verdict_threshold():
    result = study.run(SMALL)
    v = study.verdict(result)
    assert v.holds == (result.pearson_r <= -0.99) and v.threshold == -0.99


def test_measure_on_test_split():
    result = study.run(dataclasses.replace(SMALL, measure_on="test"))
    test = load_dataset("digits", split="test", size=8)
    assert math.isclose(result.log_d[0], math.log(separation_fuzziness(test.flat(), test.y)), rel_tol=1e-9)


def test_seed_compatible_class(tmp_path):
    esl = ESL(dataset="digits", data_length=200, batch_size=50, data_size=8, seed=0)
    widths = [64, 32, 32]
    esl.set_model(width_list=widths, p=0.0)
    assert widths == [64, 32, 32]                                   # not mutated (a seed bug)
    assert esl.model.head.linear.out_features == 10
    with pytest.raises(DeepscopeError, match="input dimension"):
        esl.set_model(width_list=[100, 32])
    esl.set_model(hidden_dim=16, depth=3, p=0.05)
    esl.train(lr=1e-2, num_epochs=3, opt="SGD")
    assert isinstance(esl.result, object) and esl.config.opt == "sgd"
    optimizer = torch.optim.SGD(esl.model.parameters(), lr=0.05, momentum=0.9)
    esl.train(num_epochs=2, opt=optimizer)
    log_d = esl.compute_separation()
    assert len(log_d) == 3
    r = esl.plot_separation(log_d, path=tmp_path / "sep.png")
    assert (tmp_path / "sep.png").stat().st_size > 1000 and -1.0 <= r <= 1.0


def test_seed_sgd_builds_sgd():
    esl = ESL(dataset="digits", data_length=100, data_size=8)
    esl.set_model(hidden_dim=8, depth=2)
    esl.train(num_epochs=1, opt="SGD")
    trainer_opt = study.train_config(esl.config).optimizer
    assert trainer_opt == "sgd"


@pytest.mark.slow
def test_quick_start_on_embedded_mnist_obeys_the_law():
    """The seed README's quick start on the 5,000-image MNIST subset: r <= -0.99 (measured.md: -0.997..-0.998)."""
    result = study.run(study.ESLConfig())
    assert result.pearson_r <= -0.99, result.log_d
    assert 2.7 < result.log_d[0] < 3.2       # input-layer log D of MNIST at 10x10 (measured.md: 2.87-3.05)
    assert result.ratio < 1
