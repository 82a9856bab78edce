"""Sweep files: expansion (grid x zip x seeds, precedence) and every mistake named with its line."""
from __future__ import annotations

import textwrap
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from deepscope.cli import main
from deepscope.store.ids import stable_json
from deepscope.store.sqlite import DB_NAME
from deepscope.studies.esl_table import SEED_TABLE
from deepscope.studies.registry import get_study
from deepscope.sweep import SweepError, load_sweep


def sweep_file(tmp_path, text):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_grid_zip_and_seeds_expand_to_their_product(tmp_path):
    path = sweep_file(tmp_path, """
        study: sleepy
        base:
          rows: 3
        grid:
          seconds: [0.0, 0.01]
          fail: [false]
        zip:
          value: [1.0, 2.0, 3.0]
        seeds: 0-1
        """)
    sweep = load_sweep(path)
    assert len(sweep.points) == 2 * 1 * 3 * 2
    combos = {(p.config.seconds, p.config.value, p.config.seed) for p in sweep.points}
    assert combos == {(s, v, seed) for s in (0.0, 0.01) for v in (1.0, 2.0, 3.0) for seed in (0, 1)}
    assert all(p.config.rows == 3 for p in sweep.points)
    assert len({p.run_id for p in sweep.points}) == len(sweep.points)
    assert sweep.points[0].label() == "seconds=0 fail=False value=1 seed=0"


def test_precedence_defaults_preset_base_axes_then_set(tmp_path):
    path = sweep_file(tmp_path, """
        study: esl
        preset: tiny
        base: {lr: 0.01}
        grid: {depth: [3]}
        """)
    (point,) = load_sweep(path).points
    tiny = get_study("esl").preset("tiny")["data_length"]
    assert (point.config.lr, point.config.depth, point.config.data_length) == (0.01, 3, tiny)
    (point,) = load_sweep(path, ["lr=0.5", "hidden-dim=7"]).points
    assert (point.config.lr, point.config.hidden_dim) == (0.5, 7)


def test_zip_taken_row_by_row_and_seed_lists(tmp_path):
    path = sweep_file(tmp_path, """
        study: sleepy
        zip:
          value: [1.0, 2.0]
          rows: [5, 6]
        seeds: [3, 7]
        """)
    got = sorted((p.config.value, p.config.rows, p.config.seed) for p in load_sweep(path).points)
    assert got == [(1.0, 5, 3), (1.0, 5, 7), (2.0, 6, 3), (2.0, 6, 7)]


@pytest.mark.parametrize("text, line, words", [
    ("study: nosuch\n", 1, "unknown study 'nosuch'"),
    ("study: sleepy\npreset: huge\n", 2, "not a preset of sleepy"),
    ("study: sleepy\nbogus: 1\n", 2, "unknown key 'bogus'"),
    ("preset: quick\n", 1, "no `study:`"),
    ("study: sleepy\nbase:\n  rows: 2\n  nope: 3\n", 4, "sleepy has no setting 'nope'"),
    ("study: sleepy\ngrid:\n  value: [1.0, x]\n", 3, "value must be a number; got 'x'"),
    ("study: sleepy\ngrid:\n  value: [1.0, -2.0]\n", 3, "value must be >= 0; got -2"),
    ("study: sleepy\ngrid:\n  value: []\n", 3, "the axis is empty"),
    ("study: sleepy\ngrid:\n  value: 1.0\n", 3, "an axis is a list"),
    ("study: sleepy\ngrid:\n  value: [1.0, 1.0]\n", 3, "listed twice"),
    ("study: sleepy\nzip:\n  value: [1.0, 2.0]\n  rows: [1]\n", 3, "one length"),
    ("study: sleepy\ngrid:\n  value: [1.0]\n  value: [2.0]\n", 4, "'value' is given twice (also on line 3)"),
    ("study: sleepy\nbase:\n  rows: 2\ngrid:\n  rows: [1, 2]\n", 5, "already set on line 3"),
    ("study: sleepy\ngrid:\n  value: [1.0]\nzip:\n  value: [2.0]\n", 5, "already set on line 3"),
    ("study: sleepy\ngrid:\n  seed: [1, 2]\nseeds: 0-2\n", 4, "already set on line 3"),
    ("study: sleepy\nseeds: 5-2\n", 2, "expected a range like 0-9"),
    ("study: sleepy\nseeds: [0, -1]\n", 2, "non-negative whole numbers"),
    ("study: sleepy\nbase: [1, 2]\n", 2, "base must be a mapping"),
    ("study: sleepy\ngrid:\n  value: [1.0\n", None, "is not valid YAML"),
])
def test_bad_sweep_files_name_the_key_and_line(tmp_path, text, line, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert words in message
    if line is not None:
        assert message.startswith(f"{path}:{line}: ")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(SweepError, match="no such sweep file"):
        load_sweep(tmp_path / "absent.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(SweepError, match="is empty"):
        load_sweep(tmp_path / "empty.yaml")


def test_bad_set_is_named(tmp_path):
    path = sweep_file(tmp_path, "study: sleepy\n")
    with pytest.raises(Exception, match="--set rows"):
        load_sweep(path, ["rows=-3"])
    with pytest.raises(Exception, match="sleepy has no setting 'bogus'"):
        load_sweep(path, ["bogus=1"])


def test_cli_refuses_a_bad_file_before_any_run(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("study: sleepy\ngrid:\n  value: [1.0]\n  rows: [2, x]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}:4: rows must be a whole number" in err
    assert not (out / DB_NAME).exists()


def test_the_esl_table_example_is_the_seed_table_with_three_seeds():
    sweep = load_sweep(Path(__file__).parents[2] / "examples" / "esl_table.yaml")
    expected = sorted(stable_json(asdict(replace(row.config, seed=seed))) for row in SEED_TABLE for seed in (0, 1, 2))
    assert sorted(stable_json(asdict(p.config)) for p in sweep.points) == expected
