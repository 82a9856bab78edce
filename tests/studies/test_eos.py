"""The edge-of-stability study: its verdict logic on known trajectories, and the sharpness it measures."""
import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepscope.studies import eos

TINY = eos.STUDY.configure(eos.STUDY.preset("tiny"))


def trajectory(sharpness, losses=None, lr=0.1, every=10, **kw):
    steps = len(sharpness) * every
    losses = losses if losses is not None else list(np.linspace(1.0, 0.1, steps))
    return eos.Trajectory(lr, 2 / lr, losses, [0.5] * steps, list(range(0, steps, every)), list(sharpness), **kw)


def states(run):
    return [v.state for v in (eos._sharpening(run), eos._edge(run), eos._loss_falls(run))]


def test_sharpening_then_hovering_at_2_over_lr_holds():
    rising = list(np.linspace(5, 18, 8))                       # 2/lr = 20: reached (within 5%) at the 9th
    hovering = [20.5, 19.4, 21.0, 20.2, 19.8, 22.0, 20.1, 19.9]
    run = trajectory(rising + hovering)
    assert run.reached == 8 and states(run) == ["HOLDS", "HOLDS", "HOLDS"]
    assert eos._edge(run).measured == pytest.approx(1.0)


def test_leaving_the_band_fails_and_a_rising_loss_fails():
    run = trajectory(list(np.linspace(5, 18, 8)) + [20, 30, 40, 50, 60, 70, 80, 90])
    assert eos._edge(run).holds is False and eos._edge(run).measured == pytest.approx(1 / 8)
    steps = 160
    losses = [1.0] * 80 + list(np.linspace(1.0, 2.0, steps - 80))
    rising_loss = trajectory(list(np.linspace(5, 18, 8)) + [20] * 8, losses=losses)
    verdict = eos._loss_falls(rising_loss)
    assert verdict.holds is False and "the loss rose on" in verdict.detail


def test_never_reaching_the_threshold_is_undecided_not_failed():
    run = trajectory(list(np.linspace(1, 5, 10)))             # 2/lr = 20 never reached
    sharpening, edge, loss = states(run)
    assert sharpening == "HOLDS" and edge == "UNDECIDED" and loss == "UNDECIDED"
    assert "never reached 2/lr = 20" in eos._edge(run).reason and "0.25 x 2/lr" in eos._edge(run).reason


def test_too_few_evaluations_are_undecided_and_divergence_fails():
    short = trajectory([5, 21, 20])
    assert states(short)[:2] == ["UNDECIDED", "UNDECIDED"]
    assert "needs at least 4" in eos._sharpening(short).reason
    blown = trajectory([5, 10, 15, 20, 25], diverged=True, message="training diverged")
    assert eos._edge(blown).holds is False and eos._loss_falls(blown).holds is False


def test_momentum_raises_the_threshold(tmp_path):
    config = dataclasses.replace(TINY, momentum=0.5, lrs=[0.1], steps=3, eig_every=3)
    result = eos.run(config)
    assert result.runs[0].threshold == pytest.approx((2 + 2 * 0.5) / 0.1)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func.hessian
def test_measured_sharpness_is_the_top_eigenvalue_of_the_dense_hessian():
    config = dataclasses.replace(TINY, width=8, depth=2, lrs=[0.3], steps=5, eig_every=5, eig_tol=1e-6)
    result = eos.run(config)
    run = result.runs[0]
    assert run.eig_steps == [0, 5] and len(run.losses) == len(run.accuracies) == 5
    x, target, labels = eos._data(config)
    model = eos._model(config, x, labels)                       # the same initialisation
    params = dict(model.named_parameters())

    def loss(flat):
        chunks = dict(zip(params, torch.split(flat, [p.numel() for p in params.values()])))
        out = torch.func.functional_call(model, {k: v.reshape(params[k].shape) for k, v in chunks.items()}, (x,))
        return F.mse_loss(out, target)

    flat = torch.cat([p.detach().reshape(-1) for p in params.values()]).double()
    model.double()
    x, target = x.double(), target.double()
    dense = torch.func.hessian(loss)(flat)
    top = float(torch.linalg.eigvalsh(dense)[-1])
    assert run.sharpness[0] == pytest.approx(top, rel=1e-4)
    assert run.losses[0] == pytest.approx(float(loss(flat)), rel=1e-5)


def test_gradient_flow_is_recorded_to_the_horizon():
    config = dataclasses.replace(TINY, lrs=[0.2], steps=10, eig_every=5, flow=True)
    result = eos.run(config)
    assert result.flow_times[0] == 0 and result.flow_times == sorted(result.flow_times)
    assert result.flow_times[-1] < 10 * 0.2 and all(math.isfinite(s) and s > 0 for s in result.flow_sharpness)
