"""The `deepscope id-sweep` study: its correlations and bootstrap intervals on known data, its verdicts,
and that every grid point is an `id` run recorded in the store."""
import dataclasses
import math

import numpy as np
import pytest

from deepscope.config import ConfigError
from deepscope.store import Store
from deepscope.studies import id_sweep as sw
from deepscope.studies import intrinsic
from deepscope.studies.bootstrap import bootstrap_interval

TINY = sw.STUDY.configure(sw.STUDY.preset("tiny"))


def test_pearson_and_its_bootstrap_interval():
    x = np.arange(6.0)
    assert sw.pearson(x, 3 - 2 * x) == pytest.approx(-1.0)
    assert math.isnan(sw.pearson(x, np.ones(6)))
    every = bootstrap_interval(sw.pearson, x, 3 - 2 * x, resamples=sw.BOOTSTRAP)
    assert every == pytest.approx((-1.0, -1.0))  # every resample: -1
    rng = np.random.default_rng(1)
    y = x + rng.normal(size=6)
    low, high = bootstrap_interval(sw.pearson, x, y, resamples=sw.BOOTSTRAP, seed=2)
    assert -1 <= low < sw.pearson(x, y) < high <= 1
    # the percentiles of the resampled r, computed independently
    draws = np.random.default_rng(2).integers(0, 6, size=(sw.BOOTSTRAP, 6))
    rs = [np.corrcoef(x[i], y[i])[0, 1] for i in draws if np.ptp(x[i]) > 0]
    assert (low, high) == pytest.approx(tuple(np.percentile(rs, [2.5, 97.5])))


def result_with(llid_wd, llid_do, acc_wd, acc_do, pid_wd=None, pid_do=None):
    wds, dos = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1][:len(llid_wd)], [0.0, 0.2, 0.4, 0.6, 0.8][:len(llid_do)]
    pid_wd = pid_wd or [30.0] * len(wds)
    pid_do = pid_do or [30.0] * len(dos)
    points = [sw.Point("weight_decay", v, f"w{i}", l, p, "b", a) for i, (v, l, p, a)
              in enumerate(zip(wds, llid_wd, pid_wd, acc_wd))]
    points += [sw.Point("dropout", v, f"d{i}", l, p, "b", a) for i, (v, l, p, a)
               in enumerate(zip(dos, llid_do, pid_do, acc_do))]
    return sw.IDSweepResult(TINY, points)


def test_regularisation_lowering_llid_holds_and_its_opposite_fails():
    falling = result_with([20, 16, 12, 8, 5], [19, 15, 12, 9, 7], [0.9, 0.9, 0.85, 0.6, 0.3],
                          [0.9, 0.88, 0.85, 0.7, 0.4], pid_wd=[100, 100, 95, 70, 40])
    wd, dropout, acc, wd_collapse, dropout_collapse = sw.verdict(falling)
    assert wd.holds is True and wd.measured < -0.99 and "log10 weight decay" in wd.quantity
    assert dropout.holds is True
    assert wd_collapse.holds is True and wd_collapse.measured == pytest.approx(max(40 / 100, 0.3 / 0.9))
    assert dropout_collapse.holds is False          # PID did not fall along the dropout grid
    assert "the paper" in wd.detail
    rising = result_with([5, 8, 12, 16, 20], [5, 8, 12, 16, 20], [0.9] * 5, [0.9] * 5)
    assert sw.llid_vs_regulariser(rising, "weight_decay", "weight decay").holds is False


def test_accuracy_against_pid_over_llid_uses_each_run_once():
    result = result_with([20, 16, 12, 8], [19, 15, 12, 9], [0.5, 0.6, 0.7, 0.8], [0.55, 0.65, 0.72, 0.85])
    result.points.append(dataclasses.replace(result.points[0], regulariser="dropout", value=0.9))  # same run
    assert len(result.distinct()) == 8
    ratios = [30 / p.llid for p in result.distinct()]
    verdict = sw.accuracy_vs_ratio(result)
    assert verdict.measured == pytest.approx(sw.pearson(np.array(ratios),
                                                        np.array([p.accuracy for p in result.distinct()])))


def test_too_few_points_are_undecided():
    small = result_with([20, 10], [19, 9], [0.9, 0.8], [0.9, 0.7])
    wd, dropout, acc, wd_collapse, dropout_collapse = sw.verdict(small)
    assert all(v.holds is None for v in (wd, dropout, wd_collapse, dropout_collapse))
    assert "2 grid points" in wd.reason and "2 grid points" in wd_collapse.reason
    assert acc.holds is not None                    # both grids pooled: 4 runs are enough for this one


def test_a_grid_point_is_the_base_id_config_with_one_regulariser_changed():
    point = sw.point_config(TINY, "dropout", 0.3)
    assert type(point) is intrinsic.IDConfig and point.dropout == 0.3
    assert point.weight_decay == TINY.weight_decay and point.hidden == TINY.hidden


@pytest.mark.parametrize("changes, field", [({"weight_decays": []}, "weight_decays"), ({"dropouts": []}, "dropouts"),
                                            ({"dropouts": [0.0, 1.0]}, "dropouts"),
                                            ({"layers": ["nope"]}, "layers")])
def test_an_empty_or_impossible_grid_is_refused(changes, field):
    with pytest.raises(ConfigError) as info:
        sw.STUDY.validated(dataclasses.replace(TINY, **changes))
    assert info.value.field == field


def test_every_grid_point_is_an_id_run_in_the_store(tmp_path):
    config = dataclasses.replace(TINY, weight_decays=[1e-3, 1e-2], dropouts=[0.0, 0.5], epochs=1)
    store = Store(tmp_path)
    result = sw.run(config, store)
    runs = store.runs()
    ids = runs[runs.study == "id"]
    assert len(ids) == 4 and set(ids.id) == {p.run_id for p in result.points}
    assert set(runs[runs.study == "id-sweep"].id) == {result.run_id}
    one = intrinsic.run(sw.point_config(config, "dropout", 0.5), store)
    assert one.reused and one.llid[-1] == result.sweep("dropout")[1].llid
    again = sw.run(config, store)
    assert again.reused and [p.llid for p in again.points] == [p.llid for p in result.points]
