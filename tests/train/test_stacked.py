"""Many seeds in one model: a member trained stacked is the same member trained alone.

Without dropout every random stream of a member (initialisation, shuffling) is its own, so the
stacked member must end where the Trainer ends for the same config, up to float rounding. With
dropout the stack draws one stream for all members; the masks are checked for their law instead.
"""
import dataclasses
import math

import pytest
import torch

from deepscope.data import load_dataset
from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.models.stacked_mlp import StackedMLP, dropout_mask
from deepscope.train import StackedTrainer, TrainConfig, Trainer

HIDDEN = [24, 16, 16]
DATA = load_dataset("digits", size=8).as_features()


def subset(seed: int, n: int = 240):
    """Each member's own training subset (as the ESL study draws one per seed)."""
    rows = torch.randperm(len(DATA.y), generator=torch.Generator().manual_seed(seed))[:n]
    return DATA.x[rows], DATA.y[rows]


def mlp(seed: int, **options):
    return build_model("mlp", in_features=64, num_classes=10, hidden=HIDDEN, seed=seed, **options)


def alone(config: TrainConfig, x, y, **options):
    model = mlp(config.seed, **options)
    return model, Trainer(model, x, y, config).fit()


def assert_same_model(a, b, atol=2e-5):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], atol=atol, rtol=1e-4, msg=key)


def assert_same_run(stacked, single):
    assert (stacked.epochs_run, stacked.iterations, stacked.diverged, stacked.stopped_early) == \
        (single.epochs_run, single.iterations, single.diverged, single.stopped_early)
    assert stacked.epoch_losses == pytest.approx(single.epoch_losses, rel=1e-4, abs=1e-6)


BASE = TrainConfig(optimizer="adam", lr=3e-3, batch_size=50, epochs=4, stop_loss=None, progress=False)


@pytest.mark.parametrize("config", [
    BASE,
    dataclasses.replace(BASE, optimizer="sgd", lr=0.05, momentum=0.9, lr_milestones=[2], max_iterations=17),
], ids=["adam", "sgd-momentum-milestone-max-iterations"])
def test_each_member_ends_where_it_ends_alone_without_dropout(config):
    seeds = [0, 3, 7]
    data = [subset(s) for s in seeds]
    configs = [dataclasses.replace(config, seed=s) for s in seeds]
    models = [mlp(s) for s in seeds]
    eval_x, eval_y = DATA.x[:100], DATA.y[:100]
    results = StackedTrainer(models, [x for x, _ in data], [y for _, y in data], configs, eval_x=eval_x,
                             eval_y=eval_y).fit()
    for c, (x, y), model, result in zip(configs, data, models, results):
        single_model = mlp(c.seed)
        single = Trainer(single_model, x, y, c, eval_x=eval_x, eval_y=eval_y).fit()
        assert_same_run(result, single)
        assert_same_model(model, single_model)
        assert result.final_train_accuracy == pytest.approx(single.final_train_accuracy, abs=1 / len(y))
        assert result.final_eval_accuracy == pytest.approx(single.final_eval_accuracy, abs=0.011)


def test_members_may_share_one_data_set():
    x, y = subset(1)
    configs = [dataclasses.replace(BASE, seed=s) for s in (0, 1)]
    models = [mlp(s) for s in (0, 1)]
    results = StackedTrainer(models, x, y, configs).fit()
    for c, model, result in zip(configs, models, results):
        single_model, single = alone(c, x, y)
        assert_same_run(result, single)
        assert_same_model(model, single_model)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_members_with_their_own_learning_rate_and_weight_decay(optimizer):
    x, y = subset(2)
    settings = [(0, 0.02, 0.0), (1, 0.005, 1e-2), (2, 0.01, 5e-2)]
    configs = [dataclasses.replace(BASE, optimizer=optimizer, seed=s, lr=lr, weight_decay=wd,
                                   momentum=0.5 if optimizer == "sgd" else 0.0, epochs=3) for s, lr, wd in settings]
    models = [mlp(c.seed) for c in configs]
    results = StackedTrainer(models, x, y, configs).fit()
    for c, model, result in zip(configs, models, results):
        single_model, single = alone(c, x, y)
        assert_same_run(result, single)
        assert_same_model(model, single_model)


def test_a_member_that_stops_is_frozen_and_the_others_go_on():
    """Members reach the stop loss at different epochs; each leaves with the weights and epochs it has alone, and
    the optimiser state of those that stay is carried across the stack's shrinking."""
    seeds = [0, 1, 2, 3]
    configs = [dataclasses.replace(BASE, seed=s, lr=2e-2, epochs=12, stop_loss=0.15) for s in seeds]
    data = [subset(s, 150) for s in seeds]
    models = [mlp(s) for s in seeds]
    results = StackedTrainer(models, [x for x, _ in data], [y for _, y in data], configs).fit()
    assert len({r.epochs_run for r in results}) > 1 and any(r.stopped_early for r in results)
    for c, (x, y), model, result in zip(configs, data, models, results):
        single_model, single = alone(c, x, y)
        assert_same_run(result, single)
        assert_same_model(model, single_model)


def test_a_member_that_diverges_is_marked_and_the_others_go_on():
    x, y = subset(4)
    configs = [dataclasses.replace(BASE, optimizer="sgd", seed=s, lr=lr, epochs=3)
               for s, lr in [(0, 0.05), (1, 1e12), (2, 0.1)]]
    models = [mlp(c.seed, batchnorm=False) for c in configs]
    results = StackedTrainer(models, x, y, configs).fit()
    assert [r.diverged for r in results] == [False, True, False]
    for c, model, result in zip(configs, models, results):
        single_model, single = alone(c, x, y, batchnorm=False)
        assert (result.epochs_run, result.iterations, result.message) == \
            (single.epochs_run, single.iterations, single.message)
        if not single.diverged:
            assert_same_run(result, single)
            assert_same_model(model, single_model)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_stacked_forward_is_every_member_forward(activation):
    members = [mlp(s, p=0.3, activation=activation) for s in range(3)]
    stack = StackedMLP(members)
    x = torch.randn(3, 20, 64)
    stack.eval()
    out = stack(x)
    for m, member in enumerate(members):
        member.eval()
        torch.testing.assert_close(out[m], member(x[m]))
    stack.train()                                         # dropout: member m's masks sit in the step's mask
    out = stack(x, torch.Generator().manual_seed(5))
    mask = dropout_mask(3 * 20 * sum(HIDDEN), 0.3, torch.Generator().manual_seed(5))
    for m, member in enumerate(members):
        h, offset = x[m], 0
        for block in member.hidden:
            h = block.act(block.linear(torch.nn.functional.batch_norm(h, None, None, block.bn.weight, block.bn.bias,
                                                                      True)))
            size = 3 * h.shape[1] * 20                    # the stack's layout: [member, feature, sample]
            h = h * mask[offset:offset + size].view(3, -1, 20)[m].T
            offset += size
        logits = member.head.linear(torch.nn.functional.batch_norm(h, None, None, member.head.bn.weight,
                                                                   member.head.bn.bias, True))
        torch.testing.assert_close(out[m], logits)


def test_write_and_keep_move_members_exactly():
    members = [mlp(s) for s in range(4)]
    stack = StackedMLP(members)
    stack.keep(torch.tensor([3, 1]))
    target = mlp(9)
    stack.write(0, target)
    assert_same_model(target, members[3], atol=0)
    stack.write(1, target)
    assert_same_model(target, members[1], atol=0)


@pytest.mark.parametrize("p", [0.05, 0.5])
def test_dropout_mask_has_the_law_of_independent_bernoulli_draws(p):
    count = 400_000
    mask = dropout_mask(count, p, torch.Generator().manual_seed(0))
    dropped = mask == 0
    assert torch.unique(mask).tolist() == [0.0, pytest.approx(1 / (1 - p))]
    sd = math.sqrt(p * (1 - p) / count)
    assert abs(dropped.double().mean().item() - p) < 5 * sd                      # the drop rate
    d = dropped.double() - p                                                     # no lag-1 correlation
    assert abs((d[1:] * d[:-1]).mean().item()) < 5 * p * (1 - p) / math.sqrt(count)
    per_member = dropped.view(40, -1).double().mean(dim=1)                       # every member's rate alike
    assert (per_member - p).abs().max().item() < 5 * math.sqrt(p * (1 - p) / 10_000)


def test_dropout_mask_drawn_in_small_rounds_is_the_same_mask():
    """The draw continues round after round until the positions pass the end; rounds do not change the mask."""
    whole = dropout_mask(5000, 0.1, torch.Generator().manual_seed(3))
    rounds = dropout_mask(5000, 0.1, torch.Generator().manual_seed(3), draws=7)
    assert torch.equal(whole, rounds)


def test_stacked_trainer_refuses_what_it_cannot_do():
    x, y = subset(0, 60)
    with pytest.raises(DeepscopeError, match="batch_size differs"):
        StackedTrainer([mlp(0), mlp(1)], x, y, [BASE, dataclasses.replace(BASE, batch_size=10, seed=1)])
    with pytest.raises(DeepscopeError, match="eval_every"):
        StackedTrainer([mlp(0)], x, y, [dataclasses.replace(BASE, eval_every=1)])
    with pytest.raises(DeepscopeError, match="another architecture"):
        StackedTrainer([mlp(0), mlp(1, p=0.1)], x, y, [BASE, dataclasses.replace(BASE, seed=1)])
    with pytest.raises(DeepscopeError, match="one TrainConfig per model"):
        StackedTrainer([mlp(0), mlp(1)], x, y, [BASE])
    with pytest.raises(DeepscopeError, match="x and y alike"):
        StackedTrainer([mlp(0), mlp(1)], [x, x], y, [BASE, dataclasses.replace(BASE, seed=1)])
    with pytest.raises(DeepscopeError, match="class ids"):
        StackedTrainer([mlp(0)], x, y.float(), [BASE])
