"""Held-out evaluation in the trainer, and the inputs and configs the Trainer accepts."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.train import TrainConfig, Trainer, evaluate


def blobs(n=200, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    return torch.randn(n, d, generator=g) + 3.0 * nn.functional.one_hot(y, d).float(), y


def net(seed=0, dropout=0.2):
    """A small MLP with BatchNorm and dropout, so eval mode and the RNG both matter."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


QUIET = dict(stop_loss=None, progress=False)


def test_evaluation_does_not_change_the_trajectory():
    x, y = blobs()
    ex, ey = blobs(60, seed=1)
    plain_model, evaluated_model = net(), net()
    plain = Trainer(plain_model, x, y, TrainConfig(epochs=5, **QUIET)).fit()
    evaluated = Trainer(evaluated_model, x, y, TrainConfig(epochs=5, eval_every=1, **QUIET), eval_x=ex,
                        eval_y=ey).fit()
    assert plain.epoch_losses == evaluated.epoch_losses
    assert all(torch.equal(p, q) for p, q in zip(plain_model.state_dict().values(),
                                                  evaluated_model.state_dict().values()))  # BN buffers too
    assert evaluated_model.training                                    # the mode training left it in


def test_history_rows_and_final_numbers():
    x, y = blobs()
    ex, ey = blobs(60, seed=1)
    model = net()
    result = Trainer(model, x, y, TrainConfig(epochs=5, eval_every=2, lr=1e-2, **QUIET), eval_x=ex, eval_y=ey).fit()
    assert [(row["epoch"], row["iteration"]) for row in result.eval_history] == [(0, 0), (2, 4), (4, 8), (5, 10)]
    final = evaluate(model, ex, ey, batch_size=7)                      # batching does not change the numbers
    assert result.final_eval_loss == pytest.approx(final["loss"], rel=1e-5)
    assert result.final_eval_accuracy == final["accuracy"] == result.eval_history[-1]["accuracy"]
    assert result.eval_history[0]["loss"] > result.final_eval_loss and result.final_eval_accuracy > 0.9
    with torch.no_grad():
        model.eval()
        assert result.final_train_accuracy == int((model(x).argmax(1) == y).sum()) / len(y)
    only_end = Trainer(net(), x, y, TrainConfig(epochs=3, **QUIET), eval_x=ex, eval_y=ey).fit()
    assert [row["epoch"] for row in only_end.eval_history] == [3]
    no_eval = Trainer(net(), x, y, TrainConfig(epochs=1, **QUIET)).fit()
    assert no_eval.eval_history == [] and no_eval.final_eval_loss is None and no_eval.final_train_accuracy is not None


def test_early_stop_and_regression():
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    y = x @ torch.ones(5, 2)
    model = nn.Linear(5, 2)
    result = Trainer(model, x, y, TrainConfig(epochs=300, lr=0.05, stop_loss=1e-3, eval_every=50, progress=False),
                     eval_x=x[:10], eval_y=y[:10]).fit()
    assert result.stopped_early and result.eval_history[-1]["epoch"] == result.epochs_run
    assert result.final_eval_accuracy is None and result.final_train_accuracy is None
    with torch.no_grad():
        assert result.final_eval_loss == pytest.approx(float(nn.functional.mse_loss(model(x[:10]), y[:10])), rel=1e-5)


def test_eval_data_errors():
    x, y = blobs()
    for kwargs, message in [(dict(eval_x=x), "pass both eval_x and eval_y"),
                            (dict(eval_x=x[:, :3], eval_y=y), "eval_x must look like x"),
                            (dict(eval_x=x, eval_y=y.float()), "eval_y must look like y"),
                            (dict(eval_x=x[:0], eval_y=y[:0]), "eval_x is empty"),
                            (dict(eval_x=x[:5], eval_y=y[:4]), "eval_x has 5 rows but eval_y has 4")]:
        with pytest.raises(DeepscopeError, match=message):
            Trainer(net(), x, y, TrainConfig(**QUIET), **kwargs)
    with pytest.raises(DeepscopeError, match="eval_every=2 evaluates held-out data; pass eval_x and eval_y"):
        Trainer(net(), x, y, TrainConfig(eval_every=2, **QUIET))


def test_numpy_inputs_are_converted_once_and_train_alike():
    x, y = blobs()
    from_numpy = Trainer(net(), x.double().numpy(), y.int().numpy(), TrainConfig(epochs=2, **QUIET),
                         eval_x=x.numpy(), eval_y=y.numpy())
    assert from_numpy.x.dtype == torch.float32 and from_numpy.y.dtype == torch.int64
    assert from_numpy.fit().epoch_losses == Trainer(net(), x, y, TrainConfig(epochs=2, **QUIET)).fit().epoch_losses
    tokens = Trainer(nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 3)),
                     np.array([[1, 2], [3, 9]], dtype=np.uint8), np.array([0, 2]), TrainConfig(epochs=1, **QUIET))
    assert tokens.x.dtype == torch.int64 and not math.isnan(tokens.fit().final_train_loss)
    for x_bad, y_bad, message in [(x.numpy(), y.numpy().astype(bool), "y must hold real numbers .float. or integer "
                                                                        "ids; got a numpy array of dtype bool"),
                                  (x.numpy().astype(np.complex64), y.numpy(), "x must hold real numbers"),
                                  (x.tolist(), y, "x must be a torch.Tensor or a numpy array; got list"),
                                  (x, y[:, None], r"integer y are class ids and must be \[n\]")]:
        with pytest.raises(DeepscopeError, match=message):
            Trainer(net(), x_bad, y_bad, TrainConfig(**QUIET))


def test_config_as_a_mapping_or_an_error():
    x, y = blobs(20)
    trainer = Trainer(net(), x, y, {"epochs": 2, "lr": 0.01, "progress": False})
    assert isinstance(trainer.config, TrainConfig) and trainer.config.epochs == 2
    with pytest.raises(DeepscopeError, match=r"unknown TrainConfig setting\(s\) 'epoch' in the config mapping; the "
                                             r"settings are: optimizer, lr, .*eval_every"):
        Trainer(net(), x, y, {"epoch": 2})
    with pytest.raises(DeepscopeError, match="config: expected TrainConfig, got int; pass a TrainConfig or a mapping"):
        Trainer(net(), x, y, 5)


@pytest.mark.parametrize("field, value, expected", [
    ("lr", 0.0, "must be > 0; got 0"), ("lr", math.nan, "must be a finite number; got nan"), ("lr", math.inf, "finite"),
    ("momentum", 1.0, "must be < 1; got 1"), ("momentum", -0.1, "must be >= 0; got -0.1"),
    ("weight_decay", -1e-4, "must be >= 0"), ("weight_decay", math.inf, "finite"),
    ("batch_size", 0, "must be >= 1; got 0"), ("batch_size", 2.5, "must be a whole number; got 2.5"),
    ("epochs", -1, "must be >= 0; got -1"), ("stop_loss", 0.0, "must be > 0; got 0"),
    ("eval_every", 0, "must be >= 1; got 0"), ("seed", -3, "must be >= 0; got -3"),
    ("threads", 0, "must be >= 1; got 0"), ("augment", "crop", "None or an Augment"),
    ("optimizer", "lbfgs", "must be one of sgd, adam, adamw; got 'lbfgs'"),
    ("device", "gpu0", "is not a torch device"),
])
def test_config_fields_are_checked_one_message_each(field, value, expected):
    with pytest.raises(DeepscopeError, match=rf"TrainConfig\.{field} .*{expected}"):
        TrainConfig(**{field: value})
    config = TrainConfig()
    setattr(config, field, value)                                     # mutated after creation: the Trainer checks
    with pytest.raises(DeepscopeError, match=rf"TrainConfig\.{field}"):
        Trainer(net(), *blobs(10), config)
