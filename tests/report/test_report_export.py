"""`deepscope export`: runs and metrics as CSV or Parquet that read back equal to the store."""
import json
import math
import sys

import pandas as pd
import pytest

from deepscope.cli import main
from deepscope.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs")
    run = store.start("esl", {"lr": 0.1, "widths": [3, 4], "seed": 0})
    run.log_many([(0, "", "loss", 2.5, 0), (10, "hidden1", "log_d", 1.25, 1), (20, "", "loss", math.nan)])
    run.finish({"summary": {}, "verdicts": [
        {"claim": "a", "quantity": "r", "measured": -0.995, "threshold": -0.99, "direction": "<=", "holds": True,
         "detail": "a holds", "reason": None, "state": "HOLDS"},
        {"claim": "b", "quantity": "s", "measured": None, "threshold": 1.0, "direction": "<=", "holds": None,
         "detail": "b untested", "reason": "too few", "state": "UNDECIDED"}]})
    failed = store.start("eos", {"lrs": [0.5], "seed": 1})
    failed.log(3, "lr=0.5", "sharpness", 4.0)
    failed.fail("RuntimeError: boom")
    return store


def read(path):
    if path.suffix == ".csv":
        return pd.read_csv(path, keep_default_na=False, na_values={"value": [""], "epoch": [""], "seed": [""],
                                                                    "wall_seconds": [""], "error": [""],
                                                                    "ended_at": [""], "verdict": [""]})
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_runs_and_metrics(store, fmt, tmp_path, capsys):
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="pip install 'deepscope[parquet]' to test the Parquet export")
    to = tmp_path / "exported"
    assert main(["export", "--out", str(store.out_dir), "--format", fmt.upper(), "--to", str(to)]) == 0
    assert capsys.readouterr().out.split() == ["wrote", str(to / f"runs.{fmt}"), "wrote", str(to / f"metrics.{fmt}")]

    metrics, expected = read(to / f"metrics.{fmt}"), store.metrics()
    assert list(metrics.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(metrics.astype({"epoch": "Int64", "layer": str, "metric": str, "run_id": str}),
                                  expected.astype({"layer": str, "metric": str, "run_id": str}))

    runs, stored = read(to / f"runs.{fmt}").set_index("id"), store.runs().set_index("id")
    assert set(stored.columns) < set(runs.columns)
    for rid, row in stored.iterrows():
        got = runs.loc[rid]
        assert json.loads(got["config"]) == row["config"]
        for column in stored.columns.drop("config"):
            assert (pd.isna(got[column]) and pd.isna(row[column])) or got[column] == row[column], column
    ok, failed = runs.loc[store.runs(study="esl").id[0]], runs.loc[store.runs(study="eos").id[0]]
    assert (ok["verdict"], ok["holds"], ok["fails"], ok["undecided"]) == ("UNDECIDED", 1, 0, 1)
    assert [v["state"] for v in json.loads(ok["verdicts"])] == ["HOLDS", "UNDECIDED"]
    assert pd.isna(failed["verdict"]) and failed["error"] == "RuntimeError: boom" and failed["holds"] == 0


def test_export_defaults_to_csv_in_the_out_directory(store, capsys):
    assert main(["export", "--out", str(store.out_dir)]) == 0
    assert (store.out_dir / "runs.csv").is_file() and (store.out_dir / "metrics.csv").is_file()


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/missing"], "no such directory"),
    (["--out", "{tmp}"], "no runs there (no deepscope.sqlite)"),
    (["--out", "{store}", "--format", "xlsx"], "choose csv or parquet"),
])
def test_export_errors_say_what_to_do(store, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, store=store.out_dir) for a in args]
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepscope export: error:") and message in err and err.count("\n") == 1


def test_parquet_without_pyarrow_says_how_to_install(store, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)          # import pyarrow now raises ImportError
    assert main(["export", "--out", str(store.out_dir), "--format", "parquet"]) == 2
    assert "pip install 'deepscope[parquet]'" in capsys.readouterr().err
    assert not (store.out_dir / "runs.parquet").exists()
