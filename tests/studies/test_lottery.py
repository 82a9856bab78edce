"""The lottery-ticket study: its verdicts on constructed accuracies, and what one seed's runs do."""
import dataclasses

import pytest
import torch

from deepscope.cli import main
from deepscope.config import ConfigError
from deepscope.prune import masks_of
from deepscope.studies import lottery

TINY = lottery.STUDY.configure(lottery.STUDY.preset("tiny"))
MICRO = dataclasses.replace(TINY, data_length=40, hidden=[8], iterations=6, batch_size=20, rounds=1, seeds=1)


def result_with(levels, seeds=3, spread=0.002):
    """Rows for ``levels`` = [(remaining, ticket, reinit, random), ...] (round 0 = dense: reinit/random None),
    each accuracy spread over seeds by -spread, 0, +spread, ..."""
    rows = []
    for round_, (remaining, *means) in enumerate(levels):
        for kind, mean in zip(lottery.KINDS, means):
            if mean is not None:
                rows += [lottery.LevelRow(s, round_, kind, remaining, mean + spread * (s - (seeds - 1) / 2), 0.01)
                         for s in range(seeds)]
    return lottery.LotteryResult(dataclasses.replace(TINY, seeds=seeds), rows)


DENSE = (1.0, 0.950, None, None)


def test_a_sparse_ticket_above_both_controls_holds():
    result = result_with([DENSE, (0.5, 0.952, 0.951, 0.950), (0.15, 0.947, 0.930, 0.920), (0.05, 0.93, 0.90, 0.88)])
    ticket, controls = lottery.verdict(result)
    assert result.sparsest_match().remaining == 0.15        # 0.947 is within 0.5 points of 0.950; 0.93 is not
    assert ticket.holds is True and ticket.measured == 0.15
    # margin: ticket - reinit = 1.7 points, minus the spread (std over seeds of -0.2, 0, +0.2 = 0.2 points)
    assert controls.holds is True and controls.measured == pytest.approx(1.7 - 0.2)


def test_controls_within_the_seed_spread_fail():
    result = result_with([DENSE, (0.15, 0.948, 0.947, 0.930)], spread=0.004)
    ticket, controls = lottery.verdict(result)
    assert ticket.holds is True and controls.holds is False and controls.measured < 0


def test_a_ticket_only_at_mild_sparsity_fails():
    ticket, controls = lottery.verdict(result_with([DENSE, (0.5, 0.950, 0.94, 0.94), (0.1, 0.92, 0.90, 0.90)]))
    assert ticket.holds is False and ticket.measured == 0.5
    assert controls.holds is True      # at 50% the controls are 1 point below, more than the 0.2 spread


def test_never_pruning_to_20_percent_is_undecided():
    ticket, _ = lottery.verdict(result_with([DENSE, (0.5, 0.951, 0.94, 0.94)]))
    assert ticket.holds is None and "pruned only to 50.0%" in ticket.reason


def test_no_matching_level_or_too_few_seeds_is_undecided():
    ticket, controls = lottery.verdict(result_with([DENSE, (0.15, 0.93, 0.90, 0.90)]))
    assert ticket.holds is False and ticket.measured == 1.0
    assert controls.holds is None and "no pruned level" in controls.reason
    _, few = lottery.verdict(result_with([DENSE, (0.15, 0.95, 0.90, 0.90)], seeds=2))
    assert few.holds is None and "2 seeds" in few.reason


def test_one_seed_prunes_exactly_rewinds_and_trains_the_controls_on_the_same_sparsity(monkeypatch):
    config = dataclasses.replace(MICRO, rounds=2, rate=0.5)
    trained = []
    fit = lottery._Runs.fit

    def spy(self, model, round_, kind, start, *args, **kwargs):
        trained.append((round_, kind, start, {n: m.clone() for n, m in masks_of(model).items()},
                        {n: p.detach().clone() for n, p in model.named_parameters()}))
        return fit(self, model, round_, kind, start, *args, **kwargs)

    monkeypatch.setattr(lottery._Runs, "fit", spy)
    result = lottery.run(config)
    assert [(r.round, r.kind) for r in result.rows] == [(0, "ticket"), (1, "ticket"), (1, "reinit"), (1, "random"),
                                                        (2, "ticket"), (2, "reinit"), (2, "random")]
    dense_start = trained[0][4]
    for round_, kind, start, masks, params in trained[1:]:
        remaining = [r.remaining for r in result.rows if r.round == round_]
        assert len(set(remaining)) == 1                    # ticket and controls keep as many weights
        hidden = masks["hidden.0.linear.weight"]
        assert int(hidden.sum()) == round(hidden.numel() * 0.5 ** round_)   # exactly half per round
        assert int(masks["head.linear.weight"].sum()) == {1: 60, 2: 45}[round_]   # 80 weights, output at rate/2
        kept = params["hidden.0.linear.parametrizations.weight.original"][hidden]
        same_as_init = torch.equal(kept, dense_start["hidden.0.linear.weight"][hidden])
        assert same_as_init == (kind != "reinit")         # tickets and random masks start from the init
    ticket_masks = [t[3] for t in trained if t[1] == "ticket"][1:]
    random_masks = [t[3] for t in trained if t[1] == "random"]
    assert all(not torch.equal(a["hidden.0.linear.weight"], b["hidden.0.linear.weight"])
               for a, b in zip(ticket_masks, random_masks))


def test_rewinding_to_iteration_k_trains_the_rest_of_the_run(monkeypatch):
    starts = []
    fit = lottery._Runs.fit
    monkeypatch.setattr(lottery._Runs, "fit", lambda self, m, r, kind, start, *a, **k: (
        starts.append((kind, start)), fit(self, m, r, kind, start, *a, **k))[1])
    lottery.run(dataclasses.replace(MICRO, rewind_iteration=2))
    assert starts == [("ticket", 0), ("ticket", 2), ("reinit", 0), ("random", 2)]


def test_the_same_seed_gives_the_same_numbers():
    first, second = lottery.run(MICRO), lottery.run(MICRO)
    assert [r.test_accuracy for r in first.rows] == [r.test_accuracy for r in second.rows]


@pytest.mark.parametrize("settings, field", [
    ({"rewind_iteration": 6}, "rewind_iteration"),
    ({"rate": 1.0}, "rate"),
    ({"rate": 0.0}, "rate"),
    ({"hidden": []}, "hidden"),
    ({"hidden": [8, 0]}, "hidden"),
    ({"lr": 0.0}, "lr"),
])
def test_bad_settings_are_refused_before_training(settings, field):
    with pytest.raises(ConfigError) as err:
        lottery.run(dataclasses.replace(MICRO, **settings))
    assert err.value.field == field


def test_rewinding_beyond_the_run_is_a_flag_error(tmp_path, capsys):
    code = main(["lottery", "--preset", "tiny", "--iterations", "10", "--rewind-iteration", "10",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--rewind-iteration" in err and "only 10 updates" in err
    assert not (tmp_path / "deepscope.sqlite").exists()
