"""Every registered study works through the plug-in framework: declaration, CLI, store record, verdicts."""
import dataclasses
import json
import typing

import pytest

from deepscope.cli import main
from deepscope.config import defaults, field_type, validate
from deepscope.store import Store
from deepscope.studies import STUDIES, Study, all_studies, get_study

STUDY_NAMES = list(STUDIES)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_study_declares_the_plug_in_parts(name):
    study = get_study(name)
    assert isinstance(study, Study) and study.name == name
    assert "(" in study.claim and study.claim.endswith(").")             # one sentence, with the paper
    assert {"quick", "paper", "tiny"} <= set(study.presets) and not study.presets["quick"].overrides
    assert "GPU" in study.presets["paper"].help
    assert validate(study.config()) == study.config()                    # the defaults are valid
    for preset in study.presets.values():
        study.configure(preset.overrides)                                # every preset is valid
    for f in dataclasses.fields(study.config):
        kind, _ = field_type(study.config, f.name)
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
        if kind in (int, float):                                         # the flag walker needs a bound
            assert any(f.metadata.get(k) is not None for k in ("min", "gt", "max", "lt")), f.name
        if typing.get_origin(kind) is list and typing.get_args(kind)[0] in (int, float):
            assert f.metadata.get("item_min") is not None or f.metadata.get("item_gt") is not None, f.name


def test_unknown_study_lists_the_registered_ones():
    from deepscope.errors import DeepscopeError
    with pytest.raises(DeepscopeError, match="esl"):
        get_study("nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDY_NAMES)
def test_tiny_preset_runs_end_to_end_through_the_cli(name, tmp_path, capsys):
    study = get_study(name)
    assert main([name, "--preset", "tiny", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("study", "run_id", "config", "verdicts", "seconds"):
        assert key in out
    assert out["study"] == name and out["seconds"] > 0
    assert out["config"] == dataclasses.asdict(study.configure(study.preset("tiny")))
    assert out["verdicts"] and all({"claim", "quantity", "measured", "threshold", "holds", "detail"} <= set(v)
                                   for v in out["verdicts"])
    store = Store(tmp_path)
    row = store.get(out["run_id"])
    assert row["status"] == "finished" and row["config"] == out["config"]
    results = store.results(out["run_id"])
    assert results["verdicts"] == out["verdicts"] and "summary" in results
    assert (tmp_path / f"{name}_{out['run_id']}.png").stat().st_size > 1000
    assert main([name, "--preset", "tiny", "--out", str(tmp_path)]) == 0      # the text report, reused
    text = capsys.readouterr().out
    assert "reused" in text and "verdict: " in text


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDY_NAMES)
def test_below_minimum_evidence_is_undecided(name, tmp_path, capsys):
    study = get_study(name)
    assert study.below_minimum, f"{name} must declare settings that give too little evidence"
    sets = [f"--set={k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in study.below_minimum.items()]
    assert main([name, "--preset", "tiny", *sets, "--out", str(tmp_path), "--json"]) == 0
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    undecided = [v for v in verdicts if v["holds"] is None]
    assert undecided and all(v["reason"] for v in undecided)
    assert any("needs at least" in v["reason"] for v in undecided)          # the evidence shortfall is named
    assert main([name, "--preset", "tiny", *sets, "--out", str(tmp_path)]) == 0
    assert "UNDECIDED: " in capsys.readouterr().out


def test_preset_config_file_flags_and_set_override_in_that_order(tmp_path):
    import argparse

    from deepscope.cli import resolve_config
    study = get_study("esl")
    config_file = tmp_path / "c.yaml"
    config_file.write_text("lr: 0.01\nnum_epochs: 7\nhidden-dim: 12\n")
    args = argparse.Namespace(preset="tiny", config=str(config_file), set=["hidden_dim=9", "opt=SGD"],
                              num_epochs=3)
    config = resolve_config(study, args)
    assert config.dataset == "digits"                                     # from the preset
    assert config.lr == 0.01 and config.num_epochs == 3                   # file, then the flag over it
    assert config.hidden_dim == 9 and config.opt == "sgd"                 # --set over all, choice canonical


def test_studies_command_lists_every_study(capsys):
    assert main(["studies"]) == 0
    text = capsys.readouterr().out
    for study in all_studies():
        assert study.name in text and "quick" in text
    assert main(["studies", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in listed] == STUDY_NAMES and all(s["quick_seconds"] for s in listed)


def test_defaults_of_every_study_are_its_quick_preset():
    for study in all_studies():
        assert dataclasses.asdict(study.configure(study.preset("quick"))) == defaults(study.config)
