"""`deepscope esl --seeds`: the seeds trained stacked, each measured as its own run, r over seeds and the verdict."""
import dataclasses
import json
import math
import statistics

import pytest

from deepscope.cli import main
from deepscope.errors import DeepscopeError
from deepscope.store import Store, run_id
from deepscope.studies import esl as study

TINY = study.STUDY.configure(study.STUDY.preset("tiny"))


@pytest.mark.parametrize(("text", "seeds"), [("0-9", list(range(10))), ("0,1,2", [0, 1, 2]), ("3", [3]),
                                             (" 0-2, 7 ", [0, 1, 2, 7])])
def test_seeds_are_a_range_a_list_or_one(text, seeds):
    assert study.STUDY.settings_from_text([f"seeds={text}"])["seeds"] == seeds


def test_the_same_seeds_written_two_ways_are_one_run():
    as_range, as_list = (study.STUDY.configure(study.STUDY.settings_from_text([f"seeds={t}"])) for t in ("0-3", "0,1,2,3"))
    assert run_id("esl", dataclasses.asdict(as_range)) == run_id("esl", dataclasses.asdict(as_list))


@pytest.mark.parametrize("text", ["a", "3-1", "1,,2", "-1", "1-", "0-2,2", "1.5"])
def test_bad_seeds_text_is_refused(text):
    with pytest.raises(DeepscopeError):
        study.STUDY.configure(study.STUDY.settings_from_text([f"seeds={text}"]))


def test_each_seed_measures_what_its_single_run_measures_without_dropout():
    config = dataclasses.replace(TINY, p=0.0, seeds=list(range(0, 3)))
    result = study.run(config)
    assert isinstance(result, study.ESLSeedsResult) and result.seeds == [0, 1, 2]
    for seed, stacked in zip(result.seeds, result.runs):
        single = study.run(dataclasses.replace(config, seeds=None, seed=seed))
        assert stacked.log_d == pytest.approx(single.log_d, abs=1e-4)
        assert stacked.pearson_r == pytest.approx(single.pearson_r, abs=1e-4)
        assert (stacked.epochs_run, stacked.iterations) == (single.epochs_run, single.iterations)
        assert stacked.test_accuracy == pytest.approx(single.test_accuracy, abs=0.01)
    rs = [r.pearson_r for r in result.runs]
    assert result.r_mean == pytest.approx(statistics.fmean(rs)) and result.r_std == pytest.approx(statistics.stdev(rs))
    summary = result.summary()
    assert summary["pearson_r"] == rs and [run["config"]["seed"] for run in summary["runs"]] == [0, 1, 2]
    assert summary["seeds_holding"] == sum(r <= -0.99 for r in rs)


def test_with_dropout_seeds_match_their_single_runs_in_distribution():
    """Dropout masks come from the stack's stream, so only the law is the same: the paired differences of r between
    stacked and single runs of the same seeds centre on zero."""
    config = dataclasses.replace(TINY, p=0.2, seeds=list(range(0, 8)))
    stacked = study.run(config)
    single = [study.run(dataclasses.replace(config, seeds=None, seed=s)).pearson_r for s in stacked.seeds]
    differences = [a.pearson_r - b for a, b in zip(stacked.runs, single)]
    assert any(d != 0 for d in differences)
    assert abs(statistics.fmean(differences)) < 4 * statistics.stdev(differences) / math.sqrt(len(differences))


def _fake(seed: int, r: float, layers: int = 4) -> study.ESLResult:
    diverged = math.isnan(r)
    return study.ESLResult(dataclasses.replace(TINY, seed=seed), [f"l{i}" for i in range(layers)] if not diverged
                           else [], [float(-i) for i in range(layers)] if not diverged else [], -1.0, 0.0, 0.4, r,
                           0.99, {}, 5, 30, 0.1, 1.0, diverged, message="training diverged" if diverged else "")


@pytest.mark.parametrize(("rs", "layers", "state"), [
    ([-0.999, -0.995, -0.991], 4, "HOLDS"),
    ([-0.999, -0.989, -0.999], 4, "FAILS"),         # one seed misses: the law does not hold on every seed
    ([-0.999, math.nan, -0.999], 4, "FAILS"),       # a diverged seed counts as failing
    ([-0.999], 4, "UNDECIDED"),                     # one seed is no verdict over seeds
    ([-1.0, -1.0], 2, "UNDECIDED"),                 # two layers: |r| = 1 whatever the network does
])
def test_the_law_holds_over_seeds_when_it_holds_on_every_seed(rs, layers, state):
    result = study.ESLSeedsResult(dataclasses.replace(TINY, seeds=list(range(0, 10))), [_fake(i, r, layers)
                                                                           for i, r in enumerate(rs)], 1.0)
    v = study.verdict(result)
    assert v.state == state and v.threshold == -0.99
    if state != "UNDECIDED":
        assert f"{sum(r <= -0.99 for r in rs)}/{len(rs)} seeds" in v.detail and "mean r" in v.detail
    assert "seed" in study.report(result)


def test_seeds_are_recorded_reused_and_printed(tmp_path, capsys):
    config = dataclasses.replace(TINY, seeds=list(range(0, 3)))
    store = Store(tmp_path)
    first = study.run(config, store)
    again = study.run(config, store)
    assert again.reused and again.run_id == first.run_id
    assert [r.log_d for r in again.runs] == [list(r.log_d) for r in first.runs]
    assert study.verdict(again) == study.verdict(first)
    layers = set(store.metrics(first.run_id, metric="log_d")["layer"])
    assert {"seed=0/input", "seed=2/hidden3"} <= layers
    assert main(["esl", "--preset", "tiny", "--seeds", "0-2", "--out", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [0, 1, 2] and len(out["pearson_r"]) == 3 and len(out["runs"]) == 3
    assert out["verdicts"][0]["quantity"] == "Pearson r of the worst of 3 seeds"
    assert main(["esl", "--preset", "tiny", "--seeds", "0-2", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Pearson r over seeds: mean" in text and "verdict: " in text


def test_every_seed_diverging_is_a_diverged_run(tmp_path, capsys):
    argv = ["esl", "--preset", "tiny", "--seeds", "0,1", "--opt", "sgd", "--lr", "1e12", "--no-batchnorm",
            "--out", str(tmp_path)]
    assert main(argv) == 3
    assert "seed 0: training diverged" in capsys.readouterr().out
    assert Store(tmp_path).runs().iloc[0]["status"] == "diverged"


@pytest.mark.parametrize(("flags", "needle"), [(["--seeds", "0-2", "--seed", "4"], "--seeds"),
                                               (["--seeds", "0-2", "--every", "2"], "--every"),
                                               (["--seeds", "2-0"], "--seeds")])
def test_conflicting_or_bad_seeds_name_the_flag(flags, needle, tmp_path, capsys):
    try:
        code = main(["esl", "--preset", "tiny", *flags, "--out", str(tmp_path)])
    except SystemExit as exc:  # a flag's text is refused by the parser itself
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
