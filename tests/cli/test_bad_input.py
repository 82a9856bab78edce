"""Every bad input: one clear line naming the flag, exit 2, no traceback, nothing stored.

The wrong values of each study flag are derived from the constraints its config field declares
(bounds, choices, non-empty, item bounds, a check), so a new study is walked without new test code.
"""
import dataclasses
import typing

import numpy as np
import pytest

from deepscope.cli import main
from deepscope.config import field_type, flag_name
from deepscope.store import Store
from deepscope.studies import STUDIES, get_study


def _outside(meta: dict, whole: bool) -> list[str]:
    """Values just outside each declared bound, zero and negative among them where they are wrong."""
    values = []
    for key, shift in (("min", -1), ("gt", 0), ("max", 1), ("lt", 0)):
        bound = meta.get(key)
        if bound is not None:
            values.append(bound + shift if whole else bound + shift * 0.5)
    if meta.get("min") is not None and meta["min"] > 0 or meta.get("gt") is not None and meta["gt"] >= 0:
        values += [0, -1]
    return [str(int(v)) if whole else repr(float(v)) for v in dict.fromkeys(values)]


def wrong_values(cls, field: dataclasses.Field) -> list[str]:
    """Command-line values that the field's declaration rejects."""
    kind, _ = field_type(cls, field.name)
    meta = field.metadata
    if kind is bool:
        return []
    if kind is int:
        return [*_outside(meta, True), "1.5", "abc", "nan"]
    if kind is float:
        return [*_outside(meta, False), "nan", "inf", "abc"]
    if typing.get_origin(kind) is list:
        item = typing.get_args(kind)[0]
        values = ["a,,b"] + (["1,1"] if meta.get("distinct") else [])
        if meta.get("nonempty", True):
            values.append("")
        if item is int:
            values += ["abc", "1.5"] + ([str(int(meta["item_min"]) - 1)] if meta.get("item_min") else [])
        if item is float:
            values += ["abc", "nan"] + _outside({"min": meta.get("item_min"), "gt": meta.get("item_gt")}, False)
        if meta.get("check") is not None:
            values.append("no-such-thing")
        return values
    values = [] if not meta.get("nonempty", True) else [""]
    if meta.get("choices") or meta.get("check") is not None:
        values.append("no-such-thing")
    return values


CASES = [(name, f.name, value) for name in STUDIES for f in dataclasses.fields(get_study(name).config)
         for value in wrong_values(get_study(name).config, f)]


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:          # argparse's own errors
        return exc.code


@pytest.mark.parametrize(("study", "field", "value"), CASES, ids=[f"{s}-{f}={v!r}" for s, f, v in CASES])
def test_every_wrong_value_of_every_study_flag(study, field, value, tmp_path, capsys):
    argv = [study, "--preset", "tiny", f"{flag_name(field)}={value}", "--out", str(tmp_path)]
    code = _exit_code(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.err)
    assert "Traceback" not in captured.err and captured.out == ""
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and flag_name(field) in lines[0], captured.err
    assert not (tmp_path / "deepscope.sqlite").exists() or Store(tmp_path).runs().empty


@pytest.mark.parametrize("study", list(STUDIES))
def test_set_and_config_file_errors_name_the_key(study, tmp_path, capsys):
    for argv, needle in (([study, "--set", "nope=1"], "nope"), ([study, "--set", "novalue"], "key=value"),
                         ([study, "--preset", "nope"], "--preset"), ([study, "--config", str(tmp_path / "x.yaml")],
                                                                     "--config")):
        code = _exit_code([*argv, "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and "Traceback" not in err, (argv, err)
    (tmp_path / "c.yaml").write_text("nope: 1\n")
    assert _exit_code([study, "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path)]) == 2
    assert "'nope'" in capsys.readouterr().err


FRAMEWORK_CASES = [(name, flag, value) for name in STUDIES for flag, value in
                   [("--out", "file/sub"), ("--preset", ""), ("--config", "missing.yaml"), ("--set", ""),
                    *([("--save-activations", "acts.txt"), ("--save-activations", "file/acts.npz")]
                      if "activations" in get_study(name).saves else [])]]


@pytest.mark.parametrize(("study", "flag", "value"), FRAMEWORK_CASES)
def test_framework_flags_refuse_wrong_values(study, flag, value, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    if "/" in value or "." in value:
        value = str(tmp_path / value)
    out = [] if flag == "--out" else ["--out", str(tmp_path / "out")]
    code = _exit_code([study, "--preset", "tiny", flag, value, *out])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists() or Store(tmp_path / "out").runs().empty


def test_data_length_beyond_the_data_names_the_flag_and_stores_nothing(tmp_path, capsys):
    code = _exit_code(["esl", "--preset", "tiny", "--data-length", "100000", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--data-length is 100000" in err and "at most" in err
    assert Store(tmp_path).runs().empty                      # the record was discarded, not left as failed


def test_missing_data_files_store_nothing(tmp_path, capsys):
    code = _exit_code(["esl", "--dataset", "fashion-mnist", "--root", str(tmp_path), "--out", str(tmp_path)])
    assert code == 2 and "looked for" in capsys.readouterr().err.lower()
    assert Store(tmp_path).runs().empty


def test_choices_are_case_insensitive(tmp_path, capsys):
    assert _exit_code(["esl", "--preset", "tiny", "--opt", "SGD", "--lr", "0.05", "--out", str(tmp_path),
                       "--json"]) == 0
    assert '"opt": "sgd"' in capsys.readouterr().out


def test_table_refuses_flags_it_would_ignore(tmp_path, capsys):
    code = _exit_code(["esl", "--table", "--lr", "0.5", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--lr" in err and "--root" in err


# -- deepscope metrics / runs ------------------------------------------------------------------------------

@pytest.fixture
def acts(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    path = tmp_path / "acts.npz"
    np.savez(path, y=y, a=rng.normal(size=(120, 5)), b=rng.normal(size=(120, 7)))
    return path


@pytest.mark.parametrize(("extra", "needle"), [
    (["--metrics", ""], "--metrics"), (["--metrics", "nope"], "--metrics"), (["--metrics", "twonn,,dse"], "--metrics"),
    (["--metrics", "twonn", "--features", ""], "--features"), (["--metrics", "twonn", "--features", "zz"], "--features"),
    (["--metrics", "separation", "--labels", "zz"], "--labels"), (["--metric", "nope"], "--metrics"),
])
def test_metrics_command_flags(acts, extra, needle, capsys):
    code = _exit_code(["metrics", str(acts), *extra])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_runs_command_flags(tmp_path, capsys):
    code = _exit_code(["runs", "--out", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "--out" in err and "no such directory" in err
    Store(tmp_path)
    code = _exit_code(["runs", "--out", str(tmp_path), "--show", "ffff"])
    err = capsys.readouterr().err
    assert code == 2 and "--show" in err
