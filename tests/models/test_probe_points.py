"""Probe points of every model: all fire exactly once per forward, in the order probe_points() lists them."""
import torch

from deepscope.models import build_model
from deepscope.probe.capture import capture


def _firing_order(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    fired: list[str] = []
    handles = [module.register_forward_hook(lambda *_, name=name: fired.append(name))
               for name, module in model.probe_points().items()]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return fired


def test_probe_points_fire_once_in_forward_order(small):
    name, options, x = small
    model = build_model(name, **options)
    points = model.probe_points()
    assert len({id(module) for module in points.values()}) == len(points)  # distinct modules
    assert list(points)[-1] == "logits"
    assert _firing_order(model, x) == list(points)


def test_capture_gives_one_feature_row_per_sample(small):
    name, options, x = small
    model = build_model(name, **options)
    features = capture(model, x, list(model.probe_points()), batch_size=2)
    assert list(features) == list(model.probe_points())
    assert all(f.dim() == 2 and f.shape[0] == len(x) for f in features.values())
    torch.testing.assert_close(features["logits"], model.eval()(x))
