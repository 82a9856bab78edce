import pandas as pd

from deepscope.store import Store, format_run, format_runs_table
from deepscope.store.table import changed_settings, headline

VERDICT = {"state": "HOLDS", "quantity": "Pearson r", "measured": -0.99512, "detail": "law: r = -0.9951"}


def test_empty_store_says_so(tmp_path):
    assert format_runs_table(Store(tmp_path).runs(), tmp_path) == f"no runs in {tmp_path}"
    assert format_runs_table(Store(tmp_path).runs()) == "no runs"


def test_settings_that_differ_from_the_defaults():
    defaults = {"lr": 0.1, "width": 64, "widths": [1, 2], "seed": 0}
    assert changed_settings({"lr": 0.1, "width": 64, "widths": [1, 2], "seed": 0}, defaults) == "(defaults)"
    assert changed_settings({"lr": 0.5, "width": 64, "widths": [3], "seed": 1}, defaults) == "lr=0.5 seed=1 widths=3"
    assert changed_settings({"optim": {"lr": 0.1}}, None) == "optim.lr=0.1"         # unknown study: everything


def test_headline_of_stored_verdicts():
    assert headline([]) == "-" and headline(None) == "-"
    assert headline([VERDICT]) == "HOLDS Pearson r -0.9951"
    undecided = {"state": "UNDECIDED", "quantity": "r", "measured": None}
    assert headline([undecided, VERDICT]) == "UNDECIDED (+1)"


def test_table_rows_and_alignment(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", {"lr": 0.5, "width": 64}, seed=3) as done:
        done.log(0, "", "loss", 1.0)
        done.finish({"verdicts": [VERDICT]})
    live = store.start("neural-collapse", {"long": "x" * 80})
    lines = format_runs_table(store.runs(), tmp_path, defaults=lambda s: {"lr": 0.1, "width": 64} if s == "esl"
                              else None, verdicts=store.result_values("verdicts")).splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["id", "study", "status", "started", "(UTC)", "wall", "s", "verdict", "settings"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    newest, older = lines[2], lines[3]
    assert newest.startswith(live.id[:8] + "  neural-collapse  running ")
    assert newest.endswith("long=" + "x" * 80)                                     # nothing cut
    assert older.startswith(done.id[:8] + "  esl              finished")
    assert older.endswith("HOLDS Pearson r -0.9951  lr=0.5")
    started = store.get(done.id)["started_at"]
    assert started[:10] + " " + started[11:16] in older
    assert lines[2][lines[0].index("settings"):].startswith("long=")               # columns line up


def test_wall_seconds_rendered_to_a_tenth():
    df = pd.DataFrame([{"id": "0123456789abcdef", "study": "s", "status": "failed", "seed": pd.NA,
                        "started_at": "2024-05-01T10:20:30.123456+00:00", "wall_seconds": 12.345,
                        "config": {}}])
    assert format_runs_table(df).splitlines()[2].split()[:6] == ["01234567", "s", "failed", "2024-05-01", "10:20",
                                                                  "12.3"]


def test_one_run_whole(tmp_path):
    store = Store(tmp_path)
    with store.start("esl", {"lr": 0.5}, seed=3) as run:
        run.log(10, "fc1", "log_d", 1.25, epoch=2)
        run.finish({"verdicts": [VERDICT], "summary": {"pearson_r": -0.99512, "layers": ["a"]}})
    text = format_run(store.get(run.id), store.results(run.id), store.metrics(run.id))
    for needle in (run.id, "status finished", "lr = 0.5", "verdict: HOLDS: law: r = -0.9951",
                   "pearson_r = -0.99512", "log_d", "1.25"):
        assert needle in text
