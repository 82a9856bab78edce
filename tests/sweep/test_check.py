"""`deepscope check`: which seeds each study gets, the verdict table over seeds, the report, resuming."""
from __future__ import annotations

import json

import pytest

from deepscope.cli import main
from deepscope.store import Store
from deepscope.studies.registry import get_study
from deepscope.sweep.check import CHECK_SEEDS, _holds, _threshold, _seeds_kind, check_points, seed_count


def test_seed_policy_follows_each_studys_settings():
    assert _seeds_kind(get_study("lottery")) == "own" and _seeds_kind(get_study("collapse")) == "none"
    assert _seeds_kind(get_study("esl")) == "stacked"
    (esl,) = check_points([get_study("esl")])
    assert esl.config.seeds == list(CHECK_SEEDS) and seed_count(get_study("esl"), 1, {"seeds": [0, 1, 2]}) == 3
    points = check_points([get_study("sleepy"), get_study("lottery"), get_study("eos")])
    by_study = {}
    for p in points:
        by_study.setdefault(p.study, []).append(p)
    assert [p.config.seed for p in by_study["sleepy"]] == list(CHECK_SEEDS)  # cheap: three runs
    assert len(by_study["lottery"]) == 1 and len(by_study["eos"]) == 1  # own seeds / too long: one run
    lottery = by_study["lottery"][0].config
    assert seed_count(get_study("lottery"), 1, {"seeds": lottery.seeds}) == lottery.seeds
    assert seed_count(get_study("eos"), 1, {}) == 1


def test_threshold_column():
    assert _threshold("<=", -0.99) == "<= -0.99" and _threshold("within [-1, -0.5]", -0.75) == "within [-1, -0.5]"


def test_holds_column():
    assert _holds({"HOLDS": 1}) == "HOLDS"
    assert _holds({"HOLDS": 2, "FAILS": 1}) == "HOLDS 2/3, FAILS 1/3"


def test_check_prints_verdicts_over_seeds_writes_the_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["check", "--only", "sleepy", "--out", str(out), "--executor", "serial", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    (row,) = first["verdicts"]
    assert row["study"] == "sleepy" and row["seeds"] == 3
    assert sorted(row["values"]) == [1.0, 2.0, 3.0]  # value + seed for seeds 0, 1, 2
    assert row["measured"] == pytest.approx(2.0) and row["std"] == pytest.approx(1.0)
    assert row["states"] == {"HOLDS": 3} and row["threshold"] == 1.0
    assert (out / "report.html").is_file() and "sleepy" in (out / "report.html").read_text()
    started = Store(out).runs()["started_at"].tolist()
    assert main(["check", "--only", "sleepy", "--out", str(out), "--executor", "serial"]) == 0
    text = capsys.readouterr().out
    assert "2 ± 1" in text and "HOLDS 3/3" in text and "0 run now, 3 kept" in text
    assert Store(out).runs()["started_at"].tolist() == started


def test_only_and_skip_are_checked(tmp_path, capsys):
    assert main(["check", "--only", "nosuch", "--out", str(tmp_path)]) == 2
    assert "--only: unknown study 'nosuch'" in capsys.readouterr().err
    assert main(["check", "--only", "sleepy", "--skip", "sleepy", "--out", str(tmp_path)]) == 2
    assert "leave no study" in capsys.readouterr().err
