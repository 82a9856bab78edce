import math

import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.models import build_model
from deepscope.train import Schedule, Step, TrainConfig, Trainer


def _blobs(n=200, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    x = torch.randn(n, d, generator=g) + 4.0 * torch.nn.functional.one_hot(y, d).float()
    return x, y


def _model(seed=0, p=0.1):
    torch.manual_seed(seed)
    return build_model("mlp", in_features=5, num_classes=3, hidden_dim=16, depth=3, p=p)


def test_same_seed_same_numbers_and_caller_rng_untouched():
    x, y = _blobs()
    model = _model()
    state = torch.random.get_rng_state()
    r1 = Trainer(model, x, y, TrainConfig(epochs=5, stop_loss=None, seed=3, progress=False)).fit()
    assert torch.equal(torch.random.get_rng_state(), state)
    r2 = Trainer(_model(), x, y, TrainConfig(epochs=5, stop_loss=None, seed=3, progress=False)).fit()
    r3 = Trainer(_model(), x, y, TrainConfig(epochs=5, stop_loss=None, seed=4, progress=False)).fit()
    assert r1.epoch_losses == r2.epoch_losses
    assert r1.epoch_losses != r3.epoch_losses


def test_learns_separable_data_and_stops_on_stop_loss():
    x, y = _blobs()
    r = Trainer(_model(p=0.0), x, y, TrainConfig(lr=1e-2, epochs=200, stop_loss=0.05, progress=False)).fit()
    assert r.stopped_early and r.final_train_loss < 0.05 and r.epochs_run < 200
    assert r.iterations == r.epochs_run * 2  # 200 samples / batch 100


def test_max_iterations_stops_mid_epoch_and_agrees_with_whole_epochs():
    x, y = _blobs()  # 200 samples, batch 100: 2 updates per epoch
    config = dict(epochs=10, stop_loss=None, seed=1, progress=False)
    partial = Trainer(_model(p=0.0), x, y, TrainConfig(max_iterations=5, **config)).fit()
    assert (partial.iterations, partial.epochs_run) == (5, 3)
    whole = [_model(p=0.0), _model(p=0.0)]
    Trainer(whole[0], x, y, TrainConfig(max_iterations=4, **config)).fit()
    Trainer(whole[1], x, y, TrainConfig(**{**config, "epochs": 2})).fit()
    assert all(torch.equal(a, b) for a, b in zip(whole[0].parameters(), whole[1].parameters()))


def test_step_decay_multiplies_the_rate_at_each_milestone():
    x, y = _blobs()
    seen = []
    config = TrainConfig(optimizer="sgd", lr=0.5, lr_milestones=[2, 4], lr_gamma=0.1, epochs=5, stop_loss=None,
                         progress=False)
    trainer = Trainer(_model(p=0.0), x, y, config, schedule=Schedule.periodic(1, unit="epoch"),
                      callbacks=[lambda state: seen.append(trainer.optimizer.param_groups[0]["lr"])])
    trainer.fit()
    assert seen[:5] == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005])


def test_full_batch_when_batch_size_exceeds_n():
    x, y = _blobs(n=50)
    r = Trainer(_model(), x, y, TrainConfig(batch_size=10_000, epochs=3, stop_loss=None, progress=False)).fit()
    assert r.iterations == 3


def test_sgd_is_really_sgd():
    x, y = _blobs(n=20)
    model = _model(p=0.0)
    t = Trainer(model, x, y, TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, progress=False))
    assert isinstance(t.optimizer, torch.optim.SGD) and t.optimizer.defaults["momentum"] == 0.9


def test_sgd_step_matches_hand_update():
    torch.manual_seed(0)
    model = build_model("mlp", in_features=4, num_classes=2, hidden_dim=3, depth=2, batchnorm=False)
    x, y = torch.randn(8, 4), torch.tensor([0, 1] * 4)
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    Trainer(model, x, y, TrainConfig(optimizer="sgd", lr=0.5, batch_size=8, epochs=1, stop_loss=None,
                                     progress=False)).fit()
    for p0, g, p1 in zip(before, grads, model.parameters()):
        torch.testing.assert_close(p1.detach(), p0 - 0.5 * g)


def test_divergence_is_reported():
    x, y = _blobs()
    x[0, 0] = math.inf
    r = Trainer(_model(), x, y, TrainConfig(epochs=3, progress=False)).fit()
    assert r.diverged and "diverged" in r.message and r.epochs_run == 1


def test_callbacks_fire_on_schedule_and_after_last_step():
    x, y = _blobs()
    seen = []
    cb = lambda state: seen.append((state.step.iteration, state.finished, state.model.training))  # noqa: E731
    Trainer(_model(), x, y, TrainConfig(epochs=4, stop_loss=None, progress=False), callbacks=[cb],
            schedule=Schedule.periodic(2, unit="epoch")).fit()
    assert [s[0] for s in seen] == [0, 4, 8]          # epochs 0 and 2 start, then after the last step
    assert seen[-1][1] is True and not seen[0][1]


def test_schedules():
    assert Schedule.at([0, 5]).due(Step(5, 10), is_epoch_end=False)
    assert not Schedule.periodic(3).due(Step(4, 10), is_epoch_end=False)
    log = Schedule.log_spaced(10, 1000)
    assert 0 in log.points and 1000 in log.points and len(log.points) <= 10
    assert Step(25, 10).epoch == 2 and Step(25, 10).in_epoch == 5
    with pytest.raises(DeepscopeError):
        Schedule.periodic(0)


def test_bad_input():
    x, y = _blobs()
    with pytest.raises(DeepscopeError, match="one target per row"):
        Trainer(_model(), x, y[:-1])
    with pytest.raises(DeepscopeError, match="TrainConfig.optimizer must be one of"):
        Trainer(_model(), x, y, TrainConfig(optimizer="lbfgs"))


def test_thread_policy_and_restore():
    x, y = _blobs()
    before = torch.get_num_threads()
    small = Trainer(_model(), x, y, TrainConfig(epochs=1, progress=False))
    assert small.cpu_threads() == 1
    assert Trainer(_model(), x, y, TrainConfig(threads=2, progress=False)).cpu_threads() == 2
    big = build_model("mlp", in_features=5, num_classes=3, hidden_dim=1000, depth=4)
    assert Trainer(big, x, y, TrainConfig(progress=False)).cpu_threads() == before
    small.fit()
    assert torch.get_num_threads() == before
