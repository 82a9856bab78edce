"""`--tensorboard DIR`: a run's metric rows mirrored as TensorBoard scalars equal to the store's."""
import math
import sys

import numpy as np
import pytest

from deepscope.cli import main
from deepscope.store import Store
from deepscope.store.tensorboard import tag

pytest.importorskip("tensorboard", reason="pip install 'deepscope[tensorboard]' to test the TensorBoard mirror")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(folder):
    """``{tag: [(step, value), ...]}`` read back from the event files in ``folder``."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {t: [(e.step, e.value) for e in events.Scalars(t)] for t in events.Tags()["scalars"]}


def expected(metrics):
    """The store's rows as TensorBoard holds them: one series per tag, values as float32."""
    series = {}
    for row in metrics.itertuples():
        series.setdefault(tag(row.layer, row.metric), []).append((row.step, float(np.float32(row.value))))
    return series


def same(got, want):
    assert got.keys() == want.keys()
    for key in want:
        assert [s for s, _ in got[key]] == [s for s, _ in want[key]], key
        assert all(a == b or (math.isnan(a) and math.isnan(b)) for (_, a), (_, b) in zip(got[key], want[key])), key


@pytest.mark.slow
def test_a_study_run_mirrors_every_metric_row_to_tensorboard(tmp_path, capsys):
    out, board = tmp_path / "runs", tmp_path / "board"
    assert main(["eos", "--preset", "tiny", "--out", str(out), "--tensorboard", str(board)]) == 0
    (run,) = Store(out).runs().itertuples()
    metrics = Store(out).metrics(run.id)
    assert {"lr=0.5/train_loss", "lr=0.05/sharpness"} <= set(expected(metrics))      # tag = <layer>/<metric>
    same(scalars(board / f"eos_{run.id}"), expected(metrics))


def test_run_level_rows_a_rerun_and_a_discarded_run(tmp_path):
    store = Store(tmp_path / "runs", tensorboard=tmp_path / "board")
    for value in (1.0, 2.0):                                   # the rerun replaces the first run's events
        run = store.start("toy", {"width": 3}, force=True)
        run.log_many([(0, "", "loss", value), (5, "fc1", "norm", math.nan, 1)])
        run.finish()
    folder = tmp_path / "board" / f"toy_{run.id}"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    same(scalars(folder), {"loss": [(0, 2.0)], "fc1/norm": [(5, math.nan)]})
    assert store.start("toy", {"width": 3}).reused and len(list(folder.iterdir())) == 1   # reused: nothing new
    rejected = store.start("toy", {"width": 4})
    rejected.log(0, "", "loss", 1.0)
    rejected.discard()
    assert not (tmp_path / "board" / f"toy_{rejected.id}").exists()


def test_without_tensorboard_installed_the_flag_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)      # import tensorboard now raises ImportError
    out = tmp_path / "runs"
    assert main(["esl", "--preset", "tiny", "--out", str(out), "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'deepscope[tensorboard]'" in err
    assert not (out / "deepscope.sqlite").exists()
