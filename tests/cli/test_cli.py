import json

import pytest

from deepscope.cli import main
from deepscope.studies import esl_table

SMALL = ["--dataset", "digits", "--data-length", "200", "--data-size", "8", "--hidden-dim", "16", "--depth", "3",
         "--num-epochs", "5", "--stop-loss", "none", "--batch-size", "50"]


def test_esl_json_has_every_key(tmp_path, capsys):
    assert main(["esl", *SMALL, "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("log_d", "slope", "ratio", "pearson_r", "r2", "epochs_run", "final_train_loss", "train_seconds",
                "run_id", "verdict", "nc"):
        assert key in out
    assert len(out["log_d"]) == 3 and out["epochs_run"] == 5 and out["verdict"]["threshold"] == -0.99
    assert (tmp_path / f"esl_{out['run_id']}.png").exists()


def test_esl_table_output_and_runs_listing(tmp_path, capsys):
    assert main(["esl", *SMALL, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "log D" in text and "Pearson r" in text and "verdict:" in text and "hidden2" in text
    assert main(["esl", *SMALL, "--out", str(tmp_path)]) == 0
    assert "reused" in capsys.readouterr().out
    assert main(["runs", "--out", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "esl" in listing and "finished" in listing


def test_bad_input_exits_nonzero_with_a_message(tmp_path, capsys):
    assert main(["esl", "--dataset", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "mnist" in err                           # lists the available names
    assert main(["esl", "--dataset", "fashion-mnist", "--out", str(tmp_path)]) == 2
    assert "--root" in capsys.readouterr().err
    assert main(["esl", "--dataset", "fashion-mnist", "--root", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "looked for" in capsys.readouterr().err.lower()
    assert main(["esl", "--opt", "rmsprop", "--out", str(tmp_path)]) == 2
    assert "--opt must be one of" in capsys.readouterr().err


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "digits", "fakedata", "gaussian-mixture", "cifar10", "image-folder"):
        assert name in out


def test_table_reports_unavailable_rows(tmp_path, capsys, monkeypatch):
    small = esl_table._row("t1", -0.99, dataset="digits", data_length=200, data_size=8, hidden_dim=16, depth=3,
                           num_epochs=5, batch_size=50)
    offline = esl_table._row("t2", -1.0, dataset="fashion-mnist", num_epochs=1)
    monkeypatch.setattr(esl_table, "SEED_TABLE", (small, offline))
    monkeypatch.setattr(esl_table.run_table, "__defaults__", ((small, offline),) + esl_table.run_table.__defaults__[1:])
    assert main(["esl", "--table", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "esl_table.md").read_text()
    assert "fig t1" in table and "not run" in table and (tmp_path / "esl_table.png").exists()
    assert table.count("\n") == 4


def test_esl_with_extra_metrics(tmp_path, capsys):
    assert main(["esl", *SMALL, "--metrics", "id,dse", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["metrics"]) == {"input", "hidden1", "hidden2"}
    assert all({"twonn", "dse"} <= set(values) for values in out["metrics"].values())
    assert main(["esl", *SMALL, "--metrics", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_metrics_command_on_npz(tmp_path, capsys):
    import numpy as np

    from deepscope.metrics import separation_fuzziness
    from deepscope.metrics.intrinsic_dim import twonn
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 60)
    layers = {"a": rng.normal(size=(180, 4)) + 4 * np.eye(4)[y], "b": rng.normal(size=(180, 12))}
    path = tmp_path / "acts.npz"
    np.savez(path, labels=y, **layers)
    assert main(["metrics", str(path), "--labels", "labels", "--metric", "twonn,separation", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"a", "b"}
    for name, X in layers.items():       # the command reports exactly what the functions compute
        assert out[name]["twonn"] == pytest.approx(twonn(X).dimension)
        assert out[name]["log_d"] == pytest.approx(np.log(separation_fuzziness(X, y)))
    assert main(["metrics", str(path), "--features", "a", "--metric", "id"]) == 0
    assert "twonn" in capsys.readouterr().out
    assert main(["metrics", "--list"]) == 0
    assert "dsmi" in capsys.readouterr().out


def test_metrics_command_errors(tmp_path, capsys):
    import numpy as np
    assert main(["metrics", str(tmp_path / "missing.npz"), "--metric", "id"]) == 2
    assert "no file" in capsys.readouterr().err
    path = tmp_path / "a.npz"
    np.savez(path, x=np.ones((5, 3)), bad=np.array([1.0, np.nan, 2.0]))
    assert main(["metrics", str(path), "--features", "zz", "--metric", "id"]) == 2
    assert "holds ['x', 'bad']" in capsys.readouterr().err
    assert main(["metrics", str(path), "--features", "bad", "--metric", "id"]) == 2
    assert "2-D" in capsys.readouterr().err                       # 1-D input is named, with the fix
    assert main(["metrics", str(path), "--features", "x", "--metric", "nc"]) == 2
    assert "labels" in capsys.readouterr().err


def test_depth_two_is_undecided_not_holds(tmp_path, capsys):
    assert main(["esl", *SMALL, "--depth", "2", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["log_d"]) == 2 and abs(out["pearson_r"]) == pytest.approx(1.0)
    (v,) = out["verdicts"]
    assert v["holds"] is None and v["reason"] == "2 layers; the law needs at least 3"
    assert out["verdict"] == v
    assert main(["esl", *SMALL, "--depth", "2", "--out", str(tmp_path)]) == 0
    assert "verdict: UNDECIDED: " in capsys.readouterr().out


def test_runs_listing_shows_changed_settings_and_verdicts(tmp_path, capsys):
    assert main(["esl", *SMALL, "--out", str(tmp_path), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["runs", "--out", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.startswith(run_id[:8]))
    assert "finished" in row and "Pearson r" in row and "dataset=digits" in row and "num_epochs=5" in row
    assert "lr=" not in row                                                # the default lr is not repeated
    assert main(["runs", "--out", str(tmp_path), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["id"] == run_id and listed["verdicts"][0]["quantity"] == "Pearson r"
    assert main(["runs", "--out", str(tmp_path), "--show", run_id[:6]]) == 0
    shown = capsys.readouterr().out
    assert run_id in shown and "hidden_dim = 16" in shown and "log_d" in shown
    assert main(["runs", "--out", str(tmp_path), "--show", run_id[:6], "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["id"] == run_id and whole["results"]["summary"]["run_id"] == run_id and whole["metrics"]


def test_save_model_and_activations_then_measure_again(tmp_path, capsys):
    import deepscope as ds
    acts = tmp_path / "acts.npz"
    assert main(["esl", *SMALL, "--out", str(tmp_path), "--save-model", "--save-activations", str(acts),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    model = ds.load_model(tmp_path / f"esl_{out['run_id']}.pt")
    data = ds.load_dataset("digits", n=200, size=8, seed=0)
    fit = ds.metrics.layerwise_separation(ds.capture(model, data.x, ["input", "hidden1", "hidden2"]), data.y)
    assert fit.log_d == pytest.approx(out["log_d"], rel=1e-6)             # the saved net is the measured one
    assert main(["metrics", str(acts), "--metrics", "separation", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [again[layer]["log_d"] for layer in out["layers"]] == pytest.approx(out["log_d"], rel=1e-6)
    assert main(["esl", *SMALL, "--out", str(tmp_path), "--save-model"]) == 0     # reused: rerun to save
    assert "rerun to save" in capsys.readouterr().out


def test_metrics_command_reads_npy_string_labels_and_reports_a_bad_layer(tmp_path, capsys):
    import numpy as np
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 6))
    np.save(tmp_path / "layer.npy", X)
    assert main(["metrics", str(tmp_path / "layer.npy"), "--metrics", "twonn", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"layer"}
    names = np.array(["cat", "dog", "eel"])[np.repeat(np.arange(3), 30)]
    broken = X.copy()
    broken[0, 0] = np.nan
    np.savez(tmp_path / "s.npz", y=names, good=X + 3 * np.eye(6)[np.repeat(np.arange(3), 30)], flat=broken)
    code = main(["metrics", str(tmp_path / "s.npz"), "--metrics", "separation", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 2 and set(out) == {"good", "errors"} and "flat" in out["errors"]     # the others measured
    assert "y" not in out and "note:" in captured.err and "'flat'" in captured.err     # labels are no layer
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object))
    assert main(["metrics", str(tmp_path / "obj.npy"), "--metrics", "twonn"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "obj.npy" in err
