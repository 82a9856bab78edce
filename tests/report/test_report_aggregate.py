"""Grouping a store's runs for the report: by study, then by config up to the seed; mean ± std over seeds."""
import math

import numpy as np
import pytest

from deepscope.errors import DeepscopeError
from deepscope.report.aggregate import ClaimStats, RunRecord, existing_store, group_labels, group_runs, load_runs
from deepscope.store import Store
from deepscope.store.sqlite import DB_NAME


def verdict(measured, claim="the law holds", quantity="r", threshold=-0.99):
    state = "UNDECIDED" if measured is None else ("HOLDS" if measured <= threshold else "FAILS")
    return {"claim": claim, "quantity": quantity, "measured": measured, "threshold": threshold, "direction": "<=",
            "holds": None if measured is None else measured <= threshold, "detail": f"{claim}: {measured}",
            "reason": "too few layers" if measured is None else None, "state": state}


def finished(store, study, config, verdicts):
    run = store.start(study, config)
    run.log(0, "", "loss", 1.0)
    run.finish({"summary": {"note": "made by hand"}, "verdicts": verdicts})
    return run.id


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path)
    for seed, r in enumerate([-0.995, -0.991, -0.98]):
        finished(store, "esl", {"lr": 0.1, "depth": 4, "seed": seed}, [verdict(r), verdict(0.5, "second", "s", 1.0)])
    finished(store, "esl", {"lr": 0.2, "depth": 4, "seed": 0}, [verdict(-0.999)])
    finished(store, "esl", {"lr": 0.2, "depth": 4, "seed": 1}, [verdict(None)])
    store.start("esl", {"lr": 0.2, "depth": 4, "seed": 2}).fail("RuntimeError: boom")
    finished(store, "toy", {"width": 3}, [])
    return store


def test_runs_group_by_study_then_by_config_without_the_seed(store):
    grouped = group_runs(load_runs(store))
    assert list(grouped) == ["esl", "toy"]                       # registered studies first, in registry order
    first, second = grouped["esl"]
    assert first.settings == {"lr": 0.1, "depth": 4} and first.seeds == [0, 1, 2]
    assert second.settings == {"lr": 0.2, "depth": 4} and second.seeds == [0, 1, 2]
    assert [r.status for r in second.runs] == ["finished", "finished", "failed"]
    assert second.runs[2].error == "RuntimeError: boom" and second.runs[2].summary is None
    assert group_labels(grouped["esl"]) == ["lr=0.1", "lr=0.2"]  # only the settings that differ
    assert group_labels(grouped["toy"]) == ["all runs"]


def test_error_bars_are_the_mean_and_sample_std_of_the_measured_values(store):
    first, second = group_runs(load_runs(store))["esl"]
    law, extra = first.claims()
    assert (law.claim, law.quantity, law.threshold, law.direction) == ("the law holds", "r", -0.99, "<=")
    values = [-0.995, -0.991, -0.98]
    assert law.values == tuple(values) and law.n == 3
    assert law.mean == pytest.approx(np.mean(values)) and law.std == pytest.approx(np.std(values, ddof=1))
    assert law.state_counts() == {"HOLDS": 2, "FAILS": 1}
    assert extra.values == (0.5, 0.5, 0.5) and extra.std == 0.0
    (only,) = second.claims()                                    # the UNDECIDED run measured nothing
    assert only.values == (-0.999,) and only.std == 0.0 and only.state_counts() == {"HOLDS": 1, "UNDECIDED": 1}


def test_claim_stats_of_nothing_measured_are_nan():
    empty = ClaimStats("c", "q", 1.0, "<=", (), ("UNDECIDED",))
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.std)


def test_a_report_never_creates_a_store(tmp_path):
    with pytest.raises(DeepscopeError, match="no such directory"):
        existing_store(tmp_path / "missing")
    with pytest.raises(DeepscopeError, match=f"no {DB_NAME}"):
        existing_store(tmp_path)
    assert not (tmp_path / DB_NAME).exists()


def test_groups_are_ordered_by_their_settings_numbers_by_value():
    records = [RunRecord(f"r{w}", "toy", "finished", 0, {"width": w, "act": a, "seed": 0}, None, 1.0, (), None)
               for w, a in ((100, "relu"), (20, "relu"), (20, "tanh"))]
    assert group_labels(group_runs(records)["toy"]) == ["act=relu width=20", "act=relu width=100",
                                                        "act=tanh width=20"]
