"""The grokking study: its verdicts on known curves, its settings checks, and what a tiny run measures."""
import dataclasses
import math

import pytest
import torch

from deepscope.cli import main
from deepscope.config import ConfigError
from deepscope.data import load_dataset
from deepscope.metrics.intrinsic_dim import twonn
from deepscope.models import build_model
from deepscope.probe import capture
from deepscope.store import Store
from deepscope.studies import grokking
from deepscope.train import evaluate

TINY = grokking.STUDY.configure(grokking.STUDY.preset("tiny"))


def curve(train, val, every=10, id_steps=(), llid=(), weight_decay=1.0):
    """A Curve logged every ``every`` steps from 0 with these accuracies (losses unused by the verdicts)."""
    steps = [every * i for i in range(len(train))]
    return grokking.Curve(weight_decay, steps, list(train), list(val), [1.0] * len(train), [1.0] * len(train),
                          list(id_steps), list(llid), [0.1] * len(llid), updates=steps[-1])


def grokked():
    """Memorised at step 40, generalised at step 120; LLID 25 until the jump, 10 after it."""
    train = [0.1, 0.5, 0.9, 0.95, 0.995] + [1.0] * 11
    val = [0.0] * 9 + [0.3, 0.6, 0.9, 0.96, 0.99, 1.0, 1.0]
    ids, llid = [0, 20, 40, 80, 120, 150], [20.0, 24.0, 25.0, 18.0, 10.0, 9.0]
    return curve(train, val, id_steps=ids, llid=llid)


def result(run, control=None):
    return grokking.GrokkingResult(TINY, run, control)


def states(res):
    return [v.state for v in grokking.verdict(res)]


def test_a_delayed_jump_with_a_falling_llid_and_a_flat_control_holds_everywhere():
    run = grokked()
    assert (run.memorised, run.generalised) == (40, 120)
    control = curve([1.0] * 16, [0.3] * 16, weight_decay=0.0)
    res = result(run, control)
    assert states(res) == ["HOLDS"] * 5
    delay, drop = grokking._delay(run), grokking._llid_drop(run, "features")
    assert delay.measured == pytest.approx(3.0) and "t_mem = 40, t_gen = 120" in delay.detail
    assert grokking.llid_window(run) == (2, 4)                      # step 40 (at t_mem) and step 120 (at t_gen)
    assert drop.measured == pytest.approx(10 / 25) and "25.00 at step 40 -> 10.00 at step 120" in drop.detail


def test_early_generalisation_a_flat_llid_and_a_grokking_control_fail():
    train = [0.1, 0.5, 0.9, 0.95, 0.995] + [1.0] * 3
    val = [0.0, 0.2, 0.5, 0.8, 0.9, 0.96, 1.0, 1.0]               # t_gen = 50 < 2 x t_mem = 80
    run = curve(train, val, id_steps=[0, 30, 40, 45, 50, 70], llid=[20.0, 21.0, 20.0, 19.5, 19.0, 18.0])
    control = curve(train, val, weight_decay=0.0)
    verdicts = grokking.verdict(result(run, control))
    assert [v.state for v in verdicts] == ["HOLDS", "HOLDS", "FAILS", "FAILS", "FAILS"]
    assert verdicts[2].measured == pytest.approx(50 / 40)
    assert verdicts[3].measured == pytest.approx(19 / 20)
    assert "first at step 50" in verdicts[4].detail


def test_no_generalisation_fails_that_claim_and_leaves_the_others_undecided():
    run = curve([0.1, 0.5, 0.9, 0.95, 0.995] + [1.0] * 5, [0.1] * 10, id_steps=[0, 90], llid=[20.0, 15.0])
    verdicts = grokking.verdict(result(run, curve([1.0] * 10, [0.1] * 10, weight_decay=0.0)))
    assert [v.state for v in verdicts] == ["HOLDS", "FAILS", "UNDECIDED", "UNDECIDED", "UNDECIDED"]
    assert "never generalised within 90 steps" in verdicts[2].reason
    assert "did not generalise either" in verdicts[4].reason
    assert "not within 90 steps" in verdicts[1].detail


def test_too_coarse_a_log_or_too_few_llid_checkpoints_is_undecided():
    coarse = curve([0.1, 0.5, 1.0] + [1.0] * 10, [0.0] * 8 + [0.97] * 5, every=40)   # t_mem = 80: 3 evaluations
    assert "3 accuracy evaluations up to memorisation; the delay needs at least 4" in grokking._delay(coarse).reason
    sparse = dataclasses.replace(grokked(), id_steps=[0, 150], llid=[25.0, 9.0], llid_std=[0.1, 0.1])
    drop = grokking._llid_drop(sparse, "features")
    assert drop.holds is None and "2 LLID checkpoints spanning the jump; the drop needs at least 3" in drop.reason
    assert grokking._control(result(grokked())).holds is None                        # no control run


@pytest.mark.parametrize(("change", "flag", "needle"), [
    ({"op": "/", "p": 12}, "p", "needs a prime"),
    ({"width": 30, "heads": 4}, "heads", "does not divide --width 30"),
    ({"layer": "block3.mlp"}, "layer", "block1.attn, block1.mlp, block1, features"),
    ({"layer": "logits"}, "layer", "not a hidden layer"),
    ({"id_steps": [0, 50, 500]}, "id_steps", "[500], beyond the run's 120 steps"),
    ({"log_every": 121}, "log_every", "the run has 120 steps"),
    ({"nres": 5, "subsample": 1.0}, "subsample", "would all be the same"),
])
def test_bad_settings_are_refused_before_training(change, flag, needle):
    with pytest.raises(ConfigError) as info:
        grokking.STUDY.configure(grokking.STUDY.preset("tiny"), change)
    assert info.value.field == flag and needle in info.value.problem


def test_the_cli_names_the_flag_and_stores_nothing(tmp_path, capsys):
    assert main(["grokking", "--preset", "tiny", "--op", "/", "--p", "15", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--p is 15" in err and "prime" in err and "Traceback" not in err
    assert not (tmp_path / "deepscope.sqlite").exists() or Store(tmp_path).runs().empty


def test_a_prime_modulus_is_accepted_for_division():
    assert grokking.STUDY.configure({"op": "/", "p": 97}).p == 97
    assert grokking.STUDY.configure({"op": "-", "p": 12}).p == 12     # only division needs a prime


def test_the_llid_schedule_is_log_spaced_from_0_to_the_last_step_or_as_listed():
    points = grokking.id_schedule(TINY)
    assert points[0] == 0 and points[-1] == TINY.steps and points == sorted(set(points))
    gaps = [b - a for a, b in zip(points, points[1:])]
    assert gaps[-1] > gaps[0]                                        # denser early
    assert grokking.id_schedule(dataclasses.replace(TINY, id_steps=[30, 0, 7])) == [0, 7, 30]


def test_betas_and_warm_up_of_the_optimizer():
    config = dataclasses.replace(TINY, warmup=4, weight_decay=0.5)
    model = torch.nn.Linear(3, 2)
    reference = torch.nn.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    opt = grokking._optimizer(config, model, config.weight_decay)
    ref = torch.optim.AdamW(reference.parameters(), lr=config.lr, betas=(0.9, 0.98), weight_decay=0.5)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    for k in range(6):
        assert opt.param_groups[0]["lr"] == pytest.approx(config.lr * min(1.0, (k + 1) / 4))
        for group in ref.param_groups:
            group["lr"] = config.lr * min(1.0, (k + 1) / 4)
        for net, o in ((model, opt), (reference, ref)):
            o.zero_grad()
            net(x).square().sum().backward()
            o.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)


def test_mini_batches_round_the_budget_up_to_whole_epochs():
    config = dataclasses.replace(TINY, batch_size=8, steps=10, log_every=5, id_checkpoints=3, control=False)
    res = grokking.run(config)
    assert res.run.updates == 12                                     # 29 equations: 4 batches an epoch, 3 epochs
    assert res.run.id_steps == [0, 2, 10] and res.control is None   # log-spaced 0, e^(ln 11 / 2) - 1 = 2.3, 10
    assert res.run.steps == [0, 2, 5, 10, 12]                        # every 5, the checkpoints, and the end


def test_a_tiny_run_logs_what_it_claims(tmp_path):
    """Step 0 is the model as built: its accuracies and its LLID match a direct evaluation of that model."""
    config = dataclasses.replace(TINY, steps=30, log_every=10, id_checkpoints=4)
    res = grokking.run(config, Store(tmp_path))
    run = res.run
    assert run.steps == sorted(set(run.steps) | {0, 10, 20, 30}) and set(run.id_steps) <= set(run.steps)
    assert run.updates == 30 and res.control is not None and res.control.weight_decay == 0.0
    train = load_dataset("modular", op="+", p=7, frac_train=0.6, seed=0)
    val = load_dataset("modular", op="+", p=7, frac_train=0.6, seed=0, split="test")
    model = build_model("transformer", vocab_size=9, num_classes=7, seq_len=4, n_layer=1, n_embd=32, n_head=2, seed=0)
    assert run.train_accuracy[0] == evaluate(model, train.x, train.y, 29)["accuracy"]
    assert run.val_loss[0] == pytest.approx(evaluate(model, val.x, val.y, 29)["loss"])
    assert res.id_points == len(val.y) == 20
    features = capture(model, val.x, ["features"])["features"]
    expected = twonn(features, nres=3, subsample=0.9, seed=0)
    assert run.llid[0] == pytest.approx(expected.dimension) and run.llid_std[0] == pytest.approx(expected.std)
    assert res.control.llid[0] == pytest.approx(run.llid[0])          # the same initialisation
    assert res.control.train_accuracy[-1] != run.train_accuracy[-1] or res.control.val_loss != run.val_loss
    logged = Store(tmp_path).metrics(res.run_id, metric="twonn", layer="weight_decay=1/features")
    assert logged["step"].tolist() == run.id_steps and logged["value"].tolist() == pytest.approx(run.llid)
    logged = Store(tmp_path).metrics(res.run_id, metric="val_accuracy", layer="weight_decay=0")
    assert logged["value"].tolist() == res.control.val_accuracy
    again = grokking.run(config, Store(tmp_path))
    assert again.reused and again.run.llid == run.llid and grokking.verdict(again) == grokking.verdict(res)
    path = grokking.figure(res, tmp_path / "g.png")
    assert path.stat().st_size > 1000 and all(math.isfinite(v) for v in run.llid)
    assert "wd0 val acc" in grokking.report(res)


def test_a_training_share_that_leaves_a_split_empty_names_the_flag():
    config = grokking.STUDY.configure(grokking.STUDY.preset("tiny"), {"p": 2, "frac_train": 0.1, "heads": 1})
    with pytest.raises(ConfigError) as info:                         # 4 equations: 0.1 of them is none
        grokking.run(config)
    assert info.value.field == "frac_train" and "train split empty" in info.value.problem


def test_chosen_metrics_are_measured_on_the_llid_capture_at_each_checkpoint(tmp_path):
    """--metrics: each checkpoint's value equals the metric on that model's capture (step 0: the built model)."""
    from deepscope.metrics.registry import compute

    config = dataclasses.replace(TINY, steps=20, log_every=10, id_checkpoints=3, metrics=["pca", "nc"], control=False)
    res = grokking.run(config, Store(tmp_path))
    run = res.run
    assert {"pca", "nc.nc1"} <= set(run.extra) and all(len(v) == len(run.id_steps) for v in run.extra.values())
    val = load_dataset("modular", op="+", p=7, frac_train=0.6, seed=0, split="test")
    model = build_model("transformer", vocab_size=9, num_classes=7, seq_len=4, n_layer=1, n_embd=32, n_head=2, seed=0)
    expected = compute(capture(model, val.x, ["features"]), val.y, ["pca", "nc"])["features"]
    assert run.extra["pca"][0] == pytest.approx(expected["pca"])
    assert run.extra["nc.nc1"][0] == pytest.approx(expected["nc.nc1"])
    logged = Store(tmp_path).metrics(res.run_id, metric="nc", layer="weight_decay=1/features")
    assert logged[logged["metric"] == "nc.nc1"]["value"].tolist() == pytest.approx(run.extra["nc.nc1"])
    assert "nc.nc1 of features at those steps" in grokking.report(res)
    assert grokking.run(config, Store(tmp_path)).run.extra == run.extra  # restored from the store
