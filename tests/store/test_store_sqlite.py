import math
import platform
import sqlite3

import pytest
import torch

import deepscope
from deepscope.errors import DeepscopeError
from deepscope.store import Store, run_id
from deepscope.store import sqlite as store_sqlite

CONFIG = {"lr": 0.1, "width": 64}
VALUES = [0.1 + 0.2, 1 / 3, 1e-300, -2.5e17, math.pi]


def _finished(store, config=CONFIG, study="esl", seed=0, results=None):
    with store.start(study, config, seed=seed) as run:
        run.log_many([(i, "fc1", "esl", v) for i, v in enumerate(VALUES)])
        run.log(len(VALUES), "", "loss", 0.25)
        run.finish(results)
    return run


def test_store_file_and_run_row(tmp_path):
    store = Store(tmp_path / "new" / "dir")
    assert store.path == tmp_path / "new" / "dir" / "deepscope.sqlite" and store.path.is_file()
    run = _finished(store, results={"verdict": {"holds": True, "value": 0.93}})
    row = store.get(run.id)
    assert row["id"] == run.id == run_id("esl", CONFIG, seed=0)
    assert row["study"] == "esl" and row["config"] == CONFIG and row["seed"] == 0
    assert row["status"] == "finished" and row["error"] is None
    assert row["ended_at"] >= row["started_at"] and row["started_at"].endswith("+00:00")
    assert 0 <= row["wall_seconds"] < 60
    assert (row["deepscope_version"], row["torch_version"], row["python_version"]) == (
        deepscope.__version__, torch.__version__, platform.python_version())


def test_finished_run_is_reused_and_read_back_exactly(tmp_path):
    store = Store(tmp_path)
    first = _finished(store, results={"verdict": {"holds": True, "measured": (0.5, 1)}})
    again = Store(tmp_path).start("esl", dict(reversed(CONFIG.items())), seed=0)
    assert again.reused and again.id == first.id and again.status == "finished"
    m = again.metrics()
    assert list(m.columns) == ["run_id", "step", "epoch", "layer", "metric", "value"]
    esl = m[m.metric == "esl"]
    assert esl.step.tolist() == list(range(len(VALUES))) and esl.value.tolist() == VALUES  # bit-exact
    assert m[m.layer == ""].value.tolist() == [0.25]
    assert again.results() == {"verdict": {"holds": True, "measured": [0.5, 1]}}
    with pytest.raises(DeepscopeError, match="reused .* read-only"):
        again.log(9, "fc1", "esl", 1.0)
    with pytest.raises(DeepscopeError, match="force=True"):
        again.finish()
    assert len(store.runs()) == 1


def test_exception_in_reused_with_block_keeps_it_finished(tmp_path):
    store = Store(tmp_path)
    run = _finished(store)
    with pytest.raises(RuntimeError):
        with store.start("esl", CONFIG, seed=0):
            raise RuntimeError("after reuse")
    assert store.get(run.id)["status"] == "finished"


def test_force_restarts_and_clears_old_rows(tmp_path):
    store = Store(tmp_path)
    old = _finished(store, results={"a": 1})
    run = store.start("esl", CONFIG, seed=0, force=True)
    assert not run.reused and run.id == old.id
    row = store.get(run.id)
    assert row["status"] == "running" and row["ended_at"] is None and math.isnan(row["wall_seconds"])
    assert store.metrics(run_id=run.id).empty and store.results(run.id) == {}
    run.log(7, "fc2", "cka", 0.5)
    run.finish({"b": 2})
    assert store.metrics(run_id=run.id)[["step", "layer", "metric", "value"]].values.tolist() == [[7, "fc2", "cka", 0.5]]
    assert store.results(run.id) == {"b": 2} and len(store.runs()) == 1


def test_exception_in_with_block_records_failed_and_reraises(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(ValueError, match="boom"):
        with store.start("esl", CONFIG) as run:
            run.log(1, "fc1", "esl", 0.5)
            raise ValueError("boom")
    row = store.get(run.id)
    assert row["status"] == "failed" and row["error"] == "ValueError: boom" and row["ended_at"] is not None
    assert store.metrics(run_id=run.id).value.tolist() == [0.5]  # kept for inspection
    assert not store.start("esl", CONFIG).reused  # a failed run is re-run, not reused


def test_keyboard_interrupt_records_failed(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with store.start("esl", CONFIG) as run:
            raise KeyboardInterrupt
    assert (store.get(run.id)["status"], store.get(run.id)["error"]) == ("failed", "KeyboardInterrupt")


def test_clean_with_block_finishes(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", CONFIG) as run:
        run.log(0, "", "loss", 1.0)
    assert run.status == "finished" and store.get(run.id)["status"] == "finished"
    with pytest.raises(DeepscopeError, match="already finished"):
        run.fail("late")


def test_interrupted_run_stays_running_and_is_replaced(tmp_path):
    store = Store(tmp_path)
    run = store.start("esl", CONFIG, seed=1)
    run.log(1, "fc1", "esl", 0.5)
    rid = run.id
    del run  # the process dies without finish(): nothing more is written

    reopened = Store(tmp_path)
    row = reopened.get(rid)
    assert row["status"] == "running" and row["ended_at"] is None
    assert reopened.runs().status.tolist() == ["running"]
    assert reopened.metrics(run_id=rid).empty  # buffered rows were never committed

    again = reopened.start("esl", CONFIG, seed=1)
    assert not again.reused
    again.log(2, "fc1", "esl", 0.75)
    again.finish()
    assert reopened.metrics(run_id=rid).value.tolist() == [0.75]
    assert reopened.get(rid)["status"] == "finished"


def test_intermediate_flush_is_not_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(store_sqlite, "FLUSH_EVERY", 3)
    store = Store(tmp_path)
    run = store.start("esl", CONFIG)
    run.log_many([(i, "fc1", "esl", float(i)) for i in range(4)])
    run.log(4, "fc1", "esl", 4.0)
    assert store.metrics(run_id=run.id).step.tolist() == [0, 1, 2, 3]  # flushed, still running
    assert store.get(run.id)["status"] == "running"
    run.finish()
    assert store.metrics(run_id=run.id).step.tolist() == [0, 1, 2, 3, 4]
    with store.start("esl", CONFIG, force=True) as fresh:  # a restart clears the flushed rows too
        assert fresh.metrics().empty


def test_finish_is_atomic_when_results_are_bad(tmp_path):
    store = Store(tmp_path)
    run = store.start("esl", CONFIG)
    run.log(1, "fc1", "esl", 0.5)
    with pytest.raises(DeepscopeError, match=r"results\.curve is a set"):
        run.finish({"curve": {1, 2}})
    assert store.get(run.id)["status"] == "running" and store.metrics(run_id=run.id).empty
    run.finish({"curve": [1, 2]})
    assert store.metrics(run_id=run.id).value.tolist() == [0.5] and store.results(run.id) == {"curve": [1, 2]}


def test_diverged_keeps_metrics_including_nan(tmp_path):
    store = Store(tmp_path)
    run = store.start("esl", {"lr": 10.0})
    run.log_many([(0, "", "loss", 2.3), (1, "", "loss", float("inf")), (2, "", "loss", float("nan"))])
    run.diverge("loss is NaN at step 2")
    row = store.get(run.id)
    assert (row["status"], row["error"]) == ("diverged", "loss is NaN at step 2")
    values = store.metrics(run_id=run.id, metric="loss").value.tolist()
    assert values[:2] == [2.3, math.inf] and math.isnan(values[2])
    assert not store.start("esl", {"lr": 10.0}).reused


def test_log_rejects_bad_rows_before_keeping_any(tmp_path):
    run = Store(tmp_path).start("esl", CONFIG)
    with pytest.raises(DeepscopeError, match="step must be an int"):
        run.log("one", "fc1", "esl", 0.5)
    with pytest.raises(DeepscopeError, match="metric must be a non-empty str"):
        run.log(1, "fc1", "", 0.5)
    with pytest.raises(DeepscopeError, match="layer must be a str"):
        run.log(1, None, "esl", 0.5)
    with pytest.raises(DeepscopeError, match="must be one number"):
        run.log(1, "fc1", "esl", torch.ones(3))
    with pytest.raises(DeepscopeError, match=r"\(step, layer, metric, value\[, epoch\]\)"):
        run.log_many([(0, "fc1", "esl", 0.1), (1, "fc1", "esl")])
    run.log(torch.tensor(3).item(), "fc1", "esl", torch.tensor(0.5))  # tensor scalars are numbers
    run.finish()
    assert run.metrics()[["step", "value"]].values.tolist() == [[3, 0.5]]


def test_metrics_filters(tmp_path):
    store = Store(tmp_path)
    a = _finished(store, study="esl", seed=0)
    b = _finished(store, study="nc", seed=0)
    everything = store.metrics()
    assert len(everything) == 2 * (len(VALUES) + 1)
    assert everything.dtypes.astype(str).to_dict()["step"] == "int64"
    assert set(store.metrics(run_id=a.id[:6]).run_id) == {a.id}
    assert store.metrics(study="nc").run_id.unique().tolist() == [b.id]
    assert store.metrics(metric="loss").value.tolist() == [0.25, 0.25]
    assert store.metrics(layer="").metric.unique().tolist() == ["loss"]
    only = store.metrics(run_id=b.id, metric="esl", layer="fc1")
    assert only.step.tolist() == list(range(len(VALUES))) and only.value.tolist() == VALUES
    assert store.metrics(metric="nothing").empty
    assert list(store.metrics(metric="nothing").columns) == ["run_id", "step", "epoch", "layer", "metric", "value"]


def test_runs_newest_first_and_study_filter(tmp_path):
    store = Store(tmp_path)
    assert store.runs().empty
    ids = [_finished(store, config={"lr": lr}).id for lr in (0.1, 0.2, 0.3)]
    df = store.runs()
    assert df.id.tolist() == ids[::-1]
    assert df.config.tolist() == [{"lr": 0.3}, {"lr": 0.2}, {"lr": 0.1}]
    _finished(store, study="nc")
    assert store.runs(study="nc").study.tolist() == ["nc"] and len(store.runs()) == 4


def test_find(tmp_path):
    store = Store(tmp_path)
    run = store.start("esl", CONFIG, seed=2)
    assert store.find("esl", CONFIG, seed=2)["status"] == "running"
    assert store.find("esl", CONFIG, seed=2)["id"] == run.id
    own = store.start("esl", {**CONFIG, "seed": 5})  # a config's own seed field fills the seed column
    assert store.find("esl", {**CONFIG, "seed": 5}, seed=5)["seed"] == 5 == own.seed
    assert store.find("esl", CONFIG, seed=3) is None


def test_prefix_lookup_and_errors(tmp_path):
    store = Store(tmp_path)
    by_first = {}
    for i in range(17):  # 17 configs over 16 hex digits: two ids must share a first character
        by_first.setdefault(run_id("esl", {"i": i})[0], []).append(i)
    pair = next(v[:2] for v in by_first.values() if len(v) > 1)
    a, b = (_finished(store, config={"i": i}, seed=None, results={"i": i}) for i in pair)
    assert store.get(a.id[:10])["id"] == a.id
    assert store.results(b.id[:12]) == {"i": pair[1]}
    with pytest.raises(DeepscopeError, match="ambiguous") as err:
        store.get(a.id[0])
    assert a.id in str(err.value) and b.id in str(err.value)
    with pytest.raises(DeepscopeError, match="no run with id 'zz'"):
        store.metrics(run_id="zz")
    with pytest.raises(DeepscopeError, match="non-empty string"):
        store.results("")


def test_bad_output_locations(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DeepscopeError, match="is a file"):
        Store(tmp_path / "file")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "deepscope.sqlite").write_bytes(b"not sqlite at all, just some bytes" * 100)
    with pytest.raises(DeepscopeError, match="not a deepscope store"):
        Store(tmp_path / "junk")


def test_other_schema_version_is_refused(tmp_path):
    Store(tmp_path)
    con = sqlite3.connect(tmp_path / "deepscope.sqlite")
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(DeepscopeError, match="schema version 99"):
        Store(tmp_path)


def test_epoch_is_stored_beside_the_step(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", CONFIG, seed=0) as run:
        run.log(30, "fc1", "log_d", 1.5, epoch=3)
        run.log(31, "", "loss", 0.1)
    m = store.metrics(run.id)
    assert m["epoch"].tolist()[0] == 3 and m["epoch"].isna().tolist() == [False, True]
    with pytest.raises(DeepscopeError, match="epoch"):
        store.start("esl", CONFIG, seed=1).log(0, "", "x", 1.0, epoch=1.5)


def test_metric_lookup_by_the_name_asked_for(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", CONFIG, seed=0) as run:
        run.log_many([(0, "a", "twonn", 9.0), (0, "a", "nc.nc1", 0.5), (0, "a", "nc.ncc_accuracy", 1.0),
                      (0, "a", "ncx", 2.0), (0, "a", "log_d", 1.0)])
    assert store.metrics(metric="twonn").value.tolist() == [9.0]
    assert store.metrics(metric="id").value.tolist() == [9.0]                 # an alias finds the same rows
    assert store.metrics(metric="separation").metric.tolist() == ["log_d"]
    assert store.metrics(metric="nc").metric.tolist() == ["nc.nc1", "nc.ncc_accuracy"]   # every part, not ncx
    assert store.metrics(metric="nc.nc1").value.tolist() == [0.5]


def test_discard_removes_the_record_entirely(tmp_path):
    store = Store(tmp_path)
    run = store.start("esl", CONFIG, seed=0)
    run.log(0, "", "loss", 1.0)
    run.discard()
    assert store.runs().empty and store.metrics().empty and run.status == "discarded"
    with pytest.raises(DeepscopeError, match="already discarded"):
        run.finish()


def test_a_version_1_store_gains_the_epoch_column(tmp_path):
    con = sqlite3.connect(tmp_path / "deepscope.sqlite")
    con.executescript("CREATE TABLE runs (id TEXT PRIMARY KEY, study TEXT NOT NULL, config TEXT NOT NULL, "
                      "seed INTEGER, status TEXT NOT NULL, error TEXT, started_at TEXT NOT NULL, ended_at TEXT, "
                      "wall_seconds REAL, deepscope_version TEXT, torch_version TEXT, python_version TEXT);"
                      "CREATE TABLE metrics (run_id TEXT NOT NULL, step INTEGER NOT NULL, layer TEXT NOT NULL "
                      "DEFAULT '', metric TEXT NOT NULL, value REAL);"
                      "CREATE TABLE results (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
                      "PRIMARY KEY (run_id, key));"
                      "INSERT INTO runs VALUES ('ab', 'esl', '{}', 0, 'finished', NULL, '2026', NULL, 1.0, "
                      "'0.1', '2', '3');"
                      "INSERT INTO metrics VALUES ('ab', 5, 'x', 'loss', 0.5); PRAGMA user_version = 1;")
    con.close()
    store = Store(tmp_path)
    m = store.metrics()
    assert m["step"].tolist() == [5] and m["epoch"].isna().all()
    with store.start("esl", CONFIG, seed=0) as run:
        run.log(1, "", "loss", 0.2, epoch=1)
    assert store.metrics(run.id)["epoch"].tolist() == [1]
