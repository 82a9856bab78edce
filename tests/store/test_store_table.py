import pandas as pd

from deepscope.store import Store, format_runs_table


def test_empty_store_says_so(tmp_path):
    assert format_runs_table(Store(tmp_path).runs(), tmp_path) == f"no runs in {tmp_path}"
    assert format_runs_table(Store(tmp_path).runs()) == "no runs"


def test_table_rows_and_alignment(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", {"optim": {"lr": 0.1}, "width": 64}, seed=3) as done:
        done.log(0, "", "loss", 1.0)
    live = store.start("neural-collapse", {"long": "x" * 80})
    lines = format_runs_table(store.runs(), tmp_path).splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["id", "study", "status", "seed", "started", "(UTC)", "wall", "s", "config"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    newest, older = lines[2], lines[3]
    assert newest.startswith(live.id[:8] + "  neural-collapse  running ")
    assert newest.split()[3] == "-" and newest.split()[6] == "-"         # no seed, no wall time yet
    assert newest.endswith("long=" + "x" * 40 + "...") and len(newest.split()[-1]) == 48
    assert older.startswith(done.id[:8] + "  esl              finished")
    assert older.split()[3] == "3" and older.endswith("optim.lr=0.1 width=64")
    started = store.get(done.id)["started_at"]
    assert started[:10] + " " + started[11:16] in older
    assert lines[2][lines[0].index("config"):].startswith("long=")  # columns line up under the header


def test_wall_seconds_rendered_to_a_tenth():
    df = pd.DataFrame([{"id": "0123456789abcdef", "study": "s", "status": "failed", "seed": pd.NA,
                        "started_at": "2024-05-01T10:20:30.123456+00:00", "wall_seconds": 12.345,
                        "config": {}}])
    assert format_runs_table(df).splitlines()[2].split() == ["01234567", "s", "failed", "-", "2024-05-01",
                                                              "10:20", "12.3"]
